"""Bootstrap confidence intervals for corpus error rates, and paired significance tests.

Corpus WER is a ratio of sums, ``sum(S+D+I) / sum(S+D+H)``, so each resample draws whole
utterances with replacement and recomputes the ratio from the resampled sums, vectorised: an
index matrix counted with one ``np.bincount`` and one matrix product, or, when the count rows take
few distinct values, a multinomial over the distinct rows (same distribution; :func:`multinomial_sums`).
Every resampling seeds its own ``numpy.random.default_rng(seed)``; the two sides of a pair share
their resamples (that is what makes it paired).

Intervals are percentile intervals (2.5th and 97.5th percentiles for 95%). A paired comparison's
interval and two-sided p-value come from one rule, so they always agree (the p-value is twice the
smaller share of draws on either side of zero, the test the interval inverts; see
:func:`paired_interval_and_p`). The second test is the Wilcoxon signed-rank test over per-utterance
error differences (``scipy.stats.wilcoxon``, zeros dropped), with a sign test (``binomtest``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from evaluator.errors import ConfigError, MissingDependencyError

__all__ = [
    "BootstrapOptions",
    "RatioInterval",
    "PairedResult",
    "SECOND_TEST",
    "resampled_sums",
    "multinomial_sums",
    "ratio_interval",
    "group_ratio_intervals",
    "paired_bootstrap",
    "paired_bootstraps",
    "stratified_paired_bootstrap",
    "paired_interval_and_p",
    "P_VALUE_METHOD",
]

# How the paired-bootstrap p-value is computed (shown in `compare`'s footnote and JSON).
P_VALUE_METHOD = ("paired bootstrap, two-sided: p = 2 (1 + m) / (B + 1), m the resampled differences on the "
                  "smaller side of zero, the test the percentile interval inverts (the interval excludes zero exactly "
                  "when p < 1 - confidence)")

# Name of the second (non-bootstrap) test reported beside the paired bootstrap.
SECOND_TEST = "Wilcoxon signed-rank over per-utterance error differences"

# Draw over distinct rows (multinomial) when there are at least this many rows and a distinct
# row costs less than this many rows: numpy's multinomial spends about 30 times longer per
# category than an index draw and bincount spend per row.
_COMPRESS_MIN_ROWS = 1000
_MULTINOMIAL_COST = 30

# Largest index matrix drawn at once (elements); bounds memory at about 100 MB whatever n is.
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class BootstrapOptions:
    """How intervals are resampled.

    Attributes:
        resamples: bootstrap resamples (at least 1; 1000 by default).
        seed: seed of ``numpy.random.default_rng``; recorded with every result.
        confidence: two-sided coverage of the percentile interval, in (0, 1) (0.95 by default).
    """

    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 1:
            raise ConfigError(f"resamples must be a positive integer, got {self.resamples!r} (e.g. 1000)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"confidence must be between 0 and 1 (e.g. 0.95), got {self.confidence!r}")

    @property
    def percentiles(self) -> tuple[float, float]:
        tail = (1 - self.confidence) / 2 * 100
        return tail, 100 - tail


@dataclass(frozen=True)
class RatioInterval:
    """A ratio of sums (e.g. corpus WER) with its bootstrap interval.

    Attributes:
        estimate: ``sum(numerator) / sum(denominator)`` over all rows; None with no rows or a
            zero denominator.
        low / high: the percentile interval's ends (None when ``estimate`` is None).
        n: rows (utterances) resampled.
        resamples / seed / confidence: how the interval was drawn.
    """

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    resamples: int
    seed: int
    confidence: float


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of two systems on the same utterances: ``model`` minus ``baseline``.

    Attributes:
        baseline / model: the two corpus error rates (ratios of sums over the shared rows).
        delta: ``model - baseline`` (negative: the model makes fewer errors).
        low / high: paired-bootstrap percentile interval of ``delta`` (order statistics, see
            :func:`paired_interval_and_p`).
        p_value: two-sided paired-bootstrap p-value of the test the interval inverts: twice the
            smaller share of resampled deltas on either side of zero (capped at 1), so the
            interval excludes zero exactly when ``p_value < 1 - confidence``. A system compared
            with itself gets exactly 1.
        wilcoxon_p: Wilcoxon signed-rank p-value over per-utterance error-count differences
            (zero differences dropped; 1.0 when every difference is zero).
        sign_p: two-sided sign-test p-value (binomial, p = 0.5) over ``better`` vs ``worse``.
        n: utterances compared.
        better / worse / same: utterances where the model made fewer / more / as many errors.
        resamples / seed / confidence: how the interval was drawn.
    """

    baseline: float | None
    model: float | None
    delta: float | None
    low: float | None
    high: float | None
    p_value: float | None
    wilcoxon_p: float | None
    sign_p: float | None
    n: int
    better: int
    worse: int
    same: int
    resamples: int
    seed: int
    confidence: float


