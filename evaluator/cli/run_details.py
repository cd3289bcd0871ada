"""`evaluator runs --show RUN`: everything recorded about one run, as lines for people (or one
JSON object with ``--format json``)."""

from __future__ import annotations

import json
from typing import Any

from evaluator.cli.common import open_ro, resolve_run

__all__ = ["run_details", "show_run"]


def _json(text: Any) -> Any:
    if text is None or isinstance(text, dict | list):
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def run_details(db: str, ref: str | None) -> dict[str, Any]:
    """The run ``ref`` names (id or name; None: the latest) as one mapping: status (as its lease
    tells it), times, who holds it, what produced it, its datasets and models."""
    from evaluator.results.lease import lease_state, settled_status

    con = open_ro(db)
    try:
        run_id = resolve_run(con, ref, db)
        cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        run = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        planned = con.execute("SELECT model, dataset, split, planned, status, error FROM run_models "
                              "WHERE run_id = ? ORDER BY model, dataset", [run_id]).fetchall()
        from evaluator.results.datasets import dataset_identity

        recorded = dataset_identity(con, run_id)
        counts = dict(con.execute("SELECT dataset, count(*) FROM results WHERE run_id = ? GROUP BY dataset",
                                  [run_id]).fetchall())
    finally:
        con.close()
    host = _json(run.get("host")) or {}
    config = _json(run.get("config")) or {}
    state, holder = lease_state(db, run_id)
    origin_keys = ("user", "hostname", "driver_pid", "cwd", "command", "evaluator_commit", "ray_job_id",
                   "ray_submission_id", "ray", "python", "platform")
    return {
        "run_id": run_id,
        "name": run.get("name"),
        "status": settled_status(db, run_id, run.get("status") or ""),
        "lease": {"state": state, "holder": holder.describe() if holder else None},
        "database": db,
        "started_at": str(run.get("started_at")),
        "finished_at": None if run.get("finished_at") is None else str(run.get("finished_at")),
        "heartbeat_at": None if run.get("heartbeat_at") is None else str(run.get("heartbeat_at")),
        "evaluator_version": run.get("evaluator_version"),
        "normalizer": f"{run.get('normalizer_name')} {run.get('normalizer_version')}",
        "origin": {k: host.get(k) for k in origin_keys},
        # each dataset as the run's config has it, with what was recorded of its content
        "datasets": [_dataset(d, _recorded(recorded, d)) for d in config.get("datasets") or []],
        "dataset_rows": counts,
        "models": [{"model": m, "dataset": d, "split": s, "planned": p, "status": st, "error": e}
                   for m, d, s, p, st, e in planned],
        "library_versions": _json(run.get("library_versions")),
    }


def _dataset(spec: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A dataset of the run's config with what was recorded of it; its name is the one the run
    gave it (the config's, else the recorded one: an unnamed ``--dataset ./calls`` is ``calls``)."""
    return {"source": spec.get("source"), "name": spec.get("name") or row.get("dataset"), "split": spec.get("split"),
            **{k: row.get(k) for k in ("fingerprint", "revision", "ids", "samples")}}


def _recorded(recorded: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
    """The ``dataset_identity`` row of a dataset of the run's config: by its name, else its source."""
    for row in recorded:
        if spec.get("name") and row["dataset"] == spec["name"]:
            return row
    by_source = [row for row in recorded if row.get("source") and row["source"] == spec.get("source")]
    return by_source[0] if len(by_source) == 1 else {}


def show_run(db: str, ref: str | None, fmt: str = "table") -> str:
    """The text ``evaluator runs --show`` prints."""
    info = run_details(db, ref)
    if fmt == "json":
        return json.dumps(info, indent=2, default=str) + "\n"
    origin = info["origin"]
    lease = info["lease"]
    lines = [
        f"run {info['run_id']}" + (f" ({info['name']})" if info["name"] else ""),
        f"  status:      {info['status']}"
        + (f", held by {lease['holder']}" if lease["state"] == "live" and lease["holder"] else ""),
        f"  database:    {info['database']}",
        f"  started:     {info['started_at']} UTC" + (f", finished {info['finished_at']} UTC"
                                                       if info["finished_at"] else ""),
        f"  evaluator:   {info['evaluator_version']}"
        + (f" (git {origin['evaluator_commit']})" if origin.get("evaluator_commit") else " (not from a git checkout)"),
        f"  normalizer:  {info['normalizer']}",
        f"  user:        {origin.get('user') or 'not recorded'}",
        f"  host:        {origin.get('hostname') or 'not recorded'}"
        + (f" (driver PID {origin['driver_pid']})" if origin.get("driver_pid") else ""),
        f"  command:     {origin.get('command') or 'not recorded'}",
        f"  directory:   {origin.get('cwd') or 'not recorded'}",
        f"  Ray job:     {origin.get('ray_job_id') or 'not recorded'}"
        + (f", submission {origin['ray_submission_id']}" if origin.get("ray_submission_id") else ""),
        f"  software:    Ray {origin.get('ray') or '?'}, Python {origin.get('python') or '?'}, "
        f"{origin.get('platform') or '?'}",
        "  datasets:",
    ]
    for d in info["datasets"]:
        name = d["name"] or d["source"]
        rows = info["dataset_rows"].get(d["name"]) if d["name"] else None
        lines.append(f"    - {name}: {d['source']}" + (f" split {d['split']}" if d["split"] else "")
                     + (f", {rows} rows" if rows is not None else ""))
        lines.append(f"      fingerprint: {d['fingerprint'] or 'not recorded'}"
                     + (f" ({d['samples']} samples)" if d["samples"] is not None else "")
                     + (f", revision {d['revision']}" if d["revision"] else ""))
        if d["ids"]:
            lines.append(f"      sample ids:  {d['ids']}")
    lines.append("  models:")
    versions = info["library_versions"] or {}
    for m in info["models"]:
        libs = ", ".join(f"{k} {v}" for k, v in (versions.get(m["model"]) or {}).items())
        lines.append(f"    - {m['model']} on {m['dataset']}: {m['status']}, planned {m['planned']}"
                     + (f" ({libs})" if libs else "") + (f"; error: {m['error']}" if m["error"] else ""))
    return "\n".join(lines) + "\n"
