"""Traces of gate decisions through the real server, and no secret in any log line of a real
`slogate serve` process that is made to log errors about everything that uses one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from slogate.cli.localprom import free_port

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ADMIN_TOKEN, ServeProcess, running_slogate


async def test_gate_decision_span(history: History, spans: InMemorySpanExporter) -> None:
    # Inline evaluation: in `serve`'s default worker process the evaluation spans come from the
    # child (its own exporter, set up from the environment), out of this test's memory exporter.
    inline = "evaluation: {worker: inline}\n"
    async with running_slogate(history.url, config_text=inline) as slogate:
        await slogate.gate(service="payments", deploy_id="build-9", step="canary")
    [decision] = [s for s in spans.get_finished_spans() if s.name == "slogate.gate.decision"]
    attributes = dict(decision.attributes or {})
    assert attributes["slogate.service"] == "payments" and attributes["slogate.decision"] == "deny"
    assert attributes["slogate.deploy_id"] == "build-9" and attributes["slogate.step"] == "canary"
    assert list(attributes["slogate.reasons"]) == ["fast_burn"]  # type: ignore[arg-type]
    assert attributes["slogate.deployment.outcome"] == "in_progress"  # the deployment it is of
    assert isinstance(attributes["slogate.deployment.started_at"], float)
    assert any(s.name == "slogate.evaluation" for s in spans.get_finished_spans())


SECRETS = {
    "TEST_PD_KEY": "PDSECRETKEY00000000000000000042",
    "TEST_SLACK_URL": "http://127.0.0.1:{port}/services/T0/B0/slacksecretpath42",
    "SLOGATE_GITHUB_WEBHOOK_SECRET": "github-webhook-secret-42",
    "SLOGATE_GITHUB_TOKEN": "ghs_githubinstallationtoken42",
}


async def test_no_secret_in_any_log_line(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = free_port()  # every sink fails and is logged
    secrets = {k: v.format(port=dead) for k, v in SECRETS.items()}
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "slogate.yaml"
    config.write_text(
        "notifications:\n  retry_initial: 100ms\n  retry_max: 200ms\n  sinks:\n"
        f"    - {{name: pd, type: pagerduty, url: 'http://127.0.0.1:{dead}/v2/enqueue',"
        " secret_env: TEST_PD_KEY}\n"
        "    - {name: slack, type: slack, url_env: TEST_SLACK_URL}\n"
        f"github: {{api_url: 'http://127.0.0.1:{dead}'}}\n"
    )
    server = ServeProcess(history.url, DEMO_SPECS, tmp_path / "slogate.db", config=config)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            await http.get("/v1/freezes", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"})
            await http.post(
                "/v1/freezes",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                json={"service": "x"},
            )
            await http.post(
                "/v1/gate/github", content=b"{}", headers={"X-Hub-Signature-256": "sha256=00"}
            )
            for _ in range(50):  # until the sinks have failed and retried a few times
                body = (await http.get("/v1/notifications")).json()
                if any(n["attempts"] >= 2 for n in body["notifications"]):
                    break
                await asyncio.sleep(0.2)
            assert any(n["attempts"] >= 2 for n in body["notifications"])
    finally:
        server.stop()
    log = server.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["level"] == "warning" and "retry in" in line["msg"] for line in lines)
    for value in (*secrets.values(), ADMIN_TOKEN, "slacksecretpath42"):
        assert value not in log, "a secret reached the log"
