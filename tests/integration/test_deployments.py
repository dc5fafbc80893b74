"""Deployments end to end: pipeline events, gate calls, Flagger and GitHub webhooks, the DORA
figures and their metrics, on slogate wired as `serve` wires it, against the test Prometheus."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from slogate.server.auth import Secrets

from .conftest import History
from .helpers import Running, running_slogate

HOUR = 3600.0
DAY = 86_400.0
SECRET = "github-webhook-secret-for-tests"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


async def post(slogate: Running, body: dict[str, Any], admin: bool = True) -> tuple[int, Any]:
    headers = slogate.admin if admin else {}
    response = await slogate.http.post("/v1/deployments", json=body, headers=headers)
    return response.status_code, response.json()


async def backfill_held_out(slogate: Running, service: str, now: float) -> None:
    """Ten deployments over five days, two rolled back, each commit two hours before it."""
    for n in range(10):
        start = now - 5 * DAY + HOUR + n * 12 * HOUR
        outcome = "rolled_back" if n in (3, 7) else "succeeded"
        common = {"service": service, "deploy_id": f"rel-{n}", "commit_sha": f"sha{n}"}
        status, _ = await post(
            slogate,
            {**common, "event": "started", "at": iso(start), "commit_time": iso(start - 2 * HOUR)},
        )
        assert status == 200
        status, body = await post(slogate, {**common, "event": outcome, "at": iso(start + 600)})
        assert status == 200 and body["deployment"]["outcome"] == outcome


async def test_held_out_backfill_gives_the_design_figures(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        await backfill_held_out(slogate, "search", time.time())
        response = await slogate.http.get("/v1/dora", params={"service": "search", "window": "5d"})
        assert response.status_code == 200
        assert response.json() == {
            "service": "search",
            "window": "5d",
            "deployments": 10,
            "failed": 2,
            "deployment_frequency_per_day": 2.0,
            "lead_time_seconds": 2 * HOUR + 600,
            "change_failure_rate": 0.2,
            "time_to_restore_seconds": None,
            "bands": {
                "report_year": 2021,
                "deployment_frequency": "elite",
                "lead_time": "high",
                "change_failure_rate": "high",
                "time_to_restore": None,
            },
            "counts": {
                "deployments": 10,
                "failed": 2,
                "lead_time_samples": 10,
                "restored_incidents": 0,
            },
        }
        everyone = (await slogate.http.get("/v1/dora")).json()
        assert everyone["window"] == "30d"
        by_service = {f["service"]: f for f in everyone["services"]}
        assert by_service["search"]["deployment_frequency_per_day"] == round(10 / 30, 6)
        assert by_service["checkout"]["deployments"] == 0  # an SLO's service, never deployed
        assert by_service["checkout"]["change_failure_rate"] is None

        await slogate.engine.run_cycle()  # the figures behind /metrics follow the transitions
        metrics = (await slogate.http.get("/metrics")).text
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
        }
        assert (
            samples[
                ("slogate_deployments_total", (("outcome", "succeeded"), ("service", "search")))
            ]
            == 8
        )
        assert (
            samples[
                ("slogate_deployments_total", (("outcome", "rolled_back"), ("service", "search")))
            ]
            == 2
        )
        assert samples[("slogate_dora_deployments", (("service", "search"),))] == 10
        assert samples[("slogate_dora_change_failure_rate", (("service", "search"),))] == 0.2
        assert samples[("slogate_dora_lead_time_seconds", (("service", "search"),))] == 7800
        band = (("metric", "deployment_frequency"), ("report_year", "2021"), ("service", "search"))
        assert samples[("slogate_dora_band", band)] == 3  # 10 in 30 days: high


async def test_pipeline_events_are_checked_and_idempotent(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        now = time.time()
        base = {"service": "search", "deploy_id": "r1"}
        status, body = await post(slogate, {**base, "event": "deployed"})
        assert (status, body["error"]["field"]) == (400, "event")
        status, body = await post(slogate, {**base, "event": "started", "at": "yesterday"})
        assert (status, body["error"]["field"]) == (400, "at")
        status, body = await post(slogate, {**base, "event": "started", "colour": "red"})
        assert (status, body["error"]["field"]) == (400, "colour")
        status, body = await post(slogate, {"deploy_id": "r1", "event": "started"})
        assert (status, body["error"]["field"]) == (400, "service")
        past = {**base, "event": "started", "at": iso(now - DAY)}
        status, body = await post(slogate, past, admin=False)
        assert status == 401  # backfill is an admin's act
        status, body = await post(slogate, {**base, "event": "started", "at": iso(now + DAY)})
        assert (status, body["error"]["field"]) == (400, "at")

        status, started = await post(slogate, {**base, "event": "started"}, admin=False)
        assert status == 200 and started["deployment"]["outcome"] == "in_progress"
        early = {**base, "event": "succeeded", "at": iso(now - HOUR)}
        status, body = await post(slogate, early)
        assert (status, body["error"]["field"]) == (400, "at")  # finished before it started
        done = {**base, "event": "succeeded", "version": "2.0.1"}
        first = await post(slogate, done, admin=False)
        again = await post(slogate, {**done, "at": first[1]["deployment"]["finished_at"]})
        assert first[0] == again[0] == 200
        assert first[1] == again[1]
        listed = (await slogate.http.get("/v1/deployments", params={"service": "search"})).json()
        assert [d["deploy_id"] for d in listed["deployments"]] == ["r1"]
        assert listed["deployments"][0]["version"] == "2.0.1"


async def test_gate_calls_are_steps_and_incidents_are_linked_both_ways(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        # payments burns fast in the demo: the first cycle opened its page incident
        opened = (await slogate.http.get("/v1/incidents")).json()["incidents"]
        assert any(i["service"] == "payments" and i["severity"] == "page" for i in opened)
        status, answer = await slogate.gate(service="search", deploy_id="s-7", step="canary/10")
        assert status == 200
        await slogate.gate(service="search", deploy_id="s-7", step="canary/50")
        detail = (await slogate.http.get("/v1/deployments/search/s-7")).json()
        assert detail["outcome"] == "in_progress" and detail["source"] == "api"
        assert [s["step"] for s in detail["steps"]] == ["canary/10", "canary/50"]
        assert detail["steps"][0]["decision_id"] == answer["decision_id"]
        assert detail["steps"][0]["decision"] == answer["decision"]

        shipped = {"service": "payments", "deploy_id": "p-1", "event": "succeeded"}
        status, _ = await post(slogate, {**shipped, "at": iso(time.time() - 600)})
        assert status == 200
        failed = (await slogate.http.get("/v1/deployments/payments/p-1")).json()
        assert failed["outcome"] == "succeeded" and failed["change_failed"] is True
        assert [i["slo"] for i in failed["incidents"]] == ["requests-availability"]
        incidents = (
            await slogate.http.get("/v1/incidents/history", params={"service": "payments"})
        ).json()["incidents"]
        assert incidents[0]["deployments"] == [{"service": "payments", "deploy_id": "p-1"}]
        figures = (await slogate.http.get("/v1/dora", params={"service": "payments"})).json()
        assert (figures["deployments"], figures["failed"]) == (1, 1)
        missing = await slogate.http.get("/v1/deployments/payments/nope")
        assert missing.status_code == 404


def flagger(phase: str, **extra: Any) -> dict[str, Any]:
    return {"name": "search", "namespace": "prod", "phase": phase, "checksum": "abc123", **extra}


async def test_flagger_event_and_post_rollout_webhooks(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        event = flagger(
            "Progressing", metadata={"eventMessage": "Starting canary", "eventType": "Normal"}
        )
        response = await slogate.http.post("/v1/webhooks/flagger/event", json=event)
        assert response.status_code == 200
        assert response.json()["deployment"]["deploy_id"] == "prod/search@abc123"
        assert response.json()["deployment"]["outcome"] == "in_progress"
        bad = await slogate.http.post("/v1/webhooks/flagger/post-rollout", json=flagger("Waiting"))
        assert (bad.status_code, bad.json()["error"]["field"]) == (400, "phase")
        done = await slogate.http.post("/v1/webhooks/flagger/post-rollout", json=flagger("Failed"))
        assert done.json()["deployment"]["outcome"] == "rolled_back"
        assert done.json()["deployment"]["source"] == "flagger"


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "deployment_status",
        "Content-Type": "application/json",
    }


def github_status(state: str) -> bytes:
    return json.dumps(
        {
            "action": "created",
            "deployment_status": {"state": state, "environment": "production"},
            "deployment": {
                "id": 1,
                "sha": "deadbeef",
                "ref": "v3.1.0",
                "environment": "production",
            },
            "repository": {"full_name": "acme/search"},
        }
    ).encode()


async def test_github_deployment_status_is_signed(history: History) -> None:
    secrets = Secrets(github_webhook_secret=SECRET)
    async with running_slogate(history.url, secrets=secrets) as slogate:
        url = "/v1/webhooks/github/deployment-status"
        body = github_status("in_progress")
        forged = {**signed(body), "X-Hub-Signature-256": "sha256=" + "0" * 64}
        assert (await slogate.http.post(url, content=body, headers=forged)).status_code == 401
        started = await slogate.http.post(url, content=body, headers=signed(body))
        assert started.json()["deployment"]["outcome"] == "in_progress"
        body = github_status("success")
        done = (await slogate.http.post(url, content=body, headers=signed(body))).json()
        assert done["deployment"]["deploy_id"] == "github:acme/search@deadbeef"
        assert (done["deployment"]["outcome"], done["deployment"]["version"]) == (
            "succeeded",
            "v3.1.0",
        )
        assert done["deployment"]["commit_sha"] == "deadbeef"
        body = github_status("inactive")
        ignored = await slogate.http.post(url, content=body, headers=signed(body))
        assert ignored.status_code == 202
