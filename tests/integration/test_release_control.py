"""Freezes, exemptions, automatic halts and the audit trail, through the real HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import History
from .helpers import running_slogate


def codes(body: dict[str, object]) -> list[str]:
    reasons = body["reasons"]
    assert isinstance(reasons, list)
    return [r["code"] for r in reasons]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/freezes"),
        ("POST", "/v1/freezes"),
        ("DELETE", "/v1/freezes/x"),
        ("GET", "/v1/exemptions"),
        ("POST", "/v1/exemptions"),
        ("DELETE", "/v1/exemptions/x"),
    ],
)
async def test_admin_endpoints_need_the_token(history: History, method: str, path: str) -> None:
    async with running_slogate(history.url) as slogate:
        missing = await slogate.http.request(method, path, json={})
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = await slogate.http.request(
            method, path, json={}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 403
        basic = await slogate.http.request(
            method, path, json={}, headers={"Authorization": "Basic YTpi"}
        )
        assert basic.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "checkout"}, "reason"),
        ({"reason": "x"}, "service"),
        ({"service": "checkout", "reason": "x", "until": "tomorrow"}, "until"),
        ({"service": "checkout", "reason": "x", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"service": "checkout", "reason": "x", "duration": "forever"}, "duration"),
        ({"service": "checkout", "reason": "x", "colour": "blue"}, "colour"),
        ({"service": "check out", "reason": "x"}, "service"),
    ],
)
async def test_bad_freeze_requests_name_the_field(
    history: History, body: dict[str, str], field: str
) -> None:
    async with running_slogate(history.url) as slogate:
        response = await slogate.http.post("/v1/freezes", json=body, headers=slogate.admin)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field


async def test_freeze_denies_then_lift_allows(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        created = await slogate.http.post(
            "/v1/freezes",
            json={
                "service": "checkout",
                "reason": "incident INC-42",
                "duration": "2h",
                "requested_by": "alice",
            },
            headers=slogate.admin,
        )
        assert created.status_code == 201
        freeze = created.json()
        assert freeze["kind"] == "manual" and freeze["created_by"] == "alice (token admin)"
        _, body = await slogate.gate(service="checkout", deploy_id="d1")
        assert body["decision"] == "deny" and codes(body) == ["frozen"]
        assert "incident INC-42" in body["reasons"][0]["message"]
        listed = (await slogate.http.get("/v1/freezes", headers=slogate.admin)).json()["freezes"]
        assert freeze["id"] in [f["id"] for f in listed]
        lifted = await slogate.http.delete(f"/v1/freezes/{freeze['id']}", headers=slogate.admin)
        assert lifted.status_code == 200
        assert (
            await slogate.http.delete(f"/v1/freezes/{freeze['id']}", headers=slogate.admin)
        ).status_code == 404
        _, body = await slogate.gate(service="checkout", deploy_id="d2")
        assert body["decision"] == "allow"


async def test_global_freeze_covers_every_service(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        await slogate.http.post(
            "/v1/freezes", json={"service": "*", "reason": "holidays"}, headers=slogate.admin
        )
        for service in ("checkout", "recommendations"):
            _, body = await slogate.gate(service=service)
            assert body["decision"] == "deny" and "frozen" in codes(body)


async def test_budget_exhaustion_halts_and_shows_as_system_freeze(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        freezes = (await slogate.http.get("/v1/freezes", headers=slogate.admin)).json()["freezes"]
        [halt] = [f for f in freezes if f["service"] == "search"]
        assert halt["kind"] == "system" and halt["created_by"] == "slogate"
        assert halt["slo"] == "requests-availability"
        metrics = (await slogate.http.get("/metrics")).text
        assert 'slogate_freezes_active{kind="system"} 1.0' in metrics


async def test_exempt_a_fix_during_an_exhausted_budget(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        response = await slogate.http.post(
            "/v1/exemptions",
            json={
                "service": "search",
                "change_type": "hotfix",
                "reason": "fix for the outage",
                "duration": "4h",
            },
            headers=slogate.admin,
        )
        assert response.status_code == 201
        exemption = response.json()
        _, body = await slogate.gate(service="search", change_type="hotfix", deploy_id="fix-1")
        assert body["decision"] == "allow"
        assert codes(body) == ["budget_exhausted", "slow_burn", "frozen", "exempted"]
        assert exemption["id"] in body["reasons"][-1]["message"]
        _, feature = await slogate.gate(service="search", change_type="feature")
        assert feature["decision"] == "deny"
        revoked = await slogate.http.delete(
            f"/v1/exemptions/{exemption['id']}", headers=slogate.admin
        )
        assert revoked.status_code == 200
        _, after = await slogate.gate(service="search", change_type="hotfix")
        assert after["decision"] == "deny"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "search", "reason": "x", "duration": "1h"}, "change_type"),
        ({"service": "search", "change_type": "hotfix", "reason": "x"}, "until"),
        (
            {"service": "search", "change_type": "hotfix", "reason": "x", "duration": "60d"},
            "duration",
        ),
        ({"service": "*", "change_type": "hotfix", "reason": "x", "duration": "1h"}, "service"),
    ],
)
async def test_bad_exemptions_name_the_field(
    history: History, body: dict[str, str], field: str
) -> None:
    async with running_slogate(history.url) as slogate:
        response = await slogate.http.post("/v1/exemptions", json=body, headers=slogate.admin)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field


async def test_decisions_audit_pages_newest_first_and_survives_restart(
    history: History, tmp_path: Path
) -> None:
    store = tmp_path / "audit.db"
    ids = []
    async with running_slogate(history.url, store_path=store) as slogate:
        for n in range(5):
            _, body = await slogate.gate(
                service="payments", deploy_id=f"build-{n}", step="canary", change_type="feature"
            )
            ids.append(body["decision_id"])
        await slogate.gate(service="checkout")
    async with running_slogate(history.url, store_path=store) as slogate:
        page = (
            await slogate.http.get("/v1/decisions", params={"service": "payments", "limit": "3"})
        ).json()
        assert [d["decision_id"] for d in page["decisions"]] == ids[::-1][:3]
        first = page["decisions"][0]
        assert (
            first["deploy_id"] == "build-4"
            and first["step"] == "canary"
            and first["change_type"] == "feature"
        )
        assert first["decision"] == "deny" and codes(first) == ["fast_burn"]
        assert first["slos"][0]["burn_rates"]["5m"] > 14.4
        assert first["source"] == "api"
        rest = (
            await slogate.http.get(
                "/v1/decisions", params={"service": "payments", "before": page["next_before"]}
            )
        ).json()
        assert [d["decision_id"] for d in rest["decisions"]] == ids[::-1][3:]
        assert rest["next_before"] is None
        everything = (await slogate.http.get("/v1/decisions")).json()["decisions"]
        assert len(everything) == 6
        assert (await slogate.http.get("/v1/decisions", params={"limit": "0"})).status_code == 400
        assert (
            await slogate.http.get("/v1/decisions", params={"since": "yesterday"})
        ).status_code == 400
