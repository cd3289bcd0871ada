"""Starting a run the same way from `evaluator run`, :func:`evaluator.evaluate` and a Ray job, in
this order, so that nothing is held while something else may fail:

1. the cluster's token is set up before anything imports Ray (:func:`prepare`);
2. the database path is settled (a relative one inside a Ray job is refused: it would land in
   Ray's temporary copy of the job's working directory) and a run to resume is found by id or
   name, refused at once while a live driver holds it (its lease);
3. every model spec and option is checked (no Ray, no database);
4. :class:`Session`: the run's lease is taken, Ray joined or started (while the datasets open,
   their languages are checked and their fingerprints made on another thread), and only then the
   database opened for writing;
   the run id, name and database path are logged before any work; a run that could not start
   leaves no empty database behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evaluator.errors import ConfigError, RunBusyError
from evaluator.models.backends import get_backend
from evaluator.models.contract import Backend
from evaluator.results.lease import Lease, find_live, refusal
from evaluator.results.locking import READ_WAIT_SECONDS, connect
from evaluator.results.store import Store, preload
from evaluator.run.driver import CheckedDatasets, RunSummary, check_datasets, new_run_id, run_evaluation
from evaluator.run.plan import cluster
from evaluator.run.plan.cluster import Connection, use_cluster_token
from evaluator.run.plan.config import RunConfig, run_config_from_json

__all__ = ["Session", "check_models", "database_path", "find_run", "prepare", "resume_command"]

log = logging.getLogger(__name__)

# Where Ray Jobs unpack a job's --working-dir (a temporary copy Ray deletes later).
_JOB_WORKING_DIR = ("runtime_resources", "working_dir_files")


def prepare() -> None:
    """First thing of every run: the cluster's token, before Ray is imported."""
    use_cluster_token()


def database_path(db: str, cwd: str | None = None) -> str:
    """The absolute path of ``db``. Inside a Ray job, whose working directory is Ray's temporary
    copy of ``--working-dir``, a relative path is refused: the database would be deleted with it.

    Raises:
        ConfigError: naming an absolute path to give instead.
    """
    cwd = cwd or os.getcwd()
    if not os.path.isabs(os.path.expanduser(db)) and all(part in cwd for part in _JOB_WORKING_DIR):
        raise ConfigError(
            f"--db {db} is relative, and this Ray job runs in Ray's temporary copy of its working directory "
            f"({cwd}), which Ray deletes later: give an absolute path on the head node, e.g. "
            f"--db /data/evaluator/{os.path.basename(db)}")
    return os.path.abspath(os.path.expanduser(db))


def find_run(db: str, ref: str) -> tuple[str, RunConfig]:
    """The run ``ref`` names (an id, or a name: the latest run of that name) and its config,
    read from a read-only connection closed again at once.

    Raises:
        RunBusyError: a live driver holds it (checked from its lease, before the database opens).
        ConfigError: no such run, or no database; listing the latest runs.
    """
    holder = find_live(db, ref)
    if holder is not None:
        raise RunBusyError(refusal(holder, db))
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}, so no run {ref!r} to resume")
    con = connect(db, read_only=True, wait=READ_WAIT_SECONDS)
    try:
        rows = con.execute("SELECT run_id, name, config FROM runs ORDER BY started_at DESC").fetchall()
    finally:
        con.close()
    for run_id, name, config in rows:
        if ref in (run_id, name):
            import json

            if "://***@" in config:
                raise ConfigError(
                    f"run {run_id} read a dataset from a URL with credentials, which are never stored, so it "
                    "cannot be resumed from its record: give the credentials through the environment (~/.netrc, "
                    "cloud credentials) instead of the URL, and start a new run")
            return run_id, run_config_from_json(json.loads(config))
    listed = ", ".join(f"{i} ({n})" if n else i for i, n, _ in rows[:10]) or "none"
    raise ConfigError(f"no run {ref!r} in {db}; runs (id, name), latest first: {listed}")


