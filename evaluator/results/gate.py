"""The CI gate over a comparison: it fails when a model is worse than its baseline, and it fails
closed when the comparison cannot show that a model is not worse (no paired samples, a candidate
that covers too little of the baseline, a candidate run that is not finished, or error rows).

The reasons are checked in this order and each failing pair or run gets one line; the CLI prints
them and exits :data:`EXIT_WORSE` when only "worse" lines were found, else :data:`EXIT_UNJUDGED`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evaluator.errors import ConfigError
from evaluator.results.compare import OVERALL, Comparison, PairComparison

__all__ = ["GateOptions", "GateResult", "EXIT_WORSE", "EXIT_UNJUDGED", "gate", "run_status"]

EXIT_WORSE = 1  # a model is worse than its baseline beyond the gate
EXIT_UNJUDGED = 3  # the comparison cannot show that no model is worse (it fails closed)

# A running run whose heartbeat is older than this is read as interrupted (as `evaluator runs` does).
STALE_SECONDS = 120


@dataclass(frozen=True)
class GateOptions:
    """What fails the gate.

    Attributes:
        fail_if_worse: fail when a model's rate is higher than the baseline's by more than this
            many percentage points (None: not checked).
        fail_if_significant: fail when a model is worse with a paired-bootstrap p below ``alpha``.
        alpha: significance level of ``fail_if_significant``.
        min_coverage: the share of the baseline's samples (per dataset) the model must have
            stored, in (0, 1] (1: all of them).
        allow_errors: let a model with error rows pass (its error rows are left out of the pairs).
    """

    fail_if_worse: float | None = None
    fail_if_significant: bool = False
    alpha: float = 0.05
    min_coverage: float = 1.0
    allow_errors: bool = False

    def __post_init__(self) -> None:
        if self.fail_if_worse is not None and self.fail_if_worse < 0:
            raise ConfigError(f"--fail-if-worse takes a non-negative number of percentage points, got "
                              f"{self.fail_if_worse:g}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"--alpha must be between 0 and 1, got {self.alpha:g}")
        if not 0 < self.min_coverage <= 1:
            raise ConfigError(f"--min-coverage must be a percentage above 0 and at most 100, got "
                              f"{100 * self.min_coverage:g}")


@dataclass(frozen=True)
class GateResult:
    """``worse``: one line per pair worse than its baseline; ``unjudged``: one line per reason the
    comparison cannot vouch for a model; ``checked``: the models compared."""

    worse: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def exit_status(self) -> int:
        return EXIT_UNJUDGED if self.unjudged else EXIT_WORSE if self.worse else 0


def run_status(con: Any, run_id: str) -> str:
    """``finished``, ``failed``, ``running``, or ``interrupted`` (marked running but its heartbeat is
    older than :data:`STALE_SECONDS`)."""
    row = con.execute("SELECT status, heartbeat_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        return "unknown"
    status, heartbeat = row
    if status == "running" and heartbeat is not None:
        age = (datetime.now(UTC).replace(tzinfo=None) - heartbeat).total_seconds()
        return "interrupted" if age > STALE_SECONDS else status
    return str(status)


def _pct(value: float | None, sign: bool = False) -> str:
    return "" if value is None else f"{100 * value:+.1f}" if sign else f"{100 * value:.2f}"


def _worse(p: PairComparison, options: GateOptions) -> str | None:
    if p.n == 0 or p.delta is None or p.delta <= 0:
        return None
    points = 100 * p.delta
    reasons = []
    if options.fail_if_worse is not None and points > options.fail_if_worse:
        reasons.append(f"more than the allowed {options.fail_if_worse:g}")
    if options.fail_if_significant and p.p_value is not None and p.p_value < options.alpha:
        reasons.append(f"significant: p_boot {p.p_value:.3g} < {options.alpha:g}")
    if not reasons:
        return None
    ci = "" if p.delta_low is None or p.delta_high is None else \
        f" (95% CI {_pct(p.delta_low, True)} to {_pct(p.delta_high, True)})"
    where = "over all datasets" if p.dataset == OVERALL else f"on {p.dataset}"
    return (f"{p.model} is worse than {p.baseline} by {points:.2f} {p.metric.upper()} points{ci} {where}, "
            f"{p.n} shared samples: {'; '.join(reasons)}")


def gate(con: Any, comparison: Comparison, pairs: Sequence[PairComparison], options: GateOptions) -> GateResult:
    """Check ``pairs`` (each model against its baseline, from ``comparison``) against ``options``."""
    unjudged: list[str] = []
    if not pairs:
        unjudged.append("nothing was compared: no model has a baseline to compare with (one model in one run); "
                        "add a model, or a run with --run")
    per_dataset: dict[tuple[str, str, str], list[PairComparison]] = {}
    for p in pairs:
        if p.dataset != OVERALL:
            per_dataset.setdefault((p.baseline, p.model, p.dataset), []).append(p)
    for (base, model, dataset), groups in per_dataset.items():
        n = sum(g.n for g in groups)
        base_n, shared = sum(g.baseline_samples for g in groups), sum(g.shared for g in groups)
        errors = sum(g.model_error_rows for g in groups)
        if n == 0:
            why = ("they share no sample (different data, or the same data under another dataset identity)"
                   if shared == 0 else f"each of the {shared} samples both stored has an error row or an empty "
                   "reference")
            unjudged.append(f"{model} and {base} have no paired samples on {dataset} ({base} stored {base_n}, "
                            f"{model} {sum(g.model_samples for g in groups)}): {why}")
            continue
        if base_n and shared / base_n < options.min_coverage:
            unjudged.append(f"{model} covers {shared} of {base}'s {base_n} samples on {dataset} "
                            f"({100 * shared / base_n:.0f}%), below --min-coverage {100 * options.min_coverage:g}%: "
                            "finish or resume its run, or lower --min-coverage")
        if errors and not options.allow_errors:
            unjudged.append(f"{model} has {errors} error row{'s' if errors != 1 else ''} on {dataset} (left out of "
                            "the comparison): see them with `evaluator show`, fix and resume, or pass --allow-errors")
    side_runs = {m["label"]: m["run_id"] for m in comparison.models}
    candidates = dict.fromkeys(side_runs.get(p.model) for p in pairs)
    for run_id in (r for r in candidates if r is not None):
        status = run_status(con, run_id)
        if status != "finished":
            unjudged.append(f"run {run_id} is {status}, not finished: its models may lack samples; finish it "
                            f"(evaluator run --resume {run_id}) before gating on it")
    worse = [line for p in pairs if (line := _worse(p, options)) is not None]
    return GateResult(worse, unjudged, len({p.model for p in pairs}))
