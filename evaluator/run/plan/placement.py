"""Placement: how many actors each model gets, with how many threads and how much memory.

Pure functions of the cluster's resources (``ray.cluster_resources()``: ``CPU``, ``GPU``,
``mps``, ``memory`` in bytes) and a :class:`ModelRequest` per model; no Ray here, so every rule is
tested with simulated clusters. The rules, in order:

1. Accelerator actors (CUDA, MPS) come first: one per device share (``--gpus-per-actor``), at
   most what the GPU's memory holds when it is known, and each takes one CPU.
2. The remaining CPUs are split evenly among the models that run on CPU: ``--cpus-per-actor``
   CPUs per actor; a large model (LFM2.5-Audio, SeamlessM4T) gets one actor per
   :data:`LARGE_MODEL_THREADS` CPUs (one actor with all the cores on a small machine).
3. Every actor requests its estimated memory from Ray (``memory``), and the actors of all models
   together must fit the cluster's memory: each model gets one actor, then one more per model in
   turn while memory remains. A model held back by memory gives its actors the CPUs it does not
   use as threads.

Batches: shards hold at least a batch of the model that batches most (:func:`shard_size_for`).
On CUDA, a batching model whose batch size the user left open gets one chosen when its actor has
loaded, from the weights' size and the GPU's free memory (:func:`gpu_batch_size`), as the Open ASR
Leaderboard's scripts run large batches.

A model's memory per actor (:func:`estimate_memory`) is, in order of preference: the peak
measured for it (same label, same kind of device) in an earlier run of the database plus
:data:`MEASURED_MARGIN`; its weights on disk at the dtype it runs in plus the backend's
``runtime_memory_mb`` (Python, Ray worker, library); else the backend's ``default_memory_mb``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.errors import ConfigError
from evaluator.models.files import WeightFiles
from evaluator.run.plan.devices import MPS_RESOURCE, DevicePlan

__all__ = [
    "CLIP_MEMORY_SHARE",
    "DTYPE_BYTES",
    "GPU_BATCH_LIMIT",
    "LARGE_MODEL_THREADS",
    "MEASURED_MARGIN",
    "OVERHEAD_MB",
    "MemoryEstimate",
    "ModelRequest",
    "Plan",
    "estimate_memory",
    "gpu_batch_size",
    "measured_peaks",
    "plan_models",
    "run_dtype",
    "shard_size_for",
]

MIB = 1 << 20
#: Runtime, audio buffers and activations of one actor, added to its weights (MiB), unless the
#: backend says (``runtime_memory_mb``).
OVERHEAD_MB = 1000.0
#: A measured peak is requested with this much headroom.
MEASURED_MARGIN = 1.2
#: A large model on CPU gets one actor per this many CPUs (at least one actor).
LARGE_MODEL_THREADS = 4
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "int8_float32": 1, "int8_float16": 1,
               "int8_bfloat16": 1, "int16": 2}
#: One clip in a batch needs about this share of the model's weights in activations and caches
#: (Whisper's cross-attention cache over 1,500 encoder frames is about a tenth of its weights).
CLIP_MEMORY_SHARE = 0.1
#: The largest batch chosen from free memory (the leaderboard's scripts run 64 to 1,024).
GPU_BATCH_LIMIT = 256
_SAFETENSORS_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I8": "int8"}


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory one actor of a model needs (MiB) and where the figure comes from."""

    mb: float
    source: str


@dataclass(frozen=True)
class ModelRequest:
    """What the planner knows about one model.

    Attributes:
        label: the model spec's label.
        device: the device chosen for it (:func:`evaluator.run.plan.devices.plan_device`).
        memory: memory per actor (:func:`estimate_memory`).
        long_form: how long audio is handled, in words.
        large: a large model (the backend's ``large_model``): few CPU actors with many threads.
        device_reason: why this device, in words.
        weights: where the weights are, in words.
        batch_size: clips per batch (the backend's option; 1: one at a time).
        batch_chosen: the user left the batch size open (on CUDA it is chosen at load).
    """

    label: str
    device: DevicePlan
    memory: MemoryEstimate
    long_form: str = ""
    large: bool = False
    device_reason: str = ""
    weights: str = ""
    batch_size: int = 1
    batch_chosen: bool = False


