"""Deployments and delivery figures over HTTP (DESIGN §9).

- `POST /v1/deployments`: a pipeline reports `started|succeeded|failed|rolled_back`; `at` more
  than a minute in the past (backfill) needs the admin token; repeats change nothing.
- `POST /v1/webhooks/flagger/event` and `/v1/webhooks/flagger/post-rollout`: Flagger's
  `event` and `post-rollout` webhooks (phase `Succeeded` → succeeded, `Failed` → rolled back).
- `POST /v1/webhooks/github/deployment-status`: GitHub's signed `deployment_status` webhook.
- `GET /v1/deployments` (filtered, paginated), `GET /v1/deployments/{service}/{deploy_id}`
  (its steps, decisions and the incidents it caused), `GET /v1/incidents/history` (incidents
  with the deployments they are linked to), `GET /v1/dora?service=&window=`.

Webhook senders (Flagger, GitHub) report what happens now: their own timestamps are not
trusted for backfill, which only an admin may do.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from slogate.control.deployments import DeploymentDetail
from slogate.conventions import NAME
from slogate.core.dora import (
    Deployment,
    DeploymentEvent,
    EventKind,
    Figures,
    IncidentSpan,
    Metric,
    Outcome,
)
from slogate.core.durations import format_duration, parse_duration
from slogate.core.views import number, rfc3339
from slogate.errors import BadRequestError
from slogate.server.admin_api import admin
from slogate.server.bodies import TOKEN, DeploymentEventBody, decoded
from slogate.server.keys import DELIVERIES, ENGINE
from slogate.server.openapi_parts import ERROR, json_answer, json_body, ref
from slogate.server.web import (
    check_field,
    error_response,
    json_object,
    json_response,
    parse_time,
)
from slogate.server.webhooks import flagger_request, github_event, token_or
from slogate.store.base import DeploymentQuery

LIST_FIELDS = ("service", "outcome", "since", "until", "limit", "before")
MAX_PAGE = 500
MAX_WINDOW = 366 * 86_400.0
BACKFILL_GRACE = 60.0
"""An event this far in the past is still "now" (clock skew); older is a backfill."""
FUTURE_GRACE = 60.0
FLAGGER_PHASES = {"Succeeded": EventKind.SUCCEEDED, "Failed": EventKind.ROLLED_BACK}
GITHUB_STATES = {
    "queued": EventKind.STARTED,
    "pending": EventKind.STARTED,
    "in_progress": EventKind.STARTED,
    "success": EventKind.SUCCEEDED,
    "failure": EventKind.FAILED,
    "error": EventKind.FAILED,
}


# --- views --------------------------------------------------------------------------------------


def deployment_view(deployment: Deployment) -> dict[str, Any]:
    return {
        "service": deployment.service,
        "deploy_id": deployment.deploy_id,
        "outcome": deployment.outcome.value,
        "started_at": rfc3339(deployment.started_at),
        "finished_at": rfc3339(deployment.finished_at),
        "updated_at": rfc3339(deployment.updated_at),
        "version": deployment.version or None,
        "commit_sha": deployment.commit_sha or None,
        "commit_time": rfc3339(deployment.commit_time),
        "source": deployment.source,
    }


def incident_view(incident: IncidentSpan) -> dict[str, Any]:
    return {
        "id": incident.id,
        "service": incident.service,
        "slo": incident.slo,
        "severity": incident.severity,
        "opened_at": rfc3339(incident.opened_at),
        "resolved_at": rfc3339(incident.resolved_at),
        "duration_seconds": number(incident.duration),
    }


def detail_view(detail: DeploymentDetail) -> dict[str, Any]:
    return {
        **deployment_view(detail.deployment),
        "change_failed": detail.failed,
        "steps": [
            {
                "at": rfc3339(s.at),
                "step": s.step,
                "source": s.source,
                "decision_id": s.decision_id or None,
                "decision": s.verdict or None,
            }
            for s in detail.steps
        ],
        "incidents": [incident_view(i) for i in detail.incidents],
    }


def figures_view(found: Figures) -> dict[str, Any]:
    """The §9 figures of one service; null where there is nothing to measure."""
    return {
        "service": found.service,
        "window": format_duration(found.window),
        "deployments": found.deployments,
        "failed": found.failed,
        "deployment_frequency_per_day": number(found.deployment_frequency_per_day),
        "lead_time_seconds": number(found.lead_time_seconds),
        "change_failure_rate": number(found.change_failure_rate),
        "time_to_restore_seconds": number(found.time_to_restore_seconds),
        "bands": {
            "report_year": found.report_year,
            **{metric.value: found.bands[metric] for metric in Metric},
        },
        "counts": {
            "deployments": found.deployments,
            "failed": found.failed,
            "lead_time_samples": found.lead_time_samples,
            "restored_incidents": found.restored_incidents,
        },
    }


# --- reporting ----------------------------------------------------------------------------------


async def _apply(request: web.Request, event: DeploymentEvent) -> web.Response:
    result = await request.app[DELIVERIES].report(event)
    if result.problem is not None:
        raise BadRequestError(result.problem.field, result.problem.message)
    assert result.deployment is not None
    return json_response({"deployment": deployment_view(result.deployment)})


def _after_epoch(name: str, at: datetime) -> float:
    if at.timestamp() < 0:
        raise BadRequestError(name, f"{name} must be after 1970-01-01")
    return at.timestamp()


def _event_time(request: web.Request, body: DeploymentEventBody, now: float) -> float:
    if body.at is msgspec.UNSET:
        return now
    at = _after_epoch("at", body.at)
    if at > now + FUTURE_GRACE:
        raise BadRequestError("at", "at must not be in the future")
    if at < now - BACKFILL_GRACE:
        admin(request)  # backfilling history is an admin's act
    return at


async def report_event(request: web.Request) -> web.Response:
    body = decoded(DeploymentEventBody, await json_object(request))
    kind = EventKind(body.event)
    commit_time = None if body.commit_time is msgspec.UNSET else body.commit_time
    event = DeploymentEvent(
        service=body.service,
        deploy_id=body.deploy_id,
        kind=kind,
        at=_event_time(request, body, request.app[DELIVERIES].clock()),
        source="api",
        version=body.version,
        commit_sha=body.commit_sha,
        commit_time=None if commit_time is None else _after_epoch("commit_time", commit_time),
        step=f"pipeline/{kind.value}",
    )
    return await _apply(request, event)


def _flagger_event(request: web.Request, payload: Mapping[str, Any], terminal: bool) -> Any:
    metadata = payload.get("metadata", {})
    if not isinstance(metadata, Mapping):
        raise BadRequestError("metadata", "metadata must be a mapping of strings")
    for key in ("service", "deploy_id"):  # present but empty would silently fall back
        if key in metadata and not metadata[key]:
            raise BadRequestError(f"metadata.{key}", f"metadata.{key} must not be empty")
    for key in ("phase", "checksum"):
        if key in payload and not isinstance(payload[key], str):
            raise BadRequestError(key, f"{key} must be a string")
    gate_request = flagger_request(request.app, payload)
    phase = payload.get("phase")
    kind = FLAGGER_PHASES.get(phase) if isinstance(phase, str) else None
    if kind is None:
        if terminal:
            raise BadRequestError("phase", "phase must be Succeeded or Failed after a rollout")
        kind = EventKind.STEP  # starts the deployment, or is one more event of it
    return DeploymentEvent(
        service=gate_request.service,
        deploy_id=gate_request.deploy_id,
        kind=kind,
        at=request.app[DELIVERIES].clock(),
        source="flagger",
        version=token_or(payload.get("checksum"), ""),
        step=gate_request.step,
    )


async def flagger_event(request: web.Request) -> web.Response:
    """Flagger's `event` webhook: every Kubernetes event of the canary."""
    payload = await json_object(request)
    return await _apply(request, _flagger_event(request, payload, terminal=False))


