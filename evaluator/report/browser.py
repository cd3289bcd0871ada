"""The sample browser of one run as HTML: its controls, its embedded data (the samples, their
alignments and audio) and the notes on what it holds. ``static/report.js`` brings it to life; it
finds its elements by ``data-role`` inside the section, so several browsers fit in one page."""

from __future__ import annotations

from typing import Any

from evaluator.report.audio import AudioSummary
from evaluator.report.format import breakable, esc, json_script
from evaluator.report.options import ReportOptions

__all__ = ["browser", "audio_note"]


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def audio_note(summary: AudioSummary, options: ReportOptions) -> str:
    """What the page says about its audio: how much is embedded against the cap, what is linked,
    what is missing and why."""
    if options.audio_total_mb == 0:
        return "Audio is turned off (--audio-mb 0)."
    parts = [f"Audio: {summary.embedded:,} clip{'s' if summary.embedded != 1 else ''} embedded "
             f"({_mb(summary.embedded_bytes)}; the page embeds {options.audio_total_mb:g} MB at most, "
             "16 kHz mono Ogg Vorbis; "
             f"a clip over {options.audio_clip_mb:g} MB, or past the cap, is linked when it is a file; "
             f"raise the cap with evaluator report --audio-mb N)"]
    if summary.linked:
        parts.append(f"{summary.linked:,} linked as files (they play where this page is opened on the same machine)")
    if summary.missing:
        parts.append(f"{summary.missing:,} without audio: " + "; ".join(
            f"{reason} ({count})" for reason, count in sorted(summary.reasons.items(), key=lambda kv: -kv[1])))
    return ". ".join(parts) + "."


def browser(payload: dict[str, Any], total: int, summary: AudioSummary, options: ReportOptions, sfx: str) -> str:
    """The section: ``payload`` from :func:`evaluator.report.data.samples` with audio attached."""
    models = payload["models"]
    shown = len(payload["samples"])
    cap = ""
    if shown < total:
        cap = (f'<p class="note" id="sample-cap{sfx}">The browser holds {shown:,} of the run\'s {total:,} samples: '
               f"those with the most word errors summed over models (error rows first), to keep this file small. "
               f"Raise the cap with <code>evaluator report --max-samples N</code>; the charts and tables above use "
               f"every sample.</p>")
    options_html = '<option value="">all models</option>' + "".join(
        f'<option value="{i}">{esc(m)}</option>' for i, m in enumerate(models))
    # a line break may fall after ":", "/" or "-" of a long model spec
    heads = "".join(f'<th class="num" data-model="{i}" title="{esc(m)}">{breakable(m)}<br>WER %</th>'
                    for i, m in enumerate(models))
    return f"""<section id="s-samples{sfx}" class="samples"><h2>Samples</h2>{cap}
<p class="note">Pick a sample to hear it and to see the reference and each model's hypothesis aligned word by word
(normalized text, as scored). The filter searches sample ids, references and hypotheses; with one model chosen, it
and the "only with errors" box apply to that model.</p>
<p class="note audio-note" id="audio-note{sfx}">{esc(audio_note(summary, options))}</p>
<div class="controls">
 <input type="search" id="filter-text{sfx}" data-role="filter-text" placeholder="filter: id or words"
  aria-label="filter samples">
 <label>model <select id="filter-model{sfx}" data-role="filter-model">{options_html}</select></label>
 <label><input type="checkbox" id="filter-errors{sfx}" data-role="filter-errors"> only with errors</label>
 <label>sort <select id="sort{sfx}" data-role="sort"><option value="order">dataset order</option>
  <option value="wer">WER, worst first</option><option value="duration">duration, longest first</option>
  <option value="id">sample id</option></select></label>
 <span id="sample-count{sfx}" data-role="count" class="note"></span>
</div>
<div class="browser">
 <div class="list"><table class="data sample-table" id="sample-table{sfx}" data-role="table"><thead><tr>
 <th>sample</th><th class="num">s</th>{heads}</tr></thead><tbody></tbody></table></div>
 <div class="detail" id="sample-detail{sfx}" data-role="detail"><p class="empty">Click a sample in the list.</p></div>
</div>
<script id="sample-data{sfx}" class="sample-data" type="application/json">{json_script(payload)}</script>
</section>"""
