"""What every PyTorch backend does on loading: check the device, set threads, pick the dtype.

Imported only inside actors (torch is imported in each function).
"""

from __future__ import annotations

import os
from typing import Any

from evaluator.errors import ConfigError

__all__ = ["attention_implementation", "prepare_torch", "torch_dtype"]


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


def torch_dtype(name: str) -> Any:
    """The torch dtype of a resolved dtype name (see :func:`evaluator.models.options.resolve_dtype`)."""
    import torch

    return getattr(torch, name)


def attention_implementation(model: Any) -> str | None:
    """The attention kernel a loaded transformers model runs (``sdpa``: PyTorch's fused scaled
    dot-product attention, transformers' default where the model supports it; ``eager``; ...)."""
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None)
