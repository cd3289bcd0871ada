"""The worker's C allocator: glibc's thresholds raised so that a clip's buffers are reused rather
than mapped and faulted in again, and a user's own glibc settings left alone."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from evaluator.run.execute.allocator import MMAP_THRESHOLD

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc (Linux)")

# Counts the blocks glibc serves with mmap while 1 MiB buffers are taken and freed, as a clip's are.
PROBE = textwrap.dedent("""
    import ctypes, sys
    from evaluator.run.execute.allocator import tune_allocator

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = MallInfo2
    if sys.argv[1] == "tune":
        print(tune_allocator())
    mapped = []
    for _ in range(3):
        before = libc.mallinfo2().hblks
        block = libc.malloc(1 << 20)
        mapped.append(libc.mallinfo2().hblks - before)
        libc.free(block)
    print(max(mapped))
""")


def _probe(mode: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env=env)
    return out.stdout.split("\n")[:-1]


def test_tuned_allocator_serves_a_clips_buffers_from_the_heap() -> None:
    described, mapped = _probe("tune")
    assert described == f"glibc, mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold 256 MiB"
    assert mapped == "0"
    (untuned,) = _probe("leave")
    assert untuned == "1"  # glibc's default maps a 1 MiB block on its own


def test_a_users_own_glibc_settings_are_left_alone() -> None:
    import os

    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "131072"}
    described, mapped = _probe("tune", env)
    assert described == "glibc, as set by MALLOC_TRIM_THRESHOLD_"
    assert mapped == "1"
