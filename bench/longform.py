"""Long-form evaluation per recording and strategy: WER, deletions (sum and longest run),
flags (truncated / looping / skipped), completion, RTFx per actor, throughput and peak memory
per actor, on the built-in 15-minute recording (builtin:long) and the 16-minute recording with
sentences repeated close together (builtin:repeats); then peak memory on a 1-hour file (the
15-minute file four times).

    .venv/bin/python bench/longform.py [--model faster-whisper:tiny.en] [--actors 2]
        [--recordings long,repeats] [--skip-hour]

Strategies: native, native with ``condition_on_previous_text=false`` added to the model spec,
chunked, vad. Numbers come from the results database of each run (``results``, ``leaderboard``
and ``runs.models``). Throughput is audio seconds per wall second of the whole run after the
first model loaded (planning, VAD and stitching included); RTFx counts inference only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from typing import Any

import numpy as np

from evaluator.data.builtin import builtin_dir
from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.cluster import connect_ray
from evaluator.run.plan.config import RunConfig

# (label, option added to the model spec, --long-form)
STRATEGIES = (
    ("native", None, "native"),
    ("native-nocond", "condition_on_previous_text=false", "native"),
    ("chunked", None, "chunked"),
    ("vad", None, "vad"),
)
# name -> dataset (its first row is the recording)
RECORDINGS = {"long": "builtin:long", "repeats": "builtin:repeats"}
FLAGS = ("truncated", "looping", "skipped")


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


def with_option(model: str, option: str | None) -> str:
    if not option:
        return model
    return f"{model}{'&' if '?' in model else '?'}{option}"


def run(db: str, model: str, dataset: str, strategy: str, actors: int, name: str) -> dict[str, Any]:
    config = RunConfig(models=(parse_model_spec(model),), dataset=DatasetSpec(dataset), db=db, max_samples=1,
                       long_form=strategy, actors_per_model=actors, name=name)
    with Store(db) as store:
        summary = run_evaluation(config, store)
        (wer, rtfx, completion, audio, errors) = store.con.execute(
            "SELECT wer, rtfx, completion_ratio, audio_hours * 3600, errors FROM leaderboard WHERE run_id = ?",
            [summary.run_id]).fetchone()
        cur = store.con.execute(
            "SELECT sample_id AS sample, deletions, max_deletion_run, max_deletion_run_s, untranscribed_speech_s, "
            "truncated, looping, skipped, audio_seconds AS seconds FROM results WHERE run_id = ?", [summary.run_id])
        values = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        (models, info) = store.con.execute("SELECT models, summary FROM runs WHERE run_id = ?",
                                           [summary.run_id]).fetchone()
    entry = next(iter(json.loads(models).values()))
    workers = entry["workers"]
    processing = json.loads(info)["processing_seconds"]
    return {**values, "wer": wer, "rtfx": rtfx, "completion": completion, "errors": errors,
            "throughput": audio / processing if audio and processing else None,
            "flags": [f for f in FLAGS if values[f]],
            "peaks": [round(w["peak_memory_mb"]) if w.get("peak_memory_mb") else None for w in workers],
            "machine": machine(workers)}


def machine(workers: list[dict[str, Any]]) -> str:
    """The workers' CPU model and instruction-set level, and the compute type they ran."""
    cpus = sorted({f"{w['cpu']['model']} ({w['cpu']['isa']})" for w in workers if w.get("cpu")})
    compute = sorted({str(w["compute_type"]) for w in workers if w.get("compute_type")})
    return f"CPU: {'; '.join(cpus) or 'not recorded'}; compute type: {', '.join(compute) or 'not recorded'}"


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def deletion_run(r: dict[str, Any]) -> str:
    words = _num(r["max_deletion_run"], "d")
    return words if r["max_deletion_run_s"] is None else f"{words} ({r['max_deletion_run_s']:.1f}s)"


HEADER = (f"{'strategy':<14} {'WER':>7} {'del':>5} {'del run (s)':>13} {'untr. s':>7} {'flags':<17} "
          f"{'completion':>10} {'RTFx/actor':>10} {'throughput':>10}  peak MiB/actor")


def line(label: str, r: dict[str, Any]) -> str:
    flags = ",".join(r["flags"]) or "none"
    if r["errors"]:
        flags += f" ({r['errors']} error rows)"
    return (f"{label:<14} {_num(r['wer'], '7.2%')} {_num(r['deletions'], '5d')} {deletion_run(r):>13} "
            f"{_num(r['untranscribed_speech_s'], '7.1f')} {flags:<17} {_num(r['completion'], '10.3f')} "
            f"{_num(r['rtfx'], '10.1f')} {_num(r['throughput'], '10.1f')}  {r['peaks']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faster-whisper:tiny.en")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--recordings", default=",".join(RECORDINGS),
                        help=f"comma-separated, of: {', '.join(RECORDINGS)} (default: all)")
    parser.add_argument("--skip-hour", action="store_true", help="skip the 1-hour file")
    args = parser.parse_args()
    recordings = [r.strip() for r in args.recordings.split(",") if r.strip()]
    unknown = [r for r in recordings if r not in RECORDINGS]
    if unknown:
        parser.error(f"unknown recording(s) {', '.join(unknown)}; valid: {', '.join(RECORDINGS)}")
    connect_ray()
    machines: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.duckdb")
        for recording in recordings:
            dataset = RECORDINGS[recording]
            results = []
            for label, option, strategy in STRATEGIES:
                r = run(db, with_option(args.model, option), dataset, strategy, args.actors, f"{label}-{recording}")
                results.append((label, r))
            first = results[0][1]
            minutes = first["seconds"] / 60 if first["seconds"] else float("nan")
            print(f"\n{dataset} {first['sample']} ({minutes:.1f} min), {args.model}, {args.actors} actors x 1 CPU")
            for m in {r["machine"] for _, r in results} - machines:
                print(m)
                machines.add(m)
            print(HEADER)
            for label, r in results:
                print(line(label, r))
            print(flush=True)
        if args.skip_hour:
            return
        hour = os.path.join(tmp, "hour")
        os.makedirs(hour)
        make_hour(hour)
        print(f"\n1-hour file, {args.model}, {args.actors} actors x 1 CPU")
        print(HEADER)
        for strategy in ("chunked", "native"):
            r = run(db, args.model, hour, strategy, args.actors, f"{strategy}-hour")
            print(line(strategy, r), flush=True)


if __name__ == "__main__":
    main()
