"""Windows summed from 5-minute and hourly buckets against the one-shot PromQL value, on a real
Prometheus holding 32 days of counters (scraped every 15 s over the last day, every minute
before), with the error ratio and the traffic changing every 7 minutes, a counter reset, a
2-minute gap across a 5-minute edge and a 40-minute one across an hour's (each inside every
window long enough to hold it); and the raw samples a steady cycle reads, counted exactly."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slogate.cli.localprom import LocalPrometheus, backfill
from slogate.core.durations import format_duration
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.long_windows import summed_windows
from slogate.evaluation.prometheus import PrometheusClient
from tests.factories import make_slo

SCRAPE, MINUTE, HOUR, DAY = 15.0, 60.0, 3600.0, 86400.0
SLO = make_slo(
    "shop",
    "availability",
    errors='sum(rate(req_total{code="500"}[{{.window}}]))',
    total="sum(rate(req_total[{{.window}}]))",
)
FIRST = -3 * HOUR + 1234.567
"""The first cycle's time, relative to the anchor (the hour's edge before the test starts)."""
RESET = -3 * HOUR + 10
"""The counters restart from 0 17 s after a 5-minute (and hourly) edge, 24.6 min before
`FIRST`: inside every window from 30m on."""
GAPS = ((-4 * HOUR - 90, -4 * HOUR + 30), (-12 * HOUR - 1200, -12 * HOUR + 1200))
"""No samples: 2 minutes of scrapes missed across the 5-minute edge 4 h before the anchor
(inside every window from 2h on), and 40 minutes across the hour 12 h before (inside 1d, 3d
and 30d)."""


def scraped(anchor: float) -> Iterator[float]:
    """The scrape times for 32 days before `anchor`, 2 s past each step: every minute, every
    15 s over the last day; none in the gaps."""
    t = anchor - 32 * DAY + 2
    while t < anchor:
        if not any(start <= t - anchor <= end for start, end in GAPS):
            yield t
        t += SCRAPE if t >= anchor - DAY else MINUTE


def history(anchor: float) -> str:
    """2 to 2.4 requests a second, 1% to 1.6% of them errors, both changing every 7 minutes
    (relative to the anchor: the same data every run); the counters restart at `RESET`."""
    good = bad = 0.0
    lines_good, lines_bad = [], []
    last = anchor - 32 * DAY
    for t in scraped(anchor):
        while last < t:  # the traffic since the last scrape, second by second
            block = int((last - anchor) // (7 * MINUTE))
            total = 2 + 0.2 * (block % 3)
            ratio = 0.01 * (1 + 0.2 * (block % 4))
            bad += total * ratio
            good += total * (1 - ratio)
            last += 1
            if last - anchor == RESET:
                good = bad = 0.0
        lines_good.append(f'req_total{{code="200"}} {good:.3f} {t:.0f}')
        lines_bad.append(f'req_total{{code="500"}} {bad:.3f} {t:.0f}')
    return "\n".join(["# TYPE req counter", *lines_good, *lines_bad, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    workdir: Path = tmp_path_factory.mktemp("long-windows")
    anchor = math.floor(time.time() / HOUR) * HOUR
    source = workdir / "history.om"
    source.write_text(history(anchor))
    backfill(source, workdir / "data")
    server = LocalPrometheus(workdir)
    server.start()
    try:
        yield server.url, anchor
    finally:
        server.stop()


def samples_read(anchor: float, at: float, ranges: list[tuple[float, int]]) -> int:
    """The raw samples Prometheus reads for ranges (length, series read) ending at `at`: both
    ends included, as Prometheus 2 selects them."""
    times = list(scraped(anchor))
    return sum(series * sum(at - length <= t <= at for t in times) for length, series in ranges)


async def test_summed_windows_within_1_percent_of_one_shot(
    prometheus: tuple[str, float],
) -> None:
    url, anchor = prometheus
    first = anchor + FIRST
    summed_ones = summed_windows(SLO).windows
    assert summed_ones == (1800, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY, 30 * DAY)
    async with PrometheusClient(url, timeout=60, stats=True) as client:
        one_shot = Evaluator(client, mode=Mode.DIRECT)
        summed = Evaluator(client, mode=Mode.DIRECT, long_windows=True)
        snapshot = None
        # the first cycle fetches both levels; then a fine bucket when a 5-minute step has
        # ended, and an hour later its 12 fine buckets (the hourly ones are summed from them)
        for at, range_queries in ((first, 2), (first + 60, 0), (first + 300, 1), (first + HOUR, 1)):
            sent = client.costs.queries
            snapshot = await summed.evaluate([SLO], snapshot, at=at)
            assert client.costs.queries - sent - 1 == range_queries
            samples = summed.last_cost.samples
            reference = await one_shot.evaluate([SLO], at=at)
            got, want = snapshot.statuses[SLO.id], reference.statuses[SLO.id]
            assert got.error is None and want.error is None
            for window in SLO.windows.windows:
                ours, theirs = got.error_ratios[window], want.error_ratios[window]
                assert ours is not None and theirs is not None
                if window not in summed_ones:  # asked as they are, the same query
                    assert ours == theirs, format_duration(window)
                else:
                    print(f"{format_duration(window)}: {ours / theirs - 1:+.4%} vs one-shot")
                    assert ours == pytest.approx(theirs, rel=0.01), format_duration(window)
                    assert ours != theirs  # summed from buckets, not the one-shot query
            if range_queries == 0:
                # the 5m ratio (errors, and both series for the total) and the head's counts
                head = at - (math.floor(at / 300) - 1) * 300
                assert samples == samples_read(anchor, at, [(300, 3), (head, 3)])
                print(f"samples read: {samples} vs one-shot {one_shot.last_cost.samples}")
