"""What the driver spends to open and plan a 1,000,000-line manifest.

Writes a NeMo manifest (and a TSV and a Kaldi directory) of N lines naming audio files that need
not exist (planning never touches audio), then, each in a fresh process, does what the driver does
before any model loads: ``open_dataset`` (which indexes the file), ``language_values`` (a streamed
pass over the language column), ``plan_shards`` and walking every shard of the plan; then reads one
shard in the middle as an actor would. Prints seconds per step and the process's peak resident
memory above the interpreter's baseline (imports included in the baseline).

    .venv/bin/python bench/manifest_planning.py [--lines 1000000] [--shard-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def write_inputs(folder: str, lines: int) -> dict[str, str]:
    nemo = os.path.join(folder, "manifest.jsonl")
    tsv = os.path.join(folder, "manifest.tsv")
    kaldi = os.path.join(folder, "kaldi")
    os.makedirs(kaldi, exist_ok=True)
    with open(nemo, "w") as fh:
        for i in range(lines):
            fh.write(json.dumps({"audio_filepath": f"audio/{i // 1000:04d}/utt{i:07d}.flac",
                                 "text": "the quick brown fox jumps over the lazy dog", "duration": 4.2,
                                 "lang": "en" if i % 3 else "de"}) + "\n")
    with open(tsv, "w") as fh:
        fh.write("path\tsentence\tlocale\n")
        for i in range(lines):
            fh.write(f"utt{i:07d}.mp3\tthe quick brown fox jumps over the lazy dog\ten\n")
    with open(os.path.join(kaldi, "wav.scp"), "w") as scp, open(os.path.join(kaldi, "text"), "w") as text, \
            open(os.path.join(kaldi, "utt2spk"), "w") as spk:
        for i in range(lines):
            scp.write(f"utt{i:07d} /data/audio/utt{i:07d}.wav\n")
            text.write(f"utt{i:07d} the quick brown fox jumps over the lazy dog\n")
            spk.write(f"utt{i:07d} spk{i % 500:03d}\n")
    return {"nemo": nemo, "tsv": tsv, "kaldi": kaldi}


def measure(source: str, shard_size: int) -> dict[str, float]:
    """In this process: the driver's steps on one source, timed, with peak memory."""
    from evaluator.data.readers import language_values, read_shard
    from evaluator.data.shards import plan_shards
    from evaluator.data.sources import open_dataset, resolved_spec
    from evaluator.data.spec import DatasetSpec

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict[str, float] = {}
    started = time.perf_counter()  # the floor: read every line and parse it, nothing else
    text = source if os.path.isfile(source) else os.path.join(source, "text")
    with open(text, "rb") as fh:
        for line in fh:
            json.loads(line) if text.endswith(".jsonl") else line.split(b"\t" if text.endswith(".tsv") else b" ", 1)
    out["bare_parse_s"] = time.perf_counter() - started
    spec = DatasetSpec(source=source)
    started = time.perf_counter()
    opened = open_dataset(spec)
    out["open_s"] = time.perf_counter() - started
    started = time.perf_counter()
    languages, _ = language_values(opened)
    out["languages_s"] = time.perf_counter() - started
    started = time.perf_counter()
    total, shards = plan_shards(opened, resolved_spec(opened, spec), shard_size, None)
    planned = sum(1 for _ in shards)
    out["plan_s"] = time.perf_counter() - started
    started = time.perf_counter()
    middle = list(read_shard(opened, shards[len(shards) // 2]))
    out["read_middle_shard_s"] = time.perf_counter() - started
    out.update(rows=float(total or 0), shards=float(planned), languages=float(len(languages)),
               shard_rows=float(len(middle)),
               baseline_mb=base / 1024, peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        import datasets  # noqa: F401  (imports counted in the baseline, as in a driver)

        import evaluator.data.sources  # noqa: F401

        print(json.dumps(measure(args.measure, args.shard_size)))
        return
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        inputs = write_inputs(folder, args.lines)
        sizes = {k: sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(p) for f in fs)
                 if os.path.isdir(p) else os.path.getsize(p) for k, p in inputs.items()}
        print(f"wrote {args.lines:,} lines per format in {time.perf_counter() - started:.1f} s "
              f"({', '.join(f'{k} {v / 1e6:.0f} MB' for k, v in sizes.items())})")
        for kind, path in inputs.items():
            result = subprocess.run([sys.executable, __file__, "--measure", path, "--shard-size",
                                     str(args.shard_size)], capture_output=True, text=True, check=True)
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"{kind:6s} rows {int(r['rows']):,}  shards {int(r['shards']):,}  bare line parse "
                  f"{r['bare_parse_s']:.2f} s  open {r['open_s']:.2f} s  "
                  f"languages {r['languages_s']:.2f} s  plan {r['plan_s']:.2f} s  "
                  f"read one shard {r['read_middle_shard_s'] * 1000:.0f} ms  "
                  f"peak RSS {r['peak_mb']:.0f} MB ({r['baseline_mb']:.0f} MB after imports)")


if __name__ == "__main__":
    main()
