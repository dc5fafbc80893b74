"""Where incidents go: Alertmanager, PagerDuty, Opsgenie, Slack and signed webhooks.

Each sink turns a notification into its tool's documented request and raises `DeliveryError`
(retryable or not) unless the tool acknowledged it. Payload builders are pure functions; error
messages never carry a URL or key (Slack and webhook URLs are secrets).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from slogate.core.incidents import Incident, Severity, incident_to_json
from slogate.core.signatures import sign
from slogate.core.views import rfc3339
from slogate.errors import DeliveryError


class Action(StrEnum):
    TRIGGER = "trigger"
    RESOLVE = "resolve"
    REFRESH = "refresh"
    """Alertmanager only: re-send a firing alert so it does not expire (not persisted)."""


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    sink: str
    action: Action
    incident: Incident
    opened_at: float
    at: float
    """When the transition happened (resolve time for a resolve)."""


def check_response(response: httpx.Response, *, expect_body: str | None = None) -> None:
    """2xx is delivered; 408, 429 and 5xx are retried; any other answer is final."""
    status = response.status_code
    if 200 <= status < 300:
        if expect_body is not None and response.text.strip() != expect_body:
            raise DeliveryError(f"HTTP {status} with body {response.text[:80]!r}", retryable=False)
        return
    retry_after = None
    if (header := response.headers.get("Retry-After", "")).isdigit():
        retry_after = float(header)
    detail = response.text[:200].replace("\n", " ")
    retryable = status in (408, 429) or status >= 500
    raise DeliveryError(f"HTTP {status}: {detail}", retryable=retryable, retry_after=retry_after)


async def post(http: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await http.post(url, **kwargs)
    except httpx.TimeoutException:
        raise DeliveryError("timed out", retryable=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}", retryable=True) from None


class Sink(Protocol):
    name: str

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None: ...


@runtime_checkable
class RefreshingSink(Sink, Protocol):
    """A sink that expires what it is not sent again (Alertmanager): the pager re-sends every
    firing alert to it after each cycle, many to a request."""

    async def refresh(
        self, notifications: Sequence[Notification], http: httpx.AsyncClient
    ) -> None: ...


# --- Alertmanager ---------------------------------------------------------------------------------


def alertmanager_alerts(n: Notification, resend_window: float) -> list[dict[str, Any]]:
    """API v2 postable alerts. A firing alert ends `resend_window` after now unless re-sent,
    as Prometheus does; a resolve sets `endsAt` to the resolve time."""
    incident = n.incident
    ends = n.at if n.action is Action.RESOLVE else n.at + resend_window
    alert: dict[str, Any] = {
        "labels": dict(incident.labels),
        "annotations": dict(incident.annotations),
        "startsAt": rfc3339(n.opened_at),
        "endsAt": rfc3339(ends),
    }
    if incident.link:
        alert["generatorURL"] = incident.link
    return [alert]


@dataclass(slots=True)
class AlertmanagerSink:
    name: str
    url: str
    resend_window: float = 240.0

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        await self.refresh((notification,), http)

    async def refresh(self, notifications: Sequence[Notification], http: httpx.AsyncClient) -> None:
        """One request for all of `notifications`: the API takes a list of alerts."""
        body = [a for n in notifications for a in alertmanager_alerts(n, self.resend_window)]
        check_response(await post(http, f"{self.url.rstrip('/')}/api/v2/alerts", json=body))


# --- PagerDuty Events API v2 ----------------------------------------------------------------------

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


def pagerduty_event(n: Notification, routing_key: str) -> dict[str, Any]:
    incident = n.incident
    if n.action is Action.RESOLVE:
        return {
            "routing_key": routing_key,
            "dedup_key": incident.dedup_key,
            "event_action": "resolve",
        }
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": incident.dedup_key,
        "payload": {
            "summary": incident.summary[:1024],
            "source": "slogate",
            "severity": "critical" if incident.severity is Severity.PAGE else "warning",
            "timestamp": rfc3339(n.opened_at),
            "component": incident.service,
            "group": incident.slo,
            "class": incident.severity.value,
            "custom_details": {
                "description": incident.description,
                "objective": incident.objective,
                "error_budget_remaining": incident.error_budget_remaining,
                "burn_rates": dict(incident.burn_rates),
                "labels": dict(incident.labels),
            },
        },
        "client": "slogate",
    }
    if incident.link:
        event["client_url"] = incident.link
        event["links"] = [{"href": incident.link, "text": "SLO status in slogate"}]
    return event


@dataclass(slots=True, repr=False)
class PagerDutySink:
    name: str
    routing_key: str
    url: str = PAGERDUTY_URL

    def __repr__(self) -> str:
        return f"PagerDutySink({self.name!r})"

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        body = pagerduty_event(notification, self.routing_key)
        check_response(await post(http, self.url, json=body))


# --- Opsgenie -------------------------------------------------------------------------------------

OPSGENIE_URL = "https://api.opsgenie.com"


def opsgenie_request(n: Notification, base_url: str) -> tuple[str, dict[str, Any]]:
    """(URL, JSON body) of a create (trigger) or close-by-alias (resolve) request."""
    incident = n.incident
    base = base_url.rstrip("/")
    if n.action is Action.RESOLVE:
        url = f"{base}/v2/alerts/{quote(incident.dedup_key, safe='')}/close?identifierType=alias"
        return url, {"source": "slogate", "note": f"resolved: {incident.summary}"[:25000]}
    details = {k: str(v) for k, v in incident.labels.items()}
    details["error_budget_remaining"] = str(incident.error_budget_remaining)
    body = {
        "alias": incident.dedup_key,
        "message": incident.summary[:130],
        "description": incident.description[:15000],
        "details": details,
        "source": "slogate",
        "entity": incident.service,
        "tags": ["slo", incident.service, incident.severity.value],
        "priority": "P1" if incident.severity is Severity.PAGE else "P3",
    }
    return f"{base}/v2/alerts", body


@dataclass(slots=True, repr=False)
class OpsgenieSink:
    name: str
    api_key: str
    url: str = OPSGENIE_URL

    def __repr__(self) -> str:
        return f"OpsgenieSink({self.name!r})"

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        url, body = opsgenie_request(notification, self.url)
        headers = {"Authorization": f"GenieKey {self.api_key}"}
        check_response(await post(http, url, json=body, headers=headers))


# --- Slack incoming webhook -----------------------------------------------------------------------


def slack_message(n: Notification) -> dict[str, Any]:
    incident = n.incident
    if n.action is Action.RESOLVE:
        head = f":white_check_mark: *RESOLVED* {incident.summary}"
    else:
        icon = ":rotating_light:" if incident.severity is Severity.PAGE else ":warning:"
        head = f"{icon} *{incident.severity.value.upper()}* {incident.summary}"
    lines = [head, incident.description]
    if incident.link:
        lines.append(f"<{incident.link}|SLO status>")
    return {"text": "\n".join(lines)}


@dataclass(slots=True, repr=False)
class SlackSink:
    name: str
    webhook_url: str

    def __repr__(self) -> str:
        return f"SlackSink({self.name!r})"

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        response = await post(http, self.webhook_url, json=slack_message(notification))
        check_response(response, expect_body="ok")


# --- Generic signed webhook -----------------------------------------------------------------------

SIGNATURE_HEADER = "X-Slogate-Signature-256"


def webhook_body(n: Notification) -> bytes:
    doc = {
        "version": 1,
        "action": n.action.value,
        "dedup_key": n.incident.dedup_key,
        "opened_at": rfc3339(n.opened_at),
        "at": rfc3339(n.at),
        "incident": incident_to_json(n.incident),
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


@dataclass(slots=True, repr=False)
class WebhookSink:
    name: str
    url: str
    secret: str

    def __repr__(self) -> str:
        return f"WebhookSink({self.name!r})"

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        body = webhook_body(notification)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-Slogate-Event": notification.action.value,
        }
        check_response(await post(http, self.url, content=body, headers=headers))
