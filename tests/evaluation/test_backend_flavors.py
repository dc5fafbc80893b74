"""Thanos Query and Mimir through the query client, against the answers those servers send
(httpx.MockTransport): what each needs on the wire, and what slogate does with what they say."""

from __future__ import annotations

import typing
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from slogate.config import PrometheusConfig, parse_config
from slogate.core.durations import format_duration
from slogate.core.policy import Policy, ReasonCode, freshness_reason
from slogate.errors import BackendError, DegradedDataError
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.flavors import Flavor, query_params
from slogate.evaluation.prometheus import PrometheusClient
from slogate.evaluation.queries import SLO_LABEL, WINDOW_LABEL
from tests.factories import make_slo

# Thanos Query with partial_response=true and one store down answers "success" with the series
# of the stores it reached and one warning per store it left out (thanos pkg/store/proxy.go).
THANOS_PARTIAL = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [{"metric": {}, "value": [1764633600.0, "0.0002"]}],
    },
    "warnings": [
        'receive series from Addr: 10.1.2.3:10901 LabelSets: {cluster="eu1", replica="a"}'
        " MinTime: 1762041600000 MaxTime: 1764633600000: rpc error: code = Unavailable"
        " desc = connection error"
    ],
}
# Prometheus' informational annotations are about the query, not about missing data.
PROMETHEUS_INFO = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "0.5"]}]},
    "warnings": ['PromQL info: metric might not be a counter, name does not end in _total: "x"'],
}


def client(
    url: str, handler: Any, flavor: Flavor, headers: dict[str, str] | None = None
) -> PrometheusClient:
    return PrometheusClient(
        url,
        headers=headers,
        params=query_params(flavor),
        transport=httpx.MockTransport(handler),
    )


def ok(value: str = "0.001") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, value]}]},
        },
    )


def test_flavors_are_chosen_in_config() -> None:
    config = parse_config("prometheus: {url: 'http://thanos-query:9090', flavor: thanos}")
    assert Flavor(config.prometheus.flavor) is Flavor.THANOS
    assert Flavor(parse_config("").prometheus.flavor) is Flavor.PROMETHEUS
    # The config's names are the flavors' (config sits below evaluation: it names, not imports).
    named = typing.get_args(typing.get_type_hints(PrometheusConfig)["flavor"])
    assert set(named) == {f.value for f in Flavor}
    with pytest.raises(Exception, match=r"x.yaml: prometheus.flavor: must be one of prometheus"):
        parse_config("prometheus: {flavor: cortex}", "x.yaml")


async def test_thanos_queries_ask_for_no_partial_response() -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return ok()

    async with client("http://thanos-query:9090", handler, Flavor.THANOS) as thanos:
        await thanos.query("up", at=1764633600.0)
    assert forms[0]["partial_response"] == ["false"]
    assert forms[0]["time"] == ["1764633600.000"] and forms[0]["query"] == ["up"]


async def test_a_partial_response_is_degraded_data_not_figures() -> None:
    answers = iter([THANOS_PARTIAL, PROMETHEUS_INFO])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    async with client("http://thanos-query:9090", handler, Flavor.THANOS) as thanos:
        with pytest.raises(DegradedDataError, match=r"^degraded data: receive series from Addr"):
            await thanos.query("up", at=1.0)
        [sample] = await thanos.query("up", at=1.0)
    assert sample.value == 0.5


async def test_degraded_data_keeps_the_last_good_figures_then_fails_the_gate_closed() -> None:
    """The gate's answer to degraded data: the SLO keeps its last good figures with the warning
    as its error (a failed query, counted in slogate_backend_errors_total), no batch retried
    SLO by SLO (the next answer would be as partial); past `max_staleness`, the policy's
    `backend_unavailable` fail mode applies (deny by default) naming the warning."""
    slos = [make_slo("checkout"), make_slo("payments")]
    every_window = [
        {"metric": {SLO_LABEL: str(n), WINDOW_LABEL: format_duration(w)}, "value": [1, "0.002"]}
        for n, slo in enumerate(slos)
        for w in slo.windows.windows
    ]
    healthy = {"status": "success", "data": {"resultType": "vector", "result": every_window}}
    answers = [httpx.Response(200, json=healthy), httpx.Response(200, json=THANOS_PARTIAL)]
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return answers[len(sent) - 1]

    async with client("http://thanos-query:9090", handler, Flavor.THANOS) as thanos:
        evaluator = Evaluator(thanos, mode=Mode.DIRECT, concurrency=1)
        first = await evaluator.evaluate(slos, at=1000.0)
        second = await evaluator.evaluate(slos, first, at=1030.0)
    assert second.queries == 1 and second.failed_queries == 1 and len(sent) == 2
    for slo in slos:
        status = second.statuses[slo.id]
        assert status.error is not None and status.error.startswith("degraded data: receive")
        assert status.evaluated_at == 1000.0 and status.attempted_at == 1030.0
        assert set(status.error_ratios.values()) == {0.002}
        policy = Policy(max_staleness=90.0)
        assert freshness_reason(status, policy, now=1030.0) is None  # still fresh enough
        reason = freshness_reason(status, policy, now=1100.0)
        assert reason is not None and reason.code is ReasonCode.BACKEND_UNAVAILABLE
        assert "degraded data: receive series" in reason.message


async def test_mimir_gets_its_tenant_header_under_its_prometheus_prefix() -> None:
    config = parse_config(
        "prometheus:\n"
        "  url: http://mimir-query-frontend:8080/prometheus\n"
        "  flavor: mimir\n"
        "  headers: {X-Scope-OrgID: team-checkout}\n"
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok()

    prom = config.prometheus
    async with client(prom.url, handler, Flavor(prom.flavor), dict(prom.headers)) as mimir:
        await mimir.query("up", at=1.0)
    [request] = seen
    assert str(request.url) == "http://mimir-query-frontend:8080/prometheus/api/v1/query"
    assert request.headers["X-Scope-OrgID"] == "team-checkout"
    assert set(parse_qs(request.content.decode())) == {"query", "time", "timeout"}


async def test_mimir_without_a_tenant_is_a_backend_error() -> None:
    """Mimir answers a query without X-Scope-OrgID with 401 and the plain text "no org id"."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text="no org id\n")

    async with client("http://mimir:8080/prometheus", handler, Flavor.MIMIR) as mimir:
        with pytest.raises(BackendError, match=r"^HTTP 401 with a body that is not JSON"):
            await mimir.query("up", at=1.0)
