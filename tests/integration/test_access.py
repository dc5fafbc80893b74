"""Tokens with scopes on the open routes, and rate limits with Retry-After, on a real slogate."""

from __future__ import annotations

import asyncio
import os
import re

import httpx
import pytest

from slogate.cli.main import main
from slogate.server.auth import AdminTokens

from .conftest import History
from .helpers import ADMIN_TOKEN, running_slogate

CI = "ci-pipeline-token-0123456789"
GRAFANA = "grafana-read-token-0123456789"
TOKENS = AdminTokens(
    {"admin": ADMIN_TOKEN, "ci": CI, "grafana": GRAFANA},
    {"ci": frozenset({"pipeline"}), "grafana": frozenset({"read"})},
)
FLAGGER = {"name": "checkout", "namespace": "shop", "phase": "Progressing", "metadata": {}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_open_routes_closed_to_callers_without_the_scope(history: History) -> None:
    config = "server: {require_token_for: [gate, read]}\n"
    async with running_slogate(history.url, config_text=config, tokens=TOKENS) as gate:
        http = gate.http
        params = {"service": "checkout"}
        assert (await http.get("/v1/gate", params=params)).status_code == 401
        assert (
            await http.get("/v1/gate", params=params, headers=bearer(GRAFANA))
        ).status_code == 403
        answer = await http.get("/v1/gate", params=params, headers=bearer(CI))
        assert answer.status_code == 200
        assert answer.json()["decision"] in ("allow", "warn", "deny")
        assert (await http.get("/v1/gate", params=params, headers=gate.admin)).status_code == 200
        assert (await http.get("/v1/decisions")).status_code == 401
        assert (await http.get("/v1/decisions", headers=bearer(CI))).status_code == 403
        found = await http.get("/v1/decisions", headers=bearer(GRAFANA))
        audited = [d["decision_id"] for d in found.json()["decisions"]]
        assert len(audited) == 2  # the pipeline's and the admin's; none refused was audited
        assert answer.json()["decision_id"] in audited
        assert (await http.get("/v1/slos")).status_code == 401
        assert (await http.get("/healthz")).status_code == 200  # health and metrics stay open
        assert (await http.get("/metrics")).status_code == 200
        # Flagger sends no headers: its hooks take the token in the URL.
        assert (await http.post("/v1/gate/flagger", json=FLAGGER)).status_code == 401
        hook = await http.post(f"/v1/gate/flagger?access_token={CI}", json=FLAGGER)
        assert hook.status_code in (200, 403)
        assert "decision" in hook.text
        assert (await http.get(f"/v1/gate?service=checkout&access_token={CI}")).status_code == 401


async def test_a_flood_from_one_client_gets_429_and_others_keep_their_answers(
    history: History,
) -> None:
    config = "server: {rate_limit: {rate: 0.01, burst: 10}}\n"  # no refill within the test
    async with running_slogate(history.url, config_text=config, tokens=TOKENS) as gate:
        params = {"service": "checkout"}
        statuses = [(await gate.http.get("/v1/gate", params=params)).status_code for _ in range(30)]
        assert statuses == [200] * 10 + [429] * 20
        refused = await gate.http.get("/v1/gate", params=params)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        # Another client (its token's name) has its own bucket; the audit has only the answered.
        other = await gate.http.get("/v1/gate", params=params, headers=bearer(CI))
        assert other.status_code == 200
        metrics = (await gate.http.get("/metrics")).text
        assert f'slogate_rate_limited_total{{route="gate"}} {statuses.count(429) + 1}.0' in metrics
        decisions = await gate.http.get("/v1/decisions", params={"limit": "500"})
        assert len(decisions.json()["decisions"]) == statuses.count(200) + 1


async def test_check_waits_out_retry_after(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    config = "server: {rate_limit: {rate: 0.25, burst: 1}}\n"  # a token every 4 s
    async with running_slogate(history.url, config_text=config, tokens=TOKENS) as gate:
        assert (await gate.http.get("/v1/gate", params={"service": "checkout"})).status_code == 200
        os.environ.pop("SLOGATE_TOKEN", None)
        # In this process: a new one could take longer to start than the bucket to refill.
        args = ["check", "--service", "checkout", "--url", gate.url]
        code = await asyncio.to_thread(main, args)
        out, err = capsys.readouterr()
        assert code == 0, err
        assert re.search(r"rate limited, retrying in (10|[1-9]) s", err), err
        assert out.startswith(("ALLOW checkout", "WARN checkout"))
        async with httpx.AsyncClient(base_url=gate.url) as http:
            metrics = (await http.get("/metrics")).text
        assert 'slogate_rate_limited_total{route="gate"} 1.0' in metrics
