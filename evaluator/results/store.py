"""DuckDB results store. The driver is the only writer; queries use read-only connections.

The row tables (``results``, ``chunks``, ``run_models``, ``lost_shards``) are made from the typed
records of :mod:`evaluator.results.records`; the rest of the schema by numbered migrations in
``evaluator/results/migrations`` (recorded in ``schema_migrations``); the views by ``views.sql``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluator.errors import mask_credentials
from evaluator.results.locking import READ_WAIT_SECONDS, WRITE_WAIT_SECONDS, connect
from evaluator.results.records import (
    ChunkRow,
    LostShard,
    ResultRow,
    RunModel,
    as_record,
    column_names,
)
from evaluator.results.schema import sync_records

__all__ = ["Store", "RESULT_COLUMNS", "CHUNK_COLUMNS", "RECORDS", "connect_read_only", "preload"]

log = logging.getLogger(__name__)

RESULT_COLUMNS = column_names(ResultRow)
CHUNK_COLUMNS = column_names(ChunkRow)
RECORDS = (ResultRow, ChunkRow, RunModel, LostShard)


def preload() -> None:
    """Import what the store's first writes need: DuckDB, and pyarrow with pandas, which pyarrow
    imports at its first conversion of Python values (about 0.3 s of CPU; the driver does it on
    another thread while Ray starts, rather than before the first model loads)."""
    import duckdb  # noqa: F401
    import pyarrow as pa

    pa.array([0])


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in (Path(__file__).parent / "migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


def _views_sql() -> str:
    return (Path(__file__).parent / "views.sql").read_text()


def _views_current(con: Any) -> bool:
    """Whether the file's views and macros are this version's (``schema_views`` holds the hash
    of the ``views.sql`` that made them)."""
    try:
        row = con.execute("SELECT sha256 FROM schema_views").fetchone()
    except Exception:  # a file from before schema_views, or not an evaluator database
        return False
    return row is not None and row[0] == hashlib.sha256(_views_sql().encode()).hexdigest()


def connect_read_only(path: str, wait: float = READ_WAIT_SECONDS) -> Any:
    """A read-only connection: works while a run writes to the file (it waits for the driver's
    next pause between writes, at most ``wait`` seconds).

    A file written by an older version (older views or macros, missing columns) is first brought
    up to date by opening it for writing once, as a run would; where the file is not writable
    it is read as it is (queries that need the new views then fail naming what is missing)."""
    con = connect(path, read_only=True, wait=wait)
    if _views_current(con) or not os.access(path, os.W_OK):
        return con
    con.close()
    log.info("bringing %s up to date with this version's schema and views", path)
    Store(path, wait=wait).close()
    return connect(path, read_only=True, wait=wait)


class Store:
    """The results database, opened for writing by the driver.

    The connection opens on first use. :meth:`release` closes it until the next operation: the
    driver does so after each batch of rows, so readers (``evaluator sql``, ``leaderboard``, ...)
    can open the file while a run goes on, and see every batch written so far.
    """

    def __init__(self, path: str, wait: float = WRITE_WAIT_SECONDS):
        self.path = path
        self.wait = wait
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self._con: Any = None
        self._migrate()

    @property
    def con(self) -> Any:
        """The write connection, opened (waiting for readers) when needed."""
        if self._con is None:
            self._con = connect(self.path, read_only=False, wait=self.wait)
        return self._con

    def release(self) -> None:
        """Let go of the file until the next operation (its data is on disk)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def close(self) -> None:
        self.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
        )
        applied = {v for (v,) in self.con.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, name, sql in _migrations():
            if version in applied:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, _now()]
                )
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
        sync_records(self.con, RECORDS)
        views = _views_sql()
        self.con.execute(views)
        self.con.execute("CREATE OR REPLACE TABLE schema_views (sha256 VARCHAR)")
        self.con.execute("INSERT INTO schema_views VALUES (?)", [hashlib.sha256(views.encode()).hexdigest()])

    # runs -------------------------------------------------------------------------------
    def create_run(self, run_id: str, name: str | None, config: dict[str, Any], *,
                   evaluator_version: str, normalizer: tuple[str, str], host: dict[str, Any],
                   scoring: str = "whisper") -> None:
        self.con.execute(
            "INSERT INTO runs (run_id, name, status, started_at, heartbeat_at, config, evaluator_version, "
            "normalizer_name, normalizer_version, host, scoring) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, name, _now(), _now(), json.dumps(config), evaluator_version, normalizer[0],
             normalizer[1], json.dumps(host), scoring],
        )

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        cur = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def mark_running(self, run_id: str) -> None:
        self.con.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL, heartbeat_at = ? WHERE run_id = ?",
            [_now(), run_id]
        )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run; dict/list values are stored as JSON."""
        if not fields:
            return
        values = [json.dumps(v) if isinstance(v, dict | list) else v for v in fields.values()]
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.con.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?", [*values, run_id])

    def heartbeat(self, run_id: str) -> None:
        """The driver is alive (see ``runs.heartbeat_at``)."""
        self.con.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", [_now(), run_id])

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self.update_run(run_id, status=status, finished_at=_now(), summary=summary)

    # results ----------------------------------------------------------------------------
    def insert_results(self, rows: Sequence[ResultRow | Mapping[str, Any]],
                       chunks: Sequence[ChunkRow | Mapping[str, Any]] = ()) -> None:
        """Insert result rows (and their chunk rows) in one transaction: all or none. Rows are
        records, or mappings whose keys must be the records' fields."""
        self._insert([(ResultRow, rows), (ChunkRow, chunks)])

    def update_scores(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Overwrite ``columns`` of existing result rows (keyed by run, model, sample) in one
        transaction: how ``evaluator rescore`` writes."""
        import pyarrow as pa

        if not rows:
            return
        unknown = set(columns) - set(RESULT_COLUMNS)
        if unknown:
            raise ValueError(f"not columns of results: {', '.join(sorted(unknown))}")
        key = ResultRow.KEY
        batch = pa.table({c: [r[c] for r in rows] for c in (*key, *columns)})
        types = {f.name: f.metadata["sql"].replace(" NOT NULL", "") for f in dataclasses.fields(ResultRow)}
        assignments = ", ".join(f"{c} = CAST(b.{c} AS {types[c]})" for c in columns)
        match = " AND ".join(f"results.{k} = b.{k}" for k in key)
        self.con.register("_batch_scores", batch)
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(f"UPDATE results SET {assignments} FROM _batch_scores b WHERE {match}")
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
        finally:
            self.con.unregister("_batch_scores")

    def _insert(self, groups: Sequence[tuple[type, Sequence[Any]]]) -> None:
        import pyarrow as pa

        batches = []
        for record, data in groups:
            if not data:
                continue
            items = [as_record(record, r) for r in data]
            for item in items:  # an error may quote a URL with its credentials: never stored
                if isinstance(getattr(item, "error", None), str):
                    item.error = mask_credentials(item.error)
            cols = column_names(record)
            batches.append((record.TABLE, cols, pa.table({c: [getattr(r, c) for r in items] for c in cols})))
        if not batches:
            return
        for table, _, batch in batches:
            self.con.register(f"_batch_{table}", batch)
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                for table, cols, _ in batches:
                    names = ", ".join(cols)
                    self.con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _batch_{table}")
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
        finally:
            for table, _, _ in batches:
                self.con.unregister(f"_batch_{table}")

    # accounting -------------------------------------------------------------------------
    def plan_model(self, run_id: str, model: str, dataset: str, split: str, planned: int | None) -> None:
        """Record what a run plans for a model on one dataset (a resume keeps the earlier
        sessions' time)."""
        self.con.execute(
            "INSERT INTO run_models (run_id, model, dataset, split, planned, wall_seconds, status) "
            "VALUES (?, ?, ?, ?, ?, 0, 'running') ON CONFLICT (run_id, model, dataset) DO UPDATE SET "
            "planned = excluded.planned, status = 'running', error = NULL",
            [run_id, model, dataset, split, planned])

    def finish_model(self, run_id: str, model: str, wall_seconds: float, status: str, error: str | None) -> None:
        """Add a session's end-to-end seconds to a model (each of its datasets' rows) and set its
        final status."""
        self.con.execute(
            "UPDATE run_models SET wall_seconds = coalesce(wall_seconds, 0) + ?, status = ?, error = ? "
            "WHERE run_id = ? AND model = ?", [wall_seconds, status, error, run_id, model])

    def record_lost_shard(self, lost: LostShard) -> None:
        self.con.execute("INSERT OR REPLACE INTO lost_shards (run_id, model, dataset, shard_id, reason) "
                         "VALUES (?, ?, ?, ?, ?)", [lost.run_id, lost.model, lost.dataset, lost.shard_id, lost.reason])

    def lost_shard_ids(self, run_id: str, model: str, dataset: str | None = None) -> frozenset[int]:
        rows = self.con.execute("SELECT shard_id FROM lost_shards WHERE run_id = ? AND model = ? "
                                "AND (? IS NULL OR dataset = ?)", [run_id, model, dataset, dataset]).fetchall()
        return frozenset(r[0] for r in rows)

    def forget_lost_shards(self, run_id: str) -> int:
        """Drop a run's lost-shard records: a resume tries those shards again."""
        (n,) = self.con.execute("SELECT count(*) FROM lost_shards WHERE run_id = ?", [run_id]).fetchone()
        self.con.execute("DELETE FROM lost_shards WHERE run_id = ?", [run_id])
        return int(n)

    def delete_errors(self, run_id: str) -> int:
        """Remove error rows of a run, with their windows' chunk rows, so a resume evaluates
        those samples again (in one transaction)."""
        (n,) = self.con.execute(
            "SELECT count(*) FROM results WHERE run_id = ? AND error IS NOT NULL", [run_id]
        ).fetchone()
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "DELETE FROM chunks WHERE run_id = ? AND (model, dataset, sample_id) IN "
                "(SELECT model, dataset, sample_id FROM results WHERE run_id = ? AND error IS NOT NULL)",
                [run_id, run_id])
            self.con.execute("DELETE FROM results WHERE run_id = ? AND error IS NOT NULL", [run_id])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return int(n)

    def done_ids(self, run_id: str, model: str, start: int | None = None,
                 stop: int | None = None, *, dataset: str | None = None) -> frozenset[str]:
        """Sample ids of a model already stored in a run (optionally of one dataset, within a
        row range)."""
        sql = "SELECT sample_id FROM results WHERE run_id = ? AND model = ?"
        params: list[Any] = [run_id, model]
        if dataset is not None:
            sql += " AND dataset = ?"
            params.append(dataset)
        if start is not None and stop is not None:
            sql += " AND sample_index >= ? AND sample_index < ?"
            params += [start, stop]
        return frozenset(r[0] for r in self.con.execute(sql, params).fetchall())

    def count_results(self, run_id: str) -> dict[str, int]:  # errors: failed rows, not the not-transcribable
        from evaluator.results.leaderboard import NOT_TRANSCRIBABLE_SQL as NT

        (n, errors) = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE error IS NOT NULL AND NOT {NT}) FROM results WHERE run_id = ?",
            [run_id],
        ).fetchone()
        return {"rows": int(n), "errors": int(errors)}

    def write_word_errors(self, run_id: str) -> int:
        """Count the run's confusion pairs (per model, from the normalized text of its
        error-free rows; see ``evaluator.results.word_errors``) into ``word_errors``, replacing the run's
        earlier ones, in one transaction. Returns the number of distinct pairs."""
        from evaluator.results.word_errors import confusion_table, run_confusions

        counts = run_confusions(self.con, run_id)
        batch = confusion_table(run_id, counts)
        self.con.register("_batch_word_errors", batch)
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute("DELETE FROM word_errors WHERE run_id = ?", [run_id])
                self.con.execute("INSERT INTO word_errors (run_id, model, op, ref_word, hyp_word, count) "
                                 "SELECT run_id, model, op, ref_word, hyp_word, count FROM _batch_word_errors")
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
        finally:
            self.con.unregister("_batch_word_errors")
        return len(counts)

    def save_intervals(self, run_id: str, *, resamples: int = 1000, seed: int = 0) -> int:
        """Compute a run's bootstrap intervals (WER, CER; overall and per group, see
        :func:`evaluator.results.leaderboard.interval_records`) and replace its rows in ``intervals``.
        Returns the number of rows written."""
        from evaluator.results.leaderboard import interval_records

        records = interval_records(self.con, run_id, resamples=resamples, seed=seed)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("DELETE FROM intervals WHERE run_id = ?", [run_id])
            if records:
                names = list(records[0])
                self.con.executemany(
                    f"INSERT INTO intervals ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    [[r[c] for c in names] for r in records])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return len(records)

    def query(self, sql: str, params: Iterable[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, list(params))
        return [d[0] for d in cur.description], cur.fetchall()
