"""The report's sections of one run as HTML fragments: leaderboard, accuracy against speed,
breakdowns, the model x dataset matrix, the paired comparison and the long-form flags.

Every element id ends in ``sfx`` (empty for the first run of a page, ``-2``, ``-3`` ... for the
next), so several runs fit in one page.
"""

from __future__ import annotations

from typing import Any

from evaluator.report import charts, data
from evaluator.report.format import esc, flags_html, interval, num, p_value, pct, table
from evaluator.report.options import ReportOptions

__all__ = ["leaderboard", "speed", "breakdowns", "matrix", "comparison", "long_form"]


def leaderboard(board: list[dict[str, Any]], options: ReportOptions, sfx: str, ranking: str = "") -> str:
    """The leaderboard table as :func:`evaluator.report.data.ranked` orders it; ``ranking`` says
    what the ranking covers."""
    rows = []
    for r in board:
        apart = "" if r.get("ranked", True) else " (not ranked)"
        rows.append([
            esc(r["model"]) + apart, esc(f"{r['dataset']}/{r['split']}"), num(r["n"]), num(r["errors"]),
            num(r.get("not_transcribable")), num(r.get("ranked_on")),
            pct(r["wer"]), interval(r.get("wer_low"), r.get("wer_high")),
            pct(r.get("cer")), interval(r.get("cer_low"), r.get("cer_high")),
            num(r.get("rtfx")), num(60 * r["audio_hours"] if r.get("audio_hours") is not None else None, 2),
            num(r.get("completion_ratio"), 3),
            num(r.get("truncated")), num(r.get("looping")), num(r.get("skipped")),
        ])
    body = table(["model", "dataset/split", "n", "errors", "not transcribable", "ranked on", "WER %", "95% CI",
                  "CER %", "95% CI", "RTFx", "audio min", "completion", "truncated", "looping", "skipped"], rows,
                 numeric=set(range(2, 16)), table_id=f"leaderboard{sfx}")
    note = (f"Corpus WER and CER (errors summed over utterances); 95% intervals from a bootstrap over "
            f"utterances ({options.resamples:,} resamples, seed {options.seed}). RTFx = audio seconds / "
            "inference seconds. Error rows are counted, not scored; a sample in a language the model does not "
            "transcribe is not transcribable, neither scored nor an error. "
            + (f"{ranking[0].upper()}{ranking[1:]}." if ranking else ""))
    return f'<section id="s-leaderboard{sfx}"><h2>Leaderboard</h2><p class="note">{esc(note)}</p>{body}</section>'


def speed(board: list[dict[str, Any]], colours: dict[str, str], sfx: str) -> str:
    chart, missing = charts.speed_chart(board, colours, f"chart-speed{sfx}")
    note = ""
    if missing:
        note = f'<p class="note">Not drawn (no scored rows or no timing): {esc(", ".join(missing))}</p>'
    return f'<section id="s-speed{sfx}"><h2>Accuracy and speed</h2>{chart}{note}</section>'


def breakdowns(con: Any, run_id: str, options: ReportOptions, colours: dict[str, str], sfx: str) -> str:
    """Per duration bucket, per language and per metadata key (those with 2 to 30 values)."""
    grouped, notes = data.groups(con, run_id, options)
    out, others = [], 0
    for by, rows in grouped:
        if by == "bucket":
            out.append(charts.grouped_chart(rows, by, "WER per duration bucket (95% interval)",
                                            f"chart-buckets{sfx}", colours))
        else:
            out.append(charts.grouped_chart(rows, by, f"WER per {by} (95% interval)",
                                            f"chart-group-{others}{sfx}", colours))
            others += 1
    note = f'<p class="note">{esc("; ".join(notes))}</p>' if notes else ""
    return (f'<section id="s-breakdowns{sfx}"><h2>Breakdowns</h2><div class="charts-row">{"".join(out)}</div>'
            f"{note}</section>")


def matrix(cells: list[dict[str, Any]], sfx: str) -> str:
    """The model x dataset matrix of a run over several datasets (nothing for one dataset)."""
    if not cells:
        return ""
    return (f'<section id="s-matrix{sfx}"><h2>Models and datasets</h2>'
            f'{charts.matrix_chart(cells, f"chart-matrix{sfx}")}</section>')


