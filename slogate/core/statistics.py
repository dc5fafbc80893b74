"""The two one-sided tests the canary judge uses, in pure Python (no scipy at runtime).

- `rate_ratio_test`: the conditional binomial test of two Poisson rates. Given the canary's
  `x` errors in `n` events and the baseline's `y` in `m`, and conditioning on `x + y`, the
  canary's share of errors is Binomial(x + y, k·n / (k·n + m)) when the canary's error rate is
  exactly `k` times the baseline's. The p-value of H0 "canary rate ≤ k × baseline rate" is
  P(X ≥ x) under it, an exact tail computed through the regularized incomplete beta function
  (`binomtest(x, x + y, p0, alternative="greater")` in scipy).
- `mann_whitney_greater`: the Mann-Whitney U test that the first sample tends to be larger
  (`mannwhitneyu(x, y, alternative="greater")`): exact distribution of U without ties when a
  side has at most 8 values (scipy's own choice), else the normal approximation with the tie
  and continuity corrections.

Both are O(size of the data) apart from the exact U distribution, O(m²·n) in integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPSILON = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 10_000
EXACT_MAX = 8
"""Mann-Whitney: the exact distribution is used when the smaller side has at most this many
values and nothing is tied (as scipy's `method="auto"`)."""


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's evaluation of the continued fraction of I_x(a, b) (Numerical Recipes 6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPSILON:
            return h
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    return regularized_beta(k, n - k + 1, p)


@dataclass(frozen=True, slots=True)
class TestResult:
    statistic: float
    p_value: float
    method: str


def rate_ratio_test(
    canary_errors: int,
    canary_events: float,
    baseline_errors: int,
    baseline_events: float,
    allowed_ratio: float,
) -> TestResult:
    """One-sided test of H0: canary error rate ≤ `allowed_ratio` × baseline error rate.

    Both sides need events (the caller judges "no data" before asking). No errors at all is no
    evidence against H0: p = 1."""
    weighted = allowed_ratio * canary_events
    p0 = weighted / (weighted + baseline_events)
    trials = canary_errors + baseline_errors
    p_value = binomial_tail(canary_errors, trials, p0)
    return TestResult(float(canary_errors), p_value, "conditional binomial test of Poisson rates")


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks of `values` (1-based) and the sizes of their groups of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for position in range(i, j + 1):
            ranks[order[position]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _exact_upper_tail(u: float, m: int, n: int) -> float:
    """P(U ≥ u) without ties: U's counts are the coefficients of the Gaussian binomial
    [m+n choose m]_q = ∏_{i=1..m} (1 − q^(n+i)) / (1 − q^i)."""
    small, large = min(m, n), max(m, n)
    degree = small * large
    poly = [0] * (degree + 1)
    poly[0] = 1
    for i in range(1, small + 1):
        shift = large + i
        for power in range(degree, shift - 1, -1):  # multiply by (1 − q^shift)
            poly[power] -= poly[power - shift]
        for power in range(i, degree + 1):  # divide by (1 − q^i): running sums of stride i
            poly[power] += poly[power - i]
    start = math.ceil(u - 1e-9)
    return sum(poly[max(start, 0) :]) / math.comb(m + n, m)


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> TestResult:
    """One-sided Mann-Whitney U test that `x` tends to be larger than `y` (both non-empty).

    Identical samples throughout are no evidence: p = 1."""
    m, n = len(x), len(y)
    ranks, ties = _ranks([*x, *y])
    u = sum(ranks[:m]) - m * (m + 1) / 2
    if min(m, n) <= EXACT_MAX and all(t == 1 for t in ties):
        return TestResult(u, _exact_upper_tail(u, m, n), "Mann-Whitney U, exact")
    total = m + n
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1))
    variance = m * n / 12 * ((total + 1) - tie_term)
    if variance <= 0:
        return TestResult(u, 1.0, "Mann-Whitney U, all values tied")
    z = (u - m * n / 2 - 0.5) / math.sqrt(variance)
    return TestResult(u, 0.5 * math.erfc(z / math.sqrt(2)), "Mann-Whitney U, normal approximation")
