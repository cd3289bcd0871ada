"""The Open ASR Leaderboard's GPU recipe beside evaluator, on the same model and clips (a machine
with a CUDA GPU; it stops with a message elsewhere).

1. The recipe, as its transformers scripts run Whisper: weights in bfloat16 with SDPA attention,
   clips sorted by length, batches of 64, log-mel features padded to 30 s, ``generate``, then
   ``batch_decode``; a warm-up pass first; RTFx = audio seconds / seconds spent in pre-processing,
   generation and decoding (each batch timed after ``torch.cuda.synchronize``).
2. evaluator: ``evaluator run`` of ``transformers:MODEL?dtype=bfloat16&batch_size=64`` over the same
   clips on a local Ray cluster; RTFx = audio seconds / the run's processing seconds (first actor
   ready to the last row: reading, decoding, inference, scoring and storing, all of it).

    python bench/gpu.py [--model tiny.en | openai/whisper-large-v3] [--dataset builtin:sample] [--repeat 20]

``--repeat`` lays the clips end to end N times (the sample set is 24 clips: too few for batches
of 64).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def _need_cuda() -> None:
    try:
        import torch
    except ImportError:
        sys.exit("bench/gpu.py needs PyTorch with CUDA: pip install 'evaluator[transformers]' on a machine "
                 "with an NVIDIA GPU")
    if not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False here); run it on a GPU "
                 "machine, e.g. one node of the cluster: python bench/gpu.py --model openai/whisper-large-v3")


def _clips(dataset: str, repeat: int) -> list:
    from evaluator.data.audio import decode_audio
    from evaluator.data.readers import read_shard
    from evaluator.data.shards import Shard
    from evaluator.data.sources import open_dataset, resolved_spec
    from evaluator.data.spec import DatasetSpec

    spec = DatasetSpec(dataset)
    opened = open_dataset(spec)
    settled = resolved_spec(opened, spec)
    samples = list(read_shard(opened, Shard(settled, 0, start=0, stop=opened.num_rows)))
    return [decode_audio(s.audio) for s in samples] * repeat


def leaderboard_recipe(model: str, clips: list, batch_size: int) -> float:
    import torch
    from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

    from evaluator.models.weights import resolve_model

    path = resolve_model(model, "transformers")
    net = AutoModelForSpeechSeq2Seq.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa").to("cuda")
    processor = AutoProcessor.from_pretrained(path)
    order = sorted(range(len(clips)), key=lambda i: len(clips[i]))

    def batch(indices: list[int]) -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        features = processor([clips[i] for i in indices], sampling_rate=16000, return_tensors="pt")
        inputs = features.input_features.to("cuda", torch.bfloat16)
        with torch.inference_mode():
            ids = net.generate(inputs, max_new_tokens=128)
        processor.batch_decode(ids, skip_special_tokens=True)
        torch.cuda.synchronize()
        return time.perf_counter() - started

    batch(order[:batch_size])  # warm-up
    spent = sum(batch(order[s : s + batch_size]) for s in range(0, len(order), batch_size))
    return sum(len(c) for c in clips) / 16000 / spent


def evaluator_run(model: str, clips: list, batch_size: int) -> float:
    import soundfile as sf

    from evaluator.data.spec import DatasetSpec
    from evaluator.models.spec import parse_model_spec
    from evaluator.results.store import Store
    from evaluator.run.driver import run_evaluation
    from evaluator.run.plan.cluster import connect_ray
    from evaluator.run.plan.config import RunConfig

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        lines = ["file_name,transcription"]
        for i, clip in enumerate(clips):
            sf.write(folder / f"c{i:05d}.flac", clip, 16000)
            lines.append(f"c{i:05d}.flac,x")
        (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
        connect_ray("local")
        db = str(Path(tmp) / "gpu.duckdb")
        spec = parse_model_spec(f"transformers:{model}?dtype=bfloat16&batch_size={batch_size}")
        with Store(db) as store:
            summary = run_evaluation(RunConfig(models=(spec,), dataset=DatasetSpec(str(folder)), db=db,
                                               device="cuda"), store)
            _, ((processing,),) = store.query("SELECT summary->>'$.processing_seconds' FROM runs")
        assert summary.errors == 0, summary
    return sum(len(c) for c in clips) / 16000 / float(processing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny.en", help="a Whisper alias, transformers folder or hub id")
    parser.add_argument("--dataset", default="builtin:sample")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    _need_cuda()
    import torch

    clips = _clips(args.dataset, args.repeat)
    hours = sum(len(c) for c in clips) / 16000 / 3600
    print(f"{len(clips)} clips ({hours:.2f} h) of {args.dataset}, {args.model}, batch {args.batch_size}, "
          f"bfloat16, on {torch.cuda.get_device_name()}")
    print(f"leaderboard recipe RTFx {leaderboard_recipe(args.model, clips, args.batch_size):8.1f}")
    print(f"evaluator run      RTFx {evaluator_run(args.model, clips, args.batch_size):8.1f}  (reading, decoding "
          "and scoring included)")


if __name__ == "__main__":
    main()
