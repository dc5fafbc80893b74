"""The HTTP API (DESIGN §4): health, metrics, SLO status, the gate and its audit trail.

Handlers stay thin: check the request, call the pure core on the in-memory snapshot, render
JSON. Nothing a request sends reaches PromQL. Admin endpoints live in `admin_api`, the Flagger
and GitHub integrations in `webhooks`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from slogate.conventions import NAME
from slogate.core.views import rfc3339, status_view
from slogate.errors import BadRequestError, StoreError, UnknownServiceError
from slogate.evaluation.engine import ReloadResult
from slogate.server.bodies import GateBody, decoded, present
from slogate.server.keys import CANARY_HISTORY, CHARTS, CONTROL, ENGINE, PAGER, TELEMETRY
from slogate.server.status_page import render_index, render_slo
from slogate.server.web import check_field, gate_decision, json_response, parse_time, request_fields
from slogate.store.base import DecisionQuery

MAX_PAGE = 500


async def gate(request: web.Request) -> web.Response:
    """The gate's inputs from the query string and, for POST, a JSON object body (`GateBody`)."""
    fields = await request_fields(request, GateBody.__struct_fields__)
    body = decoded(GateBody, present(fields))
    answer = await gate_decision(request.app, body.request(), "api")
    return answer.response()


async def decisions(request: web.Request) -> web.Response:
    """The audit trail, newest first: `service`, `since`, `until`, `limit`, `before` (cursor)."""
    query = request.query
    for key in query:
        if key not in ("service", "since", "until", "limit", "before"):
            raise BadRequestError(key, f"unknown parameter {key!r}")
    limit_text = query.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise BadRequestError("limit", f"limit must be an integer from 1 to {MAX_PAGE}")
    given = dict(query)
    found = await request.app[CONTROL].store.decisions(
        DecisionQuery(
            service=check_field("service", given["service"], NAME) if "service" in given else "",
            since=parse_time("since", given["since"]) if "since" in given else None,
            until=parse_time("until", given["until"]) if "until" in given else None,
            before=check_field("before", given["before"]) if "before" in given else "",
            limit=int(limit_text),
        )
    )
    page = [{**r.body, "source": r.source} for r in found]
    following = found[-1].id if len(found) == int(limit_text) else None
    return json_response({"decisions": page, "next_before": following})


NOTIFICATION_STATES = ("pending", "delivered", "failed", "expired")


async def incidents(request: web.Request) -> web.Response:
    """Open incidents (one per SLO and severity) and when they opened."""
    pager = request.app[PAGER]
    body = [
        {**item.doc, "opened_at": rfc3339(item.opened_at)}
        for _, item in sorted(pager.open.items(), key=lambda kv: kv[1].opened_at)
    ]
    return json_response({"incidents": body})


async def notifications(request: web.Request) -> web.Response:
    """The outbox by state: what is waiting, delivered, or given up on (and why)."""
    state = request.query.get("state", "pending")
    if state not in NOTIFICATION_STATES:
        raise BadRequestError("state", f"state must be one of {', '.join(NOTIFICATION_STATES)}")
    entries = await request.app[PAGER].store.notifications(state)
    body = [
        {
            "id": e.id,
            "sink": e.sink,
            "action": e.action,
            "dedup_key": e.dedup_key,
            "summary": e.incident.get("summary"),
            "at": rfc3339(e.at),
            "attempts": e.attempts,
            "next_attempt_at": rfc3339(e.next_attempt_at) if e.state == "pending" else None,
            "last_error": e.last_error,
            "state": e.state,
            "finished_at": rfc3339(e.finished_at),
        }
        for e in entries
    ]
    return json_response({"notifications": body})


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


def _reload_view(result: ReloadResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "ok": result.ok,
        "at": rfc3339(result.at),
        "message": result.message,
        "errors": list(result.errors),
    }


async def readyz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    ready, reason = engine.readiness()
    if ready:
        try:  # a replica whose store is down must get no traffic: it would answer only 503s
            await request.app[CONTROL].store.check()
        except StoreError:
            ready, reason = False, "store unavailable"
    body: dict[str, Any] = {
        "status": "ready" if ready else "not_ready",
        "reason": reason,
        "slos": len(engine.slos),
        "specs": _reload_view(engine.last_spec_reload),
        "config": _reload_view(engine.last_config_reload),
    }
    return json_response(body, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=await request.app[TELEMETRY].exposition())
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


def _html(text: str) -> web.Response:
    response = web.Response(text=text, content_type="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


async def status_index(request: web.Request) -> web.Response:
    engine, control = request.app[ENGINE], request.app[CONTROL]
    statuses = list(engine.snapshot.statuses.values())
    pictures = await request.app[CHARTS].index(statuses) if CHARTS in request.app else None
    return _html(
        render_index(
            statuses, engine.config.policy.for_slo, control.freezes(), engine.clock(), pictures
        )
    )


async def status_slo(request: web.Request) -> web.Response:
    engine, control = request.app[ENGINE], request.app[CONTROL]
    service, name = request.match_info["service"], request.match_info["slo"]
    status = engine.snapshot.find(service, name)
    if status is None:
        raise UnknownServiceError(f"no SLO {name!r} of service {service!r}")
    policy = engine.config.policy.for_slo(service, name)
    canaries = [a.body for a in request.app[CANARY_HISTORY].of_slo(service, name)]
    charts = await request.app[CHARTS].slo_charts(status) if CHARTS in request.app else ""
    return _html(render_slo(status, policy, control.freezes(), engine.clock(), canaries, charts))
