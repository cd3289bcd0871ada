"""Batch sizes and shard sizes as the planner and the actor choose them, on simulated clusters and
simulated GPU memory (no GPU needed)."""

from __future__ import annotations

import dataclasses

from evaluator.run.plan.devices import plan_device
from evaluator.run.plan.placement import (
    GPU_BATCH_LIMIT,
    MemoryEstimate,
    ModelRequest,
    gpu_batch_size,
    plan_models,
    shard_size_for,
)

GB = 1e9
GPU_NODE = {"CPU": 16.0, "GPU": 1.0, "memory": 128 * GB}
CPU_2 = {"CPU": 2.0, "memory": 8 * GB}


def request(cluster: dict[str, float], batch_size: int, chosen: bool) -> ModelRequest:
    plan = plan_device("auto", "transformers", ("cuda", "mps", "cpu"), cluster, 1.0, 1.0)
    return ModelRequest("whisper", plan, MemoryEstimate(4000, "test"), "native", batch_size=batch_size,
                        batch_chosen=chosen)


def test_shards_hold_at_least_a_batch_of_the_model_that_batches_most() -> None:
    assert shard_size_for(4, [1, 1]) == 4  # one clip at a time: the default stands
    assert shard_size_for(4, [8, 1]) == 8
    assert shard_size_for(4, [128]) == 128  # a 128-clip batch gets shards of 128
    assert shard_size_for(500, [128]) == 500  # a larger --shard-size stays


def test_gpu_batch_grows_with_free_memory_and_shrinks_with_model_size() -> None:
    # Whisper large-v3 in float16: about 3 GiB of weights, 0.3 GiB per clip.
    on_h100, why = gpu_batch_size(3100, 76_000, 8)
    on_24gb, _ = gpu_batch_size(3100, 20_000, 8)
    tiny, _ = gpu_batch_size(80, 20_000, 8)
    assert on_h100 == 128 and on_24gb == 32  # powers of two that fit 80% of what is left
    assert 128 * 310 <= 0.8 * (76_000 - 1024) < 256 * 310
    assert tiny == GPU_BATCH_LIMIT  # a tiny model is capped, not given thousands
    assert "free on the GPU" in why and "per clip" in why
    assert gpu_batch_size(3100, 0, 8)[0] == 8  # memory unknown: the backend's default
    assert gpu_batch_size(30_000, 4_000, 8)[0] == 1  # little left after loading: one clip at a time


def test_the_plan_says_how_batches_are_chosen_and_what_shard_fills_them() -> None:
    (gpu,) = plan_models([request(GPU_NODE, 8, chosen=True)], GPU_NODE)
    assert gpu.device == "cuda" and gpu.min_shard == GPU_BATCH_LIMIT // 2
    assert any("chosen at load from the GPU's free memory" in r for r in gpu.reasons)
    (fixed,) = plan_models([request(GPU_NODE, 16, chosen=False)], GPU_NODE)
    assert fixed.min_shard == 16 and any(r.startswith("batch size 16") for r in fixed.reasons)
    (cpu,) = plan_models([dataclasses.replace(request(CPU_2, 8, chosen=True))], CPU_2)
    assert cpu.device == "cpu" and cpu.min_shard == 8  # chosen on a GPU only
    assert cpu.to_dict()["min_shard"] == 8
