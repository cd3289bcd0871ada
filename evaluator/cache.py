"""Where evaluator keeps derived files (converted weights, built-in recordings, hashes), and a
lock to serialise work on one entry across processes. Shared by ``data`` and ``models``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["cache_dir", "file_lock"]


def cache_dir() -> Path:
    """Where derived weights live: ``$EVALUATOR_CACHE`` or ``~/.cache/evaluator``."""
    return Path(os.environ.get("EVALUATOR_CACHE") or Path.home() / ".cache" / "evaluator")


@contextmanager
def file_lock(target: Path) -> Iterator[None]:
    """Serialise work on one cache entry across processes (best effort: POSIX only): deriving
    weights here, hashing them in evaluator.models.provenance.

    Writers are atomic anyway; the lock only stops parallel actors from converting the same
    weights at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, atomic renames still keep readers safe
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
