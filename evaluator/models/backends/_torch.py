"""Helpers shared by the PyTorch backends: device checks, dtypes, threads, token budgets.

Imported only inside actors (it imports torch lazily in each function).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from evaluator.errors import ConfigError

__all__ = ["prepare_torch", "torch_dtype", "token_budget", "check_generation_options", "DTYPES"]

log = logging.getLogger(__name__)

DTYPES = ("float32", "float16", "bfloat16")


def prepare_torch(device: str, cpu_threads: int) -> Any:
    """Check that ``device`` exists, set threads (and the MPS fallback), return a torch.device.

    MPS needs ``PYTORCH_ENABLE_MPS_FALLBACK=1`` so operators without an MPS kernel run on CPU
    instead of raising; it must be set before torch initialises MPS.
    """
    if device == "mps":
        os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    import torch

    torch.set_num_threads(max(1, cpu_threads))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device} requested but torch sees no CUDA GPU (torch {torch.__version__})")
    if device == "mps" and not (torch.backends.mps.is_available()):
        raise ConfigError("device mps requested but torch.backends.mps is not available")
    return torch.device(device)


def torch_dtype(name: str | None, device: str) -> Any:
    """The dtype for a device: ``float16`` on CUDA (``bfloat16`` if asked), ``float32`` elsewhere."""
    import torch

    if name is None:
        name = "float16" if device.startswith("cuda") else "float32"
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; valid: {', '.join(DTYPES)}")
    return getattr(torch, name)


def token_budget(audio_seconds: float, per_second: float, minimum: int) -> int:
    """``max_new_tokens`` that scales with audio length (speech is ~3-5 text tokens per second;
    ``per_second`` leaves headroom so only runaway generation hits the cap)."""
    return max(minimum, math.ceil(audio_seconds * per_second))


def check_generation_options(options: dict[str, Any]) -> None:
    """Validate the token-budget options shared by the generative backends."""
    if options["max_new_tokens"] is not None and int(options["max_new_tokens"]) < 1:
        raise ConfigError(f"max_new_tokens must be at least 1, got {options['max_new_tokens']}")
    if float(options["tokens_per_second"]) <= 0:
        raise ConfigError(f"tokens_per_second must be positive, got {options['tokens_per_second']}")
