"""Range queries of the Prometheus client (the status page's charts) on httpx.MockTransport."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from slogate.errors import BackendError, QueryError
from slogate.evaluation.prometheus import MAX_RANGE_POINTS, PrometheusClient


def matrix() -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"slogate_window": "5m"}, "values": [[100, "0.5"], [160, "NaN"]]},
                {"metric": {"slogate_window": "1h"}, "values": [[100, "0.25"]]},
            ],
        },
    }


async def test_range_query_sends_its_bounds_and_parses_the_matrix() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=matrix())

    client = PrometheusClient("http://prom.test", transport=httpx.MockTransport(handler), timeout=4)
    found = await client.query_range("up", 100.0, 160.0, 60.0)
    await client.aclose()
    assert seen[0].url.path == "/api/v1/query_range"
    assert parse_qs(seen[0].content.decode()) == {
        "query": ["up"],
        "start": ["100.000"],
        "end": ["160.000"],
        "step": ["60"],
        "timeout": ["4s"],
    }
    assert [(s.labels["slogate_window"], s.points[0]) for s in found] == [
        ("5m", (100.0, 0.5)),
        ("1h", (100.0, 0.25)),
    ]
    assert len(found[0].points) == 2 and found[0].points[1][1] != found[0].points[1][1]  # NaN


async def test_a_range_of_too_many_points_never_reaches_the_backend() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sent")

    client = PrometheusClient("http://prom.test", transport=httpx.MockTransport(handler))
    with pytest.raises(BackendError, match="refused"):
        await client.query_range("up", 0.0, float(MAX_RANGE_POINTS + 1), 1.0)
    await client.aclose()


async def test_an_error_answer_is_a_query_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "x"})

    client = PrometheusClient("http://prom.test", transport=httpx.MockTransport(handler))
    with pytest.raises(QueryError, match="bad_data"):
        await client.query_range("up", 0.0, 60.0, 60.0)
    await client.aclose()
