"""Time of bootstrap intervals and paired comparison on synthetic results.

Fills a temporary DuckDB with ROWS samples x MODELS models (random word counts and errors,
a gender/speaker metadata column, a few error rows and empty references), then times
``leaderboard_with_intervals`` (overall and ``--by gender``), ``compare`` (every pair of models)
and ``Store.save_intervals`` (what the end of a run writes).

    .venv/bin/python bench/stats.py [--rows 100000] [--models 3] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from evaluator.compare import compare, leaderboard_with_intervals
from evaluator.store import Store


def fill(store: Store, rows: int, models: int) -> None:
    store.create_run("bench", "bench", {}, evaluator_version="bench", normalizer=("n", "1"), host={})
    for m in range(models):
        rate = 0.08 + 0.03 * m
        store.con.execute(f"""
            INSERT INTO results (run_id, model, backend, dataset, split, sample_id, sample_index, language,
                audio_seconds, reference, hypothesis, hits, substitutions, deletions, insertions, ref_words,
                hyp_words, ref_chars, char_errors, inference_seconds, error, metadata)
            SELECT 'bench', 'model-{m}', 'bench', 'synthetic', 'test', 's' || lpad(i::VARCHAR, 7, '0'), i, 'en',
                1 + 20 * random(), 'reference ' || i, 'hypothesis ' || i,
                w - s, s, 0, ins, w, w + ins, 5 * w, 2 * (s + ins), 0.1,
                CASE WHEN i % 997 = {m} THEN 'synthetic error' END,
                json_object('gender', CASE WHEN i % 2 = 0 THEN 'f' ELSE 'm' END, 'speaker', 'spk' || (i % 40))
            FROM (SELECT i, w, least(w, CAST(floor(w * {rate} * 2 * random()) AS INTEGER)) AS s,
                         CAST(random() < 0.1 AS INTEGER) AS ins
                  FROM (SELECT i, CASE WHEN i % 101 = 0 THEN 0 ELSE CAST(1 + floor(30 * random()) AS INTEGER) END AS w
                        FROM range({rows}) t(i)))""")


def timed(label: str, fn, repeat: int = 2) -> None:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    print(f"{label:58s} {best:7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store(os.path.join(tmp, "bench.duckdb")) as store:
        started = time.perf_counter()
        fill(store, args.rows, args.models)
        print(f"{args.rows} rows x {args.models} models, {args.resamples} resamples "
              f"(filled in {time.perf_counter() - started:.1f} s; best of 2)")
        con, r = store.con, args.resamples
        timed("leaderboard_with_intervals (WER + CER, per model)",
              lambda: leaderboard_with_intervals(con, "bench", resamples=r))
        timed("leaderboard_with_intervals --by gender", lambda: leaderboard_with_intervals(con, "bench", "gender", r))
        timed("leaderboard_with_intervals --by speaker (40 groups)",
              lambda: leaderboard_with_intervals(con, "bench", "speaker", r))
        timed(f"compare ({args.models * (args.models - 1) // 2} pairs, with per-model intervals)",
              lambda: compare(con, ["bench"], resamples=r))
        timed("Store.save_intervals (overall, language, bucket, gender, speaker)",
              lambda: store.save_intervals("bench", resamples=r), repeat=1)


if __name__ == "__main__":
    main()
