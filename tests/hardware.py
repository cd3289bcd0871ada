"""What accelerators this machine has, for the only skips the suite allows: a test that needs an
NVIDIA GPU or an Apple MPS device is skipped where there is none. A library that fails to load
is not a missing device: it raises, and the test fails with the error."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["CUDA", "MPS", "has_cuda", "has_mps", "needs_cuda", "needs_mps"]


def has_cuda() -> bool:
    """An NVIDIA GPU is visible to CTranslate2 (0 devices where there is no driver or GPU)."""
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


def has_mps() -> bool:
    """An Apple MPS device is available to torch (False off macOS)."""
    import torch

    return bool(torch.backends.mps.is_available())


#: The marks of a test that runs on an NVIDIA GPU (``pytestmark = CUDA`` for a module): ``cuda``,
#: ``slow``, skipped where none is visible.
CUDA = [pytest.mark.cuda, pytest.mark.slow, pytest.mark.skipif(not has_cuda(), reason="no NVIDIA GPU")]
#: The marks of a test that runs on an Apple MPS device: ``mps``, ``slow``, skipped where there is none.
MPS = [pytest.mark.mps, pytest.mark.slow, pytest.mark.skipif(not has_mps(), reason="no Apple MPS device")]


def _marked(marks: list[Any]) -> Any:
    def apply(test: Any) -> Any:
        for mark in marks:
            test = mark(test)
        return test

    return apply


#: Decorators for one test: :data:`CUDA` or :data:`MPS` marks.
needs_cuda = _marked(CUDA)
needs_mps = _marked(MPS)
