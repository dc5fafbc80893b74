"""The README's first command: `slogate demo` comes up with the promised verdicts."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from slogate.cli.localprom import free_port

from ..conftest import DEMO_SPECS
from .helpers import eventually

PROMISED = {
    "checkout": "allow",
    "payments": "deny",
    "search": "deny",
    "catalog": "warn",
    "recommendations": "warn",
    "notifications": "warn",
}


async def test_demo_serves_the_promised_verdicts(tmp_path: Path) -> None:
    port, prometheus_port, alertmanager_port = free_port(), free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "slogate.cli",
            "demo",
            "--specs",
            str(DEMO_SPECS),
            "--listen",
            f"127.0.0.1:{port}",
            "--prometheus-port",
            str(prometheus_port),
            "--alertmanager-port",
            str(alertmanager_port),
            "--workdir",
            str(tmp_path / "work"),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SLOGATE_ADMIN_TOKEN": ""},
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def ready() -> bool:
                assert process.returncode is None, log.read_text()
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, f"the demo to be ready (its log: {log})", within=600, every=0.5)
            verdicts = {
                s: (await http.get("/v1/gate", params={"service": s})).json()["decision"]
                for s in PROMISED
            }
            assert verdicts == PROMISED
            canaries = {
                c: (
                    await http.get(
                        "/v1/canary",
                        params={"service": "checkout", "canary": c, "baseline": "stable"},
                    )
                ).json()["verdict"]
                for c in ("good", "bad")
            }
            assert canaries == {"good": "pass", "bad": "fail"}
            # The burning service's page alert reaches Alertmanager within the first cycle.
            alerts = (
                await http.get(
                    f"http://127.0.0.1:{alertmanager_port}/api/v2/alerts",
                    params={"filter": ['service="payments"', 'sloth_severity="page"']},
                )
            ).json()
            assert [a["labels"]["alertname"] for a in alerts] == ["PaymentsAvailabilityBurn"]
        banner = await eventually(
            lambda: "Delivery (DORA)" in log.read_text() and log.read_text(), "the demo's banner"
        )
        assert f"curl -s 'http://127.0.0.1:{port}/v1/gate?service=payments'" in banner
        assert (
            "checkout   10 deployments (2 failed) in 30d: 0.33/day [high], lead time 2.25 h"
            " [high], change failure rate 20% [high] (DORA 2021 bands)"
        ) in banner
        # payments' page incident opens in the first cycle, which may end after the banner
        assert "payments   1 deployment (" in banner
        assert "admin token for this demo: demo-" in banner
        assert "/v1/canary?service=checkout&canary=bad&baseline=stable" in banner
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 30)
    async with httpx.AsyncClient(timeout=2) as http:  # the demo stopped its Prometheus too
        try:
            await http.get(f"http://127.0.0.1:{prometheus_port}/-/ready")
            raise AssertionError("the demo's Prometheus is still running")
        except httpx.ConnectError:
            pass
