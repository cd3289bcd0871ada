"""Small jobs end to end: ``evaluator run --address local`` against two bare faster-whisper
processes and a Ray Data ``map_batches`` script, on the same clips with tiny.en on 2 CPUs.

Each contender is one fresh process (or two, for the bare loop), timed from its start to its
exit, so Python's imports, Ray's start and the model loads count: what a user waits for.

1. evaluator: ``python -m evaluator.cli run --address local --num-cpus 2 --dataset DIR --model
   faster-whisper:tiny.en`` (scores and stores every row too);
2. bare: two processes, each loading faster-whisper tiny.en (int8, one thread) and transcribing
   half of the clips; once as written, once with glibc's allocator thresholds raised as
   evaluator's workers raise them (:mod:`evaluator.run.execute.allocator`), to tell that gain
   apart from the rest;
3. Ray Data: ``ray.init(num_cpus=2)``, ``ray.data.from_items(paths).map_batches(Transcriber,
   concurrency=2, num_cpus=1, batch_size=8)`` (a class that loads tiny.en once per actor and
   decodes with soundfile).

The clips are the bundled sample clips up to 30 s, listed until there are ``--clips`` of them.
evaluator's package is byte-compiled first, as an install leaves it (a checkout run with
``PYTHONDONTWRITEBYTECODE`` set would compile its modules in every process, every time).

    python bench/startup.py [--clips 75] [--repeat 1] [--only evaluator]
"""

from __future__ import annotations

import argparse
import compileall
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import soundfile as sf

BARE = textwrap.dedent("""
    import sys
    if sys.argv.pop(1) == "tuned":  # the allocator thresholds evaluator's workers use
        from evaluator.run.execute.allocator import tune_allocator
        tune_allocator()
    import soundfile as sf
    from faster_whisper import WhisperModel
    from evaluator.models.weights import resolve_model
    model = WhisperModel(resolve_model("tiny.en", "ctranslate2"), device="cpu", compute_type="int8",
                         cpu_threads=1)
    for path in sys.argv[1:]:
        audio, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        segments, _ = model.transcribe(audio, language="en", beam_size=1, temperature=0.0)
        "".join(s.text for s in segments)
""")

RAY_DATA = textwrap.dedent("""
    import sys
    import ray
    import soundfile as sf
    from faster_whisper import WhisperModel
    from evaluator.models.weights import resolve_model

    class Transcriber:
        def __init__(self):
            self.model = WhisperModel(resolve_model("tiny.en", "ctranslate2"), device="cpu",
                                      compute_type="int8", cpu_threads=1)

        def __call__(self, batch):
            texts = []
            for path in batch["path"]:
                audio, _ = sf.read(path, dtype="float32")
                segments, _ = self.model.transcribe(audio, language="en", beam_size=1, temperature=0.0)
                texts.append("".join(s.text for s in segments))
            batch["text"] = texts
            return batch

    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    paths = [{"path": p} for p in sys.argv[1:]]
    rows = ray.data.from_items(paths).map_batches(Transcriber, concurrency=2, num_cpus=1, batch_size=8).take_all()
    assert len(rows) == len(paths)
""")


def write_clips(folder: Path, n: int) -> list[str]:
    from evaluator.data.audio import SAMPLE_RATE, decode_audio
    from evaluator.data.builtin import sample_data_dir

    source = Path(sample_data_dir())
    with open(source / "metadata.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    short = [(r, decode_audio(str(source / r["file_name"]))) for r in rows]
    short = [(r, a) for r, a in short if len(a) <= 30 * SAMPLE_RATE]
    paths, lines = [], ["file_name,transcription"]
    for i in range(n):
        row, audio = short[i % len(short)]
        name = f"c{i:03d}.flac"
        sf.write(folder / name, audio, SAMPLE_RATE)
        paths.append(str(folder / name))
        text = row["transcription"].replace('"', "'")
        lines.append(f'{name},"{text}"')
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    return paths


def timed(commands: list[list[str]], env: dict[str, str]) -> float:
    started = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{' '.join(commands[0][:4])} ... failed: {err.decode()[-2000:]}")
    return time.perf_counter() - started


def _cpu() -> str:
    lscpu = shutil.which("lscpu")
    if lscpu:
        for line in subprocess.run([lscpu], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=75)
    parser.add_argument("--repeat", type=int, default=1, help="rounds (each contender once per round)")
    parser.add_argument("--only", action="append", default=[], metavar="WORDS",
                        help="time only the contenders whose name contains WORDS (repeatable)")
    args = parser.parse_args()
    python = sys.executable
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "evaluator", quiet=1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]) + os.pathsep
           + os.environ.get("PYTHONPATH", ""), "RAY_DISABLE_USAGE_STATS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        paths = write_clips(folder, args.clips)
        half = len(paths) // 2
        contenders = {
            "evaluator run --address local": lambda k: [[python, "-m", "evaluator.cli", "run", "--address", "local",
                                                         "--num-cpus", "2", "--dataset", str(folder), "--model",
                                                         "faster-whisper:tiny.en", "--db",
                                                         str(Path(tmp) / f"e{k}.duckdb"), "--name", f"startup{k}"]],
            "two bare faster-whisper processes": lambda k: [[python, "-c", BARE, "plain", *paths[:half]],
                                                            [python, "-c", BARE, "plain", *paths[half:]]],
            "the same, allocator tuned": lambda k: [[python, "-c", BARE, "tuned", *paths[:half]],
                                                    [python, "-c", BARE, "tuned", *paths[half:]]],
            "Ray Data map_batches": lambda k: [[python, "-c", RAY_DATA, *paths]],
        }
        print(f"{len(paths)} clips, tiny.en int8 on 2 CPUs ({_cpu()}, {os.cpu_count()} cores here)")
        for k in range(args.repeat):
            for name, command in contenders.items():
                if args.only and not any(words in name for words in args.only):
                    continue
                print(f"{name:<36} {timed(command(k), env):6.1f} s", flush=True)


if __name__ == "__main__":
    main()
