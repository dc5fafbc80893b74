"""The route table: every path slogate serves, read both by the app and by `/openapi.json`.

A route added here is served and documented; one documented in `openapi.OPERATIONS` but absent
here is neither (tests check that the two agree). Routes marked `paging` exist only where
notifications are wired (`serve` always wires them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiohttp import web

from slogate.server import admin_api, api, canary_api, flagger_canary, kayenta_api, webhooks
from slogate.server.openapi import openapi_document
from slogate.server.web import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    paging: bool = False


@cache
def _document() -> dict[str, Any]:
    return openapi_document(ROUTES)


async def openapi(request: web.Request) -> web.Response:
    return json_response(_document())


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", api.status_index),
    Route("GET", "/slos/{service}/{slo}", api.status_slo),
    Route("GET", "/healthz", api.healthz),
    Route("GET", "/readyz", api.readyz),
    Route("GET", "/metrics", api.metrics),
    Route("GET", "/openapi.json", openapi),
    Route("GET", "/v1/slos", api.list_slos),
    Route("GET", "/v1/slos/{service}/{slo}", api.get_slo),
    Route("GET", "/v1/gate", api.gate),
    Route("POST", "/v1/gate", api.gate),
    Route("GET", "/v1/decisions", api.decisions),
    Route("GET", "/v1/incidents", api.incidents, paging=True),
    Route("GET", "/v1/notifications", api.notifications, paging=True),
    Route("GET", "/v1/freezes", admin_api.list_freezes),
    Route("POST", "/v1/freezes", admin_api.create_freeze),
    Route("DELETE", "/v1/freezes/{id}", admin_api.delete_freeze),
    Route("GET", "/v1/exemptions", admin_api.list_exemptions),
    Route("POST", "/v1/exemptions", admin_api.create_exemption),
    Route("DELETE", "/v1/exemptions/{id}", admin_api.delete_exemption),
    Route("POST", "/v1/gate/flagger", webhooks.flagger_gate),
    Route("POST", "/v1/gate/flagger/rollback", webhooks.flagger_rollback),
    Route("POST", "/v1/gate/github", webhooks.github_gate),
    Route("GET", "/v1/canary", canary_api.canary),
    Route("POST", "/v1/canary", canary_api.canary),
    Route("POST", "/v1/canary/flagger", flagger_canary.confirm),
    Route("POST", "/v1/canary/flagger/rollout", flagger_canary.rollout),
    Route("GET", "/canaryConfig", kayenta_api.canary_configs),
    Route("POST", "/canary/{id}", kayenta_api.start_execution),  # the id of a config
    Route("GET", "/canary/{id}", kayenta_api.execution_result),  # the id of an execution
)


def add_routes(app: web.Application, routes: Iterable[Route], *, paging: bool) -> None:
    for route in routes:
        if route.paging and not paging:
            continue
        if route.method == "GET":  # and HEAD, as aiohttp's add_get does
            app.router.add_get(route.path, route.handler)
        else:
            app.router.add_route(route.method, route.path, route.handler)
