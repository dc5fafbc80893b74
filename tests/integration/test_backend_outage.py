"""Prometheus stopped mid-run: the gate keeps answering, fails closed past the staleness bound,
and is correct again within one interval of Prometheus coming back."""

from __future__ import annotations

from typing import Any

from .conftest import History
from .helpers import Running, eventually, running_slogate

CONFIG = "policy: {default: {max_staleness: 3s}}"


async def poll(
    slogate: Running, service: str, until: Any, seen: list[list[str]] | None = None
) -> dict[str, Any]:
    """Ask the gate until `until(body)` holds (for at most 30 s); every answer must be a
    well-formed decision. The reason codes of every answer go to `seen`."""

    async def answer() -> dict[str, Any] | None:
        status, body = await slogate.gate(service=service)
        assert status == 200 and body["decision"] in ("allow", "warn", "deny")
        if seen is not None:
            seen.append(codes(body))
        return body if until(body) else None

    result: dict[str, Any] = await eventually(answer, f"{service}'s expected answer", every=0.2)
    return result


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


async def test_outage_fails_closed_then_recovers(history: History) -> None:
    prometheus = history.prometheus
    async with running_slogate(
        history.url, config_text=CONFIG, interval="1s", schedule=True
    ) as slogate:
        await poll(slogate, "checkout", lambda b: b["decision"] == "allow")
        prometheus.stop()
        try:
            seen: list[list[str]] = []
            body = await poll(slogate, "checkout", lambda b: b["decision"] == "deny", seen)
            # Until the staleness bound the last good figures kept serving; then fail closed.
            assert all(c == [] for c in seen[:-1])
            assert codes(body) == ["backend_unavailable"]
            assert "cannot reach" in body["reasons"][0]["message"]
            [slo] = body["slos"]
            assert slo["state"] == "stale" and slo["error"] is not None
            assert slo["data_age_seconds"] >= 3  # rounded to 0.1 s: 3.04 reads 3.0
            assert (await slogate.http.get("/healthz")).status_code == 200
            metrics = (await slogate.http.get("/metrics")).text
            errors = next(
                line
                for line in metrics.splitlines()
                if line.startswith("slogate_backend_errors_total")
            )
            assert float(errors.split()[1]) > 0
        finally:
            prometheus.start()
        cycle_at_restart = slogate.engine.snapshot.cycle
        body = await poll(slogate, "checkout", lambda b: b["decision"] == "allow")
        assert codes(body) == []
        assert slogate.engine.snapshot.cycle <= cycle_at_restart + 2  # within one interval
        _, payments = await slogate.gate(service="payments")
        assert payments["decision"] == "deny" and codes(payments) == ["fast_burn"]


async def test_fail_open_service_warns_instead(history: History) -> None:
    config = (
        "policy:\n  default: {max_staleness: 3s}\n"
        "  overrides: [{match: {service: checkout}, fail_mode: open}]"
    )
    async with running_slogate("http://127.0.0.1:1", config_text=config, interval="1s") as slogate:
        _, body = await slogate.gate(service="checkout")
        assert body["decision"] == "warn" and body["allow"] is True
        assert codes(body) == ["backend_unavailable"]
        _, other = await slogate.gate(service="payments")
        assert other["decision"] == "deny" and codes(other) == ["backend_unavailable"]
        ready = await slogate.http.get("/readyz")
        assert ready.status_code == 200  # a finished cycle, even a failed one, counts as evaluated
