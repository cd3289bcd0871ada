"""The node images and the compose file stay in step with the repository (no Docker daemon needed):
what they copy exists, the extras they install exist, the CUDA base suits CTranslate2 4.x and
torch, and every node gets the same token. `docker compose config` (or `docker-compose`) validates
the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
DOCKERFILES = sorted(p.name for p in DOCKER.glob("Dockerfile*"))


def _instructions(name: str) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DOCKER / name).read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_copies_what_exists_and_installs_known_extras(name: str) -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    steps = _instructions(name)
    copies = [args.split()[:-1] for op, args in steps if op == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"{name} copies {source}, which is not in the repository"
    installs = " ".join(args for op, args in steps if op == "RUN" and "pip install" in args)
    named = {e for group in re.findall(r"\.\[([\w,-]+)\]", installs) for e in group.split(",")}
    assert named and named <= extras, f"{name} installs extras {named - extras} that pyproject.toml lacks"


def test_cuda_image_has_cuda_12_and_cudnn_9_for_ctranslate2_and_torch() -> None:
    steps = _instructions("Dockerfile.cuda")
    base = next(args for op, args in steps if op == "ARG" and args.startswith("CUDA_IMAGE="))
    match = re.fullmatch(r"CUDA_IMAGE=nvidia/cuda:(\d+)\.(\d+)\.\d+-cudnn-runtime-ubuntu(\d+)\.04", base)
    assert match, base
    major, minor, ubuntu = map(int, match.groups())
    assert major == 12  # CTranslate2 4.x loads libcublas.so.12; the cudnn tags of CUDA 12.x carry cuDNN 9
    torch_pin = re.search(r"^torch==(\d+)\.(\d+)", (ROOT / "constraints.txt").read_text(), re.M)
    assert torch_pin and (int(torch_pin[1]), int(torch_pin[2])) >= (2, 7)  # PyPI torch >= 2.7 is built for CUDA 12.8
    assert minor >= 8 and ubuntu >= 24  # Ubuntu 24.04's python3 is 3.12, as pyproject requires
    assert "-c constraints.txt" in " ".join(args for op, args in steps if op == "RUN")


def _targets(service: dict) -> set[str]:
    """Where a service's volumes are mounted (``source:target[:mode]``; sources may hold ``${X:-y}``)."""
    return {re.search(r":(/[^:]*)(?::r[ow])?$", v)[1] for v in service["volumes"]}


def test_compose_has_a_head_and_gpu_workers_that_share_a_token() -> None:
    compose = _compose()
    head, worker = compose["services"]["head"], compose["services"]["gpu-worker"]
    for service in (head, worker):
        assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).exists()
        assert service["environment"]["RAY_AUTH_MODE"] == "token"
        assert service["environment"]["RAY_AUTH_TOKEN"].startswith("${RAY_AUTH_TOKEN:?")
        assert service["network_mode"] == "host"
    assert "--head" in head["command"] and "--num-cpus=0" in head["command"]
    port = re.search(r"--port=(\d+)", head["command"])[1]
    assert re.search(rf"--address=\S+:{port}\b", worker["command"])
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "/results" in _targets(head)  # the DuckDB files live on the head, with the driver
    assert "/results" not in _targets(worker) and "/data" in _targets(worker)


def _compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_docker_compose_accepts_the_file() -> None:
    command = _compose_command()
    assert command is not None, ("neither `docker compose` nor `docker-compose` is installed: install Docker's compose "
                                 "plugin, or `apt-get install -y docker-compose` (Debian/Ubuntu)")
    env = {**os.environ, "RAY_AUTH_TOKEN": "test-token"}
    checked = subprocess.run([*command, "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    env.pop("RAY_AUTH_TOKEN")  # without a token the file refuses to start, saying why
    refused = subprocess.run([*command, "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode != 0 and "RAY_AUTH_TOKEN" in refused.stderr
