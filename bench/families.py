"""RTFx per transformers family on tiny random-weight models, batched against one at a time.

Builds each tiny checkpoint of ``tests/tiny_families.py`` (CTC and transducer families), loads
it through the ``transformers`` backend as an actor does, transcribes the bundled sample clips up
to 30 s with ``batch_size=1`` and with ``batch_size=8`` (the backend sorts by duration and pads
where the family allows it), and prints RTFx (audio seconds / wall seconds, after loading) and
how many transcripts differ between the two (should be 0). The weights are tiny, so the numbers
measure each adapter's overhead (feature extraction, decoding, batching), not a real model's speed.

    PYTHONPATH=. .venv/bin/python bench/families.py [--threads 2] [--only parakeet-ctc,hubert] [--clips 23]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir
from evaluator.models.backends import get_backend
from tests.tiny_families import CTC_BUILDERS, TRANSDUCER_BUILDERS, built


def clips(limit: int) -> list:
    with open(os.path.join(sample_data_dir(), "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    audios = [decode_audio(os.path.join(sample_data_dir(), row["file_name"])) for row in rows]
    return [a for a in audios if len(a) <= 30 * SAMPLE_RATE][:limit]


def timed(backend, audios: list, batch_size: int) -> tuple[float, list[str]]:
    started = time.perf_counter()
    texts: list[str] = []
    for start in range(0, len(audios), batch_size):  # as a shard hands batches to the backend
        chunk = audios[start : start + batch_size]
        texts += [t.text for t in backend.transcribe_batch(chunk, [None] * len(chunk))]
    return time.perf_counter() - started, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated family builders (default: all)")
    parser.add_argument("--clips", type=int, default=23, help="sample clips up to 30 s to transcribe")
    args = parser.parse_args()
    names = [n for n in [*CTC_BUILDERS, *TRANSDUCER_BUILDERS] if not args.only or n in args.only.split(",")]
    audios = clips(args.clips)
    seconds = sum(len(a) for a in audios) / SAMPLE_RATE
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads; "
          f"{len(audios)} clips, {seconds:.1f} s of audio")
    print(f"{'family':<20} {'kind':<11} {'pads':<5} {'load s':>6} {'RTFx b=1':>9} {'RTFx b=8':>9} {'differ':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            folder = str(built(Path(tmp), name))
            started = time.perf_counter()
            cls = get_backend("transformers").for_model(folder, {})
            one = cls(folder, "cpu", {"batch_size": 1}, args.threads)
            load = time.perf_counter() - started
            eight = cls(folder, "cpu", {"batch_size": 8}, args.threads)
            timed(one, audios[:1], 1)  # warm-up
            t1, texts1 = timed(one, audios, 1)
            t8, texts8 = timed(eight, audios, 8)
            differ = sum(a != b for a, b in zip(texts1, texts8, strict=True))
            print(f"{name:<20} {cls.family.kind:<11} {str(one.adapter.pads_safely):<5} {load:>6.2f} "
                  f"{seconds / t1:>9.1f} {seconds / t8:>9.1f} {differ:>6}")


if __name__ == "__main__":
    main()
