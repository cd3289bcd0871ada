"""SQL that stays in its database: the connection `evaluator sql` and ``evaluator.open().sql``
run a user's query on. It is read-only, and DuckDB's external access is off with its
configuration locked (``SET enable_external_access = false``, then ``SET lock_configuration =
true``), so a query cannot read or write files (``read_csv``, ``read_text``, ``COPY ... TO``,
``EXPORT``), ``ATTACH`` another database, install or load extensions, or turn any of that back on.
Only the results database and its views are there.

``allow_files`` skips the lock, for the local user who wants ``read_parquet`` of their own files:
the query can then read and write every file the user can. (DuckDB shares one file's settings
among the connections one process holds to it: while a sandboxed connection to the file stays
open, e.g. ``Database.relation``'s, another connection there is sandboxed too.)
"""

from __future__ import annotations

from typing import Any

from evaluator.errors import ConfigError
from evaluator.results.store import READ_WAIT_SECONDS, connect_read_only

__all__ = ["SANDBOX_SETTINGS", "connect_sandboxed", "refusal"]

# In this order: the second makes the first permanent for the connection.
SANDBOX_SETTINGS = ("SET enable_external_access = false", "SET lock_configuration = true")


def connect_sandboxed(path: str, *, allow_files: bool = False, wait: float = READ_WAIT_SECONDS) -> Any:
    """A read-only connection to the results database at ``path`` for queries written by someone
    (see the module). The database's views are brought up to date before the lock (a file written
    by an older version is migrated by :func:`~evaluator.results.store.connect_read_only`)."""
    con = connect_read_only(path, wait=wait)
    # Connections to one file in one process share DuckDB's settings: one still open may have
    # locked them already (then they are already as they should be).
    (locked,) = con.execute("SELECT current_setting('lock_configuration')").fetchone()
    if not allow_files and not locked:
        for setting in SANDBOX_SETTINGS:
            con.execute(setting)
    return con


def refusal(exc: Exception, export_hint: str, allow_hint: str) -> ConfigError | None:
    """The one-line error for a query the sandbox refused (None for any other failure):
    DuckDB's reason, what the sandbox allows, ``export_hint`` (how to save a result instead) and
    ``allow_hint`` (how to lift the sandbox)."""
    import duckdb

    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".!")
    if isinstance(exc, duckdb.InvalidInputException) and "read-only mode" in reason:
        return ConfigError(f"query refused: {reason}: queries only read the results database; {export_hint}")
    if isinstance(exc, duckdb.PermissionException) or (
            isinstance(exc, duckdb.InvalidInputException) and "has been locked" in reason):
        return ConfigError(f"query refused: {reason}: queries run on the results database alone (no files, ATTACH "
                           f"or extensions); {export_hint}; {allow_hint}")
    return None
