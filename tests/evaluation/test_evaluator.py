"""The evaluator against a scripted backend (httpx.MockTransport): query shapes and counting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from slogate.core.model import SLO
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.prometheus import PrometheusClient
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


TAGGED = re.compile(r'label_replace\((.*), "slogate_window", "(\w+)", "", ""\)', re.S)
PART = re.compile(  # a window of a batch: the first of an SLO opens its tag, the last closes it
    r'(?:label_replace\()?(label_replace\(.*, "slogate_window", "\w+", "", ""\))'
    r'(?:, "slogate_slo", "(\d+)", "", ""\))?',
    re.S,
)


def backend(answer: Callable[[str], dict[str, Any]], seen: list[str]) -> PrometheusClient:
    """`answer` gives each plain expression's result; an SLO's windows query (or a batch of
    them) is answered as Prometheus does: every window's expression answered, tagged with its
    window (and SLO), joined."""

    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.content.decode())["query"][0]
        seen.append(query)
        parts = [PART.fullmatch(part) for part in query.split("\nor\n")]
        if not all(parts):
            return httpx.Response(200, json=answer(query))
        result, pending = [], []
        for part in parts:
            assert part is not None
            window = TAGGED.fullmatch(part[1])
            assert window is not None
            pending.append(window)
            if part[2] is None and part is not parts[-1]:
                continue
            slo = {} if part[2] is None else {"slogate_slo": part[2]}
            result += [
                {
                    "metric": {**item["metric"], "slogate_window": w[2], **slo},
                    "value": item["value"],
                }
                for w in pending
                for item in answer(w[1])["data"]["result"]
            ]
            pending = []
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    return PrometheusClient("http://prom.test", transport=httpx.MockTransport(handler))


async def evaluate(
    answer: Callable[[str], dict[str, Any]],
) -> tuple[dict[float, float | None], list[str], int]:
    seen: list[str] = []
    async with backend(answer, seen) as client:
        snapshot = await Evaluator(client, mode=Mode.DIRECT).evaluate([SLO_], at=1000.0)
    return dict(snapshot.statuses[SLO_.id].error_ratios), seen, snapshot.queries


async def test_one_query_per_slo_with_one_expression_per_window() -> None:
    ratios, seen, queries = await evaluate(lambda q: vector("0.002"))
    assert queries == 1 and len(seen) == 1
    parts = seen[0].split("\nor\n")
    assert len(parts) == 8
    assert parts[0] == (
        "label_replace((sum(rate(errors_total[5m])))\n/\n(sum(rate(requests_total[5m])))\n,"
        ' "slogate_window", "5m", "", "")'
    )
    assert '[30d])))\n, "slogate_window", "30d", "", "")' in parts[7]
    assert set(ratios.values()) == {0.002}


async def test_each_window_takes_its_own_series() -> None:
    def answer(query: str) -> dict[str, Any]:
        return vector("0.5") if "[1h]" in query else vector("0.001")

    ratios, _, queries = await evaluate(answer)
    assert ratios[3600.0] == 0.5
    assert {w: r for w, r in ratios.items() if w != 3600.0} == {
        w: 0.001 for w in SLO_.windows.windows if w != 3600.0
    }
    assert queries == 1


async def test_only_an_empty_window_asks_for_traffic() -> None:
    def answer(query: str) -> dict[str, object]:
        if "errors_total[6h]" in query:
            return vector()
        return vector("40") if query.startswith("(sum(rate(requests_total[6h]") else vector("0.1")

    ratios, seen, queries = await evaluate(answer)
    assert queries == 2 and seen[1] == "(sum(rate(requests_total[6h])))"
    assert ratios[6 * 3600.0] == 0.0 and ratios[3600.0] == 0.1


async def test_absent_error_series_with_traffic_is_zero_not_no_data() -> None:
    def answer(query: str) -> dict[str, object]:
        return vector() if "errors_total" in query else vector("12.5")

    ratios, seen, queries = await evaluate(answer)
    assert set(ratios.values()) == {0.0}
    assert queries == 9 and all(q.startswith("(sum(rate(requests_total[") for q in seen[1:])


async def test_no_traffic_is_no_data() -> None:
    for total in (vector(), vector("0"), vector("NaN")):

        def answer(query: str, total: dict[str, object] = total) -> dict[str, object]:
            return vector() if "errors_total" in query else total

        ratios, _, _ = await evaluate(answer)
        assert set(ratios.values()) == {None}
    ratios, _, queries = await evaluate(lambda q: vector("NaN"))  # 0/0 from Prometheus itself
    assert set(ratios.values()) == {None} and queries == 1


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
    assert seen[0] == "max by (sloth_id) (slo:sli_error:ratio_rate5m != +Inf)"
    assert snapshot.queries == 8 and snapshot.from_rules == 1
    assert set(snapshot.statuses[SLO_.id].error_ratios.values()) == {0.003}  # the worst series


def fleet(n: int) -> list[SLO]:
    """`n` SLOs, each with an SLI of its own (identical SLIs share one query)."""
    return [make_slo(f"svc{i:02d}", errors=f"e{i}[{{{{.window}}}}]") for i in range(n)]


async def test_slos_go_in_batches_that_keep_every_worker_busy() -> None:
    """30 SLOs over 16 workers: batches of 2 (15 queries); 1,000: batches of 10 (100)."""
    for count, batch_size, want in ((30, 10, 15), (1000, 10, 100), (1000, 4, 250), (5, 10, 5)):
        seen: list[str] = []
        async with backend(lambda q: vector("0.001"), seen) as client:
            evaluator = Evaluator(client, mode=Mode.DIRECT, batch_size=batch_size)
            snapshot = await evaluator.evaluate(fleet(count), at=1000.0)
        assert snapshot.queries == len(seen) == want, (count, batch_size)


async def test_a_batch_tags_each_slo_with_its_index() -> None:
    seen: list[str] = []
    async with backend(lambda q: vector("0.001"), seen) as client:
        await Evaluator(client, mode=Mode.DIRECT, concurrency=1).evaluate(fleet(3), at=1000.0)
    [query] = seen
    assert query.startswith("label_replace(label_replace((e0[5m])\n/\n(t[5m])\n,")
    for n in range(3):
        assert query.count(f'"slogate_slo", "{n}", "", "")') == 1
    assert query.count('"slogate_window", "30d"') == 3


async def test_an_unreachable_backend_fails_a_batch_without_retrying_each_slo() -> None:
    sent: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        raise httpx.ConnectError("refused")

    client = PrometheusClient("http://prom.test", transport=httpx.MockTransport(refuse))
    async with client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, concurrency=1)
        snapshot = await evaluator.evaluate(fleet(10), at=1000.0)
    assert len(sent) == 1 and snapshot.queries == 1 and snapshot.failed_queries == 1
    assert all("cannot reach" in (s.error or "") for s in snapshot.statuses.values())


async def test_a_batch_query_is_built_again_for_reloaded_slos() -> None:
    """Query texts are kept between cycles, but an SLO reloaded under the same id gets its new
    expression at once."""
    seen: list[str] = []
    async with backend(lambda q: vector("0.001"), seen) as client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, concurrency=1)
        await evaluator.evaluate(fleet(3), at=1000.0)
        await evaluator.evaluate(fleet(3), at=1000.0)
        changed = [*fleet(2), make_slo("svc02", errors="f2[{{.window}}]")]
        await evaluator.evaluate(changed, at=1000.0)
    assert seen[0] == seen[1] and "f2[5m]" not in seen[1]
    assert "(f2[5m])" in seen[2] and "(e2[5m])" not in seen[2] and "(e1[5m])" in seen[2]


async def test_slos_with_the_same_sli_share_one_query_and_keep_their_own_figures() -> None:
    """Three objectives of one SLI and one other SLI: two expressions sent, not four; each SLO
    gets its own burn rates from the shared error ratio."""
    seen: list[str] = []
    objectives = (99.0, 99.9, 99.99)
    same = [make_slo("api", f"o{n}", objective=o) for n, o in enumerate(objectives)]
    other = make_slo("web", errors="f[{{.window}}]")

    async with backend(lambda q: vector("0.002" if "(e[" in q else "0.004"), seen) as client:
        evaluator = Evaluator(client, mode=Mode.DIRECT, concurrency=1)
        snapshot = await evaluator.evaluate([*same, other], at=1000.0)
    [query] = seen
    assert snapshot.queries == 1 and query.count('"slogate_window", "5m"') == 2, query
    assert "(e[5m])" in query and "(f[5m])" in query
    for slo, objective in zip(same, objectives, strict=True):
        burn = snapshot.statuses[slo.id].burn_rates[300.0]
        assert burn == pytest.approx(0.002 / (1 - objective / 100))
    assert snapshot.statuses[other.id].error_ratios[300.0] == 0.004
