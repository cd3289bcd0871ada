"""Time of bootstrap intervals and paired comparison on synthetic results.

Fills a temporary DuckDB with ROWS samples x MODELS models (random word counts and errors,
character counts of 3-7 per word, a gender/speaker metadata column, empty references, and an
error row every 997 samples at a different place per model, so no two models score the same
rows: the slower case), then times
``leaderboard_with_intervals`` (overall and ``--by gender``), ``compare`` (every pair of models)
and ``Store.save_intervals`` (what the end of a run writes).

    .venv/bin/python bench/stats.py [--rows 100000] [--models 3] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from evaluator.results.compare import compare
from evaluator.results.leaderboard import leaderboard_with_intervals
from evaluator.results.store import Store


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
                w - s, s, 0, ins, w, w + ins, c, least(c, 3 * (s + ins) + CAST(floor(3 * random()) AS INTEGER)), 0.1,
                CASE WHEN i % 997 = {m} THEN 'synthetic error' END,
                json_object('gender', CASE WHEN i % 2 = 0 THEN 'f' ELSE 'm' END, 'speaker', 'spk' || (i % 40))
            FROM (SELECT i, w, least(w, CAST(floor(w * {rate} * 2 * random()) AS INTEGER)) AS s,
                         CAST(random() < 0.1 AS INTEGER) AS ins, 3 * w + CAST(floor(4 * w * random()) AS INTEGER) AS c
                  FROM (SELECT i, CASE WHEN i % 101 = 0 THEN 0 ELSE CAST(1 + floor(30 * random()) AS INTEGER) END AS w
                        FROM range({rows}) t(i)))""")


def timed(label: str, fn, repeat: int = 2) -> None:
    """Best of ``repeat``: wall time, and this process's CPU time (less sensitive to a busy machine)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    print(f"{label:62s} {best[0]:7.2f} s wall {best[1]:7.2f} s CPU")


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
              f"(filled in {time.perf_counter() - started:.1f} s; best of 2; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        con, r = store.con, args.resamples
        timed("leaderboard_with_intervals (WER + CER intervals, per model)",
              lambda: leaderboard_with_intervals(con, "bench", resamples=r))
        timed("leaderboard_with_intervals (WER intervals: `evaluator leaderboard`)",
              lambda: leaderboard_with_intervals(con, "bench", resamples=r, cer_intervals=False))
        timed("leaderboard_with_intervals --by gender (WER + CER)",
              lambda: leaderboard_with_intervals(con, "bench", "gender", r))
        timed("leaderboard_with_intervals --by speaker (40 groups, WER + CER)",
              lambda: leaderboard_with_intervals(con, "bench", "speaker", r))
        timed(f"compare ({args.models * (args.models - 1) // 2} pairs, with per-model intervals)",
              lambda: compare(con, ["bench"], resamples=r, all_pairs=True))
        timed("Store.save_intervals (overall, language, bucket, gender, speaker)",
              lambda: store.save_intervals("bench", resamples=r), repeat=1)


if __name__ == "__main__":
    main()
