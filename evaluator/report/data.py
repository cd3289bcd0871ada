"""The report's data: what the page shows, read from the results database (read-only is enough)
as plain dicts and lists, with no HTML. :mod:`evaluator.report.html` renders it.
"""

from __future__ import annotations

from typing import Any

from evaluator.report.options import ReportOptions
from evaluator.results import leaderboard as board

__all__ = ["LONG_SECONDS", "GROUP_MAX_VALUES", "records", "run_info", "intervals", "ranked", "leaderboard", "groups",
           "long_form", "samples", "comparison", "matrix"]

LONG_SECONDS = 30.0  # files longer than one Whisper window: the long-form section lists them
GROUP_MAX_VALUES = 30  # a metadata column with more distinct values is not charted (e.g. an utterance id)


def records(cur: Any) -> list[dict[str, Any]]:
    """A DuckDB cursor's rows as dicts keyed by column name."""
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]


def run_info(con: Any, run_id: str) -> dict[str, Any]:
    """The run's ``runs`` row. Raises ValueError (listing recent runs) if there is none."""
    run = records(con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))
    if not run:
        known = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 10").fetchall()]
        raise ValueError(f"no run {run_id!r} in this database; runs: {', '.join(known) or 'none'}")
    return run[0]


def _chunk_key(con: Any) -> str:
    """The columns that tie a ``chunks`` row to its ``results`` row: with ``dataset`` where the
    table has it (a suite run's sample ids repeat across datasets)."""
    (has,) = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'chunks' "
                         "AND column_name = 'dataset'").fetchone()
    return "run_id, model, dataset, sample_id" if has else "run_id, model, sample_id"


def intervals(con: Any, run_id: str, options: ReportOptions, by: str | None = None) -> list[dict[str, Any]]:
    """Leaderboard rows with bootstrap intervals (``by``: one row per model and group value)."""
    leaderboard_with_intervals = board.leaderboard_with_intervals
    columns, rows = leaderboard_with_intervals(con, run_id, by=by, resamples=options.resamples, seed=options.seed)
    return [dict(zip(columns, r, strict=True)) for r in rows]


def ranked(con: Any, run_id: str, options: ReportOptions) -> tuple[list[dict[str, Any]], str]:
    """The run's leaderboard ranked as the CLI and the API rank it
    (:func:`evaluator.results.ranking.ranked_leaderboard`: the models ranked together first, best
    first, on the samples they all scored, then those ranked apart) and the note saying what the
    ranking covers. Raises ValueError when the run has no results."""
    from evaluator.results.ranking import ranked_leaderboard

    ranking = ranked_leaderboard(con, run_id, resamples=options.resamples, seed=options.seed)
    if not ranking.rows:
        raise ValueError(f"run {run_id!r} has no results yet")
    return [dict(zip(ranking.columns, r, strict=True)) for r in ranking.rows], ranking.note()


def leaderboard(con: Any, run_id: str, options: ReportOptions) -> list[dict[str, Any]]:
    """The rows of :func:`ranked`."""
    return ranked(con, run_id, options)[0]


def groups(con: Any, run_id: str, options: ReportOptions) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[str]]:
    """Rows per duration bucket, per language and per metadata key with 2 to ``GROUP_MAX_VALUES``
    values: ``([(by, rows), ...], notes)``, the notes saying which keys were not charted and why."""
    group_choices = board.group_choices
    (has_metadata,) = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'results' AND column_name = 'metadata'"
    ).fetchone()
    # A database written before results.metadata existed, opened read-only, is not migrated.
    choices = group_choices(con, run_id) if has_metadata else ["language", "bucket"]
    out, notes = [], []
    for by in choices:
        rows = intervals(con, run_id, options, by=by)
        values = sorted({str(r["group"]) for r in rows})
        if by != "bucket" and len(values) > GROUP_MAX_VALUES:
            notes.append(f"{by}: {len(values)} values, not charted (evaluator leaderboard --by {by})")
        elif by != "bucket" and len(values) < 2:
            notes.append(f"{by}: every sample is {values[0] if values else 'unset'}")
        else:
            out.append((by, rows))
    out.sort(key=lambda item: item[0] != "bucket")  # the duration buckets first
    return out, notes


