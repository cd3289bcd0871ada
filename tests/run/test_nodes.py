"""Many nodes on one machine: a Ray head with no CPUs (where the driver and its DuckDB file live)
and three worker nodes of one CPU each, started with `ray start` in their own mount namespace,
where an empty tmpfs mounted over a folder of the driver's (`driver_only`) hides its contents.
So a worker node cannot see what lives there, as a separate machine would not: the results file
(it must stay with the driver) and a local dataset (it must be refused before work starts).
A whole node is then killed mid-run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import psutil
import pytest

from evaluator.cli import main
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from evaluator.run.plan.nodes import actor_nodes, check_dataset_on_nodes, dataset_probe_paths
from tests.conftest import make_audiofolder
from tests.ray_processes import kill_trees

TINY_F32 = parse_model_spec("faster-whisper:tiny.en?compute_type=float32")
WORKER_NODES = 3


# ------------------------------------------------------------------------------ without Ray


def _node(node_id: str, alive: bool = True, **resources: float) -> dict:
    return {"NodeID": node_id, "Alive": alive, "Resources": resources, "NodeManagerAddress": "10.0.0.1"}


@pytest.mark.parametrize(
    ("nodes", "options", "expected"),
    [
        ([], [{"num_cpus": 1}], []),
        ([_node("head", CPU=0.0), _node("w1", CPU=1.0), _node("w2", CPU=4.0)], [{"num_cpus": 1}], ["w1", "w2"]),
        ([_node("w1", CPU=1.0), _node("dead", alive=False, CPU=8.0)], [{"num_cpus": 1}], ["w1"]),
        ([_node("cpu", CPU=8.0), _node("gpu", CPU=8.0, GPU=1.0)], [{"num_cpus": 1, "num_gpus": 1}], ["gpu"]),
        ([_node("cpu", CPU=8.0), _node("gpu", CPU=8.0, GPU=1.0)],
         [{"num_cpus": 1, "num_gpus": 1}, {"num_cpus": 1}], ["cpu", "gpu"]),  # two models
        ([_node("mac", CPU=8.0, mps=1.0), _node("pc", CPU=8.0)], [{"num_cpus": 1, "resources": {"mps": 1}}], ["mac"]),
        ([_node("w1", CPU=2.0)], [{"num_cpus": 4}], []),
    ],
)
def test_actor_nodes_are_the_nodes_that_can_host_an_actor(nodes, options, expected) -> None:
    assert [n["NodeID"] for n in actor_nodes(nodes, options)] == expected


def test_probe_paths_are_local_folders_and_audio_files_only(tmp_path: Path) -> None:
    audio = tmp_path / "a.flac"
    audio.write_bytes(b"x")
    assert dataset_probe_paths(None) == ()
    assert dataset_probe_paths("builtin:sample") == ()
    assert dataset_probe_paths("openslr/librispeech_asr") == ()  # a hub id: each node resolves it
    assert dataset_probe_paths(str(tmp_path)) == (str(tmp_path),)
    assert dataset_probe_paths(str(tmp_path), str(audio)) == (str(tmp_path), str(audio))
    assert dataset_probe_paths(str(tmp_path), {"path": str(audio), "bytes": None}) == (str(tmp_path), str(audio))
    assert dataset_probe_paths(str(tmp_path), {"path": "a.flac", "bytes": b"x"}) == (str(tmp_path),)  # embedded


def test_no_paths_asks_no_node() -> None:
    assert check_dataset_on_nodes((), [{"num_cpus": 1}]).nodes == ()


# ------------------------------------------------------------------------- a real cluster


def _mount_namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _kill_node(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a worker node: its `ray start` process and everything under it (raylet, agents,
    actors), as when the machine goes away. Returns the pids it had."""
    try:
        root = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        return []
    pids = kill_trees([root])
    proc.wait(10)
    return pids


def _node_of_pids(procs: list[subprocess.Popen]) -> dict[int, int]:
    """pid -> worker node number, for every live process under each node's `ray start`."""
    found = {}
    for i, proc in enumerate(procs):
        try:
            for p in psutil.Process(proc.pid).children(recursive=True):
                found[p.pid] = i
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    assert _mount_namespaces_work(), ("these tests hide a folder from nodes with a mount namespace: run them as root "
                                      "or with CAP_SYS_ADMIN (`docker run --cap-add SYS_ADMIN`), where "
                                      "`unshare --mount true` succeeds")
    import ray
    from ray.cluster_utils import Cluster
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    hidden = tmp_path_factory.mktemp("driver_only")
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False,
        # a dead node is noticed in a few seconds rather than the default ~30
        "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}})
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_raylet_start_wait_time_s"] = "120"  # a node starting on 2 busy cores may be slow to register
    ray_bin = str(Path(sys.executable).parent / "ray")
    command = (f"mount -t tmpfs none {hidden} && exec {ray_bin} start --address={cluster.address} "
               "--num-cpus 1 --block --disable-usage-stats")
    logs = tmp_path_factory.mktemp("node_logs")
    procs: list[subprocess.Popen] = []
    try:
        ray.init(address=cluster.address, configure_logging=False, log_to_driver=False)
        deadline = time.monotonic() + 300
        for i in range(WORKER_NODES):  # one at a time: started together they overload 2 cores
            procs.append(subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                                          env=env, stdout=subprocess.DEVNULL, start_new_session=True,
                                          stderr=open(logs / f"node{i}.log", "w")))  # noqa: SIM115
            while len([n for n in ray.nodes() if n["Alive"]]) < 2 + i:
                dead = [n for n, p in enumerate(procs) if p.poll() is not None]
                assert not dead, (logs / f"node{dead[0]}.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "worker nodes did not start in 300 s"
                time.sleep(0.5)
        head = ray.get_runtime_context().get_node_id()
        workers = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != head]

        @ray.remote(num_cpus=0)
        def sees(path: str) -> bool:
            return os.path.exists(path)

        # The premise: the driver sees what is in the folder, no worker node does (an empty tmpfs there).
        marker = hidden / "marker"
        marker.write_text("driver only")
        assert ray.get([sees.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False))
                        .remote(str(marker)) for n in workers]) == [False] * WORKER_NODES
        yield SimpleNamespace(hidden=hidden, procs=procs, head=head, workers=workers)
    finally:
        ray.shutdown()
        for proc in procs:
            _kill_node(proc)
        cluster.shutdown()


