"""Canary analysis on held-out history in a real Prometheus: four canaries (good; bad at 5% of the
traffic, which the service gate lets through; too little traffic; during a baseline-wide outage),
through `/v1/canary`, Argo Rollouts' kayenta provider's request sequence, Flagger's webhooks
and `slogate check --canary`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from scipy import stats

from slogate.cli.traffic import Traffic
from slogate.core.views import rfc3339

from ..conftest import ROOT
from .conftest import CANARY_TRAFFIC, History
from .helpers import Running, run_cli, running_slogate

SPECS = ROOT / "tests" / "fixtures" / "canary_specs"
WINDOW = 600.0

# service: (gate decision alone, canary verdict, decision, reason codes, score, Argo phase)
EXPECTED = {
    "canary-good": ("allow", "pass", "allow", [], 100, "Successful"),
    "canary-bad": ("allow", "fail", "deny", ["canary_regression"] * 2, 0, "Failed"),
    "canary-tiny": ("allow", "inconclusive", "warn", ["canary_inconclusive"], 0, "Inconclusive"),
    "canary-outage": ("deny", "inconclusive", "deny", ["fast_burn"], 100, "Inconclusive"),
}


def traffic(service: str, version: str) -> Traffic:
    return next(
        t
        for t in CANARY_TRAFFIC
        if t.service == service and dict(t.labels).get("rollouts_pod_template_hash") == version
    )


async def ask(slogate: Running, **params: str) -> tuple[int, Any]:
    response = await slogate.http.get(
        "/v1/canary", params={"canary": "canary", "baseline": "stable", **params}
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("service", list(EXPECTED))
async def test_the_four_canaries(history: History, service: str) -> None:
    gate, verdict, decision, codes, score, _ = EXPECTED[service]
    async with running_slogate(history.url, specs=SPECS) as slogate:
        status, body = await slogate.gate(service=service)
        assert (status, body["decision"]) == (200, gate)
        status, body = await ask(slogate, service=service, deploy_id="d-1", step="25")
        assert status == 200, body
        assert (body["verdict"], body["decision"]) == (verdict, decision), body["reasons"]
        found = [r["code"] for r in body["reasons"]]
        if service == "canary-outage":  # an outage also spends the budget as time passes
            assert codes[0] in found and not any(c.startswith("canary_") for c in found)
        else:
            assert found == codes
        assert body["allow"] is (decision != "deny")
        events = body["slos"][0]
        assert events["slo"] == "requests-availability"
        for side, version in (("canary", "canary"), ("baseline", "stable")):
            model = traffic(service, version)
            figures = events[side]
            assert figures["total"] == pytest.approx(model.rps * WINDOW, rel=0.02)
            assert figures["error_ratio"] == pytest.approx(
                model.error_ratio_at(0), rel=0.05, abs=1e-6
            )
            assert figures["burn_rate"] == pytest.approx(figures["error_ratio"] / 0.001, rel=1e-4)
        if verdict != "inconclusive" or service == "canary-outage":
            # The p-value is scipy's binomtest on the counts the answer shows.
            canary, baseline = events["canary"], events["baseline"]
            x, y = round(canary["errors"]), round(baseline["errors"])
            p0 = 1.5 * canary["total"] / (1.5 * canary["total"] + baseline["total"])
            expected = stats.binomtest(x, x + y, p0, alternative="greater").pvalue if x + y else 1.0
            assert events["p_value"] == pytest.approx(expected, rel=1e-5)
        assert body["score"] == score


async def test_bad_canary_figures_and_audit(history: History) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        _, body = await ask(slogate, service="canary-bad", window="10m", deploy_id="build-9")
        events, raw = body["slos"]
        assert events["canary"]["error_ratio"] == pytest.approx(0.03, rel=0.03)
        assert events["canary"]["burn_rate"] == pytest.approx(30.0, rel=0.03)
        assert events["ratio"] == pytest.approx(150.0, rel=0.05)
        assert events["p_value"] < 1e-20
        assert raw["verdict"] == "fail" and raw["test"].startswith("Mann-Whitney")
        assert raw["canary"]["samples"] == raw["baseline"]["samples"] == 10
        assert raw["p_value"] < 0.001
        trail = (await slogate.http.get("/v1/decisions", params={"service": "canary-bad"})).json()
        [record] = trail["decisions"]
        assert record["source"] == "canary" and record["decision_id"] == body["decision_id"]
        assert record["slos"] == body["slos"]  # counts, ratios and p-values kept
        text = (await slogate.http.get("/metrics")).text
        assert 'slogate_canary_verdicts_total{service="canary-bad",verdict="fail"} 1.0' in text
        page = (await slogate.http.get("/slos/canary-bad/requests-availability")).text
        assert body["decision_id"] in page and "canary_regression" in page


async def test_argo_kayenta_provider_sequence(history: History) -> None:
    """The requests Argo Rollouts' kayenta provider makes, as it makes them, and its reading of
    the score (metricproviders/kayenta/kayenta.go: evaluateResult on int(score))."""
    async with running_slogate(history.url, specs=SPECS) as slogate:
        http = slogate.http
        for service, (*_, phase) in EXPECTED.items():
            configs = await http.get(
                "/canaryConfig",
                params={"application": service, "configurationAccountName": "storage"},
            )
            assert configs.status_code == 200
            config_id = next(c["id"] for c in configs.json() if c["name"] == service)
            end = slogate.engine.clock()
            scope = {"region": "", "step": 60, "start": rfc3339(end - WINDOW), "end": rfc3339(end)}
            payload = (
                '{"scopes": {"default": {"controlScope": %s, "experimentScope": %s}},'
                ' "thresholds": {"pass": 95, "marginal": 75}}'
            )
            body = payload % (
                json.dumps({"scope": "stable", **scope}),
                json.dumps({"scope": "canary", **scope}),
            )
            started = await http.post(
                f"/canary/{config_id}",
                params={
                    "application": service,
                    "metricsAccountName": "prometheus",
                    "configurationAccountName": "config",
                    "storageAccountName": "storage",
                },
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert started.status_code == 200, started.text
            execution = started.json()["canaryExecutionId"]
            result = (await http.get(f"/canary/{execution}")).json()
            assert result["complete"] is True
            score = int(result["result"]["judgeResult"]["score"]["score"])
            seen = "Successful" if score >= 95 else "Inconclusive" if score >= 75 else "Failed"
            assert seen == phase, (service, result["result"]["judgeResult"]["score"])


async def test_flagger_webhooks(history: History) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        for service, (_, verdict, *_) in EXPECTED.items():
            payload = {
                "name": service,
                "namespace": "shop",
                "phase": "Progressing",
                "checksum": "abc",
                "metadata": {"service": service, "canary": "canary", "baseline": "stable"},
            }
            confirm = await slogate.http.post("/v1/canary/flagger", json=payload)
            rollout = await slogate.http.post("/v1/canary/flagger/rollout", json=payload)
            assert confirm.status_code == (200 if verdict == "pass" else 403)
            assert rollout.status_code == (403 if verdict == "fail" else 200)
            assert confirm.json()["verdict"] == verdict
        missing = await slogate.http.post(
            "/v1/canary/flagger", json={"name": "canary-good", "metadata": {"canary": "x"}}
        )
        assert (
            missing.status_code == 400 and missing.json()["error"]["field"] == "metadata.baseline"
        )


async def test_freeze_holds_a_good_canary(history: History) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        created = await slogate.http.post(
            "/v1/freezes",
            json={"service": "canary-good", "reason": "holiday"},
            headers=slogate.admin,
        )
        assert created.status_code == 201
        _, body = await ask(slogate, service="canary-good")
        assert (body["verdict"], body["decision"]) == ("inconclusive", "deny")
        assert [r["code"] for r in body["reasons"]] == ["frozen"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"canary": ""}, "canary"),
        ({"baseline": ""}, "baseline"),
        ({"window": "ten minutes"}, "window"),
        ({"start": "2026-01-01T00:10:00Z", "end": "2026-01-01T00:00:00Z"}, "start"),
        ({"window": "40d"}, "window"),
        ({"start": "yesterday"}, "start"),
        ({"color": "red"}, "color"),
    ],
)
async def test_bad_input_names_the_field(
    history: History, params: dict[str, str], field: str
) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        status, body = await ask(slogate, service="canary-good", **params)
        assert status == 400, body
        assert body["error"]["field"] == field


async def test_hostile_label_value_is_a_literal(history: History) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        status, body = await ask(slogate, service="canary-good", canary='x"}or(vector(1))')
        assert status == 200, body
        # No series carry that value: no canary traffic, not a smuggled vector(1).
        assert body["slos"][0]["canary"]["total"] == 0
        assert body["verdict"] == "inconclusive"


@pytest.mark.parametrize(("fail_mode", "decision"), [("closed", "deny"), ("open", "warn")])
async def test_backend_down_follows_the_fail_mode(fail_mode: str, decision: str) -> None:
    config = f"policy: {{default: {{fail_mode: {fail_mode}}}}}"
    async with running_slogate("http://127.0.0.1:9", specs=SPECS, config_text=config) as slogate:
        status, body = await ask(slogate, service="canary-good")
        assert status == 200
        assert (body["verdict"], body["decision"]) == ("inconclusive", decision)
        assert "backend_unavailable" in [r["code"] for r in body["reasons"]]


@pytest.mark.parametrize(
    ("service", "code"), [("canary-good", 0), ("canary-bad", 1), ("canary-tiny", 4)]
)
async def test_cli_check_canary_exit_codes(history: History, service: str, code: int) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        args = [
            "--service",
            service,
            "--canary",
            "canary",
            "--baseline",
            "stable",
            "--window",
            "10m",
        ]
        result, out, err = await run_cli("check", "--url", slogate.url, *args)
        assert result == code, (out, err)
        assert service in out


async def test_analysis_is_traced(history: History, spans: InMemorySpanExporter) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        _, body = await ask(slogate, service="canary-bad", deploy_id="build-3")
    [analysis] = [s for s in spans.get_finished_spans() if s.name == "slogate.canary.analysis"]
    attributes = dict(analysis.attributes or {})
    assert attributes["slogate.canary.verdict"] == "fail"
    assert attributes["slogate.decision_id"] == body["decision_id"]
    assert attributes["slogate.deploy_id"] == "build-3"


THRESHOLDS = {"pass": 90, "marginal": 75}
SAME = {"controlScope": {"scope": "a"}, "experimentScope": {"scope": "a"}}


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/canary/no-such-service", {}, 404, None),
        ("/canary/canary-good", {"scopes": {}, "thresholds": THRESHOLDS}, 400, "scopes"),
        (
            "/canary/canary-good",
            {"scopes": {"default": {}}, "thresholds": {"pass": 75, "marginal": 75}},
            400,
            "thresholds.marginal",
        ),
        (
            "/canary/canary-good",
            {"scopes": {"default": SAME}, "thresholds": THRESHOLDS},
            400,
            "scopes.default.controlScope.scope",
        ),
    ],
)
async def test_kayenta_bad_requests(
    history: History, path: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    async with running_slogate(history.url, specs=SPECS) as slogate:
        response = await slogate.http.post(path, json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"].get("field") == field
        missing = await slogate.http.get("/canary/01NOSUCHEXECUTION")
        assert missing.status_code == 404