def _first(pair: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` a comparison pair has (its fields' names vary between versions)."""
    return next((pair[n] for n in names if n in pair), None)


def comparison(result: dict[str, Any] | str, sfx: str, title: str = "Paired comparison") -> str:
    """The pairs of :func:`evaluator.report.data.comparison` with their interval and p-values
    (``result``: the comparison's JSON dict, or why there is none)."""
    section = f'<section id="s-compare{sfx}" class="compare"><h2>{esc(title)}</h2>'
    if isinstance(result, str):
        return f'{section}<p class="note">{esc(result)}</p></section>'
    pairs = result.get("pairs") or []
    if not pairs:
        return f'{section}<p class="note">No pairs of models to compare on the same samples.</p></section>'
    with_metric = any("metric" in p for p in pairs)
    with_dataset = any("dataset" in p for p in pairs)
    alpha = 1 - float(result.get("confidence") or 0.95)
    rows = []
    for p in pairs:
        delta, p_boot = p.get("delta"), p.get("p_value")
        sig = p_boot is not None and p_boot < alpha
        verdict = ("" if not sig or delta is None else ' <span class="flag worse">worse</span>' if delta > 0
                   else ' <span class="flag better">better</span>')
        where = "all (stratified)" if p.get("dataset") == "overall" else p.get("dataset")
        rows.append([esc(p.get("baseline")), esc(p.get("model"))] + ([esc(where)] if with_dataset else []) +
                    ([esc(p.get("metric"))] if with_metric else []) + [
            pct(_first(p, "baseline_wer", "baseline_rate")), pct(_first(p, "model_wer", "model_rate")),
            "" if delta is None else f"{100 * delta:+.2f}", interval(p.get("delta_low"), p.get("delta_high")),
            f'<span class="p{" sig" if sig else ""}">{p_value(p_boot)}</span>{verdict}',
            p_value(p.get("wilcoxon_p")), p_value(p.get("sign_p")), num(p.get("n")),
            f"{num(p.get('better'))} / {num(p.get('worse'))} / {num(p.get('same'))}"])
    offset = int(with_metric) + int(with_dataset)
    headers = (["baseline", "model"] + (["dataset"] if with_dataset else []) + (["metric"] if with_metric else []) +
               ["baseline %", "model %", "Δ points", f"{1 - alpha:.0%} CI of Δ", "p (bootstrap)",
                "p (2nd test)", "p (sign test)", "samples both scored",
                "better / worse / same"])
    body = table(headers, rows, numeric={i + offset for i in range(2, 10)}, table_id=f"compare{sfx}")
    note = (f"Each model against its baseline on the samples both scored, per dataset; \"all\" pools every "
            f"dataset of the pair, its bootstrap resampling within each dataset (error rows and empty references "
            f"dropped). Δ = model − baseline in percentage points (negative: fewer errors). p (bootstrap): "
            f"{result.get('p_value_method') or 'paired bootstrap'}, {num(result.get('resamples'))} resamples, seed "
            f"{result.get('seed')}; marked when below {alpha:g}. 2nd test: {result.get('second_test') or 'none'}.")
    return f'{section}<p class="note">{esc(note)}</p>{body}</section>'


def long_form(con: Any, run_id: str, options: ReportOptions, colours: dict[str, str], sfx: str) -> str:
    lf = data.long_form(con, run_id, options)
    parts = []
    flagged, total = lf["flagged"], lf["flagged_total"]
    if flagged:
        rows = [[esc(r["model"]), esc(r["sample_id"]), num(r["audio_seconds"]), pct(r["wer"], 1),
                 num(r["completion_ratio"], 2), flags_html(r), num(r["max_deletion_run"]),
                 num(r["max_deletion_run_s"]), num(r["max_repeats"]), num(r["untranscribed_speech_s"])]
                for r in flagged]
        shown = "" if total <= len(flagged) else f" (first {len(flagged)} of {total} shown)"
        parts.append(f'<h3>Flagged samples{esc(shown)}</h3>' + table(
            ["model", "sample", "seconds", "WER %", "completion", "flags", "longest deletion (words)",
             "(s)", "max repeats", "untranscribed speech s"], rows, numeric={2, 3, 4, 6, 7, 8, 9},
            table_id=f"flags{sfx}"))
    else:
        parts.append(f'<p class="note" id="flags-none{sfx}">No sample was flagged truncated, looping or '
                     "skipped.</p>")
    if lf["errors"]:
        parts.append("<h3>Error rows</h3>" + table(
            ["model", "sample", "error"],
            [[esc(e["model"]), esc(e["sample_id"]), esc(e["error"])] for e in lf["errors"]]))
    if lf["long"]:
        rows = [[esc(r["model"]), esc(r["sample_id"]), num(r["audio_seconds"]), esc(r["long_form"]),
                 num(r["windows"] or r["num_chunks"]), num(r["aligned"]), num(r["midpoint"]), num(r["adjacent"]),
                 num(r["min_matched"]), num(r["window_errors"]), pct(r["wer"], 1), num(r["completion_ratio"], 3),
                 num(r["transcribed_until_s"]), num(r["untranscribed_speech_s"]), flags_html(r)]
                for r in lf["long"]]
        parts.append(f"<h3>Files longer than {data.LONG_SECONDS:g} s</h3>" + table(
            ["model", "sample", "seconds", "long-form", "windows", "aligned seams", "midpoint seams",
             "adjacent seams", "fewest words matched", "window errors", "WER %", "completion", "transcribed until s",
             "untranscribed speech s", "flags"], rows, numeric=set(range(2, 14)) - {3}, table_id=f"long-files{sfx}"))
    seam_charts = [charts.seam_chart(r, windows, colours, f"chart-seams-{k}{sfx}")
                   for k, (r, windows) in enumerate(lf["seams"])]
    if seam_charts:
        more = "" if lf["seamed_files"] <= len(seam_charts) else (
            f"<p class=note>Seams charted for the first {len(seam_charts)} of {lf['seamed_files']} files.</p>")
        parts.append("<h3>Seams</h3><p class=note>A seam joins a window to the one before: <b>aligned</b> where "
                     "the overlap's words matched, <b>midpoint</b> (cut in the middle of the overlap) where too few "
                     "did, <b>adjacent</b> where the windows did not overlap. In the sample browser, a long file's "
                     "seams and skipped stretches play from where they start.</p>" + "".join(seam_charts) + more)
    return f'<section id="s-long-form{sfx}"><h2>Long-form flags and seams</h2>{"".join(parts)}</section>'