@dataclass(frozen=True)
class Plan:
    """Where and how one model runs.

    Attributes:
        label: the model spec's label.
        device: ``cpu``, ``cuda`` or ``mps``.
        actors: actors to start.
        threads: inference threads per actor.
        memory_mb: memory each actor requests from Ray (MiB).
        long_form: how long audio is handled.
        reasons: why, one line each (device, actors, threads, memory).
        ray_options: what each actor is created with (``num_cpus``, ``num_gpus``, ``memory``, ...).
        warning: set when the plan may not work as hoped (device fallback, memory too small).
        min_shard: the smallest shard that fills this model's batches (its batch size; half of
            :data:`GPU_BATCH_LIMIT` where the batch size is chosen on the GPU at load).
    """

    label: str
    device: str
    actors: int
    threads: int
    memory_mb: float
    long_form: str
    reasons: tuple[str, ...]
    ray_options: dict[str, Any]
    warning: str | None = None
    min_shard: int = 1

    @property
    def device_plan(self) -> DevicePlan:
        """The :class:`DevicePlan` actors are started with."""
        return DevicePlan(self.device, self.ray_options, self.threads, self.warning)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.label, "device": self.device, "actors": self.actors, "threads": self.threads,
                "memory_mb": round(self.memory_mb), "long_form": self.long_form, "reasons": list(self.reasons),
                "warning": self.warning, "min_shard": self.min_shard}


def run_dtype(options: Mapping[str, Any], device: str) -> str:
    """The dtype a model's weights are held in, from its effective options: ``dtype`` or
    ``compute_type`` when set, openai-whisper's ``fp16``, else float16 on CUDA and float32 elsewhere."""
    for key in ("dtype", "compute_type"):
        if options.get(key):
            return str(options[key])
    if "fp16" in options:
        return "float16" if options["fp16"] and device != "cpu" else "float32"
    return "float16" if device.startswith("cuda") else "float32"


def shard_size_for(requested: int, batch_sizes: Iterable[int]) -> int:
    """Samples per shard: at least one batch of the model that batches most, so an actor's
    batches fill (``requested``: ``--shard-size`` or its default)."""
    return max([int(requested), *(int(b) for b in batch_sizes)])


def gpu_batch_size(weights_mb: float, free_mb: float, fallback: int, *, reserve_mb: float = 1024.0,
                   limit: int = GPU_BATCH_LIMIT) -> tuple[int, str]:
    """A batch size for a model on a GPU: the largest power of two whose clips fit 80% of the
    memory left once the weights are loaded, at :data:`CLIP_MEMORY_SHARE` of the weights per
    clip (at least 8 MiB), between 1 and ``limit``; returns (size, why). ``free_mb``: the GPU's
    free memory with the model loaded; ``fallback``: the backend's default, kept when too little
    is known."""
    if free_mb <= 0 or weights_mb <= 0:
        return fallback, f"batch size {fallback}: the backend's default (GPU memory unknown)"
    per_clip = max(8.0, weights_mb * CLIP_MEMORY_SHARE)
    room = 0.8 * (free_mb - reserve_mb)
    size = 1
    while size * 2 <= limit and size * 2 * per_clip <= room:
        size *= 2
    return size, (f"batch size {size}: {_gib(free_mb)} free on the GPU after loading, about {_gib(per_clip)} "
                  f"per clip for {_gib(weights_mb)} of weights (at most {limit})")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _gib(mb: float) -> str:
    return f"{mb / 1024:.1f} GiB" if mb >= 1024 else f"{mb:.0f} MiB"


def estimate_memory(weights: WeightFiles | None, dtype: str, default_mb: float, measured_mb: float | None = None,
                    float16_on_disk: bool = False, overhead_mb: float = OVERHEAD_MB) -> MemoryEstimate:
    """Memory per actor (see the module's docstring for the order of the sources).

    ``weights`` are the model's files on disk (``None``: not on disk yet); safetensors headers
    give the number of parameters, which times ``dtype``'s size is the loaded weights; other
    files count at their size on disk, halved or doubled when ``float16_on_disk`` and ``dtype``
    says they are held at another width.
    """
    if measured_mb:
        return MemoryEstimate(measured_mb * MEASURED_MARGIN,
                              f"measured peak {_gib(measured_mb)} in an earlier run, +{MEASURED_MARGIN - 1:.0%}")
    if weights is None or weights.bytes <= 0:
        return MemoryEstimate(default_mb, "the backend's default (no weights on disk to measure yet)")
    width = DTYPE_BYTES.get(dtype)
    params = sum(weights.safetensors_params.values())
    if params and width:
        stored = "/".join(sorted({_SAFETENSORS_NAMES.get(d, d) for d in weights.safetensors_params}))
        loaded = params * width / MIB
        how = f"{params / 1e6:.0f} M parameters ({stored} on disk) in {dtype}"
    elif float16_on_disk and width:
        loaded = weights.bytes * width / 2 / MIB
        how = f"{_gib(weights.bytes / MIB)} of float16 weights on disk, in {dtype}"
    else:
        loaded = weights.bytes / MIB
        how = f"{_gib(loaded)} of weights on disk"
    return MemoryEstimate(loaded + overhead_mb, f"{how} = {_gib(loaded)}, + {_gib(overhead_mb)} runtime")


