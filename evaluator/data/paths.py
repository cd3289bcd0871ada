"""Local paths and fsspec URLs (``s3://``, ``gs://``, ``hf://``, ``memory://``, ...) behind one
small interface, so every source reads manifests and audio from either.

A string with ``://`` is a URL, opened through fsspec (installed with ``datasets``); the
filesystem's own package must be installed (``s3fs`` for ``s3://``, ``gcsfs`` for ``gs://``,
``huggingface_hub`` for ``hf://``). Anything else is a local path and never touches fsspec.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from typing import IO, Any

from evaluator.errors import DatasetError, MissingDependencyError, mask_credentials

__all__ = ["is_url", "exists", "isdir", "isfile", "join", "dirname", "basename", "open_binary", "listdir",
           "size", "files_under"]


def is_url(path: str) -> bool:
    """True for ``protocol://...`` (``file://`` included)."""
    return "://" in path


def _fs(path: str) -> tuple[Any, str]:
    """(filesystem, path inside it) for a URL."""
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - datasets depends on fsspec
        raise MissingDependencyError(f"reading {path} needs fsspec: pip install fsspec") from exc
    try:
        return fsspec.core.url_to_fs(path)
    except (ImportError, ValueError) as exc:
        protocol = path.split("://", 1)[0]
        hint = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub", "az": "adlfs",
                "abfs": "adlfs"}.get(protocol, f"the fsspec implementation for {protocol}://")
        raise MissingDependencyError(f"cannot open {path}: {exc}; install {hint} (pip install {hint})") from exc


@contextlib.contextmanager
def _reaching(path: str) -> Iterator[None]:
    """A URL's filesystem that cannot be reached (connection refused, DNS, timeouts) as one
    DatasetError naming the URL, credentials masked; a missing file stays FileNotFoundError."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DatasetError(f"cannot reach {mask_credentials(path)}: {mask_credentials(str(exc))}; check the URL "
                           "and the network, or copy the data to a local folder") from exc


def exists(path: str) -> bool:
    if not is_url(path):
        return os.path.exists(path)
    fs, inner = _fs(path)
    with _reaching(path):
        return bool(fs.exists(inner))


def isdir(path: str) -> bool:
    if not is_url(path):
        return os.path.isdir(path)
    fs, inner = _fs(path)
    with _reaching(path):
        return bool(fs.isdir(inner))


def isfile(path: str) -> bool:
    if not is_url(path):
        return os.path.isfile(path)
    fs, inner = _fs(path)
    with _reaching(path):
        return bool(fs.isfile(inner))


def size(path: str) -> int:
    if not is_url(path):
        return os.path.getsize(path)
    fs, inner = _fs(path)
    with _reaching(path):
        return int(fs.size(inner))


def listdir(path: str) -> list[str]:
    """Entry names (not paths) in a folder, sorted."""
    if not is_url(path):
        return sorted(os.listdir(path))
    fs, inner = _fs(path)
    with _reaching(path):
        return sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(inner, detail=False))


def files_under(folder: str) -> list[str]:
    """Every file below a folder (recursively; hidden names skipped), as full paths or URLs."""
    if not is_url(folder):
        return sorted(os.path.join(root, n) for root, _, names in os.walk(folder) for n in names
                      if not n.startswith("."))
    fs, inner = _fs(folder)
    with _reaching(folder):
        return sorted(fs.unstrip_protocol(p) for p in fs.find(inner) if not posixpath.basename(p).startswith("."))


def join(base: str, relative: str) -> str:
    """``relative`` resolved against the folder ``base`` (absolute paths and URLs kept)."""
    if is_url(relative) or os.path.isabs(relative):
        return relative
    if is_url(base):
        return posixpath.join(base.rstrip("/"), relative)
    return os.path.join(base, relative)


def dirname(path: str) -> str:
    if is_url(path):
        protocol, rest = path.split("://", 1)
        return f"{protocol}://{posixpath.dirname(rest)}"
    return os.path.dirname(os.path.abspath(path))


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if is_url(path) else os.path.basename(path.rstrip(os.sep))


def open_binary(path: str) -> IO[bytes]:
    """A seekable binary file (the caller closes it).

    Raises:
        DatasetError: the file does not exist.
    """
    if not is_url(path):
        try:
            return open(path, "rb")
        except FileNotFoundError as exc:
            raise DatasetError(f"file not found: {path}") from exc
    fs, inner = _fs(path)
    try:
        with _reaching(path):
            return fs.open(inner, "rb")
    except FileNotFoundError as exc:
        raise DatasetError(f"file not found: {mask_credentials(path)}") from exc
