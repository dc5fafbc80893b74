"""Who may call what, and how often: the route classes, bearer tokens and rate limits.

Route classes (each route's `access` in `routes.ROUTES`): `gate` (the gate, Flagger's hooks,
canary analysis, deployment events: the `pipeline` scope) and `read` (status, decisions,
incidents, notifications: the `read` scope). Health, readiness, metrics and the OpenAPI document
are always open; the admin API checks its own `admin` token; GitHub's webhook is authenticated
by its signature.

- `server.require_token_for: [gate, read]` closes a class to calls without a token of its scope
  (401 without one, 403 with a wrong one). Flagger cannot send headers: its hooks also take the
  token as `?access_token=` (RFC 6750 §2.3), which ends up wherever URLs are logged.
- Every `gate` call spends a token of its client's bucket (`server.rate_limit`): the client is
  the token's name when one is presented, else the peer address. Past it: 429 with
  `Retry-After`, counted in `slogate_rate_limited_total{route}`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from slogate.config import ServerLimitsConfig
from slogate.core.ratelimit import RateLimiter
from slogate.errors import UnauthorizedError
from slogate.server.auth import AdminTokens
from slogate.server.routes import route_access
from slogate.server.web import error_response
from slogate.telemetry.metrics import Telemetry

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SCOPE = {"gate": "pipeline", "read": "read"}
QUERY_TOKEN_PATHS = ("/v1/gate/flagger",)


def route_class(method: str, path: str) -> str | None:
    """The class of the route serving `method path` (`path` as aiohttp matches it: percent
    escapes of `/` kept); None for open routes and for paths no route serves."""
    return route_access(method, path) or None


def presented_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.path.startswith(QUERY_TOKEN_PATHS):
        return request.query.get("access_token", "")
    return ""


def caller(request: web.Request, tokens: AdminTokens, kind: str, required: bool) -> str:
    """The client's name for rate limits; raises `UnauthorizedError` as the config asks."""
    token = presented_token(request)
    if not token:
        if required:
            raise UnauthorizedError(401, f"a token with scope {SCOPE[kind]} is required")
        return f"peer:{request.remote}"
    name = tokens.verify(token, SCOPE[kind])
    if name is None:
        raise UnauthorizedError(403, f"token not accepted for scope {SCOPE[kind]}")
    return f"token:{name}"


def middleware(
    limits: ServerLimitsConfig,
    tokens: AdminTokens,
    telemetry: Telemetry,
    clock: Callable[[], float] = time.monotonic,
) -> Middleware:
    limiter = RateLimiter(limits.rate, limits.burst) if limits.rate > 0 else None
    limited = telemetry.rate_limited.labels("gate")

    @web.middleware
    async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = route_class(request.method, request.rel_url.path_safe)
        if kind is None:
            return await handler(request)
        client = caller(request, tokens, kind, kind in limits.require_token_for)
        if kind == "gate" and limiter is not None and (wait := limiter.take(client, clock())):
            limited.inc()
            response = error_response(429, "rate_limited", f"rate limited: retry in {wait:.2f} s")
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        return await handler(request)

    return access
