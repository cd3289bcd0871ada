"""What produced a run: who ran it where, with which evaluator (version, and git commit when it
runs from a checkout), from which command, in which Ray job. Recorded in ``runs.host`` and
printed by ``evaluator runs --show``."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import evaluator
from evaluator.errors import mask_credentials

__all__ = ["evaluator_commit", "ray_job", "run_origin", "version_text"]


def evaluator_commit() -> str | None:
    """The git commit of the checkout evaluator is imported from (``+dirty`` with uncommitted
    changes to tracked files), or None when it is installed from a wheel."""
    source = Path(evaluator.__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def version_text() -> str:
    """``evaluator 0.1.0`` (and the commit when run from a checkout): what ``--version`` prints."""
    commit = evaluator_commit()
    return f"evaluator {evaluator.__version__}" + (f" (git {commit})" if commit else "")


def ray_job() -> dict[str, str | None]:
    """The Ray job of this driver: its job id (once Ray is connected) and, inside ``ray job
    submit``, the submission id (``raysubmit_...``, what `ray job logs` takes)."""
    found: dict[str, str | None] = {"ray_job_id": None, "ray_submission_id": None}
    try:
        config = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}")
        found["ray_submission_id"] = (config.get("metadata") or {}).get("job_submission_id")
    except ValueError:
        pass
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            found["ray_job_id"] = ray.get_runtime_context().get_job_id()
    return found


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _program() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return "evaluator" if name == "__main__.py" else name  # `python -m evaluator.cli`


def run_origin() -> dict[str, Any]:
    """The run's origin: user, host, PID, working directory, command (credentials masked),
    evaluator version and commit, Ray job and submission ids."""
    return {
        "user": _user(),
        "hostname": socket.gethostname(),
        "driver_pid": os.getpid(),
        "cwd": os.getcwd(),
        "command": mask_credentials(" ".join([_program(), *sys.argv[1:]])),
        "evaluator_version": evaluator.__version__,
        "evaluator_commit": evaluator_commit(),
        **ray_job(),
    }