async def flagger_post_rollout(request: web.Request) -> web.Response:
    """Flagger's `post-rollout` webhook: the canary was promoted or rolled back."""
    payload = await json_object(request)
    return await _apply(request, _flagger_event(request, payload, terminal=True))


def _github_field(payload: Mapping[str, Any], path: str) -> str:
    value: Any = payload
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
        raise BadRequestError(path, f"{path} is required")
    return str(value)


async def github_deployment_status(request: web.Request) -> web.Response:
    """GitHub's signed `deployment_status` webhook (`X-Hub-Signature-256`)."""
    received = await github_event(request)
    if isinstance(received, web.Response):
        return received
    event, payload = received
    if event != "deployment_status":
        return json_response({"ignored": event or "unknown event"}, 202)
    state = _github_field(payload, "deployment_status.state")
    kind = GITHUB_STATES.get(state)
    if kind is None:  # inactive: a later deployment superseded it, which says nothing new
        return json_response({"ignored": f"deployment_status {state}"}, 202)
    repo = _github_field(payload, "repository.full_name")
    environment = _github_field(payload, "deployment.environment")
    sha = _github_field(payload, "deployment.sha")
    services = request.app[ENGINE].config.github.services
    service = services.get(f"{repo}:{environment}") or services.get(repo) or repo.rpartition("/")[2]
    ref = payload.get("deployment", {}).get("ref")
    return await _apply(
        request,
        DeploymentEvent(
            service=check_field("repository", service, NAME),
            deploy_id=check_field("deployment.sha", f"github:{repo}@{sha}"),
            kind=kind,
            at=request.app[DELIVERIES].clock(),
            source="github",
            version=token_or(ref, ""),
            commit_sha=check_field("deployment.sha", sha),
            step=f"github/{environment}/{state}",
        ),
    )


