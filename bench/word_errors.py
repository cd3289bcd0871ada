"""Time of the error analysis on synthetic rows: ``Store.write_word_errors`` (what the end of a
run adds), the on-the-fly count ``evaluator errors`` does for runs without the table, and the
top-confusions query on the table.

Rows hold normalized text made from a 5,000-word vocabulary (about 20 words per utterance,
about 12% of words substituted, deleted or followed by an insertion), spread over models.

    .venv/bin/python bench/word_errors.py [--rows 100000] [--models 4] [--words 20]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from evaluator.results.store import RESULT_COLUMNS, Store, connect_read_only
from evaluator.results.word_errors import top_confusions

RUN = "bench"


def synthetic_rows(n: int, models: int, words: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    rows = []
    for i in range(n):
        ref = rng.choices(vocab, k=max(1, int(rng.gauss(words, words / 4))))
        hyp = []
        for w in ref:
            r = rng.random()
            if r < 0.03:
                continue
            hyp.append(rng.choice(vocab) if r < 0.09 else w)
            if rng.random() < 0.03:
                hyp.append(rng.choice(vocab))
        row = dict.fromkeys(RESULT_COLUMNS)
        row.update(run_id=RUN, model=f"m{i % models}", backend="bench", dataset="synthetic", split="test",
                   sample_id=str(i // models), reference_norm=" ".join(ref), hypothesis_norm=" ".join(hyp))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--words", type=int, default=20, help="mean reference length in words")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.duckdb")
        rows = synthetic_rows(args.rows, args.models, args.words)
        words = sum(len(r["reference_norm"].split()) for r in rows)
        with Store(db) as store:
            store.insert_results(rows)
            started = time.perf_counter()
            pairs = store.write_word_errors(RUN)
            write_s = time.perf_counter() - started
        con = connect_read_only(db)
        started = time.perf_counter()
        top_confusions(con, RUN, top=10)
        table_s = time.perf_counter() - started
        con.close()
        with Store(db) as store:
            store.con.execute("DELETE FROM word_errors")
        con = connect_read_only(db)
        started = time.perf_counter()
        top_confusions(con, RUN, top=10)
        computed_s = time.perf_counter() - started
        con.close()
    print(f"rows {args.rows:,} ({args.models} models), reference words {words:,}, distinct pairs {pairs:,}")
    print(f"write_word_errors (end of a run):        {write_s:6.2f} s  ({args.rows / write_s:,.0f} rows/s)")
    print(f"evaluator errors, from the table:        {table_s:6.2f} s")
    print(f"evaluator errors, computed (no table):   {computed_s:6.2f} s")


if __name__ == "__main__":
    main()
