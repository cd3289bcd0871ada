"""What the subcommands share: the database flag, read-only connections, run names, the
printed leaderboard and its per-language table."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from evaluator.errors import ConfigError
from evaluator.results.scoring_note import scoring_note

log = logging.getLogger("evaluator")


DEFAULT_DB = "results.duckdb"


def quiet_ray(verbose: bool) -> None:
    """Ray's own start-up lines (token authentication, dashboard notices) only with ``-v``: its
    ``ray`` logger, which Ray sets up when imported, shows errors only."""
    import ray  # noqa: F401  (sets up the "ray" logger, which is then quietened)

    logging.getLogger("ray").setLevel(logging.DEBUG if verbose else logging.ERROR)


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"DuckDB results file (default: {DEFAULT_DB})")


def add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default: 0)")


def add_wide(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wide", "--columns", dest="wide", action="store_true",
                   help="table format: every column (default: a compact table that fits the terminal)")


def open_ro(db: str | None) -> Any:
    from evaluator.results.store import connect_read_only

    db = db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}; run `evaluator run --db {db}` first")
    return connect_read_only(db)


def resolve_run(con: Any, run: str | None, db: str | None) -> str:
    """A run id from an id, a run name (the latest run of that name), or None (the latest run)."""
    runs = con.execute("SELECT run_id, name FROM runs ORDER BY started_at DESC").fetchall()
    if not runs:
        raise ConfigError(f"{db or DEFAULT_DB} holds no runs yet")
    if run is None:
        return runs[0][0]
    for run_id, name in runs:
        if run in (run_id, name):
            return run_id
    listed = ", ".join(f"{i} ({n})" if n else i for i, n in runs[:10])
    raise ConfigError(f"no run {run!r} in {db or DEFAULT_DB}; runs (id, name), latest first: {listed}")


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def short(text: str | None, width: int = 80) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def leaderboard_table(con: Any, run_id: str, by: str | None = None, resamples: int = 1000,
                 seed: int = 0) -> tuple[list[str], list[tuple]]:
    """The printed leaderboard: percent, with WER intervals (and a column for ``by``). Per model it
    says what the figures cover (planned, scored, errors, missing, partial); partial models come
    after complete ones. ``ranked_by``: the metric the rows are ranked by (wer, or cer for languages
    written without spaces only)."""
    from evaluator.results.leaderboard import leaderboard_with_intervals

    columns, rows = leaderboard_with_intervals(con, run_id, by=by, resamples=resamples, seed=seed,
                                               cer_intervals=False)
    cur = con.execute("SELECT model, dataset, split, planned, missing, partial, rtfx_e2e FROM leaderboard "
                      "WHERE run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    cover = {r[:3]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    head = ["model", "dataset", "split", *([by] if by else ["planned"]), "scored", "errors",
            *([] if by else ["missing", "partial"])]
    out_columns = [*head, "wer_%", "wer_low", "wer_high", "cer_%", "rtfx", *([] if by else ["rtfx_e2e"]),
                   "audio_min", "completion", "truncated", "looping", "skipped", "ranked_by"]
    out = []
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        c = cover.get((r["model"], r["dataset"], r["split"]), {})
        first = (r["model"], r["dataset"], r["split"], *([r["group"]] if by else [c.get("planned")]), r["scored"],
                 r["errors"], *([] if by else [c.get("missing"), c.get("partial")]))
        rtfx = [None if r["rtfx"] is None else round(r["rtfx"], 1)]
        if not by:
            rtfx.append(None if c.get("rtfx_e2e") is None else round(c["rtfx_e2e"], 1))
        out.append((*first, pct(r["wer"]), pct(r["wer_low"]), pct(r["wer_high"]), pct(r["cer"]), *rtfx,
                    None if r["audio_hours"] is None else round(r["audio_hours"] * 60, 2),
                    None if r["completion_ratio"] is None else round(r["completion_ratio"], 3),
                    r["truncated"], r["looping"], r["skipped"], r["metric"]))
    if not by:  # complete models first: a partial WER is never ranked as if complete
        partial = out_columns.index("partial")
        out.sort(key=lambda row: bool(row[partial]))
    return out_columns, out


def fold_constant(columns: list[str], rows: list[tuple], names: tuple[str, ...] = ("dataset", "split", "ranked_by"),
                   ) -> tuple[list[str], list[tuple], str]:
    """Drop columns whose value is the same on every row (a run has one dataset and split), for a
    narrower table; returns what they held, for the title."""
    keep = [i for i, c in enumerate(columns) if c not in names or len({r[i] for r in rows}) > 1]
    dropped = [f"{columns[i]} {rows[0][i]}" for i in range(len(columns)) if i not in keep and rows]
    return [columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows], ", ".join(dropped)


def compact_leaderboard(columns: list[str], rows: list[tuple], names: dict[str, str] | None = None,
                        by: str | None = None) -> tuple[list[str], list[tuple]]:
    """The default printed leaderboard, from :func:`leaderboard_table`'s columns: model (short
    names, see :func:`~evaluator.cli.tables.short_labels`), the group of ``--by``, samples
    scored (with errors and missing only when non-zero), WER with its interval in one cell, CER,
    RTFx and one flags cell naming only what is non-zero. Dataset and split stay only when they
    differ between rows, and so does ``ranked_by`` (wer, or cer for a model scored only in
    languages written without spaces)."""
    from evaluator.cli.tables import flags, interval, one_decimal

    names = names or {}
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    keep = [c for c in ("dataset", "split", "ranked_by") if c in columns and len({r[c] for r in records}) > 1]
    by_column = [by] if by else []
    out_columns = ["model", *keep, *by_column, "samples", "WER % [95% CI]", "CER %", "RTFx", "flags"]
    out = []
    for r in records:
        extra = flags(errors=r.get("errors"), missing=r.get("missing"))
        samples = f"{r['scored']} ({extra})" if extra else str(r["scored"])
        marks = flags(truncated=r["truncated"], looping=r["looping"], skipped=r["skipped"])
        if r.get("partial") and not extra:
            marks = ", ".join(m for m in ("partial", marks) if m)
        out.append((names.get(r["model"], r["model"]), *(r[c] for c in keep), *(r[c] for c in by_column), samples,
                    interval(r["wer_%"], r["wer_low"], r["wer_high"]),
                    one_decimal(r["cer_%"]), one_decimal(r["rtfx"]), marks))
    return out_columns, out


def leaderboard_text(con: Any, run_id: str, fmt: str, *, wide: bool = False, by: str | None = None,
                     resamples: int = 1000, seed: int = 0, width: int | None = None) -> str:
    """What `evaluator leaderboard` (and the end of `evaluator run`) prints. ``table``: compact
    (see :func:`compact_leaderboard`) with a legend of shortened model specs and, for a
    multilingual run, a model x language pivot; ``wide``: every column and the long per-language
    table. csv/json/markdown always carry every column."""
    from evaluator.cli.tables import legend, natural_width, render, short_labels, terminal_width

    columns, rows = leaderboard_table(con, run_id, by, resamples, seed)
    if not rows:
        return ""
    title = f"run {run_id}" + (f" by {by}" if by else "") + f" ({scoring_note(con, [run_id])})"
    if fmt != "table" or wide:  # every column; --wide is as wide as it needs (the terminal wraps)
        if fmt == "table":
            columns, rows, held = fold_constant(columns, rows)
            title += f" ({held})" if held else ""
            width = max(width or terminal_width(), natural_width(columns, rows))
        languages = "" if by else languages_table(con, run_id, fmt, width)
        return render(columns, rows, fmt, title, width=width) + languages
    width = width or terminal_width()
    _, _, held = fold_constant(columns, rows)
    title += f" ({held.replace('ranked_by', 'ranked by')})" if held else ""
    names = short_labels([r[0] for r in rows])
    compact_columns, compact_rows = compact_leaderboard(columns, rows, names, by)
    parts = [render(compact_columns, compact_rows, "table", title, width=width)]
    if not by:
        pivot = languages_pivot(con, run_id, names, width)
        parts += [pivot] if pivot else []
    parts += [legend(names, width)] if legend(names, width) else []
    return "\n\n".join(parts)


def languages_pivot(con: Any, run_id: str, names: dict[str, str], width: int) -> str:
    """A multilingual run's per-language results as one table, model x language (language x
    model when that is too wide), cells WER % (CER % for languages written without spaces);
    ``–`` where a model scored no sample of a language (it does not transcribe it)."""
    from evaluator.cli.tables import MULTILINGUAL_SQL, natural_width, one_decimal, render

    if not con.execute(MULTILINGUAL_SQL, [run_id]).fetchone()[0]:
        return ""
    rows = con.execute("SELECT model, language, any_value(metric), sum(scored), "
                       "sum(wer * scored) / nullif(sum(scored), 0), sum(cer * scored) / nullif(sum(scored), 0) "
                       "FROM leaderboard_languages WHERE run_id = ? GROUP BY model, language "
                       "ORDER BY language NULLS LAST", [run_id]).fetchall()
    models = list(dict.fromkeys(names)) or sorted({r[0] for r in rows})
    languages = list(dict.fromkeys(r[1] or "?" for r in rows))
    by_chars = {r[1] or "?" for r in rows if r[2] == "cer"}
    cells = {(r[0], r[1] or "?"): "–" if not r[3] else
             one_decimal(pct(r[5] if r[2] == "cer" else r[4]))
             for r in rows}
    heads = [f"{lang}*" if lang in by_chars else lang for lang in languages]
    note = ("WER % per language" + ("; * CER % (written without spaces)" if by_chars else "")
            + "; – not transcribed")
    wide = (["model", *heads], [(names.get(m, m), *(cells.get((m, lang), "–") for lang in languages))
                                for m in models])
    if natural_width(*wide) <= width:
        return render(*wide, "table", note, width=width)
    return render(["language", *(names.get(m, m) for m in models)],
                  [(head, *(cells.get((m, lang), "–") for m in models)) for lang, head in zip(
                      languages, heads, strict=True)], "table", note, width=width)


def languages_table(con: Any, run_id: str, fmt: str, width: int | None = None) -> str:
    """The per-language breakdown of a multilingual run, to print under its leaderboard (table
    and markdown formats; csv/json stay one table)."""
    from evaluator.cli.tables import LANGUAGES_SQL, MULTILINGUAL_SQL, natural_width, render

    if fmt not in ("table", "markdown") or not con.execute(MULTILINGUAL_SQL, [run_id]).fetchone()[0]:
        return ""
    cur = con.execute(LANGUAGES_SQL, [run_id, run_id, run_id])
    columns, rows = [d[0] for d in cur.description], cur.fetchall()
    if fmt == "table" and width is not None:
        width = max(width, natural_width(columns, rows))
    return "\n\n" + render(columns, rows, fmt, f"run {run_id} per language", width=width)
