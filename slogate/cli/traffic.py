"""Synthetic request traffic with a known error ratio over time, for demos and tests.

A `Traffic` is a constant request rate whose error ratio is piecewise constant: each `Phase`
sets the ratio from its start (seconds relative to an anchor time, negative is the past) until
the next phase. Counter values are exact integrals, so burn rates over any window are known in
closed form, and the same model serves backfilled history (OpenMetrics for `promtool tsdb
create-blocks-from openmetrics`) and live scrapes that continue it seamlessly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

METRIC = "http_requests"
JOB = "slogate-demo"
INSTANCE = "demo"
BASE_TOTAL = 1_000_000.0
BASE_ERRORS = 1_000.0


@dataclass(frozen=True, slots=True)
class Phase:
    start: float
    error_ratio: float


@dataclass(frozen=True, slots=True)
class Traffic:
    """One service's requests: `rps` per second, error ratio by phase (first phase: −∞).

    `labels` are more labels of its series, e.g. the pod template hash telling a canary's
    series from its baseline's (a service may then have several `Traffic`s); `since` is when
    its series appear (a version deployed a few hours ago has no month of history)."""

    service: str
    rps: float
    phases: tuple[Phase, ...]
    labels: tuple[tuple[str, str], ...] = ()
    since: float = -math.inf

    def error_ratio_at(self, t: float) -> float:
        ratio = self.phases[0].error_ratio
        for phase in self.phases:
            if t >= phase.start:
                ratio = phase.error_ratio
        return ratio

    def errors_between(self, a: float, b: float) -> float:
        """Failed requests in [a, b] (times relative to the anchor)."""
        total = 0.0
        bounds = [*(p.start for p in self.phases[1:]), math.inf]
        lower = -math.inf
        for phase, upper in zip(self.phases, bounds, strict=True):
            lo, hi = max(a, lower), min(b, upper)
            if hi > lo:
                total += (hi - lo) * phase.error_ratio * self.rps
            lower = upper
        return total

    def error_ratio_between(self, a: float, b: float) -> float | None:
        """The exact error ratio over [a, b]; None without traffic."""
        if self.rps == 0 or b <= a:
            return None
        return self.errors_between(a, b) / (self.rps * (b - a))

    def counters(self, t: float, origin: float) -> tuple[float, float]:
        """(good, failed) counter values at `t` for counters that started at `origin`."""
        failed = BASE_ERRORS + self.errors_between(origin, t)
        total = BASE_TOTAL + self.rps * (t - origin)
        return total - failed, failed


def labels(traffic: Traffic, code: str) -> str:
    pairs = {"code": code, "instance": INSTANCE, "job": JOB, "service": traffic.service}
    pairs.update(traffic.labels)
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items())) + "}"


def sample_times(start: float, end: float, tiers: Sequence[tuple[float, float]]) -> Iterator[float]:
    """Times from `start` to `end`; `tiers` are (age above which, step) pairs, coarsest first.

    With `[(3 * DAY, 900), (DAY, 300), (0, 60)]` samples are 15 min apart when older than three
    days, 5 min apart when older than one, and 1 min apart after that (age relative to 0).
    """
    t = start
    while t <= end:
        yield t
        step = next((s for age, s in tiers if -t > age), tiers[-1][1])
        t += step


def openmetrics(
    traffic: Iterable[Traffic],
    *,
    anchor: float,
    start: float,
    end: float,
    tiers: Sequence[tuple[float, float]],
) -> str:
    """OpenMetrics text of every service's counters from `start` to `end` (relative times)."""
    times = list(sample_times(start, end, tiers))
    lines = [f"# TYPE {METRIC} counter", f"# HELP {METRIC} Requests served, by status code."]
    for t in traffic:
        good_lines, bad_lines = [], []
        good_labels, bad_labels = labels(t, "200"), labels(t, "500")
        for rel in (r for r in times if r >= t.since):
            good, bad = t.counters(rel, start)
            ts = anchor + rel
            good_lines.append(f"{METRIC}_total{good_labels} {good:.3f} {ts:.3f}")
            bad_lines.append(f"{METRIC}_total{bad_labels} {bad:.3f} {ts:.3f}")
        lines += good_lines + bad_lines
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def exposition(traffic: Iterable[Traffic], *, now: float, anchor: float, start: float) -> str:
    """Prometheus text exposition of the counters at `now` (for live scrapes)."""
    lines = [
        f"# HELP {METRIC}_total Requests served, by status code.",
        f"# TYPE {METRIC}_total counter",
    ]
    for t in traffic:
        good, bad = t.counters(now - anchor, start)
        lines.append(f"{METRIC}_total{labels(t, '200')} {good:.3f}")
        lines.append(f"{METRIC}_total{labels(t, '500')} {bad:.3f}")
    return "\n".join(lines) + "\n"
