"""Connecting to Ray: join a running cluster (sending its token), or start a local one (after
stopping what a killed driver's local cluster left behind)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from evaluator.errors import ConfigError
from evaluator.run.plan.devices import local_custom_resources

__all__ = ["Connection", "connect_ray", "running_local_cluster", "orphaned_ray_processes", "stop_local_cluster",
           "stop_orphans", "token_file", "use_cluster_token"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """How the driver reached Ray.

    Attributes:
        joined: True when it joined a running cluster, False when it started a local one.
        address: the cluster's address (GCS host:port).
        stopped_orphans: pids of leftover processes of a dead local cluster that were stopped.
    """

    joined: bool
    address: str | None
    stopped_orphans: tuple[int, ...] = ()


def _reachable(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _address_file() -> str:
    """Where ``ray start`` records the latest local cluster (Ray's own rule for its temp dir)."""
    base = os.environ.get("RAY_TMPDIR") or (os.environ.get("TMPDIR") if sys.platform.startswith("linux") else None)
    if not base:
        base = "/tmp" if sys.platform.startswith(("linux", "darwin")) else tempfile.gettempdir()
    return os.path.join(base, "ray", "ray_current_cluster")


def running_local_cluster() -> str | None:
    """The address of a cluster started on this machine with ``ray start`` and still up (Ray
    records the latest one; a stale record of a stopped cluster is ignored). Reads Ray's record
    without importing Ray, so the token setting below can still take effect."""
    try:
        with open(_address_file()) as fh:
            address = fh.read().strip()
    except OSError:
        return None
    if address and _reachable(address):
        return address
    if address:
        log.info("ignoring %s: Ray's record of a cluster there is stale (nothing answers)", address)
    return None


def orphaned_ray_processes() -> list[Any]:
    """``ray::`` processes (agents, workers) of this user whose raylet is gone: what a local
    cluster leaves behind when its driver is killed (SIGKILL gives Ray no chance to stop them)."""
    import psutil

    me = os.getuid() if hasattr(os, "getuid") else None
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "uids"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if not cmdline or not cmdline[0].startswith("ray::"):
                continue
            if me is not None and proc.info["uids"] and proc.info["uids"].real != me:
                continue
            parent = proc.parent()
            parent_cmd = (parent.cmdline() or [""])[0] if parent is not None else ""
            if not os.path.basename(parent_cmd).startswith("raylet"):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_orphans() -> tuple[int, ...]:
    """Stop the processes :func:`orphaned_ray_processes` finds; returns their pids."""
    import psutil

    procs = orphaned_ray_processes()
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=5)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return tuple(p.pid for p in procs)


def token_file() -> str:
    """Where Ray reads the cluster's token: ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``."""
    return os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")


