"""Connecting to Ray: join a running cluster, or start a local one (after stopping what a killed
driver's local cluster left behind)."""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from evaluator.errors import ConfigError
from evaluator.run.plan.devices import local_custom_resources

__all__ = ["Connection", "connect_ray", "running_local_cluster", "orphaned_ray_processes", "stop_orphans"]

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


def _send_token_if_any() -> None:
    """Ray 2.5x's ``ray start`` turns on token authentication and writes the token to
    ``~/.ray/auth_token``; a client sends it only with ``RAY_AUTH_MODE=token``. Send it when it
    exists and the user has not chosen a mode."""
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if "RAY_AUTH_MODE" not in os.environ and (os.environ.get("RAY_AUTH_TOKEN") or os.path.exists(token_file)):
        os.environ["RAY_AUTH_MODE"] = "token"


def connect_ray(address: str | None = None, num_cpus: int | None = None,
                env_vars: dict[str, str] | None = None) -> Connection:
    """Join ``address``, ``RAY_ADDRESS`` (as inside ``ray job submit``) or a cluster running on
    this machine (``ray start --head``); else (or with ``address="local"``) start a local cluster
    with an ``mps`` resource on Apple Silicon. ``env_vars`` are set in every worker. ``num_cpus``
    sizes a new local cluster only: a running cluster keeps the size ``ray start`` gave it."""
    fresh = address == "local"  # Ray's word for "start a new local cluster"
    target = None if fresh else address or os.environ.get("RAY_ADDRESS") or running_local_cluster()
    if target:
        _send_token_if_any()  # before Ray is imported: it reads the mode once
    import ray

    if ray.is_initialized():
        return Connection(True, None)
    common: dict[str, Any] = {"configure_logging": False, "log_to_driver": True}
    if env_vars:
        common["runtime_env"] = {"env_vars": env_vars}
    if target:
        if num_cpus is not None:
            log.warning("--num-cpus %s is ignored: joining a running Ray cluster, whose size `ray start` set",
                        num_cpus)
        try:
            ray.init(address=target, **common)
        except ConnectionError as exc:
            hint = (" The cluster wants a token: set RAY_AUTH_MODE=token (and RAY_AUTH_TOKEN or "
                    "~/.ray/auth_token) before running." if "Authentication" in str(exc) else "")
            raise ConfigError(f"cannot join the Ray cluster at {target}: {str(exc).splitlines()[-1]}.{hint} "
                              "To start a separate local cluster instead, stop that one (`ray stop`).") from exc
        resources = ray.cluster_resources()
        log.info("joined the running Ray cluster at %s (%g CPUs, %g GPUs, %d nodes)", target,
                 resources.get("CPU", 0), resources.get("GPU", 0), len(ray.nodes()))
        return Connection(True, target)
    stopped = stop_orphans()
    if stopped:
        log.warning("stopped %d Ray processes left behind by a local cluster whose driver was killed (pids %s)",
                    len(stopped), ", ".join(map(str, stopped)))
    # address="local": a new cluster, never one Ray would find by itself (it looks for running GCS processes)
    info = ray.init(address="local", num_cpus=num_cpus, resources=local_custom_resources(), include_dashboard=False,
                    **common)
    log.info("started a local Ray cluster (%g CPUs); it stops when this run ends",
             ray.cluster_resources().get("CPU", 0))
    return Connection(False, getattr(info, "address_info", {}).get("gcs_address"), stopped)
