"""Ray processes that a test started, and only those.

Other Ray clusters may run on the same machine (another test session, a user's `ray start`), so a
test never kills by process name and never runs `ray stop`: it finds its own processes by
ancestry (a cluster that ``ray.init`` started is a descendant of the test process) or by the
private temp dir and GCS address of a head it started with `ray start`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LocalHead", "Proc", "alive", "descendants", "free_port", "own_ray_workers", "process_table"]

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Proc:
    """One row of ``ps``: parent pid, state letters and the command line (Ray retitles workers)."""

    ppid: int
    stat: str
    args: str


def process_table() -> dict[int, Proc]:
    """Every process on the machine, by pid, with its whole command line (``-ww``: ``ps`` cuts
    lines to ``$COLUMNS`` otherwise)."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,stat=,args="], capture_output=True, text=True,
                         check=True).stdout
    table: dict[int, Proc] = {}
    for line in out.splitlines():
        fields = line.split(None, 3)
        if len(fields) >= 3:
            table[int(fields[0])] = Proc(int(fields[1]), fields[2], fields[3] if len(fields) == 4 else "")
    return table


def descendants(roots: set[int], table: dict[int, Proc]) -> set[int]:
    """``roots`` and all their children, grandchildren, ... in ``table``."""
    found = set(roots) & set(table)
    frontier = set(found)
    while frontier:
        frontier = {pid for pid, proc in table.items() if proc.ppid in frontier} - found
        found |= frontier
    return found


def _ancestors(pid: int, table: dict[int, Proc]) -> set[int]:
    """``pid``, its parent, grandparent, ... (never a head's process, whatever their arguments)."""
    found: set[int] = set()
    while pid in table and pid not in found:
        found.add(pid)
        pid = table[pid].ppid
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids of ``pids`` that still run (a zombie is dead)."""
    table = process_table()
    return {pid for pid in pids if pid in table and not table[pid].stat.startswith("Z")}


def own_ray_workers(title: str = "ray::Worker") -> list[int]:
    """Pids of processes titled ``title`` in the cluster that this process started with
    ``ray.init`` (its raylet is our child, the workers are the raylet's children), oldest first."""
    table = process_table()
    mine = descendants({os.getpid()}, table) - {os.getpid()}
    return sorted(pid for pid in mine if table[pid].args.startswith(title))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_trees(roots: list) -> list[int]:
    """SIGKILL ``roots`` (psutil processes this test started) and every process under them, and
    wait for them; returns the pids."""
    import psutil

    procs = []
    for root in roots:
        try:
            procs += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)
    return [proc.pid for proc in procs]


def _terminate(pids: set[int], grace_s: float = 5.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for pid in alive(pids):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not alive(pids):
            return


class LocalHead:
    """A Ray head started with `ray start --head` on free ports and its own ``--temp-dir``,
    stopped by the pids of its own processes.

    Attributes:
        env: the environment for `ray` commands and drivers against this head (``RAY_ADDRESS``
            unset, the auth token sent).
        gcs_address: ``ip:port`` of its GCS, set by :meth:`start`.
        dashboard_url: ``http://127.0.0.1:PORT`` for `ray job submit`.
        temp_dir: its private Ray temp dir (short: Unix socket paths live under it).
    """

    def __init__(self, num_cpus: int = 1) -> None:
        self.num_cpus = num_cpus
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        self.env.pop("RAY_ADDRESS", None)
        self.env["RAY_AUTH_MODE"] = "token"  # clients send the head's token (Ray >= 2.5x)
        self.port = free_port()
        self.dashboard_port = free_port()
        self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}"
        self.temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")
        self.gcs_address = ""

    def start(self) -> LocalHead:
        proc = subprocess.run(
            [BIN / "ray", "start", "--head", "--port", str(self.port), "--num-cpus", str(self.num_cpus),
             "--temp-dir", self.temp_dir, "--disable-usage-stats",
             "--dashboard-port", str(self.dashboard_port),
             "--ray-client-server-port", str(free_port()),
             "--dashboard-agent-listen-port", str(free_port())],
            env=self.env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        found = re.search(r"--address='([^']+)'", proc.stdout + proc.stderr)
        if found is None:
            self.stop()
            raise RuntimeError(f"no GCS address in the output of ray start: {proc.stdout[-2000:]}")
        self.gcs_address = found.group(1)
        return self

    def pids(self) -> set[int]:
        """This head's processes: those naming its temp dir or GCS port, and their descendants
        (workers, agents, job drivers)."""
        table = process_table()
        marks = [self.temp_dir, f":{self.port} ", f":{self.port}\n"]
        roots = {pid for pid, proc in table.items()
                 if any(m in proc.args + "\n" for m in marks)} - _ancestors(os.getpid(), table)
        return {pid for pid in descendants(roots, table) if not table[pid].stat.startswith("Z")}

    def stop(self) -> None:
        _terminate(self.pids())
        shutil.rmtree(self.temp_dir, ignore_errors=True)
