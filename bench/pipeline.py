"""How well an actor keeps its accelerator busy: overlap of decoding with the device, batch fill
and the device's busy share, on a stand-in accelerator (``tests/standin_backend.py``: each batch
sleeps a fixed time per clip with the CPU left free, as a GPU kernel leaves it).

It writes N clips of 48 kHz stereo FLAC (2 to 12 s of noise and tones) to a temporary folder and
runs them through the real scheduler, worker and pipeline in this process (the local executor:
no Ray start-up or transport in the figures), with the default shard size for the batch size:

1. decoding alone: the stand-in takes no time per clip -> the decode-only span;
2. the device alone: its time per clip is set so the clips take about as long as decoding did;
3. both -> the span of the run and the device time its batches took.

overlap = (decode-only span + device time - both span) / min(decode-only span, device time):
1 when decoding hides fully behind the device, 0 when they take turns. Batch fill = median batch
/ batch size (every call into the stand-in counts, windows of long files included). Device busy
= device time / both span.

With ``--long N`` the set also holds N long files of 2 to 5 minutes (16 kHz mono FLAC), run under
the ``chunked`` strategy (30 s windows, 5 s overlap): their windows are read by seeking, VAD'd
and transcribed beside the short clips.

    python bench/pipeline.py [--clips 240] [--long 0] [--batch-size 32] [--threads 2]
                              [--per-clip S] [--per-batch S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.standin_backend

from evaluator.data.shards import plan_shards  # noqa: E402
from evaluator.data.sources import open_dataset, resolved_spec  # noqa: E402
from evaluator.data.spec import DatasetSpec  # noqa: E402
from evaluator.data.windows import LongForm  # noqa: E402
from evaluator.models.spec import parse_model_spec  # noqa: E402
from evaluator.run.execute.interfaces import Pool  # noqa: E402
from evaluator.run.execute.local import LocalExecutor  # noqa: E402
from evaluator.run.execute.scheduler import Scheduler  # noqa: E402
from evaluator.run.plan.config import RunConfig  # noqa: E402
from evaluator.run.plan.devices import DevicePlan  # noqa: E402
from evaluator.run.plan.placement import shard_size_for  # noqa: E402
from evaluator.scoring.languages import LanguagePlan  # noqa: E402

STAND_IN = "tests.standin_backend.StandInBackend"


def write_clips(folder: Path, n: int, long: int = 0, seed: int = 0) -> None:
    """``n`` short clips (48 kHz stereo, 2-12 s), then ``long`` files of 2-5 minutes spread among them
    (16 kHz mono, tones in bursts: speech for the VAD)."""
    rng = np.random.default_rng(seed)
    lines = ["file_name,transcription"]
    every = n // (long + 1) if long else n + 1
    for i in range(n):
        seconds = float(rng.uniform(2.0, 12.0))
        t = np.arange(int(seconds * 48000)) / 48000
        tone = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 800) * t)
        stereo = np.stack([tone + 0.05 * rng.standard_normal(t.size), tone], axis=1).astype(np.float32)
        sf.write(folder / f"clip{i:04d}.flac", stereo, 48000)
        lines.append(f"clip{i:04d}.flac,stand in")
        if long and (i + 1) % every == 0 and (i + 1) // every <= long:
            k = (i + 1) // every
            t = np.arange(int(rng.uniform(120.0, 300.0) * 16000)) / 16000
            bursts = (np.sin(2 * np.pi * 0.25 * t) > -0.3).astype(np.float32)  # 3 s on, 1 s off
            mono = bursts * 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)
            sf.write(folder / f"long{k}.flac", mono.astype(np.float32), 16000)
            lines.append(f"long{k}.flac,stand in")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")


class _Rows:
    def __init__(self) -> None:
        self.rows = 0
        self.errors = 0

    def write(self, pool, dataset, rows, chunks) -> None:
        self.rows += len(rows)
        self.errors += sum(1 for r in rows if r.error)

    def lost(self, pool, shard, reason) -> None:
        raise RuntimeError(f"shard {shard.shard_id} lost: {reason}")

    def name_samples(self, shard):
        raise RuntimeError("a shard failed")

    def tick(self) -> None:
        pass


def run(folder: Path, batch_size: int, per_clip: float, threads: int, long_form: LongForm,
        per_batch: float = 0.0) -> dict[str, float]:
    spec = parse_model_spec(f"{STAND_IN}:none?batch_size={batch_size}&seconds_per_clip={per_clip}"
                            f"&seconds_per_batch={per_batch}")
    opened = open_dataset(DatasetSpec(str(folder)))
    settled = resolved_spec(opened, DatasetSpec(str(folder)))
    shard_size = shard_size_for(RunConfig.__dataclass_fields__["shard_size"].default, [batch_size])
    total, shards = plan_shards(opened, settled, shard_size, None)
    pool = Pool(spec.label, long_form, 1, iter(shards), spec=spec,
                plan=DevicePlan("cpu", {"num_cpus": threads}, threads))
    executor = LocalExecutor(LanguagePlan("en"))
    rows = _Rows()
    started = time.perf_counter()
    Scheduler([pool], executor, rows, wait_seconds=0.05).run()
    span = time.perf_counter() - started
    (worker,) = executor.workers
    stats = worker.pipeline_stats()
    assert rows.rows == total and rows.errors == 0, (rows.rows, rows.errors)
    sizes = [n for n, _ in worker.backend.calls]  # every call, windows of long files included
    return {"span": span, "device": per_batch * len(sizes) + per_clip * sum(sizes),
            "median_batch": statistics.median(sizes), "mean_batch": statistics.mean(sizes), "batches": len(sizes),
            "items": sum(sizes),
            "shard_size": shard_size, "decodes_during_batches": stats.decodes_during_batches()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=240)
    parser.add_argument("--long", type=int, default=0, help="long files of 2-5 minutes among the clips (chunked)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--per-clip", type=float, default=None,
                        help="the stand-in's seconds per clip (default: as long as decoding took, measured)")
    parser.add_argument("--per-batch", type=float, default=0.0,
                        help="the stand-in's fixed seconds per batch (a GPU call's cost whatever its fill)")
    parser.add_argument("--threads", type=int, default=2, help="the actor's CPUs (its decoder threads)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_clips(folder, args.clips, args.long)
        long_form = LongForm("chunked" if args.long else "native", 30.0, 5.0)
        run(folder, args.batch_size, 0.0, args.threads, long_form)  # warm-up: imports, file cache
        decode = run(folder, args.batch_size, 0.0, args.threads, long_form)
        per_clip = decode["span"] / decode["items"] if args.per_clip is None else args.per_clip
        both = run(folder, args.batch_size, per_clip, args.threads, long_form, args.per_batch)
    d, t, b = decode["span"], both["device"], both["span"]
    overlap = (d + t - b) / min(d, t)
    windows = both["items"] - args.clips
    print(f"{args.clips} clips of 48 kHz stereo FLAC" + (f" and {args.long} long files ({windows} windows)" if args.long
                                                          else "")
          + f", batch_size {args.batch_size}, default shard size "
          f"{both['shard_size']}, {args.threads} decoder threads, {os.cpu_count()} CPUs here")
    print(f"decode-only span      {d:7.2f} s")
    print(f"device time           {t:7.2f} s   ({per_clip * 1000:.1f} ms per clip or window, "
          f"{args.per_batch * 1000:.0f} ms per batch)")
    print(f"both span             {b:7.2f} s")
    print(f"overlap               {overlap:7.2f}   (1: decoding hidden behind the device, 0: one after the other)")
    print(f"median batch          {both['median_batch']:7.1f}   of {args.batch_size} "
          f"(fill {both['median_batch'] / args.batch_size:.0%}, {both['batches']} batches, "
          f"mean {both['mean_batch']:.1f})")
    print(f"device busy           {t / b:7.0%}   of the span")
    print(f"decodes during batches {both['decodes_during_batches']} (on other threads)")


if __name__ == "__main__":
    main()
