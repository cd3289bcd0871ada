"""The record tables' schema in the database: made from the typed records of
:mod:`evaluator.results.records`, brought up to date when a database comes from an older version
(missing columns added; a table whose primary key changed rebuilt, see migration 007)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from evaluator.results.records import column_names, create_table_sql

__all__ = ["sync_records"]


def sync_records(con: Any, records: Sequence[type]) -> None:
    """Create the record tables, add the columns a database from an older version lacks, and
    rebuild a table whose primary key changed (see migration 007)."""
    for record in records:
        con.execute(create_table_sql(record))
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [record.TABLE]).fetchall()}
        for f in dataclasses.fields(record):
            if f.name not in have:
                sql_type = f.metadata["sql"].replace(" NOT NULL", "")
                con.execute(f"ALTER TABLE {record.TABLE} ADD COLUMN {f.name} {sql_type}")
        _rekey(con, record)


def _rekey(con: Any, record: type) -> None:
    """Rebuild ``record``'s table when its stored primary key is not ``record.KEY`` (a
    database from before suites keyed rows by run, model and sample): the rows are copied,
    a new key column filled by its ``backfill`` expression, in one transaction."""
    found = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
        "AND constraint_type = 'PRIMARY KEY'", [record.TABLE]).fetchone()
    if found is not None and tuple(found[0]) == tuple(record.KEY):
        return
    table, new = record.TABLE, f"{record.TABLE}__rekeyed"
    columns = [*column_names(record), *(extra.split()[0] for extra in record.EXTRA)]
    values = []
    for name in columns:
        f = next((f for f in dataclasses.fields(record) if f.name == name), None)
        fill = f.metadata.get("backfill") if f is not None else None
        text_key = name in record.KEY and f is not None and f.metadata["sql"].startswith("VARCHAR")
        if fill:  # a new key column: from the old rows, else ''
            values.append(f"coalesce(old.{name}, {fill}, '')")
        elif text_key:  # a key column that could be NULL before
            values.append(f"coalesce(old.{name}, '')")
        else:
            values.append(f"old.{name}")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(create_table_sql(record).replace(f"EXISTS {table} (", f"EXISTS {new} (", 1))
        con.execute(f"INSERT INTO {new} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {table} old")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {new} RENAME TO {table}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
