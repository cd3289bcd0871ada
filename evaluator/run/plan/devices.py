"""Resolve ``auto|cpu|cuda|cuda:N|mps`` against what a backend supports and what the cluster
has, and turn the result into Ray resource requests.

Apple MPS is exposed to Ray as a custom resource ``mps`` of capacity 1 on a Mac's local
cluster, so two MPS actors never share (and thrash) the one device.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluator.errors import ConfigError

__all__ = ["DevicePlan", "plan_device", "local_custom_resources", "missing_mps_warning", "MPS_RESOURCE",
           "MPS_ENV", "MPS_CLUSTER_RECIPE"]

MPS_RESOURCE = "mps"
# Set in every MPS actor's environment before its process starts: torch reads it once, on import.
MPS_ENV = {"PYTORCH_ENABLE_MPS_FALLBACK": "1"}
MPS_CLUSTER_RECIPE = "ray start --head --resources '{\"mps\": 1}'"


@dataclass(frozen=True)
class DevicePlan:
    """Where a model's actors run.

    Attributes:
        device: what the backend is told (``cpu``, ``cuda``, ``cuda:N``, ``mps``).
        ray_options: resources for ``ray.remote(...).options(**ray_options)``.
        cpu_threads: inference threads for the library.
        warning: set when the request could not be honoured and another device is used.
    """

    device: str
    ray_options: dict[str, Any] = field(default_factory=dict)
    cpu_threads: int = 1
    warning: str | None = None


def local_custom_resources() -> dict[str, float]:
    """Custom resources for a local cluster: ``mps: 1`` on Apple Silicon."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return {MPS_RESOURCE: 1.0}
    return {}


def missing_mps_warning(cluster: Mapping[str, float], system: str | None = None,
                        machine: str | None = None) -> str | None:
    """One line when the driver runs on Apple Silicon but the Ray cluster offers no ``mps``
    resource (``ray start --head`` does not add one), so ``auto`` would run on CPU."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    if system != "Darwin" or machine != "arm64" or cluster.get(MPS_RESOURCE, 0) >= 1:
        return None
    return (f"this Mac's Ray cluster has no '{MPS_RESOURCE}' resource, so models run on CPU, not the GPU; "
            f"start the cluster with: {MPS_CLUSTER_RECIPE}")


def plan_device(
    requested: str,
    backend_name: str,
    backend_devices: Sequence[str],
    cluster: Mapping[str, float],
    cpus_per_actor: float,
    gpus_per_actor: float = 1.0,
) -> DevicePlan:
    """Pick the device for a backend.

    ``auto`` takes cuda > mps > cpu among the devices the backend supports and the cluster has.
    An explicit device the backend cannot use falls back to CPU with a warning; an explicit
    ``cuda`` on a cluster without GPUs is an error (nothing would ever schedule).
    """
    has = {
        "cuda": cluster.get("GPU", 0) >= 1,
        "mps": cluster.get(MPS_RESOURCE, 0) >= 1,
        "cpu": True,
    }
    kind = requested.split(":", 1)[0]
    warning = None
    if kind == "auto":
        device = next(d for d in ("cuda", "mps", "cpu") if d == "cpu" or (d in backend_devices and has[d]))
    elif kind not in backend_devices:
        device = "cpu"
        warning = (
            f"{backend_name} cannot use {requested} (it supports {', '.join(backend_devices)}); "
            "running on cpu"
        )
    elif not has[kind]:
        raise ConfigError(
            f"device {requested} requested but the Ray cluster has no "
            f"{'GPU' if kind == 'cuda' else 'MPS device'}; use --device auto or cpu"
            + ("" if kind == "cuda" else f" (on a Mac, start the cluster with: {MPS_CLUSTER_RECIPE})")
        )
    else:
        device = requested
    threads = max(1, int(cpus_per_actor))
    if device.startswith("cuda"):
        # Ray sets CUDA_VISIBLE_DEVICES per actor; the one visible GPU is index 0.
        return DevicePlan("cuda", {"num_gpus": gpus_per_actor, "num_cpus": 1}, 1, warning)
    if device == "mps":
        return DevicePlan("mps", {"num_cpus": 1, "resources": {MPS_RESOURCE: gpus_per_actor},
                                  "runtime_env": {"env_vars": dict(MPS_ENV)}}, 1, warning)
    return DevicePlan("cpu", {"num_cpus": cpus_per_actor}, threads, warning)