def measured_peaks(models_json: Iterable[str | Mapping[str, Any] | None]) -> dict[tuple[str, str], float]:
    """(model label, device kind) -> the peak memory (MiB) of its workers in the latest run that
    measured one. ``models_json`` are ``runs.models`` values, newest first; the device kind is
    ``cpu`` or the accelerator (``cuda``, ``mps``): a CPU peak says little about a GPU actor."""
    peaks: dict[tuple[str, str], float] = {}
    for value in models_json:
        models = json.loads(value) if isinstance(value, str) else value
        if not isinstance(models, Mapping):
            continue
        for label, entry in models.items():
            if not isinstance(entry, Mapping):
                continue
            found: dict[str, float] = {}
            for worker in entry.get("workers") or []:
                peak = worker.get("peak_memory_mb") if isinstance(worker, Mapping) else None
                if peak:
                    kind = str(worker.get("device") or entry.get("device") or "cpu").split(":", 1)[0]
                    found[kind] = max(found.get(kind, 0.0), float(peak))
            for kind, peak in found.items():
                peaks.setdefault((label, kind), peak)  # the newest run wins
    return peaks


@dataclass
class _Draft:
    request: ModelRequest
    actors: int
    wanted: int
    cpus: float
    reasons: list[str]
    warnings: list[str]
    memory_mb: float


def _share(plan: DevicePlan) -> float:
    if plan.device == "cuda":
        return float(plan.ray_options.get("num_gpus", 1.0))
    return float(plan.ray_options.get("resources", {}).get(MPS_RESOURCE, 1.0))


