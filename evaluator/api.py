"""The Python API, for notebooks and scripts: :func:`evaluate` runs models on a dataset with
the same driver as `evaluator run` (Ray joined or started the same way), :func:`open` reads a
results database as pandas DataFrames.

    import evaluator

    run = evaluator.evaluate(models=["faster-whisper:tiny.en"], dataset="builtin:sample",
                             db="results.duckdb", max_samples=8)
    db = evaluator.open("results.duckdb")
    db.leaderboard()            # the figures `evaluator leaderboard --format json` prints
    db.compare(baseline="faster-whisper:tiny.en")
    db.results(run.run_id)      # one row per (model, sample)

The top layer: it may import every other one. It writes nothing to the terminal except the
progress bar (``tqdm.auto``: a widget in Jupyter, a text bar elsewhere).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluator.errors import ConfigError, DatasetError, MissingDependencyError, mask_credentials

__all__ = ["Run", "Database", "evaluate", "open"]

DEFAULT_DB = "results.duckdb"


@dataclass(frozen=True)
class Run:
    """A finished (or interrupted) evaluation, as :func:`evaluate` returns it.

    Attributes:
        run_id: the run's id in the database (``runs.run_id``).
        db: the results database it wrote.
        status: ``finished`` (even with some error rows), ``failed`` or ``interrupted``.
        rows: result rows stored; ``errors``: of them, failed rows (a sample in a language the
            model does not transcribe is not one: see ``warnings``).
        wall_seconds: the evaluation's wall time.
        failed_models: per model that produced nothing, why.
        warnings: what the run warned about (e.g. a model that does not transcribe a language).
    """

    run_id: str
    db: str
    status: str
    rows: int
    errors: int
    wall_seconds: float
    failed_models: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def leaderboard(self, **options: Any) -> Any:
        """This run's leaderboard (see :meth:`Database.leaderboard`)."""
        return Database(self.db).leaderboard(self.run_id, **options)

    def compare(self, **options: Any) -> Any:
        """This run's paired comparison (see :meth:`Database.compare`)."""
        return Database(self.db).compare(self.run_id, **options)

    def results(self) -> Any:
        """This run's result rows (see :meth:`Database.results`)."""
        return Database(self.db).results(self.run_id)

    def report(self, path: str | os.PathLike[str] = "report.html") -> Path:
        """Write this run's HTML report (see :meth:`Database.report`)."""
        return Database(self.db).report(self.run_id, path)


