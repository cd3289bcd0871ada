"""Small HTML helpers of the report: escaping, numbers, tables, inlined static files."""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from typing import Any

__all__ = ["esc", "pct", "num", "p_value", "table", "interval", "flags_html", "breakable", "json_script", "static"]


def esc(value: Any) -> str:
    """Text (None: empty) escaped for HTML."""
    return html.escape("" if value is None else str(value))


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction in percent (empty for None or not finite)."""
    return "" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}"


def num(value: Any, digits: int = 1) -> str:
    """A number with thousands separators (floats to ``digits`` places)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def p_value(value: float | None) -> str:
    """A p-value: three significant digits, ``< 0.001`` below it."""
    if value is None or not math.isfinite(value):
        return ""
    return "< 0.001" if value < 0.001 else f"{value:.3g}"


def table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset(),
          table_id: str | None = None) -> str:
    """An HTML table; cells are already escaped HTML."""
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<table class="data"{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def interval(low: float | None, high: float | None) -> str:
    """``[low, high]`` in percent, styled as an interval."""
    if low is None or high is None:
        return ""
    return f'<span class="ci">[{pct(low)}, {pct(high)}]</span>'


def flags_html(r: dict[str, Any]) -> str:
    """A row's long-form flags as badges."""
    out = []
    if r.get("truncated"):
        out.append("truncated" + (f": {r['truncated_reason']}" if r.get("truncated_reason") else ""))
    if r.get("looping"):
        out.append("looping")
    if r.get("skipped"):
        out.append("skipped")
    return "".join(f'<span class="flag">{esc(f)}</span>' for f in out)


def breakable(text: str) -> str:
    """Escaped text where a line may break after ":", "/" or "-" (long model specs)."""
    escaped = esc(text)
    for mark in (":", "/", "-"):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return escaped


def json_script(payload: Any) -> str:
    """JSON safe inside ``<script type="application/json">``."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside <script>, "</script" would close the element and "<!--" open a comment: no "<" at all
    # (\u003c is the same character to JSON.parse).
    return text.replace("<", "\\u003c")


def static(name: str) -> str:
    """A file of ``evaluator/report/static`` as text."""
    return resources.files("evaluator.report").joinpath("static", name).read_text(encoding="utf-8")