def plan_models(requests: Sequence[ModelRequest], cluster: Mapping[str, float], *,
                actors_per_model: int | None = None, cpus_per_actor: float = 1.0,
                gpu_memory_mb: float | None = None) -> list[Plan]:
    """Plan every model of a run on a cluster (see the module's docstring for the rules).

    Args:
        requests: one per model, in the run's order.
        cluster: ``ray.cluster_resources()``; ``memory`` in bytes (absent: no memory cap).
        actors_per_model: the user's fixed number of actors (still capped by memory).
        cpus_per_actor: CPUs per CPU actor (``--cpus-per-actor``).
        gpu_memory_mb: memory of one GPU, when known: caps the actors that share a GPU.

    Raises:
        ConfigError: one actor asks for more CPUs than the cluster has.
    """
    cores = float(cluster.get("CPU", 0))
    total_mb = float(cluster["memory"]) / MIB if cluster.get("memory") else None
    free_mb = total_mb
    free_cores = cores
    drafts: list[_Draft] = []
    for req in requests:
        cpus = float(req.device.ray_options.get("num_cpus", 0))
        if cpus > cores:
            raise ConfigError(f"{req.label}: an actor asks for {cpus:g} CPUs but the cluster has {cores:g}; "
                              "lower --cpus-per-actor")
        reasons = [req.device_reason] if req.device_reason else []
        reasons += [f"weights: {req.weights}"] if req.weights else []
        reasons.append(f"memory per actor {_gib(req.memory.mb)}: {req.memory.source}")
        if req.device.device == "cuda" and req.batch_chosen and req.batch_size > 1:
            reasons.append(f"batch size chosen at load from the GPU's free memory and the weights' size "
                           f"(the backend's default {req.batch_size} if unknown); clips sorted by length")
        elif req.batch_size > 1:
            reasons.append(f"batch size {req.batch_size}, filled across shards, clips sorted by length")
        warnings = [req.device.warning] if req.device.warning else []
        drafts.append(_Draft(req, 1, 1, cpus, reasons, warnings, req.memory.mb))

    for d in (d for d in drafts if d.request.device.device != "cpu"):
        share = _share(d.request.device)
        per_device = max(1, int(1 / share + 1e-9))
        devices = int(cluster.get("GPU", 0)) if d.request.device.device == "cuda" else 1
        name = "GPU" if d.request.device.device == "cuda" else "MPS device"
        if actors_per_model is not None:
            d.wanted = actors_per_model
            d.reasons.append(f"{_n(actors_per_model, 'actor')}: --actors-per-model")
        else:
            if d.request.device.device == "cuda" and gpu_memory_mb:
                fits = int(gpu_memory_mb // d.memory_mb)
                if fits < 1:
                    d.warnings.append(f"{d.request.label}: an actor needs about {_gib(d.memory_mb)}, more than "
                                      f"one GPU's {_gib(gpu_memory_mb)}; it may run out of GPU memory")
                elif fits < per_device:
                    d.reasons.append(f"a GPU's {_gib(gpu_memory_mb)} holds {fits} actors, not {per_device}")
                    per_device = fits
            d.wanted = max(1, devices * per_device)
            d.reasons.append(f"{_n(d.wanted, 'actor')}: {_n(devices, name)} x {per_device} "
                             f"per device (--gpus-per-actor {share:g})")
        d.actors = d.wanted
        if d.cpus and free_cores >= d.cpus and d.actors * d.cpus > free_cores:
            d.actors = int(free_cores // d.cpus)
            d.reasons.append(f"capped at {_n(d.actors, 'actor')}: each takes {d.cpus:g} CPU, {free_cores:g} are free")
        if free_mb is not None:
            fits = int(free_mb // d.memory_mb)
            if fits < d.actors:
                d.actors = max(1, fits)
                d.reasons.append(f"capped at {_n(d.actors, 'actor')} by memory "
                                 f"({_gib(free_mb)} free of {_gib(total_mb or 0)})")
            free_mb -= d.actors * d.memory_mb
        free_cores -= d.actors * d.cpus

    on_cpu = [d for d in drafts if d.request.device.device == "cpu"]
    cpu_share = max(free_cores, 0.0) / len(on_cpu) if on_cpu else 0.0
    for d in on_cpu:
        if actors_per_model is not None:
            d.wanted = actors_per_model
            d.reasons.append(f"{_n(actors_per_model, 'actor')}: --actors-per-model")
        elif d.request.large:
            per_actor = max(d.cpus, LARGE_MODEL_THREADS)
            d.wanted = max(1, int(cpu_share // per_actor))
            d.reasons.append(f"a large model on CPU: one actor per {per_actor:g} CPUs of the {cpu_share:g} it gets "
                             f"-> {_n(d.wanted, 'actor')} with all the cores, not one per core")
        else:
            d.wanted = max(1, int(cpu_share // d.cpus))
            d.reasons.append(f"{_n(d.wanted, 'actor')}: {cpu_share:g} CPUs for this model "
                             f"({_n(len(on_cpu), 'model')} on CPU) / {d.cpus:g} per actor")
        d.actors = 1
    if on_cpu and free_mb is not None:
        needed = sum(d.memory_mb for d in on_cpu)
        if needed > free_mb:  # not even one actor each: shrink the requests so Ray can place them
            scale = max(free_mb, 0.0) / needed
            for d in on_cpu:
                d.warnings.append(f"{d.request.label}: one actor of each CPU model needs {_gib(needed)} but "
                                  f"{_gib(max(free_mb, 0))} of the cluster's memory is free; requesting "
                                  f"{_gib(d.memory_mb * scale)} and it may run out of memory "
                                  "(run fewer models at once)")
                d.memory_mb *= scale
            free_mb = 0.0
        else:
            free_mb -= needed
            grew = True
            while grew:  # one more actor per model in turn, while memory lasts
                grew = False
                for d in on_cpu:
                    if d.actors < d.wanted and d.memory_mb <= free_mb:
                        d.actors += 1
                        free_mb -= d.memory_mb
                        grew = True
        for d in on_cpu:
            if d.actors < d.wanted:
                d.reasons.append(f"memory allows {d.actors} of the {_n(d.wanted, 'actor')} "
                                 f"({_gib(total_mb or 0)} of cluster memory for all models)")
    elif on_cpu:
        for d in on_cpu:
            d.actors = d.wanted
        if total_mb is None:
            for d in on_cpu:
                d.reasons.append("the cluster reports no memory: actors are not capped by memory")

    plans = []
    for d in drafts:
        options = dict(d.request.device.ray_options)
        threads = d.request.device.cpu_threads
        if d.request.device.device == "cpu" and (d.request.large or d.actors < d.wanted) and actors_per_model is None:
            threads = max(threads, int(cpu_share // d.actors))
            if threads > d.request.device.cpu_threads:
                options["num_cpus"] = float(threads)
                d.reasons.append(f"{threads} threads per actor: the CPUs this model would leave idle")
        options["memory"] = int(d.memory_mb * MIB)
        warning = "; ".join(w for w in d.warnings if w) or None
        chosen_on_gpu = d.request.device.device == "cuda" and d.request.batch_chosen and d.request.batch_size > 1
        min_shard = max(d.request.batch_size, GPU_BATCH_LIMIT // 2 if chosen_on_gpu else 1)
        plans.append(Plan(d.request.label, d.request.device.device, d.actors, threads, d.memory_mb,
                          d.request.long_form, tuple(d.reasons), options, warning, min_shard))
    return plans
