"""What the subcommands share: the database flag, read-only connections, run names, and how
the leaderboard and its per-language tables are printed (their rows come from evaluator.results)."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from evaluator.errors import ConfigError
from evaluator.results.scoring_note import scoring_note
from evaluator.run.quiet import quiet_ray

__all__ = ["DEFAULT_DB", "quiet_ray", "add_db", "add_bootstrap", "add_wide", "existing_db", "open_ro", "resolve_run",
           "pct", "short", "fold_constant", "compact_leaderboard", "leaderboard_text", "languages_pivot",
           "languages_table"]

log = logging.getLogger("evaluator")


DEFAULT_DB = "results.duckdb"


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"DuckDB results file (default: {DEFAULT_DB})")


def add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default: 0)")


def add_wide(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wide", "--columns", dest="wide", action="store_true",
                   help="table format: every column (default: a compact table that fits the terminal)")


def existing_db(db: str | None) -> str:
    """The database path (``--db`` or the default); an error saying how to make one if it is missing."""
    db = db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}; run `evaluator run --db {db}` first")
    return db


def open_ro(db: str | None) -> Any:
    from evaluator.results.store import connect_read_only

    return connect_read_only(existing_db(db))


def resolve_run(con: Any, run: str | None, db: str | None) -> str:
    """A run id from an id, a run name (the latest run of that name), or None (the latest run)."""
    from evaluator.results.runs import resolve_run as resolve

    return resolve(con, run, db or DEFAULT_DB)


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def short(text: str | None, width: int = 80) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def fold_constant(columns: list[str], rows: list[tuple], names: tuple[str, ...] = ("dataset", "split", "ranked_by"),
                   ) -> tuple[list[str], list[tuple], str]:
    """Drop columns whose value is the same on every row (a run has one dataset and split), for a
    narrower table; returns what they held, for the title."""
    keep = [i for i, c in enumerate(columns) if c not in names or len({r[i] for r in rows}) > 1]
    dropped = [f"{columns[i]} {rows[0][i]}" for i in range(len(columns)) if i not in keep and rows]
    return [columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows], ", ".join(dropped)


def compact_leaderboard(columns: list[str], rows: list[tuple], names: dict[str, str] | None = None,
                        by: str | None = None) -> tuple[list[str], list[tuple]]:
    """The default printed leaderboard, from the columns of
    :func:`evaluator.results.ranking.leaderboard_table`: model (short names, see
    :func:`~evaluator.cli.tables.short_labels`), the group of ``--by``, samples scored (with
    errors, not transcribable and missing only when non-zero), WER with its interval in one cell,
    CER, RTFx and one flags cell naming only what is non-zero (``not ranked`` for a model ranked
    apart). Dataset and split stay only when they differ between rows, and so does ``ranked_by``
    (wer, or cer for a model scored only in languages written without spaces)."""
    from evaluator.cli.tables import flags, interval, one_decimal

    names = names or {}
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    keep = [c for c in ("dataset", "split", "ranked_by") if c in columns and len({r[c] for r in records}) > 1]
    by_column = [by] if by else []
    out_columns = ["model", *keep, *by_column, "samples", "WER % [95% CI]", "CER %", "RTFx", "flags"]
    out = []
    for r in records:
        extra = flags(errors=r.get("errors"), not_transcribable=r.get("not_transcribable"), missing=r.get("missing"))
        samples = f"{r['scored']} ({extra})" if extra else str(r["scored"])
        marks = flags(truncated=r["truncated"], looping=r["looping"], skipped=r["skipped"])
        if r.get("partial") and not extra:
            marks = ", ".join(m for m in ("partial", marks) if m)
        if not r["ranked"]:
            marks = ", ".join(m for m in ("not ranked", marks) if m)
        out.append((names.get(r["model"], r["model"]), *(r[c] for c in keep), *(r[c] for c in by_column), samples,
                    interval(r["wer_%"], r["wer_low"], r["wer_high"]),
                    one_decimal(r["cer_%"]), one_decimal(r["rtfx"]), marks))
    return out_columns, out


def leaderboard_text(con: Any, run_id: str, fmt: str, *, wide: bool = False, by: str | None = None,
                     resamples: int = 1000, seed: int = 0, width: int | None = None) -> str:
    """What `evaluator leaderboard` (and the end of `evaluator run`) prints. ``table``: compact
    (see :func:`compact_leaderboard`) under a title saying what the ranking covers, with a legend
    of shortened model specs and, for a multilingual run, a model x language pivot; ``wide``:
    every column and the long per-language table. csv/json/markdown always carry every column."""
    from evaluator.cli.tables import legend, natural_width, render, short_labels, terminal_width
    from evaluator.results.ranking import leaderboard_table

    ranking = leaderboard_table(con, run_id, by, resamples, seed)
    columns, rows = ranking.columns, ranking.rows
    if not rows:
        return ""
    title = f"run {run_id}" + (f" by {by}" if by else "")
    scoring = scoring_note(con, [run_id])

    def dataset_split(held: str, scoring: str) -> str:  # the metric goes into the ranking note
        parts = [part for part in held.split(", ") if part and not part.startswith("ranked_by ")]
        return f" ({', '.join([*parts, scoring])})"

    if fmt != "table" or wide:  # every column; --wide is as wide as it needs (the terminal wraps)
        if fmt == "table":
            columns, rows, held = fold_constant(columns, rows)
            title += dataset_split(held, scoring) + f": {ranking.note()}"
            width = max(width or terminal_width(), natural_width(columns, rows))
        languages = "" if by else languages_table(con, run_id, fmt, width)
        return render(columns, rows, fmt, title, width=width) + languages
    width = width or terminal_width()
    _, _, held = fold_constant(columns, rows)
    names = short_labels([r[0] for r in rows])
    title += dataset_split(held, scoring) + f": {ranking.note(names)}"
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
    from evaluator.cli.tables import natural_width, one_decimal, render
    from evaluator.results.per_language import is_multilingual, language_cells

    if not is_multilingual(con, run_id):
        return ""
    found = language_cells(con, run_id)
    models = list(dict.fromkeys(names)) or sorted({c.model for c in found})
    languages = list(dict.fromkeys(c.language or "?" for c in found))
    by_chars = {c.language or "?" for c in found if c.metric == "cer"}
    cells = {(c.model, c.language or "?"): one_decimal(pct(c.value)) if c.scored else "–" for c in found}
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
    from evaluator.cli.tables import natural_width, render
    from evaluator.results.per_language import is_multilingual, languages_rows

    if fmt not in ("table", "markdown") or not is_multilingual(con, run_id):
        return ""
    columns, rows = languages_rows(con, run_id)
    if fmt == "table" and width is not None:
        width = max(width, natural_width(columns, rows))
    return "\n\n" + render(columns, rows, fmt, f"run {run_id} per language", width=width)
