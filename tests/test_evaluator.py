"""The evaluator against a scripted backend (httpx.MockTransport): query shapes and counting."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx

from slogate.evaluator import Evaluator, Mode
from slogate.prometheus import PrometheusClient
from tests.factories import make_slo

SLO_ = make_slo(
    errors="sum(rate(errors_total[{{.window}}]))", total="sum(rate(requests_total[{{.window}}]))"
)


def vector(*values: str) -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1, v]} for v in values],
        },
    }


def backend(answer: Callable[[str], dict[str, object]], seen: list[str]) -> PrometheusClient:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.content.decode())["query"][0]
        seen.append(query)
        return httpx.Response(200, json=answer(query))

    return PrometheusClient("http://prom.test", transport=httpx.MockTransport(handler))


async def evaluate(
    answer: Callable[[str], dict[str, object]],
) -> tuple[dict[float, float | None], list[str], int]:
    seen: list[str] = []
    async with backend(answer, seen) as client:
        snapshot = await Evaluator(client, mode=Mode.DIRECT).evaluate([SLO_], at=1000.0)
    return dict(snapshot.statuses[SLO_.id].error_ratios), seen, snapshot.queries


async def test_one_expression_per_window_dividing_errors_by_total() -> None:
    ratios, seen, queries = await evaluate(lambda q: vector("0.002"))
    assert queries == 8 and len(seen) == 8
    assert seen[0] == "(sum(rate(errors_total[5m])))\n/\n(sum(rate(requests_total[5m])))\n"
    assert set(ratios.values()) == {0.002}


async def test_absent_error_series_with_traffic_is_zero_not_no_data() -> None:
    def answer(query: str) -> dict[str, object]:
        return vector() if "errors_total" in query else vector("12.5")

    ratios, seen, queries = await evaluate(answer)
    assert set(ratios.values()) == {0.0}
    assert queries == 16 and seen[1].startswith("(sum(rate(requests_total[")


async def test_no_traffic_is_no_data() -> None:
    for total in (vector(), vector("0"), vector("NaN")):

        def answer(query: str, total: dict[str, object] = total) -> dict[str, object]:
            return vector() if "errors_total" in query else total

        ratios, _, _ = await evaluate(answer)
        assert set(ratios.values()) == {None}
    ratios, _, queries = await evaluate(lambda q: vector("NaN"))  # 0/0 from Prometheus itself
    assert set(ratios.values()) == {None} and queries == 8


async def test_rules_mode_reads_every_slo_per_window() -> None:
    seen: list[str] = []

    def answer(query: str) -> dict[str, object]:
        return {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"sloth_id": "api-availability"}, "value": [1, "0.001"]},
                    {
                        "metric": {"sloth_id": "api-availability", "replica": "b"},
                        "value": [1, "0.003"],
                    },
                    {"metric": {"sloth_id": "other"}, "value": [1, "0.5"]},
                ],
            },
        }

    async with backend(answer, seen) as client:
        snapshot = await Evaluator(client, mode=Mode.AUTO).evaluate([SLO_], at=1000.0)
    assert seen[0] == 'slo:sli_error:ratio_rate5m{sloth_id!=""}'
    assert snapshot.queries == 8 and snapshot.from_rules == 1
    assert set(snapshot.statuses[SLO_.id].error_ratios.values()) == {0.003}  # the worst series