def _options_checked(cls: Any, options: dict[str, Any], device: str, devices: tuple[str, ...]) -> None:
    """Options valid on the device asked for (``auto``: on some device the backend runs on)."""
    candidates = [device] if device != "auto" else list(devices)
    errors: list[ConfigError] = []
    for candidate in candidates:
        try:
            cls.resolve_options(options, candidate)
            return
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def check_models(config: RunConfig) -> None:
    """Before Ray starts or the database opens: each backend installed, each option known and
    valid, each model name resolvable (a local path that exists; a hub id or size cached, or
    reachable). One line naming the fix, else nothing. (Each language transcribable: checked
    by :class:`Session` while Ray starts, since it opens the datasets.)

    Raises:
        ConfigError, MissingDependencyError: what is wrong and how to fix it.
    """
    for spec in config.models:
        base = get_backend(spec.backend)
        base.require()
        options = spec.options_dict()
        location = base.check_model(spec.model, options)
        kind = getattr(location, "kind", None)
        dispatches = base.for_model.__func__ is not Backend.for_model.__func__  # type: ignore[attr-defined]
        if not dispatches:
            _options_checked(base, options, config.device, tuple(base.devices))
        elif kind in ("path", "hub-cache", "bundled"):  # the checkpoint says which class runs it
            cls = base.for_model(spec.model, options)
            _options_checked(cls, options, config.device, tuple(cls.devices))
        # (a hub checkpoint not downloaded yet: its class, and so its options, are known once it is)


def resume_command(run_id: str, db: str) -> str:
    """The command that finishes a run."""
    return f"evaluator run --resume {run_id} --db {db}"


def _ready(config: RunConfig) -> CheckedDatasets:
    """What a session does while Ray starts: make the datasets ready (:func:`check_datasets`) and
    import what the store's first writes need."""
    checked = check_datasets(config)
    preload()
    return checked


class Session:
    """One run's hold on the world: its lease, Ray, and the database opened for writing, in that
    order (see the module's docstring). Use as a context manager, then :meth:`run`.

    Args:
        config: the run's configuration (stored, for a resume).
        db: the database path (:func:`database_path`).
        run_id: the run to resume (its id), or None for a new run (an id is made now, so an
            interrupt can name it).
        force: take over a lease whose holder on another machine stopped beating.
        num_cpus: CPUs of a new local Ray cluster.
        env_vars: set in every Ray worker.
        stop_local_ray: shut down a local cluster this session started, when it ends.
        dashboard: a local cluster this session starts serves Ray's dashboard (slower to start).
    """

    def __init__(self, config: RunConfig, db: str, *, run_id: str | None = None, force: bool = False,
                 num_cpus: int | None = None, env_vars: dict[str, str] | None = None,
                 stop_local_ray: bool = False, dashboard: bool = False) -> None:
        self.config = config
        self.db = db
        self.resume = run_id is not None
        self.run_id = run_id or new_run_id()
        self.force = force
        self.num_cpus = num_cpus
        self.env_vars = env_vars
        self.stop_local_ray = stop_local_ray
        self.dashboard = dashboard
        self.lease: Lease | None = None
        self.connection: Connection | None = None
        self.store: Store | None = None
        self.checked: CheckedDatasets | None = None  # made while Ray starts
        self._existed = os.path.exists(db)

    def __enter__(self) -> Session:
        prepare()
        self.lease = Lease.take(self.db, self.run_id, self.config.name, force=self.force)
        name = f" ({self.config.name})" if self.config.name else ""
        log.info("%s run %s%s; results in %s", "resuming" if self.resume else "starting", self.run_id, name, self.db)
        try:
            # The datasets open (and their languages are checked) on another thread while Ray
            # starts here: Ray's processes must be started by a thread that lives as long as they do.
            with ThreadPoolExecutor(1, thread_name_prefix="open-datasets") as opener:
                ready = opener.submit(_ready, self.config)
                self.connection = cluster.connect_ray(self.config.address, self.num_cpus, env_vars=self.env_vars,
                                                      dashboard=self.dashboard)
                self.checked = ready.result()
            self.store = Store(self.db)  # the write lock: only once the cluster is joined
        except BaseException:
            self._close()
            raise
        return self

    def run(self, *, retry_errors: bool = False, on_progress: Callable[[Any], None] | None = None) -> RunSummary:
        assert self.store is not None, "use the session as a context manager"
        return run_evaluation(self.config, self.store, run_id=self.run_id, resume=self.resume,
                              retry_errors=retry_errors, on_progress=on_progress, checked=self.checked)

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        if not self._existed:
            self._drop_if_empty()
        if self.stop_local_ray and self.connection is not None and not self.connection.joined:
            cluster.stop_local_cluster()
        self.connection = None

    def _drop_if_empty(self) -> None:
        """A database this session created and that holds no run (the run could not start) goes."""
        if not os.path.exists(self.db):
            return
        try:
            con = connect(self.db, read_only=True, wait=1.0)
            try:
                (runs,) = con.execute("SELECT count(*) FROM runs").fetchone()
            finally:
                con.close()
        except Exception:  # locked, or not ours to judge: keep it
            return
        if runs == 0:
            for path in (self.db, f"{self.db}.wal"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