@pytest.mark.slow
def test_a_local_dataset_the_nodes_cannot_see_is_refused_before_work_starts(nodes, tmp_path, sample_rows, caplog):
    data = make_audiofolder(nodes.hidden / "data", sample_rows[:4])
    db = nodes.hidden / "refused.duckdb"
    code = main(["run", "--db", str(db), "--dataset", str(data), "--model", TINY_F32.label,
                 "--cpus-per-actor", "1"])
    assert code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, errors
    message = errors[0]
    assert f"the dataset {data} is a local path" in message
    assert f"not on {WORKER_NODES} of the {WORKER_NODES} Ray nodes where actors run" in message
    for hint in ("storage all nodes mount", "hub id", "--streaming"):
        assert hint in message
    with Store(str(db)) as store:  # refused before the run was even recorded: no model loaded
        assert store.query("SELECT count(*) FROM runs")[1] == [(0,)]

    # The same folder where every node sees it passes the check (one answer per worker node).
    shared = tmp_path / "data"
    shutil.copytree(data, shared)
    check = check_dataset_on_nodes(dataset_probe_paths(str(shared)), [{"num_cpus": 1}])
    assert sorted(check.nodes) == sorted(nodes.workers) and check.missing == ()
    with pytest.raises(DatasetError):
        check_dataset_on_nodes(dataset_probe_paths(str(data)), [{"num_cpus": 1}])


@pytest.mark.slow
def test_a_node_lost_mid_run_loses_and_duplicates_nothing(nodes, tiny_en_available, sample_rows):
    """Two actors on two of the three worker nodes; after a few rows one of those nodes is killed
    whole. Its shard goes to a new actor on the third node; every sample ends as exactly one row,
    and the results file, which no worker node can even see, is written by the driver alone."""
    db = nodes.hidden / "nodes.duckdb"
    config = RunConfig(models=(TINY_F32,), db=str(db), dataset=DatasetSpec(), shard_size=2, actors_per_model=2)
    pid_nodes: dict[int, int] = {}
    killed: list[int] = []

    def on_progress(p) -> None:
        pid_nodes.update(_node_of_pids(nodes.procs))  # while the actors live (the run ends them)
        if p.done >= 4 and not killed:
            busy = sorted({pid_nodes[proc.pid] for proc in psutil.process_iter(["cmdline"]) if proc.pid in pid_nodes
                           and (proc.info["cmdline"] or [""])[0].startswith("ray::Worker")})
            assert len(busy) == 2, f"actors on nodes {busy}"
            killed.append(busy[0])
            _kill_node(nodes.procs[busy[0]])

    with Store(str(db)) as store:
        summary = run_evaluation(config, store, on_progress=on_progress)
        models = json.loads(store.get_run(summary.run_id)["models"])[TINY_F32.label]

    assert killed, "no node was killed (the run ended before 4 rows?)"
    assert summary.status == "finished"
    con = duckdb.connect(str(db), read_only=True)
    n, distinct, errors = con.execute(
        "SELECT count(*), count(DISTINCT sample_id), count(*) FILTER (WHERE error IS NOT NULL) FROM results"
    ).fetchone()
    assert (n, distinct, errors) == (len(sample_rows), len(sample_rows), 0)
    assert {r[0] for r in con.execute("SELECT sample_id FROM results").fetchall()} == {r["id"] for r in sample_rows}

    worker_pids = [int(w["worker"].rsplit(":", 1)[1]) for w in models["workers"]]
    first, later = worker_pids[:2], worker_pids[2:]
    assert models["restarts"] >= 1 and later, models
    assert len({pid_nodes[p] for p in first}) == 2  # spread: one actor per node
    assert killed[0] in {pid_nodes[p] for p in first}
    assert all(pid_nodes[p] != killed[0] for p in later)  # the replacement ran elsewhere
    row_pids = {int(r[0].rsplit(":", 1)[1]) for r in con.execute("SELECT DISTINCT worker FROM results").fetchall()}
    assert len({pid_nodes[p] for p in row_pids}) >= 2  # rows came from several nodes
    assert os.getpid() not in row_pids | set(worker_pids)
