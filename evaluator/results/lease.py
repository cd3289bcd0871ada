"""A run's lease: which driver holds a run while it writes it, so that ``--resume`` never races a
live run, and readers never make a live run look interrupted.

The lease is a small file beside the database, ``<db>.leases/<run_id>.json``, outside DuckDB (a
reader holding the database file cannot delay it). The driver holds an exclusive ``flock`` on it
for as long as it lives (the kernel lets go when the process dies, however it dies) and rewrites
its heartbeat every :data:`BEAT_SECONDS`; it deletes the file when the run ends.

A lease is:

- ``live``: its file is locked (the holder runs, on this machine or on a shared file system that
  passes locks on), or its holder is on another machine and beat less than
  :data:`LEASE_SECONDS` ago;
- ``gone``: its holder was on this machine and holds no lock any more (that process ended);
- ``expired``: its holder is on another machine and has not beaten for :data:`LEASE_SECONDS`:
  probably gone, but nothing here can prove it, so taking it over needs ``force``;
- ``free``: there is no lease file (the run ended, or was written before leases existed).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluator.errors import RunBusyError, mask_credentials

try:
    import fcntl
except ImportError:  # Windows: heartbeats alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["BEAT_SECONDS", "LEASE_SECONDS", "Holder", "Lease", "find_live", "lease_state", "live_holders", "refusal",
           "settled_status"]

#: How often a holder rewrites its heartbeat.
BEAT_SECONDS = 5.0
#: A heartbeat older than this: the lease expired.
LEASE_SECONDS = 30.0


@dataclass(frozen=True)
class Holder:
    """Who holds a run: written in the lease file."""

    run_id: str
    name: str | None
    host: str
    pid: int
    user: str
    command: str
    started_at: float  # seconds since the epoch
    heartbeat_at: float

    def age(self) -> float:
        return max(0.0, time.time() - self.heartbeat_at)

    def describe(self) -> str:
        return (f"PID {self.pid} on {self.host} (user {self.user}: {self.command}), "
                f"heartbeat {self.age():.0f} s ago")


def _folder(db: str) -> Path:
    return Path(f"{os.path.abspath(db)}.leases")


def _path(db: str, run_id: str) -> Path:
    return _folder(db) / f"{run_id}.json"


def _read(path: Path) -> Holder | None:
    """The holder a lease file names (None: no file, or not one of ours). A holder rewrites the
    file in place, so a read that catches it half written is tried again."""
    for _ in range(5):
        try:
            text = path.read_text()
        except OSError:
            return None
        try:
            return Holder(**json.loads(text))
        except (ValueError, TypeError):
            time.sleep(0.02)
    return None


def _locked(path: Path) -> bool:
    """Whether some process holds the lease file's lock (a momentary shared lock that fails)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing lets go of a lock taken here
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _state(path: Path, holder: Holder) -> str:
    if _locked(path):
        return "live"
    if holder.host == socket.gethostname():
        if fcntl is not None or not _pid_alive(holder.pid):
            return "gone"
        return "live" if holder.age() < LEASE_SECONDS else "expired"
    return "live" if holder.age() < LEASE_SECONDS else "expired"


def lease_state(db: str, run_id: str) -> tuple[str, Holder | None]:
    """(``live`` | ``gone`` | ``expired`` | ``free``, the holder) of a run's lease."""
    path = _path(db, run_id)
    holder = _read(path)
    if holder is None:
        return ("live", None) if _locked(path) else ("free", None)
    return _state(path, holder), holder


def live_holders(db: str) -> dict[str, Holder]:
    """The runs of ``db`` held by a live driver, by run id."""
    found: dict[str, Holder] = {}
    try:
        paths = sorted(_folder(db).glob("*.json"))
    except OSError:
        return found
    for path in paths:
        holder = _read(path)
        if holder is not None and _state(path, holder) == "live":
            found[holder.run_id] = holder
    return found


def find_live(db: str, ref: str) -> Holder | None:
    """The live holder of the run ``ref`` names (its id, or its name), if any: read from the lease
    files alone, without opening the database."""
    return next((h for h in live_holders(db).values() if ref in (h.run_id, h.name)), None)