def long_form(con: Any, run_id: str, options: ReportOptions) -> dict[str, Any]:
    """The long-form section's data: ``flagged`` rows (at most ``max_flagged``) and their
    ``flagged_total``, ``errors`` (error rows), ``long`` (files over ``LONG_SECONDS`` or split in
    windows, with seam counts) and ``seams`` (``[(long row, its windows)]`` for at most
    ``max_seam_charts`` files with windows)."""
    (total,) = con.execute(
        "SELECT count(*) FROM results WHERE run_id = ? AND error IS NULL AND (truncated OR looping OR skipped)",
        [run_id]).fetchone()
    flagged = records(con.execute(
        "SELECT model, sample_id, audio_seconds, ref_words, "
        "(substitutions + deletions + insertions) / nullif(ref_words, 0) AS wer, completion_ratio, truncated, "
        "truncated_reason, looping, skipped, max_deletion_run, max_deletion_run_s, max_repeats, "
        "untranscribed_speech_s FROM results WHERE run_id = ? AND error IS NULL AND (truncated OR looping OR skipped) "
        "ORDER BY model, sample_index NULLS LAST, sample_id LIMIT ?", [run_id, options.max_flagged]))
    errors = records(con.execute(
        "SELECT model, sample_id, error FROM results WHERE run_id = ? AND error IS NOT NULL "
        "ORDER BY model, sample_id LIMIT ?", [run_id, options.max_flagged]))
    long_rows = records(con.execute(
        "SELECT r.model, r.dataset, r.sample_id, r.audio_seconds, r.long_form, r.num_chunks, "
        "(r.substitutions + r.deletions + r.insertions) / nullif(r.ref_words, 0) AS wer, r.completion_ratio, "
        "r.transcribed_until_s, r.untranscribed_speech_s, r.truncated, r.truncated_reason, r.looping, r.skipped, "
        "count(c.chunk_index) AS windows, count(c.seam) FILTER (WHERE c.seam = 'aligned') AS aligned, "
        "count(c.seam) FILTER (WHERE c.seam = 'midpoint') AS midpoint, "
        "count(c.seam) FILTER (WHERE c.seam = 'adjacent') AS adjacent, min(c.seam_matched) AS min_matched, "
        "count(c.error) AS window_errors "
        f"FROM results r LEFT JOIN chunks c USING ({_chunk_key(con)}) "
        "WHERE r.run_id = ? AND r.error IS NULL AND (r.audio_seconds > ? OR r.num_chunks > 1) "
        "GROUP BY ALL ORDER BY r.model, r.sample_id", [run_id, LONG_SECONDS]))
    seamed = [r for r in long_rows if r["windows"]]
    seams = [(r, windows(con, run_id, r["model"], r["sample_id"], r["dataset"]))
             for r in seamed[:options.max_seam_charts]]
    return {"flagged": flagged, "flagged_total": int(total), "errors": errors, "long": long_rows,
            "seamed_files": len(seamed), "seams": seams}


def windows(con: Any, run_id: str, model: str, sample_id: str, dataset: str | None = None) -> list[dict[str, Any]]:
    """The windows (``chunks`` rows) of one long file, in order."""
    where, args = "run_id = ? AND model = ? AND sample_id = ?", [run_id, model, sample_id]
    if dataset is not None and "dataset" in _chunk_key(con):
        where, args = where + " AND dataset = ?", [*args, dataset]
    return records(con.execute(
        "SELECT chunk_index, start_s, end_s, seam, seam_matched, seam_cut_s, error FROM chunks "
        f"WHERE {where} ORDER BY chunk_index", args))


def _ops(reference_norm: str | None, hypothesis_norm: str | None) -> list[Any]:
    """Word operations, compact: a run of correct words as one string, else [code, words...]."""
    from evaluator.scoring.alignment import align

    out: list[Any] = []
    for op in align(reference_norm or "", hypothesis_norm or ""):
        if op.op == "equal":
            if out and isinstance(out[-1], str):
                out[-1] += " " + op.ref
            else:
                out.append(op.ref)
        elif op.op == "substitute":
            out.append(["s", op.ref, op.hyp])
        elif op.op == "delete":
            out.append(["d", op.ref])
        else:
            out.append(["i", op.hyp])
    return out


