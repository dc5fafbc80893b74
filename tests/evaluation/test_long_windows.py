"""Long windows summed from hourly buckets: which SLIs qualify, and the sums against an
independent integral of the same piecewise-constant traffic (httpx.MockTransport)."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs

import httpx
import pytest

from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.long_windows import additive, long_windows
from slogate.evaluation.prometheus import PrometheusClient
from tests.factories import make_slo

HOUR, DAY = 3600.0, 86400.0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('sum(rate(req_total{code=~"5.."}[{{.window}}]))', True),
        ("(sum(rate(a[{{.window}}])))", True),
        ("sum(sum by (code) (rate(a[{{.window}}])))", True),
        ("sum by (code) (rate(a[{{.window}}]))", False),  # several series
        ("rate(a[{{.window}}])", False),  # not one series
        ("sum(increase(a[{{.window}}]))", False),
        ("sum(rate(a[5m]))", False),  # a fixed range, not the window
        ("sum(rate(a[{{.window}}] offset 1h))", False),
        ("sum(rate(a[{{.window}}])) * 2", False),
        ("sum(rate(a[{{.window}}]", False),  # not PromQL
    ],
)
def test_additive_slis(query: str, expected: bool) -> None:
    assert additive(query) is expected


def test_only_long_windows_of_additive_events_slis() -> None:
    assert long_windows(
        make_slo(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")
    ) == (
        DAY,
        3 * DAY,
        30 * DAY,
    )
    assert long_windows(make_slo()) == ()  # e[...] alone is no rate


def errors_rate(t: float) -> float:
    """Errors per second during the hour holding `t` (constant within each hour)."""
    return (1 + int(t // HOUR) % 5) / 60


def total_rate(t: float) -> float:
    return (100 + 10 * (int(t // HOUR) % 3)) / 60


def integral(rate: object, start: float, end: float) -> float:
    """∫ rate over (start, end], hour by hour: the independent oracle."""
    assert callable(rate)
    total, t = 0.0, start
    while t < end:
        step_end = min(end, (math.floor(t / HOUR) + 1) * HOUR)
        total += rate(t) * (step_end - t)
        t = step_end
    return total


TAG = re.compile(r'"slogate_window", "(\w+)", "", ""\)')


def prometheus(handler_log: list[str]) -> httpx.MockTransport:
    """Answers what Prometheus would for traffic at exactly `errors_rate` / `total_rate`."""

    def answer(window: str, at: float, length: float) -> float:
        if window == "errors":
            return integral(errors_rate, at - length, at) / length
        if window == "total":
            return integral(total_rate, at - length, at) / length
        return 0.001

    def handler(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        handler_log.append(request.url.path)
        query = form["query"]
        result: list[dict[str, object]]
        if request.url.path.endswith("query_range"):
            start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
            points = [start + k * step for k in range(int((end - start) / step) + 1)]
            result = [
                {
                    "metric": {"slogate_window": part},
                    "values": [[t, repr(answer(part, t, HOUR))] for t in points],
                }
                for part in ("errors", "total")
            ]
            kind = "matrix"
        else:
            at = float(form["time"])
            head = at - math.floor(at / HOUR) * HOUR + HOUR
            result = [
                {"metric": {"slogate_window": w}, "value": [at, repr(answer(w, at, head))]}
                for w in TAG.findall(query)
            ]
            kind = "vector"
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": kind, "result": result}}
        )

    return httpx.MockTransport(handler)


async def test_long_windows_are_the_integral_of_the_traffic() -> None:
    slo = make_slo(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")
    paths: list[str] = []
    async with PrometheusClient("http://prom.test", transport=prometheus(paths)) as client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, long_windows=True)
        snapshot = None
        # the buckets fetched at the first cycle, topped up once an hour has ended
        for at, ranges in ((1_700_001_234.5, 1), (1_700_002_000.0, 0), (1_700_005_000.25, 1)):
            paths.clear()
            snapshot = await evaluator.evaluate([slo], snapshot, at=at)
            status = snapshot.statuses[slo.id]
            for window in (DAY, 3 * DAY, 30 * DAY):
                want = integral(errors_rate, at - window, at) / integral(
                    total_rate, at - window, at
                )
                assert status.error_ratios[window] == pytest.approx(want, rel=1e-9)
            assert status.error_ratios[300] == 0.001
            assert paths.count("/api/v1/query") == 1
            assert paths.count("/api/v1/query_range") == ranges
