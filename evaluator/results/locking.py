"""Opening the results file while other processes use it: DuckDB lets one process write and then
no other open the file, so every opening waits (boundedly) for the lock, and says who holds it."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from evaluator.errors import DatabaseBusyError, mask_credentials

__all__ = ["READ_WAIT_SECONDS", "WRITE_WAIT_SECONDS", "connect", "lock_holder"]

log = logging.getLogger(__name__)

# How long a reader waits for the driver to let go of the file between two writes, and how long
# the driver waits for readers to finish a query.
READ_WAIT_SECONDS = 15.0
WRITE_WAIT_SECONDS = 600.0


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Could not set lock" in text or "Conflicting lock" in text)


def connect(path: str, read_only: bool, wait: float) -> Any:
    """Open the file, waiting up to ``wait`` seconds while another process holds its lock (a
    run writes in short bursts and lets go in between; a query holds it while it runs)."""
    import duckdb

    deadline = time.monotonic() + wait
    delay = 0.02
    warned = time.monotonic()
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            now = time.monotonic()
            if now >= deadline:
                raise DatabaseBusyError(
                    f"{path} is locked by {lock_holder(path, exc)} and stayed locked for "
                    f"{wait:.0f} s; wait for its query or run to finish, or query a copy: "
                    f"cp {path} /tmp/copy.duckdb && evaluator sql --db /tmp/copy.duckdb ..."
                ) from exc
            if now - warned >= 10:
                log.warning("waiting for %s to release %s", lock_holder(path, exc), path)
                warned = now
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def lock_holder(path: str, exc: Exception) -> str:
    """Who holds the file's lock, as it is: ``a writer (PID 123: evaluator run ...)`` or
    ``a reader (...)`` (the kind from the kernel's lock table where there is one, else from a
    live run's lease), from DuckDB's lock error."""
    match = re.search(r"\(PID (\d+)\)", str(exc))
    if match is None:
        return "another process"
    pid = int(match.group(1))
    kind = _lock_kind(path, pid)
    if kind is None:
        from evaluator.results.lease import live_holders

        held = [h.run_id for h in live_holders(path).values() if h.pid == pid]
        kind = f"the driver of run {held[0]}, a writer" if held else None
    return f"{kind or 'another process'} (PID {pid}: {_command(pid)})"


def _lock_kind(path: str, pid: int) -> str | None:
    """``a reader`` or ``a writer`` from ``/proc/locks`` (Linux): DuckDB takes a POSIX read lock
    for a read-only connection, a write lock for a writing one."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[4] == str(pid) and fields[5].rsplit(":", 1)[-1] == str(inode):
            return {"READ": "a reader", "WRITE": "a writer"}.get(fields[3])
    return None


def _command(pid: int) -> str:
    try:
        import psutil

        words = psutil.Process(pid).cmdline()
    except Exception:  # gone, another user's, or psutil missing
        return "command unknown"
    text = " ".join(os.path.basename(w) if i == 0 else w for i, w in enumerate(words))
    return mask_credentials(text if len(text) <= 160 else text[:159] + "…")
