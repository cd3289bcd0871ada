"""Long-form evaluation: WER, completion and RTFx per strategy on the built-in 15-minute
recording, and peak memory per actor on a 1-hour file (the 15-minute file four times).

    .venv/bin/python bench/longform.py [--model faster-whisper:tiny.en] [--skip-hour]

Numbers come from the results database of each run (``leaderboard`` and ``runs.models``).
Throughput is audio seconds per wall second of the whole run after the first model loaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile

import numpy as np

from evaluator.config import DatasetSpec, RunConfig, parse_model_spec
from evaluator.driver import connect_ray, run_evaluation
from evaluator.samples import builtin_dir
from evaluator.store import Store

STRATEGIES = ("native", "chunked", "vad")


def make_hour(folder: str) -> None:
    """A 1-hour FLAC: the 15-minute recording four times, reference four times."""
    import soundfile as sf

    src = builtin_dir("long")
    with open(os.path.join(src, "metadata.csv"), newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["id"] == "long-15min")
    audio, rate = sf.read(os.path.join(src, row["file_name"]), dtype="int16")
    sf.write(os.path.join(folder, "hour.flac"), np.tile(audio, 4), rate, subtype="PCM_16")
    with open(os.path.join(folder, "metadata.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription", "language"])
        writer.writerow(["hour.flac", "long-60min", " ".join([row["transcription"]] * 4), "en"])


def run(db: str, model: str, dataset: str, strategy: str, actors: int) -> dict:
    config = RunConfig(models=(parse_model_spec(model),), dataset=DatasetSpec(dataset), db=db, max_samples=1,
                       long_form=strategy, actors_per_model=actors, name=f"{strategy}-{os.path.basename(dataset)}")
    with Store(db) as store:
        summary = run_evaluation(config, store)
        (wer, rtfx, completion, truncated, audio) = store.con.execute(
            "SELECT wer, rtfx, completion_ratio, truncated, audio_hours * 3600 FROM leaderboard WHERE run_id = ?",
            [summary.run_id]).fetchone()
        (models, info) = store.con.execute("SELECT models, summary FROM runs WHERE run_id = ?",
                                           [summary.run_id]).fetchone()
    workers = next(iter(json.loads(models).values()))["workers"]
    peaks = [w.get("peak_memory_mb") for w in workers]
    processing = json.loads(info)["processing_seconds"]
    return {"wer": wer, "rtfx": rtfx, "completion": completion, "truncated": truncated,
            "throughput": audio / processing, "peaks": peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faster-whisper:tiny.en")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--skip-hour", action="store_true")
    args = parser.parse_args()
    connect_ray()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.duckdb")
        print(f"{args.model}, {args.actors} actors x 1 CPU, builtin:long 15-minute recording")
        print(f"{'strategy':<9} {'WER':>7} {'completion':>10} {'truncated':>9} {'RTFx/actor':>10} "
              f"{'throughput':>10} {'peak MiB/actor':>15}")
        for strategy in STRATEGIES:
            r = run(db, args.model, "builtin:long", strategy, args.actors)
            print(f"{strategy:<9} {r['wer']:7.2%} {r['completion']:10.3f} {r['truncated']:9d} {r['rtfx']:10.1f} "
                  f"{r['throughput']:10.1f} {str(r['peaks']):>15}")
        if args.skip_hour:
            return
        hour = os.path.join(tmp, "hour")
        os.makedirs(hour)
        make_hour(hour)
        print(f"\n1-hour file, {args.model}, {args.actors} actors")
        for strategy in ("chunked", "native"):
            r = run(db, args.model, hour, strategy, args.actors)
            print(f"{strategy:<9} WER {r['wer']:.2%}  completion {r['completion']:.3f}  throughput "
                  f"{r['throughput']:.1f} audio-s/s  peak memory per actor (MiB): {r['peaks']}")


if __name__ == "__main__":
    main()
