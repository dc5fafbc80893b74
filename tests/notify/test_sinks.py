"""Sink wire formats (pure builders) and how answers are classified."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import httpx
import pytest

from slogate.core.incidents import Incident, Severity
from slogate.core.model import frozen_labels
from slogate.core.signatures import sign
from slogate.errors import DeliveryError
from slogate.notify.paging import backoff
from slogate.notify.sinks import (
    SIGNATURE_HEADER,
    Action,
    AlertmanagerSink,
    Notification,
    WebhookSink,
    alertmanager_alerts,
    check_response,
    opsgenie_request,
    pagerduty_event,
    slack_message,
)

INCIDENT = Incident(
    slo_id="payments-availability",
    service="payments",
    slo="availability",
    severity=Severity.PAGE,
    alertname="PaymentsBurn",
    summary="[payments] availability: burning error budget fast (page condition)",
    description="SLO availability of payments (99.9% over 30d): error budget left 75.0%",
    labels=frozen_labels(
        {"alertname": "PaymentsBurn", "severity": "critical", "service": "payments"}
    ),
    annotations=frozen_labels({"summary": "s"}),
    burn_rates={"5m": 20.0},
    error_budget_remaining=0.75,
    objective=99.9,
    link="http://slogate:8080/v1/slos/payments/availability",
)
T0 = 1_800_000_000.0


def note(action: Action, incident: Incident = INCIDENT) -> Notification:
    return Notification(1, "x", action, incident, T0, T0 + 600)


async def test_alertmanager_refresh_sends_every_alert_in_one_request() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    other = replace(INCIDENT, slo_id="payments-latency", slo="latency")
    notes = [note(Action.REFRESH), note(Action.REFRESH, other)]
    sink = AlertmanagerSink("am", "http://am.test:9093/")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        await sink.refresh(notes, http)
    [request] = seen
    assert request.method == "POST" and str(request.url) == "http://am.test:9093/api/v2/alerts"
    expected = [a for n in notes for a in alertmanager_alerts(n, resend_window=240)]
    assert json.loads(request.content) == expected and len(expected) == 2


def test_alertmanager_firing_and_resolved() -> None:
    [firing] = alertmanager_alerts(note(Action.TRIGGER), resend_window=240)
    assert firing["labels"] == dict(INCIDENT.labels)
    assert firing["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert firing["endsAt"] == "2027-01-15T08:14:00.000Z"  # 600 s later + 240 s window
    assert firing["generatorURL"] == INCIDENT.link
    [resolved] = alertmanager_alerts(note(Action.RESOLVE), resend_window=240)
    assert resolved["endsAt"] == "2027-01-15T08:10:00.000Z"
    assert resolved["labels"] == firing["labels"]  # same label set: Alertmanager dedups on it


def test_pagerduty_trigger_and_resolve() -> None:
    trigger = pagerduty_event(note(Action.TRIGGER), "K" * 32)
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "slogate/payments-availability/page"
    payload = trigger["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "slogate"
    assert payload["summary"] == INCIDENT.summary and len(payload["summary"]) <= 1024
    assert trigger["links"] == [{"href": INCIDENT.link, "text": "SLO status in slogate"}]
    assert pagerduty_event(note(Action.RESOLVE), "K" * 32) == {
        "routing_key": "K" * 32,
        "dedup_key": "slogate/payments-availability/page",
        "event_action": "resolve",
    }


def test_pagerduty_ticket_severity_is_warning() -> None:
    ticket = replace(INCIDENT, severity=Severity.TICKET)
    assert (
        pagerduty_event(note(Action.TRIGGER, ticket), "K" * 32)["payload"]["severity"] == "warning"
    )


def test_opsgenie_create_and_close_by_alias() -> None:
    url, body = opsgenie_request(note(Action.TRIGGER), "https://api.opsgenie.com/")
    assert url == "https://api.opsgenie.com/v2/alerts"
    assert body["alias"] == INCIDENT.dedup_key and len(body["message"]) <= 130
    assert body["priority"] == "P1" and body["source"] == "slogate"
    assert all(isinstance(v, str) for v in body["details"].values())
    url, body = opsgenie_request(note(Action.RESOLVE), "https://api.opsgenie.com")
    assert url == (
        "https://api.opsgenie.com/v2/alerts/slogate%2Fpayments-availability%2Fpage/close?identifierType=alias"
    )
    assert body["source"] == "slogate"


def test_slack_text() -> None:
    assert slack_message(note(Action.TRIGGER))["text"].startswith(
        ":rotating_light: *PAGE* [payments]"
    )
    assert slack_message(note(Action.RESOLVE))["text"].startswith(":white_check_mark: *RESOLVED*")


def rfc2104_sha256(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 written out from RFC 2104, independently of the `hmac` module."""
    block = (
        key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    )
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in block) + inner).hexdigest()


def test_signature_matches_rfc_4231_test_case_2() -> None:
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign("Jefe", b"what do ya want for nothing?") == f"sha256={expected}"
    assert rfc2104_sha256(b"Jefe", b"what do ya want for nothing?") == expected


async def test_webhook_delivery_is_signed_over_the_exact_body_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    secret = "s3cr\u00e9t-" + "k" * 70  # non-ASCII and longer than a SHA-256 block
    sink = WebhookSink("hook", "http://hook.test/slo", secret)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await sink.deliver(note(Action.TRIGGER), http)
    [request] = sent
    doc = json.loads(request.content)
    assert doc["action"] == "trigger" and doc["incident"]["service"] == "payments"
    signature = rfc2104_sha256(secret.encode(), request.content)
    assert request.headers[SIGNATURE_HEADER] == f"sha256={signature}"
    assert request.headers["X-Slogate-Event"] == "trigger"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_answers_are_classified(status: int, retryable: bool) -> None:
    with pytest.raises(DeliveryError) as info:
        check_response(httpx.Response(status, text="nope", headers={"Retry-After": "7"}))
    assert info.value.retryable is retryable
    assert info.value.retry_after == 7
    assert "http" not in str(info.value).lower().replace("http ", "")  # no URL in messages


def test_two_hundreds_are_delivered_and_slack_wants_ok() -> None:
    check_response(httpx.Response(202))
    check_response(httpx.Response(200, text="ok"), expect_body="ok")
    with pytest.raises(DeliveryError):
        check_response(httpx.Response(200, text="invalid_token"), expect_body="ok")


def test_backoff_doubles_caps_and_jitters() -> None:
    assert [backoff(n, 1, 300, rand=lambda: 1.0) for n in (1, 2, 3, 9, 10)] == [1, 2, 4, 256, 300]
    assert backoff(3, 1, 300, rand=lambda: 0.0) == 2.0  # half of it at the least
