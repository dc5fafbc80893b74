"""The subset of Kayenta's API that Argo Rollouts' `kayenta` metric provider calls (DESIGN §8),
so that an AnalysisTemplate written for Kayenta works pointed at slogate, unchanged.

Argo's provider (metricproviders/kayenta) makes exactly these calls:
1. `GET /canaryConfig?application=A&configurationAccountName=S` → a list of `{id, name}`; Argo
   picks the entry whose `name` is the template's `canaryConfigName` (it sends the storage
   account as `configurationAccountName`). slogate has one canary config per service:
   id = name = service.
2. `POST /canary/{id}?application&metricsAccountName&configurationAccountName&storageAccountName`
   with `{"scopes": {NAME: {"controlScope": SCOPE, "experimentScope": SCOPE}}, "thresholds":
   {"pass": P, "marginal": M}}`, SCOPE = `{scope, region, step, start, end}` (the scope being
   the label value: control = baseline, experiment = canary; `start`/`end` RFC 3339 or empty
   for the configured window ending now) → HTTP 200 `{"canaryExecutionId"}`.
3. `GET /canary/{executionId}` every 15 s until `complete`, reading
   `result.judgeResult.score.score` (truncated to an int): ≥ P Successful, ≥ M Inconclusive,
   else Failed.

slogate judges at the POST (one analysis per scope, audited as source `kayenta`), so the first
poll is complete. Scores: pass 100; inconclusive exactly M, so that Argo pauses; fail below M
(the share of SLOs passing, capped at M − 1). Several scopes: the worst one decides.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from slogate.conventions import NAME
from slogate.core.policy import GateRequest
from slogate.errors import BadRequestError, UnknownServiceError
from slogate.server.canary_api import CanaryRequest, analyse
from slogate.server.kayenta_execution import Execution, Thresholds
from slogate.server.keys import ENGINE, KAYENTA_EXECUTIONS
from slogate.server.web import check_field, json_object, json_response, parse_time

QUERY_PARAMETERS = (
    "application",
    "metricsAccountName",
    "configurationAccountName",
    "storageAccountName",
)
SCOPE_FIELDS = ("scope", "region", "location", "step", "start", "end", "extendedScopeParams")
KEPT_EXECUTIONS = 1000
MAX_SCOPES = 10


def _query(request: web.Request) -> dict[str, str]:
    found = {}
    for key in request.query:
        if key not in QUERY_PARAMETERS:
            raise BadRequestError(key, f"unknown parameter {key!r}")
        found[key] = check_field(key, request.query[key]) if request.query[key] else ""
    return found


async def canary_configs(request: web.Request) -> web.Response:
    query = _query(request)
    services = sorted({slo.service for slo in request.app[ENGINE].slos})
    applications = [query["application"]] if query.get("application") else []
    configs = [
        {"id": s, "name": s, "applications": applications, "updatedTimestamp": 0} for s in services
    ]
    return json_response(configs)


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequestError(field, f"{field} must be an object")
    return value


def _time(field: str, value: Any) -> float | None:
    return None if value in (None, "") else parse_time(field, value)


def _scope_request(service: str, name: str, scope: Mapping[str, Any]) -> CanaryRequest:
    where = f"scopes.{name}"
    control = _mapping(scope.get("controlScope"), f"{where}.controlScope")
    experiment = _mapping(scope.get("experimentScope"), f"{where}.experimentScope")
    for side, detail in (("controlScope", control), ("experimentScope", experiment)):
        for key in detail:
            if key not in SCOPE_FIELDS:
                raise BadRequestError(f"{where}.{side}.{key}", f"unknown scope field {key!r}")
        if not detail.get("scope"):
            raise BadRequestError(f"{where}.{side}.scope", "scope (the label value) is required")
    baseline = check_field(f"{where}.controlScope.scope", control["scope"])
    canary = check_field(f"{where}.experimentScope.scope", experiment["scope"])
    if canary == baseline:
        raise BadRequestError(f"{where}.controlScope.scope", "baseline must differ from canary")
    return CanaryRequest(
        GateRequest(service, step=f"kayenta/{name}"[:256]),
        canary,
        baseline,
        start=_time(f"{where}.experimentScope.start", experiment.get("start")),
        end=_time(f"{where}.experimentScope.end", experiment.get("end")),
    )


def _thresholds(body: Mapping[str, Any]) -> Thresholds:
    raw = _mapping(body.get("thresholds"), "thresholds")
    values = {}
    for key in ("pass", "marginal"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise BadRequestError(f"thresholds.{key}", f"thresholds.{key} must be 0 to 100")
        values[key] = int(value)
    if values["marginal"] >= values["pass"]:
        raise BadRequestError("thresholds.marginal", "thresholds.marginal must be below pass")
    return Thresholds(values["pass"], values["marginal"])


async def start_execution(request: web.Request) -> web.Response:
    _query(request)
    service = check_field("configId", request.match_info["id"], NAME)
    if not any(slo.service == service for slo in request.app[ENGINE].slos):
        raise UnknownServiceError(f"no canary config {service!r} (one per service)")
    body = await json_object(request, ("scopes", "thresholds", "siteLocal"))
    thresholds = _thresholds(body)
    scopes = _mapping(body.get("scopes"), "scopes")
    if not 1 <= len(scopes) <= MAX_SCOPES:
        raise BadRequestError("scopes", f"scopes must hold 1 to {MAX_SCOPES} scopes")
    requests = [
        (str(name), _scope_request(service, str(name), _mapping(scope, f"scopes.{name}")))
        for name, scope in scopes.items()
    ]
    answers = tuple([(name, await analyse(request.app, r, "kayenta")) for name, r in requests])
    execution = Execution(answers[0][1].analysis.id, service, answers, thresholds)
    executions: OrderedDict[str, Execution] = request.app[KAYENTA_EXECUTIONS]
    executions[execution.id] = execution
    while len(executions) > KEPT_EXECUTIONS:
        executions.popitem(last=False)
    return json_response({"canaryExecutionId": execution.id})


async def execution_result(request: web.Request) -> web.Response:
    execution_id = check_field("executionId", request.match_info["id"])
    execution = request.app[KAYENTA_EXECUTIONS].get(execution_id)
    if execution is None:
        raise UnknownServiceError(f"no canary execution {execution_id!r}")
    return json_response(execution.view())


def setup(app: web.Application) -> None:
    """The executions Argo polls for, newest kept (bounded)."""
    app[KAYENTA_EXECUTIONS] = OrderedDict()
