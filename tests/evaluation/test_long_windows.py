"""Windows summed from 5-minute and hourly buckets: which SLIs and windows qualify, the sums
against an independent integral of the same piecewise-constant traffic, and the range queries
each cycle sends (httpx.MockTransport)."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs

import httpx
import pytest

from slogate.core.windows import AlertWindows, BurnWindow
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.long_windows import Summed, additive, summed_windows
from slogate.evaluation.prometheus import PrometheusClient
from slogate.sloth.promql import parse
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


def test_windows_summed_of_additive_events_slis() -> None:
    slo = make_slo(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")
    # 5m stays a one-shot query: the head alone is 5 to 10 minutes
    assert summed_windows(slo) == Summed((1800, HOUR, 2 * HOUR, 6 * HOUR), (DAY, 3 * DAY, 30 * DAY))
    assert summed_windows(make_slo()) == Summed()  # e[...] alone is no rate


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


def prometheus(
    handler_log: list[str], down: list[bool] | None = None, queries: list[str] | None = None
) -> httpx.MockTransport:
    """Answers what Prometheus would for traffic at exactly `errors_rate` / `total_rate`;
    range queries fail with 503 while `down[0]` is set; every query's text goes to `queries`."""

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
        if queries is not None:
            queries.append(query)
        result: list[dict[str, object]]
        if request.url.path.endswith("query_range"):
            start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
            handler_log.append(f"step {step:g} from {start:.0f}")
            if down and down[0]:
                return httpx.Response(503, text="unavailable")
            points = [start + k * step for k in range(int((end - start) / step) + 1)]
            result = [
                {
                    "metric": {"slogate_window": part},
                    "values": [[t, repr(answer(part, t, step))] for t in points],
                }
                for part in ("errors", "total")
            ]
            kind = "matrix"
        else:
            at = float(form["time"])
            head = at - (math.floor(at / 300) - 1) * 300
            result = [
                {"metric": {"slogate_window": w}, "value": [at, repr(answer(w, at, head))]}
                for w in TAG.findall(query)
            ]
            kind = "vector"
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": kind, "result": result}}
        )

    return httpx.MockTransport(handler)


async def test_summed_windows_are_the_integral_of_the_traffic() -> None:
    slo = make_slo(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")
    paths: list[str] = []
    first = 1_700_001_234.5
    fine_edge = (math.floor(first / 300) - 1) * 300  # the last bucket the first cycle uses
    async with PrometheusClient("http://prom.test", transport=prometheus(paths)) as client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, long_windows=True)
        snapshot = None
        for at, ranges in (
            # both levels fetched at the first cycle: 5m back to 6h ago, 1h back to 30d ago
            (
                first,
                [
                    f"step 300 from {fine_edge - 70 * 300:.0f}",
                    f"step 3600 from {fine_edge // 3600 * 3600 - 719 * 3600:.0f}",
                ],
            ),
            (first + 50, []),  # the same 5-minute step: nothing to fetch
            (first + 300, [f"step 300 from {fine_edge + 300:.0f}"]),
            # an hour later: the 12 missing fine buckets, and the hourly ones summed from them
            (first + 300 + HOUR, [f"step 300 from {fine_edge + 600:.0f}"]),
        ):
            paths.clear()
            snapshot = await evaluator.evaluate([slo], snapshot, at=at)
            status = snapshot.statuses[slo.id]
            for window in (1800, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY, 30 * DAY):
                want = integral(errors_rate, at - window, at) / integral(
                    total_rate, at - window, at
                )
                assert status.error_ratios[window] == pytest.approx(want, rel=1e-9), window
            assert status.error_ratios[300] == 0.001
            assert paths.count("/api/v1/query") == 1
            assert [p for p in paths if p.startswith("step")] == ranges


def expected(at: float, window: float) -> float:
    return integral(errors_rate, at - window, at) / integral(total_rate, at - window, at)


async def test_a_failed_top_up_is_one_shot_once_then_resumes_where_it_stopped() -> None:
    slo = make_slo(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")
    paths: list[str] = []
    down = [False]
    first = 1_700_001_234.5
    fine_edge = (math.floor(first / 300) - 1) * 300
    async with PrometheusClient("http://prom.test", transport=prometheus(paths, down)) as client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, long_windows=True)
        snapshot = await evaluator.evaluate([slo], at=first)
        # an hour later the range query fails: this cycle asks every window whole
        down[0] = True
        paths.clear()
        snapshot = await evaluator.evaluate([slo], snapshot, at=first + HOUR)
        fetch = f"step 300 from {fine_edge + 300:.0f}"
        assert paths == ["/api/v1/query_range", fetch, "/api/v1/query"]
        assert (snapshot.queries, snapshot.failed_queries) == (2, 1)
        status = snapshot.statuses[slo.id]
        assert status.error is None and status.error_ratios[DAY] == 0.001  # the one-shot answer
        # back: the fine buckets fetched from where they stopped, the missed hour summed from them
        down[0] = False
        paths.clear()
        at = first + HOUR + 300
        snapshot = await evaluator.evaluate([slo], snapshot, at=at)
        assert [p for p in paths if p.startswith("step")] == [
            f"step 300 from {fine_edge + 300:.0f}"
        ]
        for window in (1800, 6 * HOUR, DAY, 30 * DAY):
            got = snapshot.statuses[slo.id].error_ratios[window]
            assert got == pytest.approx(expected(at, window), rel=1e-9), window


async def test_an_slo_with_every_window_summed_asks_only_the_head() -> None:
    period = 30 * DAY
    windows = AlertWindows(
        period=period,
        page_quick=BurnWindow(2, 600, HOUR, period),  # 10m: twice the fine step, summed too
        page_slow=BurnWindow(5, 1800, 6 * HOUR, period),
        ticket_quick=BurnWindow(10, 2 * HOUR, DAY, period),
        ticket_slow=BurnWindow(10, 6 * HOUR, 3 * DAY, period),
    )
    slo = make_slo(
        errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))", windows=windows
    )
    assert summed_windows(slo).windows == slo.windows.windows
    paths: list[str] = []
    queries: list[str] = []
    at = 1_700_001_234.5
    transport = prometheus(paths, queries=queries)
    async with PrometheusClient("http://prom.test", transport=transport) as client:
        snapshot = await Evaluator(client, mode=Mode.DIRECT, long_windows=True).evaluate(
            [slo], at=at
        )
    assert paths.count("/api/v1/query") == 1
    for query in queries:  # the head's counts alone, no window's ratio: still one expression
        parse(query)
    for window in slo.windows.windows:
        got = snapshot.statuses[slo.id].error_ratios[window]
        assert got == pytest.approx(expected(at, window), rel=1e-9), window
