"""Paging end to end: a real Prometheus and a real Alertmanager, and local receivers playing
PagerDuty, Opsgenie, Slack and a signed webhook. The evaluation clock is set to chosen moments
of the backfilled history (`flapper` burns from 150 to 40 minutes before the anchor)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slogate.cli.localprom import LocalAlertmanager, free_port
from slogate.core.incidents import Incident, Severity
from slogate.core.model import frozen_labels
from slogate.notify.sinks import Action, AlertmanagerSink, Notification

from ..conftest import DEMO_SPECS, ROOT
from ..tools import require_tool
from .conftest import History
from .helpers import ServeProcess, eventually, running_slogate
from .receivers import Receiver, receiver, sink_env, sinks_config

FLAPPER_PAGE = "slogate/flapper-availability/page"
FLAPPER_TICKET = "slogate/flapper-availability/ticket"


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlertmanager]:
    require_tool("prometheus-alertmanager")
    am = LocalAlertmanager(tmp_path_factory.mktemp("alertmanager"))
    am.start()
    yield am
    am.stop()


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    target = tmp_path / "specs"
    target.mkdir()
    for name in ("catalog.yml", "search.yml", "checkout.yml"):
        shutil.copy(DEMO_SPECS / name, target / name)
    shutil.copy(ROOT / "tests" / "fixtures" / "specs" / "flapper.yml", target / "flapper.yml")
    return target


class Clock:
    """Evaluation time, pinned to a moment relative to the history's anchor."""

    def __init__(self, anchor: float, minutes: float) -> None:
        self.anchor = anchor
        self.at(minutes)

    def at(self, minutes: float) -> None:
        self.offset = self.anchor + minutes * 60 - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def keys(received: Receiver, tool: str, action: str) -> list[str]:
    """dedup keys of accepted PagerDuty events (or aliases of Opsgenie ones) with `action`."""
    if tool == "pagerduty":
        return [e["dedup_key"] for e in received.accepted_by(tool) if e["event_action"] == action]
    if tool == "opsgenie":
        name = "create" if action == "trigger" else "close"
        return [e["alias"] for e in received.accepted_by(tool) if e["action"] == name]
    return [e["dedup_key"] for e in received.accepted_by(tool) if e.get("action") == action]


def firing(am: LocalAlertmanager, service: str, severity: str) -> list[dict[str, Any]]:
    return [
        a
        for a in am.alerts(service=service, sloth_severity=severity)
        if isinstance(a["status"], dict) and a["status"]["state"] == "active"
    ]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def set_for(url: str) -> None:
        for key, value in sink_env(url).items():
            monkeypatch.setenv(key, value)

    return set_for


async def test_a_real_alertmanager_takes_a_refresh_of_many_alerts_in_one_request(
    alertmanager: LocalAlertmanager,
) -> None:
    def firing_note(n: int) -> Notification:
        labels = {"alertname": "BatchBurn", "service": "batch", "slo": f"s{n}"}
        incident = Incident(
            slo_id=f"batch-s{n}",
            service="batch",
            slo=f"s{n}",
            severity=Severity.TICKET,
            alertname="BatchBurn",
            summary="summary",
            description="desc",
            labels=frozen_labels(labels),
            annotations=frozen_labels({"summary": "s"}),
        )
        return Notification(0, "am", Action.REFRESH, incident, time.time() - 60, time.time())

    sink = AlertmanagerSink("am", alertmanager.url)
    async with httpx.AsyncClient(timeout=10) as http:
        await sink.refresh([firing_note(n) for n in range(25)], http)

    def all_firing() -> list[dict[str, Any]] | None:
        found = alertmanager.alerts(alertname="BatchBurn")
        return found if len(found) >= 25 else None

    alerts = await eventually(all_firing, "the 25 alerts")
    assert sorted(a["labels"]["slo"] for a in alerts) == sorted(f"s{n}" for n in range(25))


