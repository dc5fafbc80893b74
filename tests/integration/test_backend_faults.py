"""A misbehaving backend: a proxy in front of the real Prometheus turns slow, answers 500,
garbage, truncated JSON, or NaN/Inf. The gate keeps answering (every call within the client's
1 s timeout), applies the fail mode, never crashes, and is correct again once the backend is."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web

from slogate.cli.localprom import free_port

from .conftest import History
from .helpers import Running, eventually, running_slogate

CONFIG = "prometheus: {timeout: 2s, connect_timeout: 1s}\npolicy: {default: {max_staleness: 3s}}"


@dataclass
class Proxy:
    url: str = ""
    mode: str = "ok"
    served: int = 0


@asynccontextmanager
async def chaos_proxy(upstream: str) -> AsyncIterator[Proxy]:
    proxy = Proxy()
    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def query(request: web.Request) -> web.StreamResponse:
        proxy.served += 1
        form = await request.post()
        if proxy.mode == "slow":
            await asyncio.sleep(4)  # past slogate's 2 s timeout
        if proxy.mode == "500":
            return web.Response(status=500, text="internal server error")
        if proxy.mode == "garbage":
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        upstream_answer = await client.post("/api/v1/query", data=dict(form))
        body = upstream_answer.text
        if proxy.mode == "partial":
            return web.Response(text=body[: len(body) // 2], content_type="application/json")
        if proxy.mode == "nan":
            doc = json.loads(body)
            for i, item in enumerate(doc.get("data", {}).get("result", [])):
                item["value"][1] = ["NaN", "+Inf", "-Inf"][i % 3]
            body = json.dumps(doc)
        return web.Response(
            text=body, status=upstream_answer.status_code, content_type="application/json"
        )

    app = web.Application()
    app.router.add_post("/api/v1/query", query)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        await runner.cleanup()
        await client.aclose()


async def poll_gate(
    slogate: Running, service: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Gate answers until `until` holds (30 s at most); each call must answer within 1 s."""
    async with httpx.AsyncClient(base_url=slogate.url, timeout=1.0) as http:

        async def answer() -> dict[str, Any] | None:
            response = await http.get("/v1/gate", params={"service": service})
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            assert body["decision"] in ("allow", "warn", "deny")
            return body if until(body) else None

        result: dict[str, Any] = await eventually(answer, f"{service}'s expected answer")
        return result


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


@pytest.mark.parametrize("mode", ["slow", "500", "garbage", "partial"])
async def test_failing_backend_fails_closed_then_recovers(history: History, mode: str) -> None:
    async with (
        chaos_proxy(history.url) as proxy,
        running_slogate(proxy.url, config_text=CONFIG, interval="1s", schedule=True) as slogate,
    ):
        await poll_gate(slogate, "checkout", lambda b: b["decision"] == "allow")
        proxy.mode = mode
        # Past `max_staleness` the gate denies at once, as `stale_data` while the failing
        # cycle is still in flight (on a loaded machine, a while), as `backend_unavailable`
        # once that cycle has recorded its error: wait for the latter.
        body = await poll_gate(slogate, "checkout", lambda b: codes(b) == ["backend_unavailable"])
        assert body["decision"] == "deny"
        error = body["slos"][0]["error"]
        expected = {
            "slow": "timed out",
            "500": "HTTP 500",
            "garbage": "not JSON",
            "partial": "not JSON",
        }
        assert expected[mode] in error
        assert (await slogate.http.get("/healthz")).status_code == 200
        proxy.mode = "ok"
        body = await poll_gate(slogate, "payments", lambda b: codes(b) == ["fast_burn"])
        assert body["decision"] == "deny"
        await poll_gate(slogate, "checkout", lambda b: b["decision"] == "allow")


async def test_nan_and_inf_answers_are_no_data_never_nan(history: History) -> None:
    async with chaos_proxy(history.url) as proxy:
        proxy.mode = "nan"
        async with running_slogate(proxy.url, config_text=CONFIG) as slogate:
            response = await slogate.http.get("/v1/slos")
            assert "NaN" not in response.text and "Infinity" not in response.text
            for status in response.json()["slos"]:
                assert set(status["burn_rates"].values()) == {None}
                assert status["state"] == "no_data"
            _, body = await slogate.gate(service="payments")
            assert codes(body) == ["no_data"]
            metrics = (await slogate.http.get("/metrics")).text
            assert "NaN" not in metrics.replace("slogate_slo_data_age", "")
