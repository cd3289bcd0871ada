"""The runs of a database: which run a name or id means, and the runs table (status, progress,
errors, lost shards, models) that `evaluator runs`, the Python API and the report share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evaluator.errors import ConfigError
from evaluator.results.leaderboard import NOT_TRANSCRIBABLE_SQL

__all__ = ["RUNS_SQL", "STALE_HEARTBEAT_SECONDS", "resolve_run", "runs_table"]

# A run still `running` whose driver has not written for this long has lost its driver (it beats
# at least every 15 s).
STALE_HEARTBEAT_SECONDS = 60

# Parameters: the current UTC time (twice), the stale-heartbeat limit in seconds. `errors`: failed
# rows (a sample in a language its model does not transcribe is not one).
RUNS_SQL = f"""
WITH counts AS (
    SELECT run_id, count(*) AS n, count(*) FILTER (WHERE error IS NOT NULL AND NOT {NOT_TRANSCRIBABLE_SQL}) AS errors,
           string_agg(DISTINCT model, ', ' ORDER BY model) AS models
    FROM results GROUP BY run_id
), plans AS (
    SELECT run_id, sum(planned) AS planned, count(*) FILTER (WHERE planned IS NULL) AS unknown,
           string_agg(DISTINCT model, ', ' ORDER BY model) AS models  -- a row per model and dataset
    FROM run_models GROUP BY run_id
), lost AS (
    SELECT run_id, count(*) AS lost_shards FROM lost_shards GROUP BY run_id
)
SELECT r.run_id, r.name,
       CASE WHEN r.status = 'running'
                 AND datediff('second', coalesce(r.heartbeat_at, r.started_at), ?::TIMESTAMP) > ?
            THEN 'interrupted' ELSE r.status END AS status,
       coalesce(c.n, 0) AS rows,
       CASE WHEN p.unknown > 0 THEN NULL ELSE p.planned END AS planned,
       CASE WHEN p.unknown = 0 AND p.planned > 0 THEN round(100.0 * coalesce(c.n, 0) / p.planned, 1) END AS "done_%",
       coalesce(c.errors, 0) AS errors,
       coalesce(l.lost_shards, 0) AS lost_shards,
       strftime(r.started_at, '%Y-%m-%d %H:%M:%S') || ' UTC' AS started,
       datediff('second', coalesce(r.heartbeat_at, r.finished_at, r.started_at), ?::TIMESTAMP) AS last_write_s_ago,
       coalesce(p.models, c.models, '') AS models
FROM runs r
LEFT JOIN counts c USING (run_id)
LEFT JOIN plans p USING (run_id)
LEFT JOIN lost l USING (run_id)
ORDER BY r.started_at DESC
"""


def resolve_run(con: Any, run: str | None, db: str | None = None) -> str:
    """A run id from an id, a run name (the latest run of that name), or None (the latest run).
    ``db`` names the database in the error messages."""
    where = db or "the database"
    runs = con.execute("SELECT run_id, name FROM runs ORDER BY started_at DESC").fetchall()
    if not runs:
        raise ConfigError(f"{where} holds no runs yet")
    if run is None:
        return str(runs[0][0])
    for run_id, name in runs:
        if run in (run_id, name):
            return str(run_id)
    listed = ", ".join(f"{i} ({n})" if n else i for i, n in runs[:10])
    raise ConfigError(f"no run {run!r} in {where}; runs (id, name), latest first: {listed}")


def runs_table(con: Any, stale_after: float = STALE_HEARTBEAT_SECONDS, now: datetime | None = None, *,
               db: str | None = None) -> tuple[list[str], list[tuple]]:
    """Every run, newest first (the columns of :data:`RUNS_SQL`): a run still ``running`` whose
    driver has not written for ``stale_after`` seconds shows as ``interrupted``. With ``db`` (the
    database's path), each status is the one its lease tells: a live driver's run is running,
    whatever its heartbeat in the file says (a reader may have held the file), and a gone
    driver's run interrupted at once (see :func:`evaluator.results.lease.settled_status`)."""
    from evaluator.results.lease import live_holders, settled_status

    now = now or datetime.now(UTC).replace(tzinfo=None)
    cur = con.execute(RUNS_SQL, [now, stale_after, now])
    columns, rows = [d[0] for d in cur.description], cur.fetchall()
    if db is not None:
        live = live_holders(db)
        at = columns.index("status")
        rows = [(*row[:at], settled_status(db, row[0], row[at], live), *row[at + 1:]) for row in rows]
    return columns, rows
