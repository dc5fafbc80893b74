"""Hot reload of specs and config: on file change and on SIGHUP; a broken file is rejected,
reported in /readyz and a metric, and the last good set keeps serving."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ServeProcess, eventually

BROKEN_SPEC = """version: "prometheus/v1"
service: "ledger"
slos:
  - name: "availability"
    objective: 101
    sli: {raw: {error_ratio_query: 'rate(x[{{.window}}])'}}
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"""


async def until(
    http: httpx.AsyncClient, path: str, check: Callable[[Any], bool], **kwargs: Any
) -> Any:
    """GET `path` until `check(json)` holds, and return that answer."""

    async def answer() -> Any:
        body = (await http.get(path, **kwargs)).json()
        return body if check(body) else None

    return await eventually(answer, f"GET {path} to pass its check", every=0.2)


async def test_reload_on_change_and_sighup(history: History, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("checkout.yml", "payments.yml"):
        shutil.copy(DEMO_SPECS / name, specs / name)
    config = tmp_path / "slogate.yaml"
    config.write_text("specs: {watch_interval: 300ms}\n")
    server = ServeProcess(history.url, specs, tmp_path / "slogate.db", config=config)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            # A broken spec dropped in: rejected, reported, the old set keeps serving.
            (specs / "ledger.yml").write_text(BROKEN_SPEC)
            ready = await until(http, "/readyz", lambda b: b["specs"]["ok"] is False)
            assert ready["status"] == "ready" and ready["slos"] == 2
            [error] = ready["specs"]["errors"]
            assert (
                error.startswith(str(specs / "ledger.yml"))
                and "objective must >0 and <=100" in error
            )
            assert (await http.get("/v1/gate", params={"service": "checkout"})).json()[
                "decision"
            ] == "allow"
            assert (await http.get("/v1/gate", params={"service": "ledger"})).status_code == 404
            metrics = (await http.get("/metrics")).text
            assert 'slogate_reload_success{kind="specs"} 0.0' in metrics

            # Fixed: the new service is served.
            (specs / "ledger.yml").write_text(
                BROKEN_SPEC.replace("objective: 101", "objective: 99.5")
            )
            await until(http, "/readyz", lambda b: b["specs"]["ok"] is True and b["slos"] == 3)
            gate = await until(
                http,
                "/v1/gate",
                lambda b: b.get("slos", [{}])[0].get("state") != "pending",
                params={"service": "ledger"},
            )
            assert gate["service"] == "ledger"

            # A broken config: rejected, the old policy stays.
            config.write_text(
                "specs: {watch_interval: 300ms}\npolicy: {default: {fail_mode: sideways}}\n"
            )
            ready = await until(
                http, "/readyz", lambda b: b["config"] and b["config"]["ok"] is False
            )
            assert (
                "policy.default.fail_mode: must be one of closed, open"
                in ready["config"]["errors"][0]
            )
            assert (await http.get("/v1/gate", params={"service": "checkout"})).json()[
                "decision"
            ] == "allow"
    finally:
        server.stop()


async def test_sighup_reloads_at_once(history: History, tmp_path: Path) -> None:
    config = tmp_path / "slogate.yaml"
    config.write_text("specs: {watch_interval: 1h}\n")  # the watcher will not notice in time
    server = ServeProcess(history.url, DEMO_SPECS, tmp_path / "slogate.db", config=config)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            assert (await http.get("/v1/gate", params={"service": "checkout"})).json()[
                "decision"
            ] == "allow"
            config.write_text(
                "specs: {watch_interval: 1h}\npolicy: {default: {budget_low_threshold: 0.9}}\n"
            )
            server.signal(signal.SIGHUP)
            body = await until(
                http, "/v1/gate", lambda b: b["decision"] == "warn", params={"service": "checkout"}
            )
            assert [r["code"] for r in body["reasons"]] == ["budget_low"]  # 80% left < 90%
            assert (await http.get("/readyz")).json()["config"]["ok"] is True
    finally:
        server.stop()
