"""Evaluator overhead against a bare faster-whisper loop over the same samples, same settings.

Both sides decode each clip from its file (soundfile + soxr) and transcribe it with the same
model, compute type, threads and greedy decoding. The bare loop runs in a child process; the
evaluator runs here through a local Ray cluster with one actor holding the same threads.
Throughput is audio seconds per wall second after the model is loaded (steady state).

    .venv/bin/python bench/overhead.py [--repeat 3] [--threads 2] [--model tiny.en]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

from evaluator.data.builtin import sample_data_dir


def make_dataset(folder: str, repeat: int) -> list[dict[str, str]]:
    """The bundled sample set listed ``repeat`` times (same files, distinct ids)."""
    with open(os.path.join(sample_data_dir(), "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in range(repeat):
        for row in rows:
            out.append({**row, "file_name": os.path.join(sample_data_dir(), row["file_name"]),
                        "id": f"{row['id']}-{r}"})
    with open(os.path.join(folder, "metadata.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    return out


def bare_loop(folder: str, model: str, threads: int) -> dict[str, float]:
    from faster_whisper import WhisperModel

    from evaluator.data.audio import SAMPLE_RATE, decode_audio
    from evaluator.models.weights import bundled_ct2_path

    with open(os.path.join(folder, "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    started = time.perf_counter()
    path = bundled_ct2_path(model) or model
    fw = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
    loaded = time.perf_counter()
    audio_seconds = 0.0
    for row in rows:
        audio = decode_audio(row["file_name"])
        audio_seconds += len(audio) / SAMPLE_RATE
        segments, _ = fw.transcribe(audio, language="en", beam_size=1, temperature=0.0)
        "".join(s.text for s in segments)
    end = time.perf_counter()
    return {"audio_seconds": audio_seconds, "load_seconds": loaded - started,
            "processing_seconds": end - loaded, "wall_seconds": end - started}


def evaluator_run(folder: str, model: str, threads: int, actors: int, db: str) -> dict[str, float]:
    from evaluator.data.spec import DatasetSpec
    from evaluator.models.spec import parse_model_spec
    from evaluator.results.store import Store
    from evaluator.run.driver import run_evaluation
    from evaluator.run.plan.config import RunConfig

    config = RunConfig(models=(parse_model_spec(f"faster-whisper:{model}"),), dataset=DatasetSpec(folder),
                       db=db, actors_per_model=actors, cpus_per_actor=threads, shard_size=8)
    with Store(db) as store:
        summary = run_evaluation(config, store)
        (audio,) = store.con.execute("SELECT sum(audio_seconds) FROM results WHERE run_id = ?",
                                     [summary.run_id]).fetchone()
        (info,) = store.con.execute("SELECT summary FROM runs WHERE run_id = ?", [summary.run_id]).fetchone()
    info = json.loads(info)
    return {"audio_seconds": audio, "processing_seconds": info["processing_seconds"],
            "wall_seconds": info["wall_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="times the sample set is repeated")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--bare", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(bare_loop(args.bare, args.model, args.threads)))
        return

    import ray

    from evaluator.run.plan.cluster import connect_ray

    with tempfile.TemporaryDirectory() as tmp:
        rows = make_dataset(tmp, args.repeat)
        print(f"{len(rows)} samples (sample set x{args.repeat}), model {args.model}, int8, greedy, "
              f"{args.threads} threads, CPU")
        child = subprocess.run([sys.executable, __file__, "--bare", tmp, "--model", args.model,
                                "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        bare = json.loads(child.stdout.strip().splitlines()[-1])
        connect_ray(num_cpus=args.threads)
        ev_same = evaluator_run(tmp, args.model, args.threads, 1, os.path.join(tmp, "a.duckdb"))
        ev_default = evaluator_run(tmp, args.model, 1, args.threads, os.path.join(tmp, "b.duckdb"))
        ray.shutdown()

    def line(name: str, r: dict[str, float]) -> str:
        tput = r["audio_seconds"] / r["processing_seconds"]
        return (f"{name:<44} audio {r['audio_seconds']:7.1f} s  steady {r['processing_seconds']:6.1f} s  "
                f"wall {r['wall_seconds']:6.1f} s  throughput {tput:5.2f} audio-s/s")

    print(line("bare faster-whisper loop (1 process)", bare))
    print(line(f"evaluator, 1 actor x {args.threads} threads", ev_same))
    print(line(f"evaluator, {args.threads} actors x 1 thread (default)", ev_default))
    base = bare["audio_seconds"] / bare["processing_seconds"]
    same = ev_same["audio_seconds"] / ev_same["processing_seconds"]
    print(f"steady-state throughput, evaluator vs bare loop, same settings: {same / base:.1%} "
          f"({(same / base - 1):+.1%})")


if __name__ == "__main__":
    main()
