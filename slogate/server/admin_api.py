"""Admin endpoints: release freezes and exemptions (bearer token required)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from slogate.conventions import NAME
from slogate.core.durations import parse_duration
from slogate.core.overrides import ALL_SERVICES
from slogate.core.views import exemption_view, freeze_view
from slogate.errors import BadRequestError, UnauthorizedError
from slogate.server.keys import CONTROL, ENGINE, TOKENS
from slogate.server.web import (
    check_field,
    check_text,
    error_response,
    json_object,
    json_response,
    parse_time,
)

MAX_EXEMPTION = 30 * 86_400
MAX_FREEZE = 366 * 86_400  # a longer freeze is no freeze but a decommissioning
FREEZE_FIELDS = ("service", "slo", "reason", "until", "duration", "requested_by")
EXEMPTION_FIELDS = (
    "service",
    "change_type",
    "deploy_id",
    "reason",
    "until",
    "duration",
    "requested_by",
)


def admin(request: web.Request) -> str:
    """The name of the admin token the request carries; raises `Unauthorized` otherwise."""
    tokens = request.app[TOKENS]
    if not tokens.configured:
        raise UnauthorizedError(
            403, "admin API disabled: set SLOGATE_ADMIN_TOKEN or server.admin_token_file"
        )
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(401, "admin token required: Authorization: Bearer <token>")
    name: str | None = tokens.verify(token.strip())
    if name is None:
        raise UnauthorizedError(403, "admin token not accepted")
    return name


def _until(
    fields: dict[str, Any], now: float, *, required: bool, limit: float | None = None
) -> float | None:
    if "until" in fields and "duration" in fields:
        raise BadRequestError("until", "give until or duration, not both")
    if "until" in fields:
        until = parse_time("until", fields["until"])
        where = "until"
    elif "duration" in fields:
        try:
            until = now + parse_duration(check_field("duration", fields["duration"]))
        except ValueError:
            raise BadRequestError("duration", "duration must be like 30m, 4h or 2d") from None
        where = "duration"
    elif required:
        raise BadRequestError("until", "until (RFC 3339) or duration is required")
    else:
        return None
    if until <= now:
        raise BadRequestError(where, f"{where} must be in the future")
    if limit is not None and until - now > limit:
        raise BadRequestError(where, f"{where} must be at most {limit / 86_400:g} days away")
    return until


def _service(fields: dict[str, Any], *, allow_all: bool) -> str:
    if "service" not in fields:
        raise BadRequestError("service", "service is required (a service name, or * for all)")
    service = fields["service"]
    if allow_all and service == ALL_SERVICES:
        return ALL_SERVICES
    return check_field("service", service, NAME)


def _actor(fields: dict[str, Any], token_name: str) -> str:
    if "requested_by" in fields:
        return f"{check_text('requested_by', fields['requested_by'], 128)} (token {token_name})"
    return token_name


async def list_freezes(request: web.Request) -> web.Response:
    admin(request)
    service = request.query.get("service", "")
    freezes = request.app[CONTROL].freezes(service)
    return json_response({"freezes": [freeze_view(f) for f in freezes]})


async def create_freeze(request: web.Request) -> web.Response:
    token = admin(request)
    fields = await json_object(request, FREEZE_FIELDS)
    service = _service(fields, allow_all=True)
    slo = check_field("slo", fields["slo"], NAME) if "slo" in fields else ""
    reason = check_text("reason", fields.get("reason"))
    until = _until(fields, request.app[ENGINE].clock(), required=False, limit=MAX_FREEZE)
    freeze = await request.app[CONTROL].add_freeze(
        service, reason, _actor(fields, token), until=until, slo=slo
    )
    return json_response(freeze_view(freeze), 201)


async def delete_freeze(request: web.Request) -> web.Response:
    token = admin(request)
    freeze = await request.app[CONTROL].lift_freeze(request.match_info["id"], token)
    if freeze is None:
        return error_response(404, "not_found", "no active freeze with that id")
    return json_response({"lifted": freeze_view(freeze)})


async def list_exemptions(request: web.Request) -> web.Response:
    admin(request)
    return json_response(
        {"exemptions": [exemption_view(e) for e in request.app[CONTROL].exemptions()]}
    )


async def create_exemption(request: web.Request) -> web.Response:
    token = admin(request)
    fields = await json_object(request, EXEMPTION_FIELDS)
    service = _service(fields, allow_all=False)
    change_type = (
        check_field("change_type", fields["change_type"]) if "change_type" in fields else ""
    )
    deploy_id = check_field("deploy_id", fields["deploy_id"]) if "deploy_id" in fields else ""
    if not change_type and not deploy_id:
        raise BadRequestError("change_type", "an exemption needs a change_type or a deploy_id")
    reason = check_text("reason", fields.get("reason"))
    until = _until(fields, request.app[ENGINE].clock(), required=True, limit=MAX_EXEMPTION)
    assert until is not None
    exemption = await request.app[CONTROL].add_exemption(
        service,
        reason,
        _actor(fields, token),
        until=until,
        change_type=change_type,
        deploy_id=deploy_id,
    )
    return json_response(exemption_view(exemption), 201)


async def delete_exemption(request: web.Request) -> web.Response:
    token = admin(request)
    exemption = await request.app[CONTROL].revoke_exemption(request.match_info["id"], token)
    if exemption is None:
        return error_response(404, "not_found", "no active exemption with that id")
    return json_response({"revoked": exemption_view(exemption)})