# --- reading ------------------------------------------------------------------------------------


def _cursor(deployment: Deployment) -> str:
    raw = json.dumps([deployment.updated_at, deployment.service, deployment.deploy_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(text: str) -> tuple[float, str, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, service, deploy_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise BadRequestError("before", "before is not a cursor this API gave") from None
    if not isinstance(at, int | float) or not isinstance(service, str):
        raise BadRequestError("before", "before is not a cursor this API gave")
    return float(at), service, str(deploy_id)


def _limit(query: Mapping[str, str]) -> int:
    text = query.get("limit", "50")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise BadRequestError("limit", f"limit must be an integer from 1 to {MAX_PAGE}")
    return int(text)


def _known(query: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    for key in query:
        if key not in allowed:
            raise BadRequestError(key, f"unknown parameter {key!r} (known: {', '.join(allowed)})")


async def list_deployments(request: web.Request) -> web.Response:
    query = request.query
    _known(query, LIST_FIELDS)
    outcome = query.get("outcome", "")
    if outcome and outcome not in {o.value for o in Outcome}:
        raise BadRequestError("outcome", f"outcome must be one of {', '.join(Outcome)}")
    limit = _limit(query)
    found = await request.app[DELIVERIES].store.deployments(
        DeploymentQuery(
            service=check_field("service", query["service"], NAME) if "service" in query else "",
            outcome=outcome,
            since=parse_time("since", query["since"]) if "since" in query else None,
            until=parse_time("until", query["until"]) if "until" in query else None,
            before=_parse_cursor(query["before"]) if "before" in query else None,
            limit=limit,
        )
    )
    following = _cursor(found[-1]) if len(found) == limit else None
    return json_response(
        {"deployments": [deployment_view(d) for d in found], "next_before": following}
    )


async def get_deployment(request: web.Request) -> web.Response:
    service = check_field("service", request.match_info["service"], NAME)
    deploy_id = check_field("deploy_id", request.match_info["deploy_id"])
    detail = await request.app[DELIVERIES].detail(service, deploy_id)
    if detail is None:
        return error_response(404, "not_found", f"no deployment {deploy_id!r} of {service!r}")
    return json_response(detail_view(detail))


async def incident_history(request: web.Request) -> web.Response:
    """Incidents opened in the window, each with the deployments it is linked to."""
    _known(request.query, ("service", "window"))
    deliveries = request.app[DELIVERIES]
    window = _window(request.query.get("window"), deliveries.config().window)
    query = request.query
    service = check_field("service", query["service"], NAME) if "service" in query else ""
    spans = await deliveries.store.incident_history(deliveries.clock() - window, service)
    body = []
    for span in spans[-MAX_PAGE:]:
        linked = await deliveries.deployments_causing(span)
        body.append(
            {
                **incident_view(span),
                "deployments": [{"service": d.service, "deploy_id": d.deploy_id} for d in linked],
            }
        )
    return json_response({"incidents": body})


def _window(text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        window = parse_duration(text)
    except ValueError:
        raise BadRequestError("window", "window must be a duration such as 7d or 30d") from None
    if not 0 < window <= MAX_WINDOW:
        raise BadRequestError("window", "window must be positive and at most 366d")
    return window


async def dora(request: web.Request) -> web.Response:
    """`{service, window, deployments, failed, ...}`; with no `service`, every service's."""
    _known(request.query, ("service", "window"))
    deliveries = request.app[DELIVERIES]
    window = _window(request.query.get("window"), deliveries.config().window)
    if "service" in request.query:
        service = check_field("service", request.query["service"], NAME)
        (found,) = await deliveries.figures(window, service=service)
        return json_response(figures_view(found))
    services = {s.slo.service for s in request.app[ENGINE].snapshot.statuses.values()}
    found_all = await deliveries.figures(window, services)
    return json_response(
        {"window": format_duration(window), "services": [figures_view(f) for f in found_all]}
    )


# --- OpenAPI ------------------------------------------------------------------------------------


_TIME = {"type": ["string", "null"], "format": "date-time"}
_DEPLOYMENT = {
    "type": "object",
    "required": ["service", "deploy_id", "outcome", "started_at", "finished_at", "updated_at"],
    "properties": {
        "service": {"type": "string"},
        "deploy_id": {"type": "string"},
        "outcome": {"enum": [o.value for o in Outcome]},
        "started_at": _TIME,
        "finished_at": _TIME,
        "updated_at": _TIME,
        "version": {"type": ["string", "null"]},
        "commit_sha": {"type": ["string", "null"]},
        "commit_time": _TIME,
        "source": {"type": "string"},
    },
}
_ONE = json_answer({"type": "object", "properties": {"deployment": _DEPLOYMENT}}, "The deployment")
_NUMBER = {"type": ["number", "null"]}
_BAND = {"enum": ["elite", "high", "medium", "low", None]}
_FIGURES = {
    "type": "object",
    "required": [
        "service",
        "window",
        "deployments",
        "failed",
        "deployment_frequency_per_day",
        "lead_time_seconds",
        "change_failure_rate",
        "time_to_restore_seconds",
        "bands",
    ],
    "properties": {
        "service": {"type": "string"},
        "window": {"type": "string"},
        "deployments": {"type": "integer"},
        "failed": {"type": "integer"},
        "deployment_frequency_per_day": {"type": "number"},
        "lead_time_seconds": _NUMBER,
        "change_failure_rate": _NUMBER,
        "time_to_restore_seconds": _NUMBER,
        "bands": {
            "type": "object",
            "properties": {"report_year": {"type": "integer"}} | {m.value: _BAND for m in Metric},
        },
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
_SERVICE_PARAM = {
    "name": "service",
    "in": "query",
    "schema": {"type": "string", "pattern": NAME.pattern},
}
_WINDOW_PARAM = {
    "name": "window",
    "in": "query",
    "schema": {"type": "string", "pattern": "^([1-9][0-9]?d|[1-9][0-9]{0,2}[hm])$"},
}
_FLAGGER = ref("FlaggerPayload")
_WEBHOOK = json_body(_FLAGGER)
_POST_ROLLOUT = json_body(
    {
        "allOf": [
            _FLAGGER,
            {"required": ["phase"], "properties": {"phase": {"enum": list(FLAGGER_PHASES)}}},
        ]
    }
)


def _path_param(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


PATHS: dict[str, Any] = {
    "/v1/deployments": {
        "get": {
            "summary": "Deployments, most recently updated first",
            "parameters": [
                _SERVICE_PARAM,
                {"name": "outcome", "in": "query", "schema": {"enum": [o.value for o in Outcome]}},
                {
                    "name": "since",
                    "in": "query",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "until",
                    "in": "query",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                },
                {"name": "before", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": json_answer(
                    {
                        "type": "object",
                        "properties": {
                            "deployments": {"type": "array", "items": _DEPLOYMENT},
                            "next_before": {"type": ["string", "null"]},
                        },
                    },
                    "A page of deployments",
                ),
                "400": ERROR,
            },
        },
        "post": {
            "summary": "A pipeline reports a deployment event (backfill needs the admin token)",
            "security": [{}, {"admin": []}],
            "requestBody": json_body(ref("DeploymentEventBody")),
            "responses": {"200": _ONE, "400": ERROR, "401": ERROR, "403": ERROR},
        },
    },
    "/v1/deployments/{service}/{deploy_id}": {
        "get": {
            "summary": "One deployment: its steps, decisions and the incidents it caused",
            "parameters": [
                _path_param("service", NAME.pattern),
                _path_param("deploy_id", TOKEN.pattern),
            ],
            "responses": {
                "200": json_answer({"type": "object"}, "The deployment"),
                "400": ERROR,
                "404": ERROR,
            },
        }
    },
    "/v1/webhooks/flagger/event": {
        "post": {
            "summary": "Flagger's event webhook",
            "requestBody": _WEBHOOK,
            "responses": {"200": _ONE, "400": ERROR},
        }
    },
    "/v1/webhooks/flagger/post-rollout": {
        "post": {
            "summary": "Flagger's post-rollout webhook (Succeeded or Failed)",
            "requestBody": _POST_ROLLOUT,
            "responses": {"200": _ONE, "400": ERROR},
        }
    },
    "/v1/webhooks/github/deployment-status": {
        "post": {
            "summary": "GitHub deployment_status webhook (X-Hub-Signature-256)",
            "requestBody": json_body({"type": "object"}),
            "responses": {
                "200": _ONE,
                "202": json_answer({"type": "object"}, "Event ignored"),
                "400": ERROR,
                "401": ERROR,
                "403": ERROR,
            },
        }
    },
    "/v1/incidents/history": {
        "get": {
            "summary": "Incidents of the window with the deployments they are linked to",
            "parameters": [_SERVICE_PARAM, _WINDOW_PARAM],
            "responses": {"200": json_answer({"type": "object"}, "Incidents"), "400": ERROR},
        }
    },
    "/v1/dora": {
        "get": {
            "summary": "DORA figures of a service, or of every service",
            "parameters": [_SERVICE_PARAM, _WINDOW_PARAM],
            "responses": {
                "200": json_answer(
                    {
                        "oneOf": [
                            _FIGURES,
                            {
                                "type": "object",
                                "required": ["window", "services"],
                                "properties": {
                                    "window": {"type": "string"},
                                    "services": {"type": "array", "items": _FIGURES},
                                },
                            },
                        ]
                    },
                    "Figures",
                ),
                "400": ERROR,
            },
        }
    },
}
