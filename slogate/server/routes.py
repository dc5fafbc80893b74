"""The route table: every path slogate serves, read both by the app and by `/openapi.json`.

A route added here is served and documented; one documented in `openapi.OPERATIONS` but absent
here is neither (tests check that the two agree). Routes marked with what they `need`
exist only where it is wired (`serve` wires everything). Each route's `access` class is what
`server.access` enforces (`route_access`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from aiohttp import web

from slogate.server import (
    admin_api,
    api,
    canary_api,
    deployments_api,
    flagger_canary,
    kayenta_api,
    webhooks,
)
from slogate.server.openapi import openapi_document
from slogate.server.web import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Access = Literal["gate", "read", ""]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    access: Access = ""
    """Who may call it (`server.access`): `gate` needs the pipeline scope and is rate limited,
    `read` needs the read scope; `""` is open, or checked by the handler itself (the admin
    API's token, GitHub's signature)."""
    needs: Literal["", "paging", "deliveries"] = ""
    """Served only where notifications (`paging`) or deployments (`deliveries`) are wired."""


@cache
def _document() -> dict[str, Any]:
    return openapi_document(ROUTES)


async def openapi(request: web.Request) -> web.Response:
    return json_response(_document())


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", api.status_index, "read"),
    Route("GET", "/slos/{service}/{slo}", api.status_slo, "read"),
    Route("GET", "/healthz", api.healthz),
    Route("GET", "/readyz", api.readyz),
    Route("GET", "/metrics", api.metrics),
    Route("GET", "/openapi.json", openapi),
    Route("GET", "/v1/slos", api.list_slos, "read"),
    Route("GET", "/v1/slos/{service}/{slo}", api.get_slo, "read"),
    Route("GET", "/v1/gate", api.gate, "gate"),
    Route("POST", "/v1/gate", api.gate, "gate"),
    Route("GET", "/v1/decisions", api.decisions, "read"),
    Route("GET", "/v1/incidents", api.incidents, "read", needs="paging"),
    Route("GET", "/v1/notifications", api.notifications, "read", needs="paging"),
    Route("GET", "/v1/freezes", admin_api.list_freezes),
    Route("POST", "/v1/freezes", admin_api.create_freeze),
    Route("DELETE", "/v1/freezes/{id}", admin_api.delete_freeze),
    Route("GET", "/v1/exemptions", admin_api.list_exemptions),
    Route("POST", "/v1/exemptions", admin_api.create_exemption),
    Route("DELETE", "/v1/exemptions/{id}", admin_api.delete_exemption),
    Route("POST", "/v1/gate/flagger", webhooks.flagger_gate, "gate"),
    Route("POST", "/v1/gate/flagger/rollback", webhooks.flagger_rollback, "gate"),
    Route("POST", "/v1/gate/github", webhooks.github_gate),
    Route("GET", "/v1/canary", canary_api.canary, "gate"),
    Route("POST", "/v1/canary", canary_api.canary, "gate"),
    Route("POST", "/v1/canary/flagger", flagger_canary.confirm, "gate"),
    Route("POST", "/v1/canary/flagger/rollout", flagger_canary.rollout, "gate"),
    # The subset of Kayenta's API that Argo Rollouts' kayenta provider calls.
    Route("GET", "/canaryConfig", kayenta_api.canary_configs, "gate"),
    Route("POST", "/canary/{id}", kayenta_api.start_execution, "gate"),  # the id of a config
    Route("GET", "/canary/{id}", kayenta_api.execution_result, "gate"),  # the id of an execution
    Route("GET", "/v1/deployments", deployments_api.list_deployments, "read", needs="deliveries"),
    Route("POST", "/v1/deployments", deployments_api.report_event, "gate", needs="deliveries"),
    Route(
        "GET",
        "/v1/deployments/{service}/{deploy_id:.+}",
        deployments_api.get_deployment,
        "read",
        needs="deliveries",
    ),
    Route("GET", "/v1/dora", deployments_api.dora, "read", needs="deliveries"),
    Route(
        "GET", "/v1/incidents/history", deployments_api.incident_history, "read", needs="deliveries"
    ),
    Route("POST", "/v1/webhooks/flagger/event", deployments_api.flagger_event, needs="deliveries"),
    Route(
        "POST",
        "/v1/webhooks/flagger/post-rollout",
        deployments_api.flagger_post_rollout,
        needs="deliveries",
    ),
    Route(
        "POST",
        "/v1/webhooks/github/deployment-status",
        deployments_api.github_deployment_status,
        needs="deliveries",
    ),
)


def add_routes(app: web.Application, routes: Iterable[Route], *, wired: set[str]) -> None:
    """Register `routes`, but those that need a part not `wired`."""
    for route in routes:
        if route.needs and route.needs not in wired:
            continue
        if route.method == "GET":  # and HEAD, as aiohttp's add_get does
            app.router.add_get(route.path, route.handler)
        else:
            app.router.add_route(route.method, route.path, route.handler)


def _matcher(path: str) -> re.Pattern[str]:
    """aiohttp's reading of a route path: `{name}` one segment, `{name:regex}` the regex."""
    parts = re.split(r"(\{\w+(?::[^}]+)?\})", path)
    return re.compile(
        "".join(
            (f"(?:{p[1:-1].partition(':')[2]})" if ":" in p else "[^{}/]+")
            if p.startswith("{")
            else re.escape(p)
            for p in parts
        )
    )


@cache
def _accesses() -> tuple[
    dict[tuple[str, str], Access], tuple[tuple[str, re.Pattern[str], Access], ...]
]:
    static = {(r.method, r.path): r.access for r in ROUTES if "{" not in r.path}
    dynamic = tuple((r.method, _matcher(r.path), r.access) for r in ROUTES if "{" in r.path)
    return static, dynamic


def route_access(method: str, path: str) -> Access:
    """The `access` of the route that serves `method path` (HEAD as GET); `""` for none."""
    method = "GET" if method == "HEAD" else method
    static, dynamic = _accesses()
    if (found := static.get((method, path))) is not None:
        return found
    for route_method, pattern, access in dynamic:
        if route_method == method and pattern.fullmatch(path):
            return access
    return ""