async def test_fast_burn_pages_every_sink_then_resolves(
    history: History, alertmanager: LocalAlertmanager, specs: Path, env: Callable[[str], None]
) -> None:
    clock = Clock(history.anchor, -50)
    async with receiver() as got:
        env(got.url)
        config = sinks_config(got.url, alertmanager.url)
        async with running_slogate(
            history.url, specs=specs, config_text=config, clock=clock
        ) as slogate:
            await eventually(lambda: FLAPPER_PAGE in keys(got, "pagerduty", "trigger"), "the page")
            [alert] = await eventually(lambda: firing(alertmanager, "flapper", "page"), "the alert")
            labels = alert["labels"]
            assert labels["alertname"] == "FlapperAvailability"
            assert labels["severity"] == "critical" and labels["team"] == "flappers"
            assert labels["slo"] == "availability" and labels["sloth_id"] == "flapper-availability"
            annotations = alert["annotations"]
            assert "page condition" in annotations["summary"]
            assert "burn rates 5m 50." in annotations["description"]
            assert (
                annotations["slo_status_url"]
                == "http://slogate.test:8080/v1/slos/flapper/availability"
            )
            [event] = [e for e in got.accepted_by("pagerduty") if e["dedup_key"] == FLAPPER_PAGE]
            assert (
                event["payload"]["severity"] == "critical"
                and event["payload"]["source"] == "slogate"
            )
            assert event["payload"]["custom_details"]["burn_rates"]["5m"] == pytest.approx(
                50, rel=0.02
            )
            await eventually(lambda: FLAPPER_PAGE in keys(got, "opsgenie", "trigger"), "opsgenie")
            await eventually(lambda: FLAPPER_PAGE in keys(got, "webhook", "trigger"), "webhook")
            await eventually(
                lambda: any("PAGE" in s["text"] for s in got.accepted_by("slack")), "slack"
            )

            clock.at(1)  # the burn ended 41 minutes ago: 5m and 30m windows are clean
            await slogate.engine.run_cycle()
            await eventually(
                lambda: FLAPPER_PAGE in keys(got, "pagerduty", "resolve"), "the resolve"
            )
            await eventually(
                lambda: not firing(alertmanager, "flapper", "page"), "the alert to resolve"
            )
            await eventually(
                lambda: FLAPPER_PAGE in keys(got, "opsgenie", "resolve"), "opsgenie close"
            )
            await eventually(
                lambda: FLAPPER_PAGE in keys(got, "webhook", "resolve"), "webhook resolve"
            )
            assert any("RESOLVED" in s["text"] for s in got.accepted_by("slack"))
            # The slow windows still burn: the ticket stays open, the page does not come back.
            assert firing(alertmanager, "flapper", "ticket")
            assert FLAPPER_TICKET not in keys(got, "pagerduty", "resolve")
            for tool in ("pagerduty", "opsgenie", "webhook"):
                assert keys(got, tool, "trigger").count(FLAPPER_PAGE) == 1
            assert got.rejected == []
            metrics = (await slogate.http.get("/metrics")).text
            assert 'slogate_notifications_total{outcome="delivered",sink="pd"}' in metrics
            assert 'slogate_notification_outbox_depth{sink="pd"} 0.0' in metrics


async def test_slow_burn_is_ticket_only_and_exhaustion_pages_and_halts(
    history: History, specs: Path, env: Callable[[str], None]
) -> None:
    async with receiver() as got:
        env(got.url)
        async with running_slogate(
            history.url, specs=specs, config_text=sinks_config(got.url)
        ) as slogate:
            open_incidents = (await slogate.http.get("/v1/incidents")).json()["incidents"]
            opened = {(i["service"], i["severity"]) for i in open_incidents}
            assert ("catalog", "ticket") in opened and ("catalog", "page") not in opened
            assert ("search", "page") in opened and ("checkout", "page") not in opened
            [search_page] = [
                i for i in open_incidents if (i["service"], i["severity"]) == ("search", "page")
            ]
            assert "error budget exhausted (-50.0% left)" in search_page["summary"]
            freezes = slogate.control.freezes()
            assert [(f.service, f.kind.value) for f in freezes] == [("search", "system")]
            await eventually(
                lambda: (
                    "slogate/catalog-requests-availability-0/ticket"
                    in keys(got, "pagerduty", "trigger")
                ),
                "ticket",
            )
            [ticket] = [
                e
                for e in got.accepted_by("pagerduty")
                if e["dedup_key"].endswith("catalog-requests-availability-0/ticket")
            ]
            assert ticket["payload"]["severity"] == "warning"