def _skips(ops: list[Any], ref_words: int | None, seconds: float | None, longest: int | None,
           flagged: bool) -> list[list[float]]:
    """Stretches of missing reference words: ``[[start_s, words], ...]`` for each run of
    ``SKIP_WORDS``+ deletions (the longest run too when the row is flagged skipped). The start is
    estimated from the run's position among the reference words (no word timestamps are stored)."""
    from evaluator.scoring.rows import SKIP_WORDS

    if not ref_words or not seconds:
        return []
    runs, position, run_start, run = [], 0, 0, 0
    for op in [*ops, ["end"]]:
        if isinstance(op, list) and op[0] == "d":
            if run == 0:
                run_start = position
            run += 1
            position += 1
            continue
        if run:
            runs.append((run_start, run))
        run = 0
        if isinstance(op, str):
            position += len(op.split())
        elif op[0] == "s":
            position += 1
    wanted = SKIP_WORDS if not flagged else min(SKIP_WORDS, longest or SKIP_WORDS)
    return [[round(seconds * start / ref_words, 1), words] for start, words in runs if words >= wanted]


def _seams(con: Any, run_id: str, sample_ids: set[str]) -> dict[tuple[Any, ...], list[list[Any]]]:
    """(model, dataset, sample id) -> ``[[start_s, seam, cut_s], ...]``: each seam of a long file,
    with the start of the window it joins (the start of the overlap). The dataset is None where
    ``chunks`` has no dataset column."""
    if not sample_ids:
        return {}
    dataset = "dataset" if "dataset" in _chunk_key(con) else "NULL"
    rows = con.execute(
        f"SELECT model, {dataset}, sample_id, start_s, seam, seam_cut_s FROM chunks WHERE run_id = ? "
        "AND seam IS NOT NULL AND sample_id IN (SELECT unnest(?)) ORDER BY model, sample_id, chunk_index",
        [run_id, sorted(sample_ids)]).fetchall()
    out: dict[tuple[Any, ...], list[list[Any]]] = {}
    for model, ds, sid, start, seam, cut in rows:
        out.setdefault((model, ds, sid), []).append([start, seam, cut])
    return out


