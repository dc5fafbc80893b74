"""The Prometheus query client against httpx.MockTransport (the wire format, errors, limits)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from slogate.errors import BackendError
from slogate.evaluation.backend import single_value
from slogate.evaluation.prometheus import PrometheusClient


def vector(*values: str) -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"i": str(n)}, "value": [1.0, v]} for n, v in enumerate(values)],
        },
    }


def client_for(
    handler: Any,
    *,
    timeout: float = 10.0,
    max_concurrency: int = 16,
    headers: dict[str, str] | None = None,
) -> PrometheusClient:
    return PrometheusClient(
        "http://prom.test:9090/",
        transport=httpx.MockTransport(handler),
        timeout=timeout,
        max_concurrency=max_concurrency,
        headers=headers,
    )


async def test_posts_form_with_pinned_time_and_parses_vector() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=vector("0.25"))

    async with client_for(handler, timeout=7.0) as client:
        samples = await client.query('sum(rate(x{a="b"}[5m]))', at=1_700_000_000.123)
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/query"
    form = parse_qs(request.content.decode())
    assert form == {
        "query": ['sum(rate(x{a="b"}[5m]))'],
        "time": ["1700000000.123"],
        "timeout": ["7s"],
    }
    assert [s.value for s in samples] == [0.25]


async def test_nan_and_inf_values_parse_and_single_value_drops_them() -> None:
    async with client_for(lambda r: httpx.Response(200, json=vector("NaN", "+Inf"))) as client:
        samples = await client.query("x", at=1.0)
    assert single_value(samples) is None
    async with client_for(
        lambda r: httpx.Response(200, json=vector("NaN", "0.1", "0.3"))
    ) as client:
        assert single_value(await client.query("x", at=1.0)) == 0.3
    assert single_value([]) is None


async def test_scalar_result() -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "0.5"]}}
    async with client_for(lambda r: httpx.Response(200, json=body)) as client:
        assert single_value(await client.query("scalar(x)", at=1.0)) == 0.5


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
            ),
            "bad_data: parse error",
        ),
        (
            httpx.Response(503, text="<html>overloaded</html>"),
            "HTTP 503 with a body that is not JSON",
        ),
        (httpx.Response(200, text='{"status": "success", "data": '), "not JSON"),
        (
            httpx.Response(
                200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}
            ),
            "unexpected result type 'matrix'",
        ),
        (
            httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]},
                },
            ),
            "invalid sample value",
        ),
        (httpx.Response(200, json=[1, 2]), "not a JSON object"),
    ],
)
async def test_bad_answers_raise_backend_error(response: httpx.Response, message: str) -> None:
    async with client_for(lambda r: response) as client:
        with pytest.raises(BackendError, match=message):
            await client.query("x", at=1.0)


async def test_connection_errors_and_timeouts_raise_backend_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with client_for(refuse) as client:
        with pytest.raises(BackendError, match=r"reach http://prom\.test:9090: ConnectError"):
            await client.query("x", at=1.0)
    async with client_for(slow, timeout=2.0) as client:
        with pytest.raises(BackendError, match="timed out after 2s"):
            await client.query("x", at=1.0)


async def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=vector("0"))

    async with client_for(handler, max_concurrency=3) as client:
        await asyncio.gather(*(client.query(f"q{i}", at=1.0) for i in range(20)))
    assert peak == 3


async def test_headers_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=json.dumps(vector("0")))

    async with client_for(handler, headers={"X-Scope-OrgID": "tenant-1"}) as client:
        await client.query("x", at=1.0)
    assert seen[0].headers["X-Scope-OrgID"] == "tenant-1"


async def test_stats_add_up_the_backends_time_and_samples() -> None:
    """Asked with `stats=all`, Prometheus adds `stats` to `data` (2.42's shape: timings in
    seconds, samples per query and per step); the client sums them over its queries."""
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        body: dict[str, Any] = vector("0.25")
        if request.url.path.endswith("query_range"):
            body["data"] = {"resultType": "matrix", "result": []}
        body["data"]["stats"] = {
            "timings": {"evalTotalTime": 0.125, "queryPreparationTime": 0.01},
            "samples": {"totalQueryableSamples": 1200, "peakSamples": 40},
        }
        return httpx.Response(200, json=body)

    client = PrometheusClient(
        "http://prom.test:9090/", transport=httpx.MockTransport(handler), stats=True
    )
    async with client:
        await client.query("a", at=1.0)
        await client.query_range("a", 0.0, 600.0, 300.0)
    assert [form["stats"] for form in forms] == [["all"], ["all"]]
    assert (client.costs.queries, client.costs.backend, client.costs.samples) == (2, 0.25, 2400)