def settled_status(db: str, run_id: str, status: str, live: dict[str, Holder] | None = None) -> str:
    """A run's status as its lease tells it: ``running`` while a live driver holds it (whatever
    its heartbeat in the database says: a reader holding the file delays that one), and
    ``interrupted`` for a ``running`` run whose driver is gone. Without a lease file (a run that
    ended, or one from before leases), ``status`` as the database has it.

    ``live``: :func:`live_holders` of ``db``, when already read."""
    live = live_holders(db) if live is None else live
    if run_id in live:
        return "running"
    if status == "running" and lease_state(db, run_id)[0] in ("gone", "expired"):
        return "interrupted"
    return status


def refusal(holder: Holder, db: str) -> str:
    return (f"run {holder.run_id}{f' ({holder.name})' if holder.name else ''} is being written by a live driver: "
            f"{holder.describe()}. Wait for it to finish (`evaluator runs --db {db}`), or stop that driver "
            f"(kill {holder.pid} on {holder.host}) and resume then")


class Lease:
    """A run held by this process: take it with :meth:`take`, let go with :meth:`release` (or
    as a context manager). A thread rewrites the heartbeat every :data:`BEAT_SECONDS`."""

    def __init__(self, path: Path, fh: Any, holder: Holder) -> None:
        self.path = path
        self._fh = fh
        self.holder = holder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {holder.run_id}", daemon=True)
        self._write()
        self._thread.start()

    @classmethod
    def take(cls, db: str, run_id: str, name: str | None = None, *, force: bool = False,
             command: str | None = None) -> Lease:
        """Hold ``run_id`` of ``db``.

        Raises:
            RunBusyError: a live driver holds it (never overridden), or its holder on another
                machine stopped beating but cannot be shown gone and ``force`` is not set.
        """
        path = _path(db, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        fh = cls._lock(path, db)
        # a file this call created is empty and names no holder (an empty file that was there may
        # be a holder's rewrite caught half way: read it, trying again)
        before = None if not existed and os.fstat(fh.fileno()).st_size == 0 else _read(path)
        if before is not None and before.host != socket.gethostname() and before.pid != os.getpid():
            state = "live" if before.age() < LEASE_SECONDS else "expired"
            if state == "live" or not force:
                fh.close()
                if state == "live":
                    raise RunBusyError(refusal(before, db))
                raise RunBusyError(
                    f"run {run_id} was held by {before.describe()}, which stopped beating {before.age():.0f} s "
                    f"ago; from {socket.gethostname()} nothing shows whether it is gone. If it is, resume with "
                    "--force (if it still runs, both drivers would write the same rows)")
        now = time.time()
        holder = Holder(run_id, name, socket.gethostname(), os.getpid(), _user(),
                        mask_credentials(command or " ".join(sys.argv)), now, now)
        return cls(path, fh, holder)

    @staticmethod
    def _lock(path: Path, db: str) -> Any:
        """The lease file, opened and locked (exclusive); RunBusyError while another holds it."""
        deadline = time.monotonic() + 0.5  # a reader's momentary check holds a shared lock
        while True:
            try:
                fh = open(path, "a+")  # noqa: SIM115  (kept open, and locked, while the run goes on)
            except FileNotFoundError:  # the folder went with another run's last lease just now
                path.parent.mkdir(parents=True, exist_ok=True)
                continue
            if fcntl is None:
                return fh
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = _read(path)
                raise RunBusyError(refusal(holder, db) if holder else
                                   f"run {path.stem} is held by another process (its lease {path} is locked)") from None
            # the file a holder that just ended unlinked is not the lease any more: open it again
            try:
                same = os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fh
            fh.close()

    def _write(self) -> None:
        self.holder = Holder(**{**asdict(self.holder), "heartbeat_at": time.time()})
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(asdict(self.holder)))
        self._fh.flush()

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            with contextlib.suppress(OSError, ValueError):
                self._write()

    def release(self) -> None:
        """Let go: the heartbeat stops and the lease file goes."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._fh.close()
        with contextlib.suppress(OSError):  # the last lease of the database: the folder goes too
            self.path.parent.rmdir()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
