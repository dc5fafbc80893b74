"""Admin endpoints: release freezes and exemptions (bearer token required)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from slogate.core.durations import parse_duration
from slogate.core.views import exemption_view, freeze_view
from slogate.errors import BadRequestError, UnauthorizedError
from slogate.server.bodies import ExemptionBody, FreezeBody, Until, decoded
from slogate.server.keys import CONTROL, ENGINE, TOKENS
from slogate.server.web import error_response, json_object, json_response

MAX_EXEMPTION = 30 * 86_400
MAX_FREEZE = 366 * 86_400  # a longer freeze is no freeze but a decommissioning


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


def _until(body: Until, now: float, *, required: bool, limit: float) -> float | None:
    """When the override `body` asks for ends, checked against the clock and `limit`."""
    if body.until is not msgspec.UNSET and body.duration is not msgspec.UNSET:
        raise BadRequestError("until", "give until or duration, not both")
    if body.until is not msgspec.UNSET:
        until, where = body.until.timestamp(), "until"
    elif body.duration is not msgspec.UNSET:
        until, where = now + parse_duration(body.duration), "duration"
    elif required:
        raise BadRequestError("until", "until (RFC 3339) or duration is required")
    else:
        return None
    if until <= now:
        raise BadRequestError(where, f"{where} must be in the future")
    if until - now > limit:
        raise BadRequestError(where, f"{where} must be at most {limit / 86_400:g} days away")
    return until


def _actor(body: Until, token_name: str) -> str:
    if body.requested_by is msgspec.UNSET:
        return token_name
    return f"{body.requested_by} (token {token_name})"


async def list_freezes(request: web.Request) -> web.Response:
    admin(request)
    service = request.query.get("service", "")
    await request.app[CONTROL].load()  # another replica may have changed them
    freezes = request.app[CONTROL].freezes(service)
    return json_response({"freezes": [freeze_view(f) for f in freezes]})


async def create_freeze(request: web.Request) -> web.Response:
    token = admin(request)
    body = decoded(FreezeBody, await json_object(request))
    until = _until(body, request.app[ENGINE].clock(), required=False, limit=MAX_FREEZE)
    freeze = await request.app[CONTROL].add_freeze(
        body.service, body.reason, _actor(body, token), until=until, slo=body.slo
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
    await request.app[CONTROL].load()  # another replica may have changed them
    return json_response(
        {"exemptions": [exemption_view(e) for e in request.app[CONTROL].exemptions()]}
    )


async def create_exemption(request: web.Request) -> web.Response:
    token = admin(request)
    body = decoded(ExemptionBody, await json_object(request))
    if not body.change_type and not body.deploy_id:
        raise BadRequestError("change_type", "an exemption needs a change_type or a deploy_id")
    until = _until(body, request.app[ENGINE].clock(), required=True, limit=MAX_EXEMPTION)
    assert until is not None
    exemption = await request.app[CONTROL].add_exemption(
        body.service,
        body.reason,
        _actor(body, token),
        until=until,
        change_type=body.change_type,
        deploy_id=body.deploy_id,
    )
    return json_response(exemption_view(exemption), 201)


async def delete_exemption(request: web.Request) -> web.Response:
    token = admin(request)
    exemption = await request.app[CONTROL].revoke_exemption(request.match_info["id"], token)
    if exemption is None:
        return error_response(404, "not_found", "no active exemption with that id")
    return json_response({"revoked": exemption_view(exemption)})
