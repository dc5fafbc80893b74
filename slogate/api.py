"""The HTTP API (DESIGN §4): health, metrics, SLO status and the gate.

Handlers stay thin: parse and check the request, call the pure core on the in-memory snapshot,
render JSON. Nothing a request sends reaches PromQL.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from slogate.engine import Engine
from slogate.gate import Decision, UnknownServiceError, make_decision
from slogate.metrics import Telemetry
from slogate.openapi import openapi_document
from slogate.policy import GateRequest
from slogate.views import decision_view, status_view

log = logging.getLogger(__name__)

ENGINE = web.AppKey("engine", Engine)
TELEMETRY = web.AppKey("telemetry", Telemetry)

NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,126}[A-Za-z0-9]$|^[A-Za-z0-9]$")
TOKEN = re.compile(r"^[\x21-\x7e]{1,256}$")
GATE_FIELDS = ("service", "slo", "deploy_id", "step", "change_type")


class BadRequestError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def json_response(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(body, allow_nan=False, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json")


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
    except BadRequestError as exc:
        return error_response(400, "bad_request", exc.message, exc.field)
    except UnknownServiceError as exc:
        return error_response(404, "not_found", str(exc))
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "request body too large")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error")


def _check_field(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequestError(name, f"{name} must be a string")
    pattern = NAME if name in ("service", "slo") else TOKEN
    if not pattern.match(value):
        raise BadRequestError(name, f"{name} is not valid: {value[:64]!r}")
    return value


async def gate_fields(request: web.Request) -> dict[str, str]:
    """The gate's inputs from the query string and, for POST, a JSON object body."""
    fields: dict[str, Any] = {}
    for key in request.query:
        if len(request.query.getall(key)) > 1:
            raise BadRequestError(key, f"{key} is given more than once")
        fields[key] = request.query[key]
    if request.method == "POST" and request.can_read_body:
        body = await request.read()
        if body.strip():
            try:
                payload = json.loads(body)
            except ValueError:
                raise BadRequestError("body", "body is not valid JSON") from None
            if not isinstance(payload, Mapping):
                raise BadRequestError("body", "body must be a JSON object")
            for key, value in payload.items():
                if key in fields and fields[key] != value:
                    raise BadRequestError(key, f"{key} differs between query string and body")
                fields[key] = value
    for key in fields:
        if key not in GATE_FIELDS:
            raise BadRequestError(key, f"unknown field {key!r} (known: {', '.join(GATE_FIELDS)})")
    if not fields.get("service"):
        raise BadRequestError("service", "service is required")
    return {k: _check_field(k, v) for k, v in fields.items() if v not in (None, "")}


def decide(app: web.Application, gate_request: GateRequest) -> Decision:
    engine = app[ENGINE]
    decision = make_decision(
        gate_request, engine.snapshot, engine.config.policy, now=engine.clock()
    )
    app[TELEMETRY].observe_decision(decision)
    return decision


def render_decision(app: web.Application, decision: Decision) -> dict[str, Any]:
    policy = app[ENGINE].config.policy
    return decision_view(decision, policy.for_slo)


async def gate(request: web.Request) -> web.Response:
    fields = await gate_fields(request)
    decision = decide(request.app, GateRequest(**fields))
    return json_response(render_decision(request.app, decision))


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    ready, reason = engine.readiness()
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "reason": reason}
    if engine.last_reload is not None:
        body["specs"] = {
            "ok": engine.last_reload.ok,
            "slos": len(engine.slos),
            "errors": [e.line() for e in engine.last_reload.errors],
        }
    return json_response(body, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[TELEMETRY].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def list_slos(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    now, policy = engine.clock(), engine.config.policy
    statuses = sorted(engine.snapshot.statuses.values(), key=lambda s: s.slo.key)
    views = [status_view(s, policy.for_slo(s.slo.service, s.slo.name), now) for s in statuses]
    return json_response({"slos": views})


async def get_slo(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    service, name = request.match_info["service"], request.match_info["slo"]
    status = engine.snapshot.find(service, name)
    if status is None:
        raise UnknownServiceError(f"no SLO {name!r} of service {service!r}")
    policy = engine.config.policy.for_slo(service, name)
    return json_response(status_view(status, policy, engine.clock()))


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def create_app(engine: Engine, telemetry: Telemetry) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware], client_max_size=engine.config.server.max_body_bytes
    )
    app[ENGINE] = engine
    app[TELEMETRY] = telemetry
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/v1/slos", list_slos)
    app.router.add_get("/v1/slos/{service}/{slo}", get_slo)
    app.router.add_get("/v1/gate", gate)
    app.router.add_post("/v1/gate", gate)
    return app
