"""A local cluster that a run starts: its workers get the run's settings from the processes it
starts (no runtime environment to build per actor), its raylet tries its connections again every
100 ms rather than every second (unless the user set otherwise), the driver's own environment is
left as it was, and stopping it leaves no process behind."""

from __future__ import annotations

import os
import time

import pytest

from evaluator.run.plan.cluster import connect_ray, stop_local_cluster
from tests.ray_processes import alive, descendants, process_table

pytestmark = pytest.mark.slow


def test_a_local_cluster_passes_settings_to_its_workers_and_stops_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("EVALUATOR_PROBE", raising=False)
    monkeypatch.delenv("RAY_raylet_client_connect_timeout_milliseconds", raising=False)
    monkeypatch.setenv("RAY_raylet_client_num_connect_attempts", "50")  # the user's: kept
    before = descendants({os.getpid()}, process_table())  # e.g. a resource tracker of earlier tests
    connection = connect_ray("local", 2, env_vars={"EVALUATOR_PROBE": "quiet"})
    try:
        assert not connection.joined
        # the driver's environment is as it was
        assert "EVALUATOR_PROBE" not in os.environ
        assert "RAY_raylet_client_connect_timeout_milliseconds" not in os.environ
        assert os.environ["RAY_raylet_client_num_connect_attempts"] == "50"

        @ray.remote(num_cpus=1)
        def probe() -> tuple[tuple[str | None, ...], dict]:
            names = ("EVALUATOR_PROBE", "RAY_raylet_client_connect_timeout_milliseconds",
                     "RAY_raylet_client_num_connect_attempts")
            return tuple(os.environ.get(n) for n in names), dict(ray.get_runtime_context().runtime_env)

        values, runtime_env = ray.get(probe.remote())
        assert values == ("quiet", "100", "50")
        assert "env_vars" not in runtime_env
        started = descendants({os.getpid()}, process_table()) - before
        assert any("raylet" in process_table()[pid].args for pid in started if pid in process_table())
    finally:
        stop_local_cluster()
    assert not ray.is_initialized()
    deadline = time.monotonic() + 10
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(started) == set(), [process_table().get(pid) for pid in alive(started)]
