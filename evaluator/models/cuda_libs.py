"""Make the CUDA libraries of NVIDIA's pip wheels visible to libraries that ``dlopen`` them by name.

CTranslate2 (faster-whisper) loads ``libcublas.so.12`` (and cuDNN 9 in builds that use it) at
run time, searching only its own folder and the system paths. The ``nvidia-cublas-cu12`` and
``nvidia-cudnn-cu12`` wheels (installed with PyTorch) put them under
``site-packages/nvidia/<name>/lib``, which is on neither; faster-whisper's documentation asks
for ``LD_LIBRARY_PATH`` to be set before Python starts. Instead, an actor loads those files
with ``RTLD_GLOBAL`` before it imports CTranslate2: the dynamic loader then finds a library of
that name already loaded and uses it. Loading a library needs no GPU.

Linux only; elsewhere (macOS, Windows) nothing is loaded.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CTRANSLATE2_LIBRARIES", "PreloadedLibraries", "nvidia_library_dirs", "preload_cuda_libraries"]

# (wheel folder under nvidia/, file name), in load order: a library after those it needs.
CTRANSLATE2_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("cublas", "libcublasLt.so.12"),
    ("cublas", "libcublas.so.12"),
    # libcudnn.so.9 loads its sub-libraries itself, from its own folder ($ORIGIN).
    ("cudnn", "libcudnn.so.9"),
)


@dataclass(frozen=True)
class PreloadedLibraries:
    """What :func:`preload_cuda_libraries` did.

    Attributes:
        loaded: paths of the wheel libraries now loaded in this process.
        not_found: file names no wheel provides (left to the system paths, e.g. a CUDA toolkit).
        failed: ``path: error`` for files that exist but did not load.
    """

    loaded: tuple[str, ...] = ()
    not_found: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


def nvidia_library_dirs() -> list[Path]:
    """The ``nvidia`` package folders of the NVIDIA wheels (none when they are not installed)."""
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def preload_cuda_libraries(libraries: Sequence[tuple[str, str]] = CTRANSLATE2_LIBRARIES,
                           roots: Sequence[Path] | None = None) -> PreloadedLibraries:
    """Load the wheels' CUDA libraries into this process with ``RTLD_GLOBAL``.

    Call it before the library that needs them is imported. ``roots`` are ``nvidia`` package
    folders (default: where the wheels are installed). Loading twice is harmless.
    """
    if not sys.platform.startswith("linux"):
        return PreloadedLibraries()
    roots = nvidia_library_dirs() if roots is None else list(roots)
    loaded, not_found, failed = [], [], []
    for folder, name in libraries:
        path = next((r / folder / "lib" / name for r in roots if (r / folder / "lib" / name).is_file()), None)
        if path is None:
            not_found.append(name)
            continue
        try:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            failed.append(f"{path}: {exc}")
        else:
            loaded.append(str(path))
    return PreloadedLibraries(tuple(loaded), tuple(not_found), tuple(failed))