def use_cluster_token() -> bool:
    """Send the cluster's token: with ``RAY_AUTH_TOKEN`` or a token file and no mode chosen, set
    ``RAY_AUTH_MODE=token`` (Ray 2.60's clusters started with `ray start` want it; a client sends
    the token only in that mode, and joining a cluster by its address never turns it on by
    itself). Call before anything imports Ray, which reads the mode once: the CLI and
    :func:`evaluator.evaluate` do so first. Returns whether the token is sent."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is None and (os.environ.get("RAY_AUTH_TOKEN") or os.path.exists(token_file())):
        os.environ["RAY_AUTH_MODE"] = mode = "token"
        if "ray" in sys.modules:  # imported already (a notebook): Ray's own way to re-read the mode
            try:
                from ray._raylet import Config

                Config.initialize("")
            except Exception:  # pragma: no cover - a Ray without it reads the mode at ray.init
                pass
    return (mode or "").lower() == "token"


def _join_failure(target: str, exc: Exception) -> ConfigError:
    """One message for a cluster that would not let us in: never advice that stops it."""
    text = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        hint = (f" If the cluster uses token authentication (Ray 2.60's default), copy its token to "
                f"{token_file()} (on the head: `ray get-auth-token`) or set RAY_AUTH_TOKEN, and run again.")
    elif not (os.environ.get("RAY_AUTH_TOKEN") or os.path.exists(token_file())):
        hint = f" RAY_AUTH_MODE=token is set but there is no token: put the cluster's in {token_file()}."
    else:
        hint = (f" The token sent ({'RAY_AUTH_TOKEN' if os.environ.get('RAY_AUTH_TOKEN') else token_file()}) may "
                "not be this cluster's: compare it with `ray get-auth-token` on the head.")
    return ConfigError(f"cannot join the Ray cluster at {target}: {text}.{hint} To run on a separate local "
                       "cluster instead, pass --address local (the running cluster is left alone).")


# A new raylet connects to its object store while the store starts, and tries again after
# raylet_client_connect_timeout_milliseconds (Ray's default: 10 tries, 1000 ms apart): a first try
# a moment early cost a whole second of `ray.init` in about one start in five here. 100 tries
# 100 ms apart keep the 10 s Ray allows (what the user sets is kept).
_CONNECT_RETRIES = {"RAY_raylet_client_connect_timeout_milliseconds": "100",
                    "RAY_raylet_client_num_connect_attempts": "100"}


@contextlib.contextmanager
def _environment(env_vars: dict[str, str]) -> Iterator[None]:
    """``env_vars`` set in this process's environment while the block runs (for the processes it
    starts), then put back as they were."""
    before = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stop_local_cluster() -> None:
    """Stop the local cluster this process started (``ray.shutdown``), without the second Ray
    waits for its autoscaler monitor, which ignores the polite signal on a cluster that never
    scales: it is killed first (it holds nothing of the run's)."""
    import ray

    try:  # Ray's record of the processes ray.init started (not a public API: absent, nothing is killed)
        from ray._private import worker as ray_worker

        started = dict(ray_worker._global_node.all_processes)
    except (ImportError, AttributeError):
        started = {}
    for info in started.get("monitor", ()):
        with contextlib.suppress(Exception):
            info.process.kill()
            info.process.wait(timeout=1)
    ray.shutdown()


def connect_ray(address: str | None = None, num_cpus: int | None = None,
                env_vars: dict[str, str] | None = None, dashboard: bool = False) -> Connection:
    """Join ``address``, ``RAY_ADDRESS`` (as inside ``ray job submit``) or a cluster running on
    this machine (``ray start --head``); else (or with ``address="local"``) start a local cluster
    with an ``mps`` resource on Apple Silicon. ``env_vars`` are set in every worker. ``num_cpus``
    sizes a new local cluster only: a running cluster keeps the size ``ray start`` gave it; a new
    local cluster serves Ray's dashboard only with ``dashboard`` (it costs seconds at start)."""
    fresh = address == "local"  # Ray's word for "start a new local cluster"
    target = None if fresh else address or os.environ.get("RAY_ADDRESS") or running_local_cluster()
    use_cluster_token()  # before Ray is imported: it reads the mode once
    import ray

    if ray.is_initialized():
        return Connection(True, None)
    common: dict[str, Any] = {"configure_logging": False, "log_to_driver": True}
    if target:
        if env_vars:  # the cluster's workers run elsewhere: Ray sets these in each
            common["runtime_env"] = {"env_vars": env_vars}
        if num_cpus is not None:
            log.warning("--num-cpus %s is ignored: joining a running Ray cluster, whose size `ray start` set",
                        num_cpus)
        try:
            ray.init(address=target, **common)
        except (ConnectionError, RuntimeError) as exc:
            raise _join_failure(target, exc) from exc
        resources = ray.cluster_resources()
        log.info("joined the running Ray cluster at %s (%g CPUs, %g GPUs, %d nodes)", target,
                 resources.get("CPU", 0), resources.get("GPU", 0), len(ray.nodes()))
        return Connection(True, target)
    stopped = stop_orphans()
    if stopped:
        log.warning("stopped %d Ray processes left behind by a local cluster whose driver was killed (pids %s)",
                    len(stopped), ", ".join(map(str, stopped)))
    # address="local": a new cluster, never one Ray would find by itself (it looks for running GCS processes).
    # Its workers inherit env_vars from the raylet started here: no runtime environment, whose
    # setup would keep actors off the workers Ray starts ahead (0.7 s per actor measured here).
    retries = {k: v for k, v in _CONNECT_RETRIES.items() if k not in os.environ}
    with _environment({**retries, **(env_vars or {})}):
        info = ray.init(address="local", num_cpus=num_cpus, resources=local_custom_resources(),
                        include_dashboard=dashboard, **common)
    log.info("started a local Ray cluster (%g CPUs); it stops when this run ends",
             ray.cluster_resources().get("CPU", 0))
    return Connection(False, getattr(info, "address_info", {}).get("gcs_address"), stopped)
