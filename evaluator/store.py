"""DuckDB results store. The driver is the only writer; queries use read-only connections.

The schema is created by numbered migrations in ``evaluator/migrations`` and recorded in
``schema_migrations``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Store", "RESULT_COLUMNS", "CHUNK_COLUMNS", "connect_read_only"]

RESULT_COLUMNS = (
    "run_id", "model", "backend", "dataset", "split", "sample_id", "sample_index", "language",
    "audio_seconds", "reference", "hypothesis", "reference_norm", "hypothesis_norm", "hits",
    "substitutions", "deletions", "insertions", "ref_words", "hyp_words", "ref_chars",
    "char_errors", "decode_seconds", "inference_seconds", "truncated", "device", "worker", "error",
    "long_form", "num_chunks", "completion_ratio", "repetition", "max_insertion_run", "token_cap_hit",
    "transcribed_until_s", "max_repeats", "looping", "truncated_reason", "max_deletion_run", "max_deletion_run_s",
    "untranscribed_speech_s", "skipped", "metadata",
)
CHUNK_COLUMNS = (
    "run_id", "model", "sample_id", "chunk_index", "start_s", "end_s", "hypothesis", "inference_seconds", "worker",
    "error", "seam", "seam_matched", "seam_cut_s",
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in (Path(__file__).parent / "migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


def connect_read_only(path: str) -> Any:
    """A read-only connection (fails clearly if the file does not exist)."""
    import duckdb

    return duckdb.connect(path, read_only=True)


class Store:
    """The results database, opened for writing by the driver."""

    def __init__(self, path: str):
        import duckdb

        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self.con = duckdb.connect(path)
        self._migrate()

    def close(self) -> None:
        self.con.close()

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
        self.con.execute((Path(__file__).parent / "views.sql").read_text())

    # runs -------------------------------------------------------------------------------
    def create_run(self, run_id: str, name: str | None, config: dict[str, Any], *,
                   evaluator_version: str, normalizer: tuple[str, str], host: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT INTO runs (run_id, name, status, started_at, config, evaluator_version, "
            "normalizer_name, normalizer_version, host) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
            [run_id, name, _now(), json.dumps(config), evaluator_version, normalizer[0],
             normalizer[1], json.dumps(host)],
        )

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        cur = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def mark_running(self, run_id: str) -> None:
        self.con.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?", [run_id]
        )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run; dict/list values are stored as JSON."""
        if not fields:
            return
        values = [json.dumps(v) if isinstance(v, dict | list) else v for v in fields.values()]
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.con.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?", [*values, run_id])

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self.update_run(run_id, status=status, finished_at=_now(), summary=summary)

    # results ----------------------------------------------------------------------------
    def insert_results(self, rows: Sequence[dict[str, Any]], chunks: Sequence[dict[str, Any]] = ()) -> None:
        """Insert result rows (and their chunk rows) in one transaction: all or none."""
        if not rows and not chunks:
            return
        import pyarrow as pa

        batches = [(t, cols, pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in data]))
                   for t, cols, data in (("results", RESULT_COLUMNS, rows), ("chunks", CHUNK_COLUMNS, chunks))
                   if data]
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

    def delete_errors(self, run_id: str) -> int:
        """Remove error rows of a run, with their windows' chunk rows, so a resume evaluates
        those samples again (in one transaction)."""
        (n,) = self.con.execute(
            "SELECT count(*) FROM results WHERE run_id = ? AND error IS NOT NULL", [run_id]
        ).fetchone()
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "DELETE FROM chunks WHERE run_id = ? AND (model, sample_id) IN "
                "(SELECT model, sample_id FROM results WHERE run_id = ? AND error IS NOT NULL)", [run_id, run_id])
            self.con.execute("DELETE FROM results WHERE run_id = ? AND error IS NOT NULL", [run_id])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return int(n)

    def done_ids(self, run_id: str, model: str, start: int | None = None,
                 stop: int | None = None) -> frozenset[str]:
        """Sample ids of a model already stored in a run (optionally within a row range)."""
        sql = "SELECT sample_id FROM results WHERE run_id = ? AND model = ?"
        params: list[Any] = [run_id, model]
        if start is not None and stop is not None:
            sql += " AND sample_index >= ? AND sample_index < ?"
            params += [start, stop]
        return frozenset(r[0] for r in self.con.execute(sql, params).fetchall())

    def count_results(self, run_id: str) -> dict[str, int]:
        (n, errors) = self.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE error IS NOT NULL) FROM results WHERE run_id = ?",
            [run_id],
        ).fetchone()
        return {"rows": int(n), "errors": int(errors)}

    def save_intervals(self, run_id: str, *, resamples: int = 1000, seed: int = 0) -> int:
        """Compute a run's bootstrap intervals (WER, CER; overall and per group, see
        :func:`evaluator.compare.interval_records`) and replace its rows in ``intervals``.
        Returns the number of rows written."""
        from evaluator.compare import interval_records

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

    def write_word_errors(self, run_id: str) -> int:
        """Count the run's confusion pairs (per model, from the normalized text of its
        error-free rows; see ``evaluator.alignment``) into ``word_errors``, replacing the run's
        earlier ones, in one transaction. Returns the number of distinct pairs."""
        from evaluator.alignment import confusion_table, run_confusions

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

    def query(self, sql: str, params: Iterable[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, list(params))
        return [d[0] for d in cur.description], cur.fetchall()
