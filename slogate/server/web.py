"""What every HTTP handler shares: the app's typed state, JSON answers and errors, request
checks, and the one way a gate decision is made and audited."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from slogate.core.gate import Decision
from slogate.core.policy import GateRequest
from slogate.core.views import encode
from slogate.errors import (
    BadRequestError,
    RequestError,
    StaleOverridesError,
    StoreError,
    StoreFullError,
)
from slogate.server.bodies import TOKEN
from slogate.server.keys import ANSWERS, CONTROL, DELIVERIES, ENGINE, TELEMETRY
from slogate.telemetry.tracing import set_attributes, span

log = logging.getLogger(__name__)


def json_response(body: Any, status: int = 200, *, encoded: str | None = None) -> web.Response:
    text = encode(body) if encoded is None else encoded
    return web.Response(text=text, status=status, content_type="application/json")


@dataclass(frozen=True, slots=True)
class GateAnswer:
    decision: Decision
    encoded: str

    @property
    def body(self) -> dict[str, Any]:
        """The answer as sent (parsed back: only the webhooks, not the hot path, need it)."""
        body: dict[str, Any] = json.loads(self.encoded)
        return body

    def response(self, status: int = 200) -> web.Response:
        return web.Response(text=self.encoded, status=status, content_type="application/json")


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return json_response({"error": error}, status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except RequestError as exc:
        field = exc.field if isinstance(exc, BadRequestError) else None
        response = error_response(exc.status, exc.code, str(exc), field)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="slogate"'
        return response
    except StoreFullError as exc:
        return error_response(503, "store_full", f"audit store full: nothing was decided ({exc})")
    except StoreError as exc:
        log.error("store unavailable: %s", exc)
        return error_response(
            503, "store_unavailable", "audit store unavailable: nothing was decided"
        )
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "request body too large")
    except web.HTTPException as exc:
        if exc.status >= 400:
            response = error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
            if "Allow" in exc.headers:  # 405 must say which methods are allowed (RFC 9110)
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        raise
    except ConnectionError:
        raise  # the client is gone (or was cut at its deadline): nobody to answer
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error")


def check_field(name: str, value: Any, pattern: re.Pattern[str] = TOKEN) -> str:
    if not isinstance(value, str):
        raise BadRequestError(name, f"{name} must be a string")
    if not pattern.match(value):
        raise BadRequestError(name, f"{name} is not valid: {value[:64]!r}")
    return value


def parse_time(name: str, value: Any) -> float:
    """An RFC 3339 timestamp as unix seconds."""
    if not isinstance(value, str):
        raise BadRequestError(name, f"{name} must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequestError(name, f"{name} must be an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise BadRequestError(name, f"{name} must include a time zone (e.g. Z)")
    return parsed.timestamp()


async def json_object(
    request: web.Request, allowed: Collection[str] | None = None
) -> dict[str, Any]:
    """The request's JSON object body; with `allowed`, any other field is a 400 naming it."""
    body = await request.read()
    if not body.strip():
        return {}
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequestError("body", "body is not valid JSON") from None
    if not isinstance(payload, Mapping):
        raise BadRequestError("body", "body must be a JSON object")
    if allowed is not None:
        for key in payload:
            if key not in allowed:
                raise BadRequestError(key, f"unknown field {key!r} (known: {', '.join(allowed)})")
    return dict(payload)


async def request_fields(request: web.Request, known: Sequence[str]) -> dict[str, Any]:
    """The `known` fields of the query string and, for POST, of a JSON object body; a field
    repeated, differing between the two, or unknown is a 400 naming it."""
    fields: dict[str, Any] = {}
    for key in request.query:
        if len(request.query.getall(key)) > 1:
            raise BadRequestError(key, f"{key} is given more than once")
        fields[key] = request.query[key]
    if request.method == "POST":
        for key, value in (await json_object(request)).items():
            if key in fields and fields[key] != value:
                raise BadRequestError(key, f"{key} differs between query string and body")
            fields[key] = value
    for key in fields:
        if key not in known:
            raise BadRequestError(key, f"unknown field {key!r} (known: {', '.join(known)})")
    return fields


DECISION_ATTEMPTS = 3
"""Decisions made per request when other replicas keep changing the overrides meanwhile."""


async def gate_decision(app: web.Application, gate_request: GateRequest, source: str) -> GateAnswer:
    """Decide on the current snapshot and overrides, and audit it durably before answering.
    A decision the store refuses as made on stale overrides is made again on fresh ones."""
    for _ in range(DECISION_ATTEMPTS - 1):
        try:
            return await _decide_and_record(app, gate_request, source)
        except StaleOverridesError:
            await app[CONTROL].load()
    return await _decide_and_record(app, gate_request, source)


async def _decide_and_record(
    app: web.Application, gate_request: GateRequest, source: str
) -> GateAnswer:
    engine, control = app[ENGINE], app[CONTROL]
    request = gate_request
    with span(
        "slogate.gate.decision",
        **{
            "slogate.service": request.service,
            "slogate.slo": request.slo or None,
            "slogate.deploy_id": request.deploy_id or None,
            "slogate.step": request.step or None,
            "slogate.change_type": request.change_type or None,
            "slogate.source": source,
        },
    ) as current:
        decision, encoded = app[ANSWERS].answer(
            request,
            engine.snapshot,
            engine.config.policy,
            engine.clock(),
            freezes=control.freezes,
            exemptions=control.exemptions,
            overrides_version=control.version,
        )
        if current is not None:
            set_attributes(
                current,
                **{
                    "slogate.decision": decision.verdict.value,
                    "slogate.decision_id": decision.id,
                    "slogate.reasons": [r.code.value for r in decision.reasons],
                },
            )
        deliveries = app.get(DELIVERIES)
        step = deliveries.step_of(decision, source) if deliveries else None  # DESIGN §9
        # the answer exactly as it is sent, and the deployment step, in one commit
        result = await control.record(decision, encoded, source, step)
        if deliveries is not None and step is not None:
            deployment = deliveries.recorded(result)
            if current is not None and deployment is not None:
                set_attributes(
                    current,
                    **{
                        "slogate.deployment.outcome": deployment.outcome.value,
                        "slogate.deployment.started_at": deployment.started_at,
                        "slogate.deployment.version": deployment.version or None,
                        "slogate.deployment.commit_sha": deployment.commit_sha or None,
                    },
                )
    app[TELEMETRY].observe_decision(decision)
    return GateAnswer(decision, encoded)
