"""Driver memory against dataset size.

Runs faster-whisper tiny.en over audiofolders of growing size and prints the driver process's
peak resident memory after each run (each run in a fresh driver process). To keep the model's
cost small, one row in 50 is a real 1 s clip and the others name a missing file, which the
actors turn into error rows: the driver's path (shards out, rows back, DuckDB writes) is the
same for both kinds of row.

    .venv/bin/python bench/driver_memory.py [--sizes 1000 10000 50000] [--shard-size 32]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def make_folder(folder: str, rows: int) -> None:
    """``rows`` samples: every 50th the 1 s hello-world clip, the others a missing file."""
    from evaluator.data.builtin import sample_data_dir

    clip = os.path.join(sample_data_dir(), "audioeval-en-hello-world.flac")
    with open(os.path.join(folder, "metadata.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription"])
        for i in range(rows):
            writer.writerow([clip if i % 50 == 0 else f"missing-{i}.wav", f"s{i}", "Hello world."])


def one_run(folder: str, shard_size: int) -> dict:
    from evaluator.data.spec import DatasetSpec
    from evaluator.models.spec import parse_model_spec
    from evaluator.results.store import Store
    from evaluator.run.driver import run_evaluation
    from evaluator.run.plan.cluster import connect_ray
    from evaluator.run.plan.config import RunConfig

    connect_ray()
    db = os.path.join(folder, "bench.duckdb")
    config = RunConfig(models=(parse_model_spec("faster-whisper:tiny.en"),), dataset=DatasetSpec(folder), db=db,
                       shard_size=shard_size)
    started = time.perf_counter()
    with Store(db) as store:
        summary = run_evaluation(config, store)
    return {"rows": summary.rows, "seconds": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.child[0], int(args.child[1]))))
        return
    print(f"{'samples':>8} {'rows written':>12} {'seconds':>8} {'driver peak RSS (MiB)':>22}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            make_folder(tmp, size)
            out = subprocess.run([sys.executable, __file__, "--child", tmp, str(args.shard_size)],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{size:8d} {r['rows']:12d} {r['seconds']:8.1f} {r['peak_rss_mb']:22.1f}")


if __name__ == "__main__":
    main()
