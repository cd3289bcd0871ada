"""Batched against sequential decoding on the bundled sample set (24 clips, one of them 44 s).

Each configuration loads its backend once, transcribes every clip (as a shard does: clips
sorted by duration, in batches of the backend's size; a clip over 30 s alone) and prints
throughput after loading (rows/s and RTFx = audio seconds / wall seconds), corpus WER, and how
many transcripts differ from the configuration's sequential baseline. No Ray: the backends are
called directly, with the same threads.

    .venv/bin/python bench/batching.py [--threads 2] [--repeat 1] [--only faster-whisper]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no per-call generation notices in the table

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir
from evaluator.models.backends import get_backend
from evaluator.scoring.metrics import corpus_wer, score

# (label, backend, options); the first of each group is the baseline the others are compared with.
CONFIGS = {
    "faster-whisper float32": [
        ("sequential", "faster-whisper", {"compute_type": "float32"}),
        ("batch_size=8", "faster-whisper", {"compute_type": "float32", "batch_size": 8}),
    ],
    "faster-whisper int8": [
        ("sequential", "faster-whisper", {"compute_type": "int8"}),
        ("batch_size=8", "faster-whisper", {"compute_type": "int8", "batch_size": 8}),
    ],
    "transformers float32": [
        ("batch_size=1", "transformers", {"batch_size": 1}),
        ("batch_size=8", "transformers", {"batch_size": 8}),
    ],
}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def run(backend_name: str, options: dict, clips: list, threads: int) -> tuple[float, list[str]]:
    """Seconds spent transcribing (after load) and the transcripts, in clip order."""
    backend = get_backend(backend_name)("tiny.en", "cpu", options, threads)
    order = sorted(range(len(clips)), key=lambda i: len(clips[i][0]))
    texts: dict[int, str] = {}
    started = time.perf_counter()
    size = max(1, backend.batch_size)
    for start in range(0, len(order), size):
        part = order[start : start + size]
        results = backend.transcribe_batch([clips[i][0] for i in part], ["en"] * len(part))
        texts.update({i: r.text for i, r in zip(part, results, strict=True)})
    return time.perf_counter() - started, [texts[i] for i in range(len(clips))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="list the clips this many times")
    parser.add_argument("--only", help="run only the groups whose name contains this")
    args = parser.parse_args()
    folder = sample_data_dir()
    with open(os.path.join(folder, "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    clips = [(decode_audio(os.path.join(folder, r["file_name"])), r["transcription"]) for r in rows] * args.repeat
    ids = [r["id"] for r in rows] * args.repeat
    audio_seconds = sum(len(a) for a, _ in clips) / SAMPLE_RATE
    print(f"{len(clips)} clips, {audio_seconds:.1f} s of audio; tiny.en on CPU ({_cpu()}), {args.threads} threads")
    print(f"{'configuration':<44} {'rows/s':>7} {'RTFx':>6} {'WER %':>6} {'differ':>7}")
    for group, configs in CONFIGS.items():
        if args.only and args.only not in group:
            continue
        baseline: list[str] | None = None
        for label, backend_name, options in configs:
            seconds, texts = run(backend_name, options, clips, args.threads)
            wer = corpus_wer([score(ref, hyp) for (_, ref), hyp in zip(clips, texts, strict=True)])
            changed = [] if baseline is None else [i for i, (a, b) in enumerate(zip(baseline, texts, strict=True))
                                                   if a != b]
            print(f"{group + ' ' + label:<44} {len(clips) / seconds:7.2f} {audio_seconds / seconds:6.1f} "
                  f"{100 * (wer or 0.0):6.2f} {'-' if baseline is None else len(changed):>7}", flush=True)
            for i in changed[:5]:
                print(f"    {ids[i]}: {baseline[i]!r}\n    {'':{len(ids[i])}}  {texts[i]!r}")
            baseline = texts if baseline is None else baseline


if __name__ == "__main__":
    main()
