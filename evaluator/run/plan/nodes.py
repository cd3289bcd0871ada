"""Checks made on the Ray nodes where actors will run, before any work starts.

Every actor reads its shards itself, so a dataset given as a local path must exist on every
node that may host an actor, at the same path. On one machine it always does; on a cluster a
path that exists only where the driver runs would fail shard by shard, on every node, after
the models loaded. :func:`check_dataset_on_nodes` asks each such node once (a tiny task pinned
to the node) and fails with one message that says what to do instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.errors import DatasetError

__all__ = ["NodeCheck", "actor_nodes", "check_dataset_on_nodes", "dataset_probe_paths"]

log = logging.getLogger(__name__)

# Seconds to wait for every node's answer; a node that does not answer is logged, not failed.
CHECK_TIMEOUT_S = 60.0

_RESOURCE_NAMES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


@dataclass(frozen=True)
class NodeCheck:
    """What the check found.

    Attributes:
        paths: the local paths checked (empty: the dataset is not a local path, nothing asked).
        nodes: node ids asked (the actors' candidate nodes).
        missing: ``(node id, node address, first missing path)`` per node lacking the data.
        unanswered: node ids that did not answer within the timeout.
    """

    paths: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    missing: tuple[tuple[str, str, str], ...] = ()
    unanswered: tuple[str, ...] = ()


def _needs(ray_options: Mapping[str, Any]) -> dict[str, float]:
    """The resources one actor reserves, by Ray's resource names."""
    needs = {_RESOURCE_NAMES[k]: float(v) for k, v in ray_options.items() if k in _RESOURCE_NAMES and v}
    needs.update({k: float(v) for k, v in (ray_options.get("resources") or {}).items() if v})
    return needs


def actor_nodes(nodes: Sequence[Mapping[str, Any]], actor_options: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The alive nodes (``ray.nodes()`` entries) with the total resources to host at least one
    actor of at least one model (a head node started with 0 CPUs hosts none)."""
    needs = [_needs(o) for o in actor_options]
    found = []
    for node in nodes:
        if not node.get("Alive"):
            continue
        total = node.get("Resources") or {}
        if any(all(total.get(k, 0.0) >= v for k, v in need.items()) for need in needs):
            found.append(dict(node))
    return found


def dataset_probe_paths(source: str | None, first_audio: Any = None) -> tuple[str, ...]:
    """The local paths an actor must be able to read: the dataset folder, and the first
    sample's audio file when the dataset refers to audio by path (an audiofolder does).
    Empty for a hub id or a built-in dataset (every node resolves those itself)."""
    if not source or source.startswith("builtin:") or not os.path.exists(source):
        return ()
    paths = [os.path.abspath(source)]
    audio_path = first_audio.get("path") if isinstance(first_audio, Mapping) else first_audio
    if isinstance(audio_path, str) and os.path.isabs(audio_path) and os.path.exists(audio_path):
        paths.append(audio_path)
    return tuple(paths)


def _first_missing(paths: Sequence[str]) -> str | None:
    """Runs on a node: the first path this node cannot see, or None."""
    return next((p for p in paths if not os.path.exists(p)), None)


def check_dataset_on_nodes(paths: Sequence[str], actor_options: Sequence[Mapping[str, Any]]) -> NodeCheck:
    """Ask each node that may host an actor whether it sees ``paths``; raise
    :class:`~evaluator.errors.DatasetError` naming the nodes that do not.

    Nothing is asked when ``paths`` is empty or the only such node is the driver's own.
    Ray must be connected.
    """
    if not paths:
        return NodeCheck()
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = actor_nodes(ray.nodes(), actor_options)
    here = ray.get_runtime_context().get_node_id()
    if not nodes or [n["NodeID"] for n in nodes] == [here]:
        return NodeCheck(tuple(paths), tuple(n["NodeID"] for n in nodes))
    probe = ray.remote(num_cpus=0, max_retries=0)(_first_missing)
    refs = {probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(list(paths)): n for n in nodes}
    ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=CHECK_TIMEOUT_S)
    missing = []
    for ref in ready:
        node = refs[ref]
        try:
            gone = ray.get(ref)
        except Exception as exc:  # a node that cannot run the probe fails later, as it would anyway
            log.warning("could not check the dataset on node %s: %s", node.get("NodeManagerAddress"), exc)
            continue
        if gone is not None:
            missing.append((node["NodeID"], str(node.get("NodeManagerAddress", "?")), gone))
    unanswered = tuple(refs[r]["NodeID"] for r in late)
    for ref in late:
        ray.cancel(ref, force=True)
    if unanswered:
        log.warning("%d nodes did not say within %.0f s whether they see the dataset; going on",
                    len(unanswered), CHECK_TIMEOUT_S)
    result = NodeCheck(tuple(paths), tuple(n["NodeID"] for n in nodes), tuple(sorted(missing)), unanswered)
    if missing:
        by_path: dict[str, list[str]] = {}
        for node_id, addr, path in result.missing:
            by_path.setdefault(path, []).append(f"{addr} node {node_id[:8]}")
        where = "; ".join(", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                          + f": no {path}" for path, names in by_path.items())
        raise DatasetError(
            f"the dataset {paths[0]} is a local path that exists where the driver runs but not on "
            f"{len(missing)} of the {len(nodes)} Ray nodes where actors run ({where}). Every actor "
            "reads its shards itself, so the data must be readable at the same path on every node: put it "
            "on storage all nodes mount at that path (NFS, a shared disk), or give a Hugging Face hub id "
            "(each node downloads it once into its own cache, HF_HOME), or stream a hub dataset with "
            "--streaming (actors read its files over the network; nothing is copied to the nodes)."
        )
    return result
