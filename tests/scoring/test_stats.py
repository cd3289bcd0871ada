"""Bootstrap intervals and paired tests, checked against an independent plain-Python bootstrap,
known answers and edge cases."""

from __future__ import annotations

import random
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.errors import ConfigError
from evaluator.scoring.stats import (
    BootstrapOptions,
    group_ratio_intervals,
    multinomial_sums,
    paired_bootstrap,
    paired_bootstraps,
    paired_interval_and_p,
    ratio_interval,
    resampled_sums,
)


def utterances(n: int, seed: int, rate: float = 0.15) -> tuple[list[int], list[int]]:
    """Per-utterance (errors, reference words) of a made-up system."""
    rng = random.Random(seed)
    words = [rng.randint(1, 40) for _ in range(n)]
    errors = [sum(rng.random() < rate for _ in range(w)) + (rng.random() < 0.1) for w in words]
    return errors, words


def loop_bootstrap(columns: list[list[int]], statistic, resamples: int, seed: int) -> list[float]:
    """Independent reference: resample utterance indexes with random.Random, one at a time."""
    rng = random.Random(seed)
    n = len(columns[0])
    draws = []
    for _ in range(resamples):
        picks = rng.choices(range(n), k=n)
        draws.append(statistic(*([col[i] for i in picks] for col in columns)))
    return draws


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def corpus(errors: list[int], words: list[int]) -> float:
    return sum(errors) / sum(words)


@pytest.mark.parametrize("n", [8, 60, 400])
def test_interval_matches_an_independent_bootstrap(n: int) -> None:
    errors, words = utterances(n, seed=n)
    got = ratio_interval(errors, words, BootstrapOptions(resamples=4000, seed=1))
    ref = loop_bootstrap([errors, words], corpus, 4000, seed=2)
    spread = statistics.pstdev(ref)
    assert got.estimate == pytest.approx(corpus(errors, words), rel=1e-12)
    # Monte-Carlo tolerance: two independent 4000-resample estimates of a 2.5% quantile differ
    # by about 0.07 standard deviations of the bootstrap distribution.
    assert got.low == pytest.approx(percentile(ref, 2.5), abs=0.35 * spread)
    assert got.high == pytest.approx(percentile(ref, 97.5), abs=0.35 * spread)
    assert got.low < got.estimate < got.high
    sums = resampled_sums(np.column_stack([errors, words]), BootstrapOptions(resamples=4000, seed=3))
    assert statistics.pstdev(sums[:, 0] / sums[:, 1]) == pytest.approx(spread, rel=0.1)


def test_many_utterances_with_few_distinct_counts_match_an_independent_bootstrap() -> None:
    """Large inputs with few distinct (errors, words) rows are drawn as a multinomial over the
    distinct rows: the same distribution as resampling rows."""
    rng = random.Random(12)
    words = [rng.randint(1, 5) for _ in range(3000)]
    errors = [min(w, int(rng.random() < 0.3) + int(rng.random() < 0.1)) for w in words]
    options = BootstrapOptions(resamples=4000, seed=1)
    matrix = np.column_stack([errors, words])
    fast = multinomial_sums(matrix, options)
    assert fast is not None  # the distinct-rows path is the one under test
    slow = resampled_sums(matrix, options)
    ref = loop_bootstrap([errors, words], corpus, 1500, seed=3)
    spread = statistics.pstdev(ref)
    got = ratio_interval(errors, words, options)
    assert got.low == pytest.approx(percentile(ref, 2.5), abs=0.5 * spread)
    assert got.high == pytest.approx(percentile(ref, 97.5), abs=0.5 * spread)
    for draws in (fast, slow):
        ratios = draws[:, 0] / draws[:, 1]
        assert statistics.pstdev(ratios) == pytest.approx(spread, rel=0.1)
        assert float(np.mean(ratios)) == pytest.approx(corpus(errors, words), abs=0.1 * spread)
    assert (fast[:, 1].sum() / len(fast)) == pytest.approx(sum(words), rel=0.01)


def test_paired_interval_matches_an_independent_paired_bootstrap() -> None:
    base_e, words = utterances(150, seed=7, rate=0.12)
    rng = random.Random(8)
    model_e = [max(0, e + rng.choice((-1, 0, 0, 1, 2))) for e in base_e]
    got = paired_bootstrap(base_e, words, model_e, words, BootstrapOptions(resamples=4000, seed=0))
    ref = loop_bootstrap([base_e, model_e, words], lambda b, m, w: (sum(m) - sum(b)) / sum(w), 4000, seed=5)
    spread = statistics.pstdev(ref)
    assert got.delta == pytest.approx((sum(model_e) - sum(base_e)) / sum(words), rel=1e-12)
    assert got.low == pytest.approx(percentile(ref, 2.5), abs=0.35 * spread)
    assert got.high == pytest.approx(percentile(ref, 97.5), abs=0.35 * spread)
    # the bootstrap p-value: twice the smaller share of draws on either side of zero (+1 corrected)
    smaller = min(sum(d <= 0 for d in ref), sum(d >= 0 for d in ref))
    assert got.p_value == pytest.approx(min(1.0, 2 * (1 + smaller) / (len(ref) + 1)), abs=0.02)
    diffs = [m - b for m, b in zip(model_e, base_e, strict=True)]
    assert (got.better, got.worse, got.same) == (sum(d < 0 for d in diffs), sum(d > 0 for d in diffs),
                                                 sum(d == 0 for d in diffs))
    from scipy.stats import wilcoxon

    assert got.wilcoxon_p == pytest.approx(wilcoxon([d for d in diffs if d]).pvalue)


