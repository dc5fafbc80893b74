"""The canary judge's tests against scipy, on the same inputs."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from slogate.core.statistics import (
    binomial_tail,
    mann_whitney_greater,
    rate_ratio_test,
    regularized_beta,
)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(1, 1, 0.3), (36, 6, 0.073), (0.5, 0.5, 0.999), (500, 99501, 0.004), (3, 2000, 0.5)],
)
def test_regularized_beta_matches_scipy(a: float, b: float, x: float) -> None:
    assert regularized_beta(a, b, x) == pytest.approx(stats.beta.cdf(x, a, b), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(36, 41, 1800 / 24600), (3, 3, 0.07), (5, 1000, 0.001), (500, 100000, 0.004), (1, 5, 0.9),
     (0, 10, 0.2), (10, 10, 0.5), (7, 12, 0.0)],
)  # fmt: skip
def test_binomial_tail_matches_binomtest(k: int, n: int, p: float) -> None:
    expected = stats.binomtest(k, n, p, alternative="greater").pvalue if p > 0 else 0.0
    assert binomial_tail(k, n, p) == pytest.approx(expected, rel=1e-8, abs=1e-300)


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [
        ((36, 1200.0), (5, 22800.0)),  # DESIGN §8's bad canary: 3% vs 0.02%
        ((1, 1200.0), (5, 22800.0)),
        ((0, 1200.0), (5, 22800.0)),  # no canary errors
        ((3, 1200.0), (0, 22800.0)),  # no baseline errors
        ((2, 40.0), (10, 22800.0)),  # a tiny canary
        ((60, 1200.0), (1140, 22800.0)),  # both burning alike
    ],
)
def test_rate_ratio_test_is_binomtest_of_the_canary_share(
    canary: tuple[int, float], baseline: tuple[int, float]
) -> None:
    (x, n), (y, m) = canary, baseline
    p0 = 1.5 * n / (1.5 * n + m)
    expected = stats.binomtest(x, x + y, p0, alternative="greater").pvalue if x + y else 1.0
    result = rate_ratio_test(x, n, y, m, 1.5)
    assert result.p_value == pytest.approx(expected, rel=1e-8, abs=1e-300)


def test_zero_errors_on_both_sides_is_no_evidence() -> None:
    assert rate_ratio_test(0, 1200.0, 0, 22800.0, 1.5).p_value == 1.0


def test_bad_canary_is_significant_and_alike_is_not() -> None:
    assert rate_ratio_test(36, 1200.0, 5, 22800.0, 1.5).p_value < 1e-30
    assert rate_ratio_test(60, 1200.0, 1140, 22800.0, 1.5).p_value > 0.5


def _samples(rng: random.Random, size: int, scale: float, *, grid: float = 0.0) -> list[float]:
    values = [rng.expovariate(1 / scale) for _ in range(size)]
    return [round(v / grid) * grid for v in values] if grid else values


@pytest.mark.parametrize(
    ("m", "n", "shift", "grid", "method"),
    [
        (5, 7, 1.0, 0.0, "exact"),
        (8, 30, 1.5, 0.0, "exact"),
        (3, 3, 2.0, 0.0, "exact"),
        (11, 11, 1.2, 0.0, "asymptotic"),
        (21, 21, 3.0, 0.0, "asymptotic"),
        (12, 40, 1.0, 0.0005, "asymptotic"),  # ties: normal approximation, tie-corrected
        (6, 6, 1.0, 0.001, "asymptotic"),  # ties in small samples
    ],
)
def test_mann_whitney_matches_scipy(m: int, n: int, shift: float, grid: float, method: str) -> None:
    rng = random.Random(m * 100 + n)
    x = _samples(rng, m, 0.002 * shift, grid=grid)
    y = _samples(rng, n, 0.002, grid=grid)
    ours = mann_whitney_greater(x, y)
    theirs = stats.mannwhitneyu(x, y, alternative="greater", method=method)
    assert ours.statistic == theirs.statistic
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ("exact" in ours.method) is (method == "exact")


def test_mann_whitney_all_tied_is_no_evidence() -> None:
    assert mann_whitney_greater([0.0] * 10, [0.0] * 10).p_value == 1.0
