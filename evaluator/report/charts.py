"""The report's plotly charts, each returned as an HTML fragment (plotly.js itself is inlined once
by the page)."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["INSTALL", "plotly", "colours", "label", "speed_chart", "grouped_chart", "seam_chart", "matrix_chart"]

INSTALL = "pip install 'evaluator[report]'"


def plotly() -> Any:
    """``plotly.graph_objects``, or ImportError naming the install command."""
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise ImportError(f"the HTML report draws its charts with plotly: {INSTALL}") from exc
    return go


def colours(models: list[str]) -> dict[str, str]:
    """One colour per model, in plotly's qualitative palette."""
    from plotly.colors import qualitative

    palette = qualitative.Plotly
    return {m: palette[i % len(palette)] for i, m in enumerate(models)}


def label(row: dict[str, Any], several_sets: bool) -> str:
    """A leaderboard row's name: the model, with its dataset/split when the run has several."""
    return f"{row['model']} · {row['dataset']}/{row['split']}" if several_sets else row["model"]


def figure_html(fig: Any, div_id: str) -> str:
    """A figure as a ``<div id=div_id>`` fragment in the report's style."""
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50},
                      font={"size": 12}, legend={"title": {"text": ""}})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _error_bars(rows: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Asymmetric plotly error bars (in %) from wer / wer_low / wer_high (0 where a row is None)."""
    plus = [100 * (r["wer_high"] - r["wer"]) if r and r.get("wer_high") is not None else 0 for r in rows]
    minus = [100 * (r["wer"] - r["wer_low"]) if r and r.get("wer_low") is not None else 0 for r in rows]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "visible": True}


def speed_chart(board: list[dict[str, Any]], palette: dict[str, str], div_id: str) -> tuple[str, list[str]]:
    """WER against RTFx, one mark per leaderboard row: (the chart, the rows not drawn)."""
    go = plotly()
    several = len({(r["dataset"], r["split"]) for r in board}) > 1
    fig = go.Figure()
    missing = []
    for r in board:
        if r.get("rtfx") is None or r.get("wer") is None or r["rtfx"] <= 0:
            missing.append(label(r, several))
            continue
        fig.add_trace(go.Scatter(
            x=[r["rtfx"]], y=[100 * r["wer"]], mode="markers", name=label(r, several),
            marker={"size": 12, "color": palette[r["model"]]}, error_y=_error_bars([r]),
            hovertemplate=f"{escape(label(r, several))}<br>WER %{{y:.2f}}%<br>RTFx %{{x:.1f}}<extra></extra>"))
    fig.update_layout(title="WER against speed (one mark per model, 95% interval)",
                      xaxis={"type": "log", "title": "RTFx (audio s / inference s, log scale; faster →)"},
                      yaxis={"title": "WER %", "rangemode": "tozero"}, height=420)
    return figure_html(fig, div_id), missing


def group_label(value: Any, by: str) -> str:
    """A group value as an axis label (a duration bucket without its sort prefix)."""
    if value is None:
        return "(unset)"
    return str(value).split(": ", 1)[-1] if by == "bucket" else str(value)


def _group_order(value: Any) -> tuple[bool, str]:
    return value is None, str(value)


def grouped_chart(rows: list[dict[str, Any]], by: str, title: str, div_id: str, palette: dict[str, str]) -> str:
    """Grouped bars: one series per model, one bar per model and group value (per dataset and
    group value, the datasets side by side on a two-level axis, when the rows cover several
    datasets), 95% intervals as error bars. Groups are in the order of their values (duration
    buckets shortest first), the same on every series."""
    go = plotly()
    sets = list(dict.fromkeys((r["dataset"], r["split"]) for r in rows))
    several = len(sets) > 1
    names = {(d, s): d if [n for n, _ in sets].count(d) == 1 else f"{d}/{s}" for d, s in sets}
    groups = sorted({r["group"] for r in rows}, key=_group_order)
    slots = [(d, g) for d in sets for g in groups if any((r["dataset"], r["split"]) == d and r["group"] == g
                                                          for r in rows)]
    fig = go.Figure()
    for model in palette:
        at = {((r["dataset"], r["split"]), r["group"]): r for r in rows
              if r["model"] == model and r.get("wer") is not None}
        if not at:
            continue
        # every slot on every series (None where the model has no figure): the slots keep one order
        mine = [at.get(s) for s in slots]
        labels = [group_label(g, by) for _, g in slots]
        x = [[names[d] for d, _ in slots], labels] if several else labels
        fig.add_trace(go.Bar(
            x=x, y=[None if r is None else 100 * r["wer"] for r in mine], name=model,
            marker={"color": palette[model]}, error_y=_error_bars(mine),
            customdata=[[r["n"], r.get("scored", r["n"]), f"{r['dataset']}/{r['split']}"] if r else [0, 0, ""]
                        for r in mine],
            hovertemplate=f"{escape(model)}<br>%{{customdata[2]}} · %{{x}}: WER %{{y:.2f}}%<br>%{{customdata[0]}} "
                          "samples, %{customdata[1]} scored<extra></extra>"))
    order = [group_label(g, by) for g in groups]
    xaxis: dict[str, Any] = {"title": ("duration" if by == "bucket" else by) + (" per dataset" if several else "")}
    if several:
        xaxis["type"] = "multicategory"
    else:
        xaxis.update(type="category", categoryorder="array", categoryarray=order)
    fig.update_layout(title=title, barmode="group", yaxis={"title": "WER %", "rangemode": "tozero"}, xaxis=xaxis,
                      height=380)
    return figure_html(fig, div_id)


def seam_chart(row: dict[str, Any], windows: list[dict[str, Any]], palette: dict[str, str], div_id: str) -> str:
    """Where each seam of one long file cut, and how many words its overlap matched."""
    go = plotly()
    fig = go.Figure()
    symbols = {"aligned": "circle", "midpoint": "diamond", "adjacent": "x"}
    for kind, symbol in symbols.items():
        mine = [w for w in windows if w["seam"] == kind]
        if not mine:
            continue
        fig.add_trace(go.Scatter(
            x=[(w["seam_cut_s"] if w["seam_cut_s"] is not None else w["start_s"]) / 60 for w in mine],
            y=[w["seam_matched"] or 0 for w in mine], mode="markers", name=f"{kind} ({len(mine)})",
            marker={"symbol": symbol, "size": 9, "color": palette.get(row["model"]) if kind == "aligned" else None},
            customdata=[[w["chunk_index"], w["start_s"], w["end_s"]] for w in mine],
            hovertemplate="window %{customdata[0]} (%{customdata[1]:.1f}-%{customdata[2]:.1f} s)<br>"
                          "cut at %{x:.2f} min<br>%{y} words matched<extra>" + kind + "</extra>"))
    fig.update_layout(
        title=f"Seams of {row['sample_id']} · {row['model']}: words the overlapping windows agreed on",
        xaxis={"title": "where the text switches to the next window (min into the file)"},
        yaxis={"title": "words matched in the overlap", "rangemode": "tozero"}, height=340)
    return figure_html(fig, div_id)


def matrix_chart(cells: list[dict[str, Any]], div_id: str) -> str:
    """A model x dataset heatmap coloured by error rate (WER, or CER for a dataset scored by
    characters), the value in each cell and its 95% interval on hover."""
    go = plotly()
    models = list(dict.fromkeys(c["model"] for c in cells))
    sets = list(dict.fromkeys(c["dataset"] for c in cells))
    at = {(c["model"], c["dataset"]): c for c in cells}
    z, text, hover = [], [], []
    for m in models:
        z.append([]), text.append([]), hover.append([])
        for d in sets:
            c = at.get((m, d), {})
            wer = c.get("wer")
            z[-1].append(None if wer is None else 100 * wer)
            text[-1].append("" if wer is None else f"{100 * wer:.1f}")
            interval = (f"[{100 * c['wer_low']:.1f}, {100 * c['wer_high']:.1f}]"
                        if c.get("wer_low") is not None and c.get("wer_high") is not None else "no interval")
            metric = str(c.get("metric") or "wer").upper()
            hover[-1].append(f"{escape(m)} · {escape(d)}<br>{metric} {text[-1][-1] or 'n/a'}% {interval}")
    fig = go.Figure(go.Heatmap(z=z, x=sets, y=models, text=text, texttemplate="%{text}", customdata=hover,
                               hovertemplate="%{customdata}<extra></extra>", colorscale="RdYlGn_r",
                               colorbar={"title": {"text": "error rate %"}}, zmin=0))
    fig.update_layout(title="WER per model and dataset (CER where scored by characters; 95% interval on hover)",
                      height=120 + 40 * len(models),
                      xaxis={"type": "category"}, yaxis={"type": "category", "autorange": "reversed"})
    return figure_html(fig, div_id)