def _as_counts(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values; drop error rows before resampling")
    return arr


def resampled_sums(values: np.ndarray, options: BootstrapOptions) -> np.ndarray:
    """Column sums of ``values`` (shape ``(n, k)``) over ``options.resamples`` bootstrap
    resamples of its rows: shape ``(resamples, k)``.

    Resample ``b`` draws ``n`` row indexes uniformly with replacement. Blocks of resamples are
    drawn as an index matrix, counted per row with one ``bincount`` and summed with one matrix
    product.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must have shape (rows, columns), got {values.shape}")
    n, k = values.shape
    out = np.zeros((options.resamples, k))
    if n == 0:
        return out
    rng = np.random.default_rng(options.seed)
    block = max(1, min(options.resamples, _BLOCK_ELEMENTS // n))
    for start in range(0, options.resamples, block):
        size = min(block, options.resamples - start)
        dtype = np.int32 if size * n < 2**31 else np.int64  # int32 draws are faster
        idx = rng.integers(0, n, size=(size, n), dtype=dtype)
        idx += (np.arange(size, dtype=dtype) * n)[:, None]
        weights = np.bincount(idx.ravel(), minlength=size * n).reshape(size, n)
        out[start : start + size] = weights @ values
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Element-wise ``num / den``, NaN where the denominator is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[den <= 0] = np.nan
    return out


def _interval(estimate: float | None, draws: np.ndarray, n: int, options: BootstrapOptions) -> RatioInterval:
    if estimate is None or n == 0:
        return RatioInterval(None, None, None, n, options.resamples, options.seed, options.confidence)
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        low = high = None
    else:
        low, high = (float(x) for x in np.percentile(finite, options.percentiles))
    return RatioInterval(estimate, low, high, n, options.resamples, options.seed, options.confidence)


def _estimate(num: np.ndarray, den: np.ndarray) -> float | None:
    total = float(den.sum())
    return float(num.sum()) / total if total > 0 else None


def ratio_interval(numerators: Any, denominators: Any, options: BootstrapOptions | None = None) -> RatioInterval:
    """Bootstrap interval of ``sum(numerators) / sum(denominators)`` over utterances.

    Example: per-utterance ``S+D+I`` and ``S+D+H`` give corpus WER with its interval.
    """
    num = _as_counts(numerators, "numerators")
    den = _as_counts(denominators, "denominators")
    if num.size != den.size:
        raise ValueError(f"numerators and denominators differ in length ({num.size} vs {den.size})")
    (result,) = group_ratio_intervals([np.column_stack([num, den])], ((0, 1),), options)
    return result[0]


def _distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows and their counts. Rows of small non-negative integers (counts) are packed
    into one integer key each, which sorts much faster than ``np.unique(axis=0)``."""
    top = values.max(axis=0) + 1 if values.size else np.ones(values.shape[1])
    integral = values.size and values.min() >= 0 and np.array_equal(values, np.floor(values))
    if integral and float(np.prod(top)) < 2**62:
        radix = np.concatenate([[1], np.cumprod(top[:-1])]).astype(np.int64)
        keys = values.astype(np.int64) @ radix
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        return values[first], counts
    return np.unique(values, axis=0, return_counts=True)


def multinomial_sums(values: np.ndarray, options: BootstrapOptions) -> np.ndarray | None:
    """:func:`resampled_sums` drawn over the distinct rows of ``values`` instead of its rows, or
    None when there are too many distinct rows for that to be faster.

    The bootstrap draws ``n`` rows from the empirical distribution, which puts mass
    ``count / n`` on each distinct row; how often each distinct row is drawn is therefore
    ``Multinomial(n, counts / n)``, and the sums depend only on those counts. Same distribution
    as :func:`resampled_sums`, at a cost that grows with the number of distinct rows (per-
    utterance word errors and word counts take few distinct values) instead of ``n``.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    if n < _COMPRESS_MIN_ROWS:
        return None
    distinct, counts = _distinct_rows(values)
    if len(distinct) * _MULTINOMIAL_COST > n:
        return None
    rng = np.random.default_rng(options.seed)
    draws = rng.multinomial(n, counts / n, size=options.resamples)
    return draws @ distinct


def _sums_by_size(matrices: Sequence[np.ndarray], options: BootstrapOptions) -> list[np.ndarray]:
    """:func:`resampled_sums` of each matrix. A matrix with few distinct rows is drawn with
    :func:`multinomial_sums`; the others with the same number of rows are stacked side by side
    and resampled in one pass (their resamples are identical anyway)."""
    out: list[np.ndarray | None] = [None] * len(matrices)
    by_rows: dict[int, list[int]] = {}
    for i, m in enumerate(matrices):
        if (sums := multinomial_sums(m, options)) is not None:
            out[i] = sums
            continue
        by_rows.setdefault(m.shape[0], []).append(i)
    for members in by_rows.values():
        stacked = np.hstack([matrices[i] for i in members])
        sums = resampled_sums(stacked, options)
        col = 0
        for i in members:
            width = matrices[i].shape[1]
            out[i] = sums[:, col : col + width]
            col += width
    return out  # type: ignore[return-value]


def group_ratio_intervals(groups: Sequence[np.ndarray], ratios: Sequence[tuple[int, int]],
                          options: BootstrapOptions | None = None) -> list[list[RatioInterval]]:
    """Intervals of several ratios for many groups at once.

    Args:
        groups: one ``(n_g, k)`` count matrix per group (one row per utterance).
        ratios: ``(numerator column, denominator column)`` pairs, e.g. ``((0, 1), (2, 3))`` for
            WER from errors/words and CER from char errors/chars.
        options: resamples, seed, confidence.

    Returns:
        per group, one :class:`RatioInterval` per ratio. Groups of the same size are resampled
        in one pass.
    """
    options = options or BootstrapOptions()
    mats = []
    for g in groups:
        m = np.asarray(g, dtype=np.float64).reshape(len(g), -1) if len(g) else np.zeros((0, 1))
        if not np.all(np.isfinite(m)):
            raise ValueError("count matrices hold NaN or infinite values; drop error rows before resampling")
        mats.append(m)
    sums = _sums_by_size(mats, options)
    results = []
    for m, s in zip(mats, sums, strict=True):
        row = []
        for num, den in ratios:
            if m.shape[0] == 0:
                row.append(_interval(None, np.empty(0), 0, options))
                continue
            est = _estimate(m[:, num], m[:, den])
            row.append(_interval(est, _ratio(s[:, num], s[:, den]), m.shape[0], options))
        results.append(row)
    return results


def paired_interval_and_p(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None, float | None]:
    """The percentile interval of bootstrap ``draws`` of a difference and the two-sided p-value
    of the test it inverts, so that the interval excludes zero exactly when ``p < 1 - confidence``.

    With ``B`` draws, ``alpha = 1 - confidence`` and ``m = min(#{d <= 0}, #{d >= 0})`` (the draws on
    the smaller side of zero): ``p = min(1, 2 * (1 + m) / (B + 1))``, twice the one-sided bootstrap
    p-value with the usual +1 correction. The interval runs from the ``j``-th smallest draw to the
    ``j``-th largest (1-based ``j = ceil(alpha * (B + 1) / 2 - 1)``), so its low end is above zero iff
    ``#{d <= 0} < alpha * (B + 1) / 2 - 1``, i.e. iff that side gives ``p < alpha``; likewise the high
    end. With too few draws for any ``p < alpha`` (``j < 1``) the interval is widened to hold zero.
    A difference of exactly zero in every draw (a system against itself) gets ``p = 1``.
    """
    if draws.size == 0:
        return None, None, None
    ordered = np.sort(draws)
    size = ordered.size
    alpha = Fraction(1) - Fraction(str(confidence))
    j = math.ceil(alpha * (size + 1) / 2 - 1)
    if j >= 1:
        low, high = float(ordered[j - 1]), float(ordered[size - j])
    else:
        low, high = min(float(ordered[0]), 0.0), max(float(ordered[-1]), 0.0)
    smaller = min(int((ordered <= 0).sum()), int((ordered >= 0).sum()))
    return low, high, min(1.0, 2 * (1 + smaller) / (size + 1))


def _second_tests(diff: np.ndarray) -> tuple[float | None, float | None]:
    """(Wilcoxon signed-rank p, sign-test p) for per-utterance differences."""
    try:
        from scipy import stats as sps
    except ImportError as exc:
        raise MissingDependencyError("the significance tests need scipy: pip install scipy") from exc
    if diff.size == 0:
        return None, None
    nonzero = diff[diff != 0]
    if nonzero.size == 0:
        return 1.0, 1.0
    wilcoxon = float(sps.wilcoxon(nonzero, zero_method="wilcox").pvalue)
    better = int((nonzero < 0).sum())
    sign = float(sps.binomtest(better, int(nonzero.size), 0.5).pvalue)
    return wilcoxon, sign


def paired_bootstrap(baseline_errors: Any, baseline_words: Any, model_errors: Any, model_words: Any,
                     options: BootstrapOptions | None = None) -> PairedResult:
    """Compare two systems on the same utterances (row ``i`` of every array is one utterance).

    Each side's corpus error rate is ``sum(errors) / sum(words)``; both are recomputed on the
    same resampled utterances, giving the distribution of ``model - baseline``.
    """
    arrays = [_as_counts(a, name) for a, name in ((baseline_errors, "baseline_errors"),
                                                  (baseline_words, "baseline_words"),
                                                  (model_errors, "model_errors"), (model_words, "model_words"))]
    if len({a.size for a in arrays}) != 1:
        raise ValueError("paired arrays must have one entry per shared utterance (equal lengths), got "
                         + ", ".join(str(a.size) for a in arrays))
    return paired_bootstraps([np.column_stack(arrays)], options)[0]


def paired_bootstraps(pairs: Sequence[np.ndarray], options: BootstrapOptions | None = None) -> list[PairedResult]:
    """:func:`paired_bootstrap` for many pairs: each an ``(n, 4)`` matrix of baseline errors,
    baseline words, model errors, model words. Pairs of the same size share one resampling pass."""
    options = options or BootstrapOptions()
    mats = [np.asarray(p, dtype=np.float64).reshape(len(p), 4) if len(p) else np.zeros((0, 4)) for p in pairs]
    return [_paired_result(m, s, options) for m, s in zip(mats, _sums_by_size(mats, options), strict=True)]


def _paired_result(m: np.ndarray, sums: np.ndarray, options: BootstrapOptions) -> PairedResult:
    """The :class:`PairedResult` of the ``(n, 4)`` counts ``m`` and their resampled column sums."""
    n = m.shape[0]
    if n == 0:
        return PairedResult(None, None, None, None, None, None, None, None, 0, 0, 0, 0,
                            options.resamples, options.seed, options.confidence)
    base, model = _estimate(m[:, 0], m[:, 1]), _estimate(m[:, 2], m[:, 3])
    diff = m[:, 2] - m[:, 0]
    better, worse = int((diff < 0).sum()), int((diff > 0).sum())
    wilcoxon, sign = _second_tests(diff)
    if base is None or model is None:
        delta = low = high = p = None
    else:
        delta = model - base
        draws = _ratio(sums[:, 2], sums[:, 3]) - _ratio(sums[:, 0], sums[:, 1])
        low, high, p = paired_interval_and_p(draws[np.isfinite(draws)], options.confidence)
    return PairedResult(base, model, delta, low, high, p, wilcoxon, sign, n, better, worse, n - better - worse,
                        options.resamples, options.seed, options.confidence)


def stratified_paired_bootstrap(strata: Sequence[np.ndarray], options: BootstrapOptions | None = None) -> PairedResult:
    """:func:`paired_bootstrap` over several strata (datasets) at once: each an ``(n_k, 4)``
    matrix of baseline errors, baseline words, model errors, model words. Each resample draws
    ``n_k`` utterances with replacement *within* every stratum (so every stratum keeps its size)
    and recomputes both pooled rates, ``sum over strata of errors / sum of words``; the same draws
    serve both sides (paired). Stratum ``k`` draws from its own generator, seeded with
    ``(seed, k)``. The interval, p-value and second tests follow :func:`paired_bootstraps`."""
    options = options or BootstrapOptions()
    mats = [np.asarray(m, dtype=np.float64).reshape(len(m), 4) if len(m) else np.zeros((0, 4)) for m in strata]
    total = np.zeros((options.resamples, 4))
    for k, m in enumerate(mats):
        if len(m):
            seed = int(np.random.SeedSequence([options.seed, k]).generate_state(1)[0])
            total += resampled_sums(m, BootstrapOptions(options.resamples, seed, options.confidence))
    return _paired_result(np.vstack(mats) if mats else np.zeros((0, 4)), total, options)