@pytest.mark.parametrize("n", [1, 5, 300])
def test_a_system_compared_with_itself(n: int) -> None:
    errors, words = utterances(n, seed=3)
    got = paired_bootstrap(errors, words, errors, words, BootstrapOptions(resamples=500, seed=4))
    assert (got.delta, got.low, got.high, got.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (got.wilcoxon_p, got.sign_p) == (1.0, 1.0)
    assert (got.n, got.better, got.worse, got.same) == (n, 0, 0, n)


def test_constant_error_rate_has_a_zero_width_interval() -> None:
    got = ratio_interval([1, 2, 3, 4], [10, 20, 30, 40], BootstrapOptions(resamples=300))
    assert got.estimate == pytest.approx(0.1)
    assert got.low == pytest.approx(0.1) and got.high == pytest.approx(0.1)


def test_a_clear_regression_is_significant() -> None:
    errors, words = utterances(200, seed=11)
    worse = [e + 1 for e in errors]
    got = paired_bootstrap(errors, words, worse, words, BootstrapOptions(resamples=999, seed=0))
    assert got.delta > 0 and got.low > 0
    assert got.p_value == pytest.approx(2 / 1000)  # no draw at or below zero: 2 (1 + 0) / (999 + 1)
    assert got.wilcoxon_p < 1e-10 and got.sign_p < 1e-10
    assert (got.better, got.worse) == (0, 200)


@pytest.mark.parametrize("case", ["no rows", "zero words"])
def test_empty_input(case: str) -> None:
    errors, words = ([], []) if case == "no rows" else ([0, 0], [0, 0])
    got = ratio_interval(errors, words, BootstrapOptions(resamples=50, seed=9))
    assert (got.estimate, got.low, got.high) == (None, None, None)
    assert (got.n, got.resamples, got.seed) == (len(errors), 50, 9)
    pair = paired_bootstrap(errors, words, errors, words, BootstrapOptions(resamples=50))
    assert (pair.delta, pair.low, pair.high, pair.p_value) == (None, None, None, None)
    assert pair.n == len(errors)
    assert group_ratio_intervals([], ((0, 1),)) == []
    assert paired_bootstraps([]) == []


def test_seeded_and_recorded() -> None:
    errors, words = utterances(50, seed=1)
    a = ratio_interval(errors, words, BootstrapOptions(resamples=200, seed=5))
    b = ratio_interval(errors, words, BootstrapOptions(resamples=200, seed=5))
    c = ratio_interval(errors, words, BootstrapOptions(resamples=200, seed=6))
    assert a == b and (a.low, a.high) != (c.low, c.high)
    assert (a.resamples, a.seed, a.confidence) == (200, 5, 0.95)


def test_groups_resampled_together_equal_groups_alone() -> None:
    sizes = [30, 30, 7, 120]
    groups = []
    for i, n in enumerate(sizes):
        e, w = utterances(n, seed=20 + i)
        groups.append(np.column_stack([e, w, [x * 5 for x in e], [x * 6 for x in w]]))
    options = BootstrapOptions(resamples=300, seed=2)
    together = group_ratio_intervals(groups, ((0, 1), (2, 3)), options)
    for g, (wer, cer) in zip(groups, together, strict=True):
        assert wer == ratio_interval(g[:, 0], g[:, 1], options)
        assert cer == ratio_interval(g[:, 2], g[:, 3], options)


def test_narrower_confidence_gives_a_narrower_interval() -> None:
    errors, words = utterances(100, seed=4)
    wide = ratio_interval(errors, words, BootstrapOptions(resamples=500, confidence=0.95))
    narrow = ratio_interval(errors, words, BootstrapOptions(resamples=500, confidence=0.5))
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize("kwargs, message", [
    ({"resamples": 0}, "resamples must be a positive integer"),
    ({"resamples": 10.5}, "resamples must be a positive integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"confidence": 1.0}, "confidence must be between 0 and 1"),
])
def test_option_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BootstrapOptions(**kwargs)


@pytest.mark.parametrize("call, message", [
    (lambda: ratio_interval([1, 2], [3]), "differ in length"),
    (lambda: ratio_interval([1, float("nan")], [3, 4]), "NaN"),
    (lambda: paired_bootstrap([1], [2], [1, 2], [2, 3]), "equal lengths"),
    (lambda: ratio_interval([[1]], [[2]]), "one-dimensional"),
])
def test_bad_input(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 12)), min_size=1, max_size=40),
       st.sampled_from([19, 39, 100, 999, 1000]), st.sampled_from([0.9, 0.95, 0.99]), st.integers(0, 3))
def test_interval_excludes_zero_exactly_when_p_is_below_alpha(rows, resamples, confidence, seed) -> None:
    """One rule for both: the percentile interval excludes zero iff p < 1 - confidence."""
    base_e, model_e, words = ([r[i] for r in rows] for i in range(3))
    got = paired_bootstrap(base_e, words, model_e, words,
                           BootstrapOptions(resamples=resamples, seed=seed, confidence=confidence))
    excludes = got.low > 0 or got.high < 0
    assert excludes == (got.p_value < round(1 - confidence, 10))
    assert got.low <= got.high


def test_paired_interval_and_p_on_known_draws() -> None:
    draws = np.array([-0.01] * 24 + [0.02] * 975)  # 24 of 999 at or below zero
    low, high, p = paired_interval_and_p(draws, 0.95)
    assert p == pytest.approx(2 * 25 / 1000) and p == 0.05  # not below 0.05 ...
    assert low < 0  # ... so the interval holds zero
    low, high, p = paired_interval_and_p(np.array([-0.01] * 23 + [0.02] * 976), 0.95)
    assert p < 0.05 and low > 0
