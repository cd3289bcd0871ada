"""The C allocator of a worker process, tuned for transcription.

glibc's ``malloc`` hands allocations over 128 KiB to ``mmap`` and gives freed memory at the top of
its heap back to the system past 128 KiB; a transcribing worker allocates and frees buffers of that
size for every clip (log-mel features, decoder states), so each clip pays page faults again. On a
2-core Xeon, two faster-whisper tiny.en processes spent 8.9 of their 38.6 CPU seconds in the
kernel on 75 clips; with the thresholds below 0.6 s, and they took 16.9 s instead of 19.9 s, at
the same peak memory (``bench/startup.py``, docs/evaluating.md). Transcripts do not change: only
where memory comes from does.

The tuning applies to glibc only (Linux; on macOS and musl nothing changes) and never overrides a
choice made through glibc's own environment variables (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``).
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_allocator"]

MMAP_THRESHOLD = 64 * 2**20  # below this, allocations come from the heap and are reused
TRIM_THRESHOLD = 256 * 2**20  # free memory kept at the top of the heap before it goes back
_M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator() -> str:
    """Raise glibc's mmap and trim thresholds in this process; returns what was done, in words
    (recorded with the worker)."""
    if platform.libc_ver()[0] != "glibc":
        return "system default (not glibc)"
    chosen = [name for name in _ENVIRONMENT if name in os.environ]
    if chosen:
        return f"glibc, as set by {', '.join(chosen)}"
    try:
        libc = ctypes.CDLL(None)
        done = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError) as exc:
        return f"glibc default (mallopt unavailable: {exc})"
    if not done:
        return "glibc default (mallopt refused the thresholds)"
    return f"glibc, mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold {TRIM_THRESHOLD >> 20} MiB"