class _Bar:
    """The driver's progress callback as a ``tqdm.auto`` bar (Jupyter widget or text)."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=None, desc="evaluating", unit="sample")

    def __call__(self, p: Any) -> None:
        if self.bar is None:
            return
        if p.total is not None and self.bar.total != p.total:
            self.bar.total = p.total
        self.bar.set_postfix_str(f"{p.audio_seconds / 3600:.2f} h audio" + (f", {p.errors} errors" if p.errors else ""),
                                 refresh=False)
        self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def evaluate(models: Sequence[str] | str, dataset: str = "builtin:sample", db: str | os.PathLike[str] = DEFAULT_DB,
             *, address: str | None = None, num_cpus: int | None = None, resume: str | None = None,
             retry_errors: bool = False, force: bool = False, progress: bool = True, verbose: bool = False,
             **options: Any) -> Run:
    """Evaluate ``models`` on ``dataset``; every (model, sample) lands as a row in ``db``.

    The same driver as `evaluator run`: Ray is joined (``address``, ``RAY_ADDRESS``, a cluster
    started with ``ray start``) or a local cluster of ``num_cpus`` CPUs is started (and stopped
    again when the evaluation ends).

    Args:
        models: model specs ``BACKEND:MODEL[?option=value]`` (one string or several).
        dataset: a hub id, a ``save_to_disk`` or audiofolder folder, or ``builtin:sample``.
        db: the DuckDB results file (created if missing).
        address: the Ray cluster to join; ``"local"``: always a new local cluster.
        num_cpus: CPUs of a new local cluster.
        resume: a run id or name to finish (only what it has not stored yet); ``models``/``dataset``
            are then taken from the stored run. ``retry_errors``: re-evaluate its error rows.
            Refused (``RunBusyError``) while a live driver holds the run; ``force`` takes over
            a run whose driver on another machine stopped beating.
        progress: show a progress bar (a widget in Jupyter).
        verbose: let Ray's own start-up lines through.
        **options: every other `evaluator run` option by its long name with underscores
            (``split``, ``max_samples``, ``language``, ``long_form``, ``device``, ``name``,
            ``actors_per_model``, ...); an unknown name lists the valid ones.

    Raises:
        ConfigError, DatasetError, MissingDependencyError: with the fix, before Ray starts.
    """
    from evaluator.run import launch

    launch.prepare()  # the cluster's token, before anything imports Ray
    from evaluator.run.plan.config import RunConfig
    from evaluator.run.quiet import QUIET_WORKERS, quiet_ray

    if retry_errors and not resume:
        raise ConfigError("retry_errors only applies with resume=RUN")
    try:
        db = launch.database_path(os.fspath(db))
        run_id = None
        if resume:  # refused at once while a live driver holds the run
            run_id, config = launch.find_run(db, resume)
        else:
            config = RunConfig.from_mapping({**options, "models": [models] if isinstance(models, str) else list(models),
                                             "dataset": dataset, "db": db, "address": address})
        launch.check_models(config)  # before Ray starts or the database opens
    except (ConfigError, DatasetError) as exc:
        masked = mask_credentials(str(exc))
        if masked == str(exc):
            raise
        raise type(exc)(masked) from None  # a dataset URL's credentials never reach a message
    quiet_ray(verbose)
    bar = _Bar(progress)
    try:
        with launch.Session(config, db, run_id=run_id, force=force, num_cpus=num_cpus,
                            env_vars=None if verbose else QUIET_WORKERS, stop_local_ray=True) as session:
            summary = session.run(retry_errors=retry_errors, on_progress=bar)
    finally:
        bar.close()
    return Run(summary.run_id, db, summary.status, summary.rows, summary.errors, summary.wall_seconds,
               dict(summary.failed_models), tuple(summary.warnings))


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise MissingDependencyError("DataFrames need pandas: pip install pandas") from exc
    return pandas


class Database:
    """A results database, read-only. Each method opens the file, reads and closes it again,
    so a run writing to it in between is never blocked (DuckDB lets one process write and then
    no other open the file); :meth:`relation` keeps a connection until :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB) -> None:
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise ConfigError(f"no results database at {self.path}; write one with evaluator.evaluate(db=...) "
                              f"or `evaluator run --db {self.path}`")
        self._con: Any = None

    def __repr__(self) -> str:
        return f"evaluator.Database({self.path!r})"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, fn: Any) -> Any:
        from evaluator.results.store import connect_read_only

        con = connect_read_only(self.path)
        try:
            return fn(con)
        finally:
            con.close()

    def _run_id(self, con: Any, run: str | None) -> str:
        from evaluator.results.runs import resolve_run

        return resolve_run(con, run, self.path)

    def runs(self) -> Any:
        """Every run, newest first: status, rows, planned, done %, errors, models (as `evaluator runs`)."""
        from evaluator.results.runs import runs_table

        def read(con: Any) -> Any:
            columns, rows = runs_table(con, db=self.path)  # statuses as the runs' leases tell them
            return _pandas().DataFrame.from_records(rows, columns=columns)

        return self._read(read)

    def leaderboard(self, run: str | None = None, *, by: str | None = None, resamples: int = 1000,
                    seed: int = 0) -> Any:
        """One row per model (per model and value of ``by``): the columns of `evaluator
        leaderboard --format json`, in percent (``wer_%``, ``wer_low``, ``wer_high``, ``cer_%``,
        ``rtfx``, accounting and flags), ranked as the CLI and the report rank: the models
        ``ranked`` together first, their figures over the ``ranked_on`` samples they all scored,
        then those ranked apart (a model that does not transcribe some languages, a partial one).
        What the ranking covers is in ``df.attrs["ranking"]`` ("ranked on all 44 samples; not
        ranked: ..."). ``run``: an id or name (default: the latest run)."""
        from evaluator.results.ranking import leaderboard_table

        def read(con: Any) -> Any:
            ranking = leaderboard_table(con, self._run_id(con, run), by, resamples, seed)
            frame = _pandas().DataFrame.from_records(ranking.rows, columns=ranking.columns)
            frame.attrs["ranking"] = ranking.note()
            return frame

        return self._read(read)

    def compare(self, run: str | Sequence[str] | None = None, *, baseline: str | None = None,
                all_pairs: bool = False, resamples: int = 1000, seed: int = 0) -> Any:
        """One row per pair, dataset and metric, as `evaluator compare --format json` (fractions, not
        percent): baseline, model, dataset (``overall``: over every dataset of the pair, resampled
        within each), datasets, metric, n (samples both scored), baseline_rate, model_rate, delta,
        delta_low, delta_high, p_value, wilcoxon_p, better/worse/same, dropped counts, coverage and
        error-row counts. By default each model against ``baseline`` (default: the first run's
        first model as given); ``all_pairs``: every pair. ``run`` may be a list of runs: their
        models compare like models of one run, a model in the first run against itself there."""
        from dataclasses import asdict

        from evaluator.results.compare import compare

        def read(con: Any) -> Any:
            runs = [run] if run is None or isinstance(run, str) else list(run)
            run_ids = list(dict.fromkeys(self._run_id(con, r) for r in runs))
            c = compare(con, run_ids, baseline=baseline, resamples=resamples, seed=seed, top=0, all_pairs=all_pairs)
            records = [{k: v for k, v in asdict(p).items() if k != "regressions"} for p in c.pairs]
            return _pandas().DataFrame.from_records(records)

        return self._read(read)

    def results(self, run: str | None = None) -> Any:
        """The run's rows of the ``results`` table: one per (model, sample), with reference,
        hypothesis, error, word and character counts, timings and flags."""
        return self._read(lambda con: con.execute("SELECT * FROM results WHERE run_id = ? ORDER BY model, "
                                                  "sample_index, sample_id", [self._run_id(con, run)]).df())

    def sql(self, query: str, params: Sequence[Any] = (), *, allow_files: bool = False) -> Any:
        """A read-only query on the results database (tables and views: see docs/database.md) as
        a DataFrame. As `evaluator sql`, it runs on the results database alone: reading or
        writing files, ``ATTACH`` and extensions are refused with one line saying why
        (ConfigError). ``allow_files=True`` lifts that for a query of your own (``read_parquet``
        of your files): the query can then read and write every file you can."""
        import duckdb

        from evaluator.results.sandbox import connect_sandboxed, refusal

        con = connect_sandboxed(self.path, allow_files=allow_files)
        try:
            return con.execute(query, list(params)).df()
        except duckdb.Error as exc:
            refused = refusal(exc, "save a result with DataFrame.to_csv", "allow_files=True lifts this for a query "
                              "of your own")
            if refused is None:
                raise
            raise refused from exc
        finally:
            con.close()

    def relation(self, name: str = "results", run: str | None = None) -> Any:
        """A DuckDB relation over a table or view (``results``, ``leaderboard``,
        ``leaderboard_languages``, ``buckets``, ...), filtered to ``run`` when it has a
        ``run_id`` column, for lazy DuckDB queries (``.filter``, ``.aggregate``, ``.df()``). It
        keeps a read-only connection open until :meth:`close` (a run cannot write meanwhile);
        like :meth:`sql`, that connection reaches no file but the results database."""
        from evaluator.results.sandbox import connect_sandboxed

        if self._con is None:
            self._con = connect_sandboxed(self.path)
        rel = self._con.table(name)
        if "run_id" in rel.columns:
            rel = rel.filter(f"run_id = '{self._run_id(self._con, run)}'")
        return rel

    def close(self) -> None:
        """Close the connection :meth:`relation` opened (if any)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def report(self, run: str | None = None, path: str | os.PathLike[str] = "report.html", **options: Any) -> Path:
        """Write the self-contained HTML report of ``run`` to ``path`` (options: those of
        :class:`evaluator.report.html.ReportOptions`, e.g. ``max_samples``); returns the path."""
        from evaluator.report.html import ReportOptions, build_report

        def read(con: Any) -> str:
            try:
                return build_report(con, self._run_id(con, run), ReportOptions(**options))
            except ImportError as exc:
                raise MissingDependencyError(str(exc)) from exc

        page = self._read(read)
        out = Path(path).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
        return out


def open(db: str | os.PathLike[str] = DEFAULT_DB) -> Database:  # noqa: A001 (evaluator.open, as in the issue)
    """The results database at ``db`` (read-only), as :class:`Database`."""
    return Database(db)

