"""The gate through the real HTTP server, on live figures from a real Prometheus."""

from __future__ import annotations

import pytest

from .conftest import History
from .helpers import run_cli, running_slogate

EXPECTED = {
    "checkout": ("allow", []),
    "payments": ("deny", ["fast_burn"]),
    # Exhausted: denied by the budget and by the automatic halt it triggered.
    "search": ("deny", ["budget_exhausted", "slow_burn", "frozen"]),
    "catalog": ("warn", ["slow_burn"]),
    "recommendations": ("warn", ["budget_low"]),
    "notifications": ("warn", ["no_data"]),
}


async def test_decisions_and_reason_codes_per_service(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        for service, (decision, codes) in EXPECTED.items():
            status, body = await slogate.gate(service=service)
            assert status == 200, body
            assert body["decision"] == decision, (service, body["reasons"])
            assert [r["code"] for r in body["reasons"]] == codes
            assert body["allow"] is (decision != "deny")
            assert body["service"] == service
            assert len(body["decision_id"]) == 26
            [slo] = body["slos"]
            assert slo["period"] == "30d"
            assert list(slo["burn_rates"]) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
            assert slo["data_age_seconds"] >= 0
            assert slo["state"] == ("no_data" if service == "notifications" else "ok")


async def test_deny_answer_shape_matches_the_contract(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        status, body = await slogate.gate(
            service="payments", deploy_id="build-77", step="canary-10"
        )
        assert status == 200
        assert body["decision"] == "deny" and body["allow"] is False
        assert body["deploy_id"] == "build-77" and body["step"] == "canary-10"
        [reason] = body["reasons"]
        assert reason["slo"] == "requests-availability"
        assert reason["message"].startswith("burn rate 20.")
        assert reason["message"].endswith("exceeds 14.4")
        [slo] = body["slos"]
        assert slo["alerts"] == {"page": True, "ticket": False}
        assert slo["objective"] == 99.9
        assert body["evaluated_at"].endswith("Z")


async def test_post_json_body_and_exempt_change_type(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        response = await slogate.http.post(
            "/v1/gate", json={"service": "search", "change_type": "rollback"}
        )
        body = response.json()
        assert response.status_code == 200
        assert body["decision"] == "allow"
        assert [r["code"] for r in body["reasons"]] == [
            "budget_exhausted",
            "slow_burn",
            "frozen",
            "exempted",
        ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "service"),
        ({"service": "checkout", "colour": "red"}, "colour"),
        ({"service": "check out"}, "service"),
        ({"service": "checkout", "deploy_id": "x" * 300}, "deploy_id"),
        ({"service": "checkout", "slo": "a{b}"}, "slo"),
    ],
)
async def test_bad_requests_get_400_naming_the_field(
    history: History, params: dict[str, str], field: str
) -> None:
    async with running_slogate(history.url) as slogate:
        status, body = await slogate.gate(**params)
        assert status == 400
        assert body["error"]["field"] == field


async def test_bad_json_bodies(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        for content, field in (
            (b"{not json", "body"),
            (b"[1]", "body"),
            (b'{"service": 5}', "service"),
        ):
            response = await slogate.http.post(
                "/v1/gate", content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400
            assert response.json()["error"]["field"] == field


async def test_unknown_service_and_slo_are_404(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        assert (await slogate.gate(service="nope"))[0] == 404
        assert (await slogate.gate(service="checkout", slo="nope"))[0] == 404
        assert (await slogate.http.get("/v1/slos/checkout/nope")).status_code == 404
        # One name rule for specs and requests (conventions.NAME): a name `slogate validate`
        # accepts is looked up, whatever its length; one it rejects is a bad request.
        assert (await slogate.gate(service="s" * 130))[0] == 404
        assert (await slogate.gate(service="s"))[0] == 400
        status, body = await slogate.gate(service="checkout", slo="requests-availability")
        assert status == 200 and body["slo"] == "requests-availability"


async def test_body_size_is_bounded(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        response = await slogate.http.post(
            "/v1/gate",
            content=b"{" + b" " * 200_000 + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413


async def test_health_readiness_slos_metrics_openapi(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        assert (await slogate.http.get("/healthz")).status_code == 200
        ready = await slogate.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["slos"] == 6
        assert ready.json()["specs"]["ok"] is True
        slos = (await slogate.http.get("/v1/slos")).json()["slos"]
        assert [(s["service"], s["slo"]) for s in slos][:2] == [
            ("catalog", "requests-availability-0"),
            ("checkout", "requests-availability"),
        ]
        await slogate.gate(service="payments")
        metrics = (await slogate.http.get("/metrics")).text
        assert (
            'slogate_slo_burn_rate{service="payments",slo="requests-availability",window="5m"} 20.'
            in metrics
        )
        assert (
            "slogate_slo_alert_firing"
            '{service="payments",severity="page",slo="requests-availability"} 1.0' in metrics
        )
        assert (
            'slogate_slo_objective_ratio{service="checkout",slo="requests-availability"} 0.999'
            in metrics
        )
        assert 'slogate_gate_decisions_total{decision="deny",service="payments"} 1.0' in metrics
        assert "slogate_evaluation_duration_seconds_count 1.0" in metrics
        assert "slogate_backend_errors_total 0.0" in metrics
        assert (
            "slogate_slo_error_budget_remaining_ratio"
            '{service="search",slo="requests-availability"} -0.' in metrics
        )
        spec = (await slogate.http.get("/openapi.json")).json()
        assert {"/v1/gate", "/v1/slos", "/readyz"} <= set(spec["paths"])


async def test_readiness_before_first_cycle(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        slogate.engine.snapshot = type(slogate.engine.snapshot).empty(slogate.engine.slos)
        ready = await slogate.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "first evaluation not finished yet"
        _, body = await slogate.gate(service="checkout")
        assert body["decision"] == "deny"
        assert [r["code"] for r in body["reasons"]] == ["stale_data"]


async def test_check_cli_exit_codes(backend: History) -> None:
    async with running_slogate(backend.url, config_text=backend.config) as slogate:
        cases = {"checkout": 0, "catalog": 0, "payments": 1, "search": 1, "nope": 3}
        for service, code in cases.items():
            rc, out, err = await run_cli("check", "--service", service, "--url", slogate.url)
            assert rc == code, (service, out, err)
        rc, out, _ = await run_cli(
            "check", "--service", "payments", "--url", slogate.url, "--deploy-id", "b-1"
        )
        assert out.startswith("DENY payments") and "fast_burn" in out
        rc, _, _ = await run_cli(
            "check", "--service", "catalog", "--fail-on-warn", "--url", slogate.url
        )
        assert rc == 1
        rc, _, err = await run_cli("check", "--url", slogate.url)
        assert rc == 2 and "--service" in err
    rc, _, err = await run_cli(
        "check", "--service", "checkout", "--url", slogate.url, "--timeout", "2"
    )
    assert rc == 3 and "cannot reach" in err