async def test_receiver_down_for_a_while_loses_nothing(
    history: History, specs: Path, env: Callable[[str], None]
) -> None:
    async with receiver() as got:
        env(got.url)
        got.fail_with = [503] * 6 + [429] * 3 + [500] * 3
        async with running_slogate(
            history.url, specs=specs, config_text=sinks_config(got.url)
        ) as slogate:
            expected = {
                i["slo_id"] + "/" + i["severity"]
                for i in (await slogate.http.get("/v1/incidents")).json()["incidents"]
            }
            expected = {f"slogate/{k}" for k in expected}
            await eventually(
                lambda: set(keys(got, "pagerduty", "trigger")) == expected, "every trigger", 60
            )
            await eventually(
                lambda: slogate.pager.depth() == {"pd": 0, "ops": 0, "slack": 0, "hook": 0},
                "an empty outbox",
                60,
            )
            for tool in ("pagerduty", "opsgenie", "webhook"):
                triggers = keys(got, tool, "trigger")
                assert sorted(triggers) == sorted(set(triggers)) == sorted(expected), tool
            assert got.fail_with == [] and got.attempts > len(got.accepted)
            metrics = (await slogate.http.get("/metrics")).text
            assert 'slogate_notifications_total{outcome="retried",' in metrics


async def test_rejected_notifications_fail_visibly(
    history: History, specs: Path, env: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with receiver() as got:
        env(got.url)
        monkeypatch.setenv("TEST_PD_KEY", "not-a-32-character-routing-key")
        async with running_slogate(
            history.url, specs=specs, config_text=sinks_config(got.url)
        ) as slogate:

            async def failed_entries() -> list[dict[str, Any]]:
                body = (
                    await slogate.http.get("/v1/notifications", params={"state": "failed"})
                ).json()
                return list(body["notifications"])

            failed = await eventually(failed_entries, "a failed notification")
            assert {f["sink"] for f in failed} == {"pd"}
            assert "HTTP 400" in failed[0]["last_error"] and failed[0]["attempts"] == 0
            assert (
                "routing_key" in failed[0]["last_error"]
                or "invalid event" in failed[0]["last_error"]
            )
            assert got.accepted_by("pagerduty") == []
            await eventually(lambda: got.accepted_by("opsgenie"), "other sinks to deliver")
            metrics = (await slogate.http.get("/metrics")).text
            assert 'slogate_notifications_total{outcome="failed",sink="pd"}' in metrics


async def test_restart_neither_pages_again_nor_forgets_to_resolve(
    history: History, specs: Path, env: Callable[[str], None], tmp_path: Path
) -> None:
    store = tmp_path / "pager.db"
    clock = Clock(history.anchor, -50)
    async with receiver() as got:
        env(got.url)
        config = sinks_config(got.url)
        async with running_slogate(
            history.url, specs=specs, config_text=config, clock=clock, store_path=store
        ):
            await eventually(lambda: FLAPPER_PAGE in keys(got, "pagerduty", "trigger"), "the page")
        async with running_slogate(
            history.url, specs=specs, config_text=config, clock=clock, store_path=store
        ) as slogate:
            await slogate.engine.run_cycle()
            await asyncio.sleep(0.5)
            assert keys(got, "pagerduty", "trigger").count(FLAPPER_PAGE) == 1
        clock.at(1)
        async with running_slogate(
            history.url, specs=specs, config_text=config, clock=clock, store_path=store
        ):
            await eventually(
                lambda: FLAPPER_PAGE in keys(got, "pagerduty", "resolve"), "the resolve"
            )


async def test_kill_9_with_notifications_pending(
    history: History, env: Callable[[str], None], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env(url)
    config = tmp_path / "slogate.yaml"
    config.write_text(sinks_config(url, retry="200ms"))
    server = ServeProcess(history.url, DEMO_SPECS, tmp_path / "slogate.db", config=config)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:

            async def pending() -> list[dict[str, Any]]:
                body = (await http.get("/v1/notifications", params={"state": "pending"})).json()
                return list(body["notifications"])

            # nothing listens on the receiver's port
            waiting = await eventually(pending, "a pending notification")
            incidents = (await http.get("/v1/incidents")).json()["incidents"]
        server.signal(signal.SIGKILL)
        server.wait()
        expected = {f"slogate/{i['slo_id']}/{i['severity']}" for i in incidents}
        async with receiver(port) as got:
            await server.start()
            await eventually(
                lambda: set(keys(got, "pagerduty", "trigger")) == expected,
                "delivery after restart",
                60,
            )
            await asyncio.sleep(2.5)  # two more cycles: nothing is paged again
            triggers = keys(got, "pagerduty", "trigger")
            assert sorted(triggers) == sorted(set(triggers))
            print(f"pending at kill -9: {len(waiting)}; PagerDuty triggers after: {len(triggers)}")
    finally:
        server.stop()
