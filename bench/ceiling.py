"""The pipeline's own ceiling, without a model: rows per second through the driver and the actors.

A benchmark backend (``bench/echo_backend.py``, not registered in the product) answers each clip
instantly with its reference text, so every cost left is evaluator's:

- per actor, measured in-process (no Ray) on the same shards: reading the dataset rows, decoding
  the audio, scoring (normalizer + alignment), and the rest of ``run_shard``;
- end to end through Ray with the local cluster's actors: rows/s, and the driver's own CPU time per
  row (shards out, rows back, DuckDB writes), which says how many rows/s one driver core sustains.

    .venv/bin/python bench/ceiling.py [--sizes 1000 100000] [--shard-size 64] [--actors 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # echo_backend, here and in workers

TEXT = "hello world this is a benchmark"
ECHO = f"echo_backend.EchoBackend:none?text={TEXT.replace(' ', '+')}"


def make_folder(folder: str, rows: int, clip_seconds: float) -> None:
    """``rows`` samples of one short clip (read and decoded anew for each row)."""
    sf.write(os.path.join(folder, "clip.wav"), (0.1 * np.sin(np.arange(int(16000 * clip_seconds)) / 7)).astype(
        np.float32), 16000, subtype="PCM_16")
    with open(os.path.join(folder, "metadata.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription"])
        writer.writerows(["clip.wav", f"s{i}", TEXT] for i in range(rows))


def actor_costs(folder: str, rows: int, shard_size: int) -> dict[str, float]:
    """Seconds per row inside one actor, by stage, without Ray."""
    from evaluator.data.audio import decode_audio
    from evaluator.data.readers import read_shard
    from evaluator.data.shards import plan_shards
    from evaluator.data.sources import open_dataset, resolved_spec
    from evaluator.data.spec import DatasetSpec
    from evaluator.data.windows import LongForm
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.execute.actor import Worker
    from evaluator.scoring.metrics import score

    spec = DatasetSpec(folder)
    opened = open_dataset(spec)
    _, shards = plan_shards(opened, resolved_spec(opened, spec), shard_size, rows)
    shards = list(shards)
    worker = Worker(parse_model_spec(ECHO), "cpu", 1, "en", LongForm("native", 30.0, 5.0))
    t = time.perf_counter()
    samples = [s for shard in shards for s in read_shard(opened, shard)]
    read = time.perf_counter() - t
    t = time.perf_counter()
    for s in samples:
        decode_audio(s.audio)
    decode = time.perf_counter() - t
    t = time.perf_counter()
    for s in samples:
        score(s.reference, TEXT)
    scoring = time.perf_counter() - t
    t = time.perf_counter()
    for shard in shards:
        worker.run_shard(shard)
    total = time.perf_counter() - t
    n = len(samples)
    return {"read": read / n, "decode": decode / n, "score": scoring / n, "run_shard": total / n,
            "other": max(0.0, total - read - decode - scoring) / n}


def end_to_end(folder: str, rows: int, shard_size: int, actors: int) -> dict[str, float]:
    import json

    import psutil

    from evaluator.data.spec import DatasetSpec
    from evaluator.models.spec import parse_model_spec
    from evaluator.results.store import Store
    from evaluator.run.driver import run_evaluation
    from evaluator.run.plan.cluster import connect_ray
    from evaluator.run.plan.config import RunConfig

    connect_ray("local", num_cpus=actors)  # its own cluster, never one running here
    db = os.path.join(folder, f"ceiling-{rows}.duckdb")
    config = RunConfig(models=(parse_model_spec(ECHO),), dataset=DatasetSpec(folder), db=db,
                       shard_size=shard_size, actors_per_model=actors, max_samples=rows)
    me = psutil.Process()
    during = [0.0]

    def sample_rss(progress: object) -> None:  # the driver's memory while rows stream in
        during[0] = max(during[0], me.memory_info().rss / 2**20)

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with Store(db) as store:
        summary = run_evaluation(config, store, on_progress=sample_rss)
        _, ((errors,),) = store.query("SELECT count(*) FILTER (WHERE error IS NOT NULL) FROM results")
        _, run = store.query("SELECT summary FROM runs")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    processing = json.loads(run[0][0])["processing_seconds"]
    return {"rows": summary.rows, "errors": errors, "wall": wall, "processing": processing,
            "driver_cpu": cpu, "rss_during_mb": during[0], "peak_rss_mb": after.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000],
                        help="rows per end-to-end run (each in a fresh driver process)")
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--clip-seconds", type=float, default=1.0)
    parser.add_argument("--actor-rows", type=int, default=5000, help="rows for the in-process actor breakdown")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one end-to-end run in this fresh process: print its figures as JSON
        import json

        print(json.dumps(end_to_end(args.child[0], int(args.child[1]), args.shard_size, args.actors)))
        return
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        make_folder(folder, max(args.sizes), args.clip_seconds)
        n = min(max(args.sizes), args.actor_rows)
        costs = actor_costs(folder, n, args.shard_size)
        print(f"actor, per row (in-process, {n} rows, {args.clip_seconds} s clips):")
        for stage in ("read", "decode", "score", "other", "run_shard"):
            print(f"  {stage:<10} {1000 * costs[stage]:7.3f} ms")
        print(f"  one actor sustains {1 / costs['run_shard']:,.0f} rows/s; beyond decoding "
              f"{1000 * (costs['run_shard'] - costs['decode']):.3f} ms/row")
        for rows in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--child", folder, str(rows), "--shard-size",
                                  str(args.shard_size), "--actors", str(args.actors)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"the {rows}-row run failed:\n{out.stderr[-3000:]}")
            e2e = json.loads(out.stdout.strip().splitlines()[-1])
            assert e2e["errors"] == 0 and e2e["rows"] == rows, e2e
            print(f"end to end ({rows} rows, shard size {args.shard_size}, {args.actors} actors, "
                  f"{os.cpu_count()} CPUs):")
            print(f"  wall {e2e['wall']:.1f} s, after the first actor loaded {e2e['processing']:.1f} s: "
                  f"{rows / e2e['processing']:,.0f} rows/s")
            print(f"  driver CPU {e2e['driver_cpu']:.1f} s = {1000 * e2e['driver_cpu'] / rows:.3f} ms/row: "
                  f"one driver core sustains {rows / e2e['driver_cpu']:,.0f} rows/s")
            print(f"  driver RSS while rows stream in (max) {e2e['rss_during_mb']:.0f} MiB; peak including the "
                  f"end-of-run analysis {e2e['peak_rss_mb']:.0f} MiB")


if __name__ == "__main__":
    main()