def samples(con: Any, run_id: str, models: list[str], options: ReportOptions) -> tuple[dict[str, Any], int]:
    """The sample browser's data (the kept samples) and the number of samples in the run.

    The payload is ``{"models": [...], "samples": [...]}``; each sample has ``id``, ``set``
    (``[dataset, split]``), ``order``, ``idx`` (row index), ``dur``, ``lang``, ``ref`` and ``r``
    (one entry per model, None where the model has no row): ``err``, ``wer``, ``e``/``s``/``d``/``i``
    (errors), ``h`` (hypothesis), ``flags``, ``ops`` (the word alignment, see :func:`_ops`),
    ``seams`` (``[[start_s, kind, cut_s], ...]``) and ``skips`` (``[[start_s, words], ...]``, see
    :func:`_skips`). A sample is one (dataset, split, sample id).
    """
    (total,) = con.execute("SELECT count(*) FROM (SELECT DISTINCT dataset, split, sample_id FROM results "
                           "WHERE run_id = ?)", [run_id]).fetchone()
    rows = records(con.execute(
        "WITH ranked AS (SELECT dataset, split, sample_id, count(error) AS error_rows, "
        "sum(coalesce(substitutions + deletions + insertions, 0)) AS word_errors, min(sample_index) AS idx "
        "FROM results WHERE run_id = ? GROUP BY dataset, split, sample_id "
        "ORDER BY error_rows DESC, word_errors DESC, idx NULLS LAST, dataset, split, sample_id LIMIT ?) "
        "SELECT r.model, r.dataset, r.split, r.sample_id, r.sample_index, r.audio_seconds, r.language, r.reference, "
        "r.hypothesis, r.reference_norm, r.hypothesis_norm, r.substitutions, r.deletions, r.insertions, r.ref_words, "
        "r.error, r.truncated, r.truncated_reason, r.looping, r.skipped, r.max_deletion_run "
        "FROM results r JOIN ranked USING (dataset, split, sample_id) WHERE r.run_id = ? "
        "ORDER BY r.dataset, r.split, r.sample_index NULLS LAST, r.sample_id, r.model",
        [run_id, options.max_samples, run_id]))
    index = {m: i for i, m in enumerate(models)}
    seams = _seams(con, run_id, {r["sample_id"] for r in rows if r["error"] is None})
    by_dataset = "dataset" in _chunk_key(con)
    kept: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        s = kept.setdefault((r["dataset"], r["split"], r["sample_id"]), {
            "id": r["sample_id"], "set": [r["dataset"], r["split"]], "order": len(kept), "idx": r["sample_index"],
            "dur": r["audio_seconds"], "lang": r["language"], "ref": r["reference"], "r": [None] * len(models)})
        if r["error"] is not None:
            entry = {"err": r["error"], "wer": None, "e": 0, "s": 0, "d": 0, "i": 0, "h": None, "flags": [],
                     "ops": [], "seams": [], "skips": []}
        else:
            # a language scored by characters has no word counts (NULL)
            subs, dels, ins = (r[k] or 0 for k in ("substitutions", "deletions", "insertions"))
            errors = subs + dels + ins
            flags = [name for name in ("truncated", "looping", "skipped") if r[name]]
            ops = _ops(r["reference_norm"], r["hypothesis_norm"])
            entry = {"err": None, "wer": errors / r["ref_words"] if r["ref_words"] else None, "e": errors,
                     "s": subs, "d": dels, "i": ins, "h": r["hypothesis"], "flags": flags, "ops": ops,
                     "seams": seams.get((r["model"], r["dataset"] if by_dataset else None, r["sample_id"]), []),
                     "skips": _skips(ops, r["ref_words"], r["audio_seconds"], r["max_deletion_run"],
                                     bool(r["skipped"]))}
        s["r"][index[r["model"]]] = entry
    return {"models": models, "samples": list(kept.values())}, int(total)


def comparison(con: Any, run_ids: list[str], options: ReportOptions) -> dict[str, Any]:
    """The paired comparison of :func:`evaluator.results.compare.compare` as its JSON dict (read
    generically: ``pairs`` is a list of dicts, each naming its ``dataset``; ``models`` the sides).
    One run: every pair of its models. Several runs: the pairs ``evaluator compare --run ...``
    shows that join two runs (each run's own pairs are in its section)."""
    from evaluator.results.compare import compare

    several = len(run_ids) > 1
    result = compare(con, list(run_ids), resamples=options.resamples, seed=options.seed,
                     all_pairs=not several).to_json_dict()
    if several:
        run_of = {m["label"]: m.get("run_id") for m in result.get("models", [])}
        result["pairs"] = [p for p in result.get("pairs", []) if run_of.get(p["baseline"]) != run_of.get(p["model"])]
    return result


def matrix(con: Any, run_id: str, board: list[dict[str, Any]], options: ReportOptions) -> list[dict[str, Any]]:
    """Model x dataset cells (``model``, ``dataset``, ``metric``, ``wer``, ``wer_low``, ``wer_high``:
    the cell's rate in its metric) of a run over several datasets (a suite run); empty for a run
    over one dataset/split.

    From :func:`evaluator.results.suite.matrix_rows` where that module exists (with its
    ``average`` and ``pooled`` columns), else from the leaderboard rows.
    """
    try:
        from evaluator.results import suite  # type: ignore[attr-defined]
    except ImportError:
        suite = None
    if suite is not None:
        if not suite.is_suite(con, run_id):
            return []
        return [{"model": r["model"], "dataset": r["dataset"], "metric": r.get("metric") or "wer",
                 "wer": r.get("estimate"), "wer_low": r.get("low"), "wer_high": r.get("high")}
                for r in suite.matrix_rows(con, run_id, resamples=options.resamples, seed=options.seed)]
    if len({(r["dataset"], r["split"]) for r in board}) < 2:
        return []
    return [{"model": r["model"], "dataset": f"{r['dataset']}/{r['split']}", "metric": "wer", "wer": r.get("wer"),
             "wer_low": r.get("wer_low"), "wer_high": r.get("wer_high")} for r in board]
