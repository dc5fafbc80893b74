"""`GET`/`POST /v1/canary` (DESIGN §8): judge a canary against its baseline, and the one way
every caller (this endpoint, the Kayenta API, Flagger's webhooks) runs an analysis.

An analysis is the service-level gate decision (freezes, exemptions and fail mode applied, on
the in-memory snapshot) plus, per SLO, one or two backend queries over the canary's window
(`evaluation.canary_queries`) judged by the pure core (`core.canary`). Unlike a gate call it
waits on the backend: the window is the request's, not the cycle's. The answer is audited in
the decision trail before it is sent (its JSON, counts, ratios and p-values included), traced,
and counted in `slogate_canary_verdicts_total{service,verdict}`. The last analyses are kept in
memory (bounded) for the Kayenta API's polling and the status page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from slogate.core.canary import (
    CanaryAnalysis,
    SLOJudgement,
    analysis_view,
    backend_failure,
    judge_slo,
    window_problem,
)
from slogate.core.durations import parse_duration
from slogate.core.gate import Decision, make_decision, statuses_for
from slogate.core.ids import ulid
from slogate.core.model import SLO
from slogate.core.policy import GateRequest, ReasonCode
from slogate.core.views import encode
from slogate.errors import BackendError, BadRequestError
from slogate.evaluation.backend import QueryBackend
from slogate.evaluation.canary_queries import fetch_figures
from slogate.server.bodies import CanaryBody, decoded, present
from slogate.server.canary_history import CanaryAnswer, CanaryHistory
from slogate.server.keys import CANARY_HISTORY, CANARY_VERDICTS, CONTROL, ENGINE, TELEMETRY
from slogate.server.web import parse_time, request_fields
from slogate.store.base import DecisionRecord
from slogate.telemetry.tracing import set_attributes, span


@dataclass(frozen=True, slots=True)
class CanaryRequest:
    gate: GateRequest
    canary: str
    baseline: str
    start: float | None = None
    """None: `end` minus the configured window."""
    end: float | None = None
    """None: now."""
    window: float | None = None


def _duration(name: str, text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise BadRequestError(name, f"{name} must be a duration such as 10m") from None
    if seconds <= 0:
        raise BadRequestError(name, f"{name} must be positive")
    return seconds


def canary_request(
    fields: dict[str, Any], known: Callable[[GateRequest], object] = lambda _: None
) -> CanaryRequest:
    """A checked canary request from its fields (query string or JSON body). `known` raises
    `UnknownServiceError` for a service or SLO that is not loaded: a 404 comes before any
    complaint about the window."""
    body = decoded(CanaryBody, present(fields))
    gate = body.request()
    known(gate)
    if body.canary == body.baseline:
        raise BadRequestError("baseline", "baseline must differ from canary")
    if body.window and body.start:
        raise BadRequestError("window", "give window or start, not both")
    return CanaryRequest(
        gate,
        body.canary,
        body.baseline,
        start=parse_time("start", body.start) if body.start else None,
        end=parse_time("end", body.end) if body.end else None,
        window=_duration("window", body.window) if body.window else None,
    )


def _window(app: web.Application, request: CanaryRequest, now: float) -> tuple[float, float]:
    end = now if request.end is None else request.end
    if request.start is not None:
        return request.start, end
    return end - (request.window or app[ENGINE].config.canary.window), end


async def _judge(
    app: web.Application, slos: tuple[SLO, ...], request: CanaryRequest, start: float, end: float
) -> tuple[SLOJudgement, ...]:
    engine = app[ENGINE]
    settings = engine.config.canary
    backend: QueryBackend = engine.evaluator.backend
    figures = await asyncio.gather(
        *(
            fetch_figures(backend, slo, settings, request.canary, request.baseline, start, end)
            for slo in slos
        )
    )
    return tuple(
        judge_slo(slo, canary, baseline, settings, end - start)
        for slo, (canary, baseline) in zip(slos, figures, strict=True)
    )


def _gate(app: web.Application, request: CanaryRequest, now: float) -> Decision:
    """The service-level decision, freezes, exemptions and fail mode applied."""
    engine, control = app[ENGINE], app[CONTROL]
    return make_decision(
        request.gate,
        engine.snapshot,
        engine.config.policy,
        now=now,
        freezes=control.freezes(request.gate.service),
        exemptions=control.exemptions(),
    )


async def analyse(app: web.Application, request: CanaryRequest, source: str) -> CanaryAnswer:
    """Run one canary analysis and audit it durably before answering."""
    engine = app[ENGINE]
    now = engine.clock()
    gate = _gate(app, request, now)  # unknown service or SLO: 404 before any query
    start, end = _window(app, request, now)
    slos = tuple(status.slo for status in gate.statuses)
    if problem := window_problem(start, end, slos):
        raise BadRequestError(*problem)
    service = request.gate.service
    with span(
        "slogate.canary.analysis",
        **{
            "slogate.service": service,
            "slogate.canary": request.canary,
            "slogate.baseline": request.baseline,
            "slogate.deploy_id": request.gate.deploy_id or None,
            "slogate.source": source,
        },
    ) as current:
        failure = None
        judgements: tuple[SLOJudgement, ...] = ()
        try:
            judgements = await _judge(app, slos, request, start, end)
        except BackendError as exc:
            policy = engine.config.policy
            effects = [
                policy.for_slo(service, s.name).verdict_for(ReasonCode.BACKEND_UNAVAILABLE)
                for s in slos
            ]
            worst = max(effects, key=lambda v: v.rank)
            failure = backend_failure(f"canary figures unavailable: {exc}", worst)
        analysis = CanaryAnalysis(
            ulid(now), request.canary, request.baseline, start, end, judgements, gate, failure
        )
        body = analysis_view(analysis, request.gate.deploy_id, request.gate.step)
        encoded = encode(body)
        set_attributes(
            current,
            **{
                "slogate.decision": body["decision"],
                "slogate.decision_id": analysis.id,
                "slogate.canary.verdict": body["verdict"],
                "slogate.canary.score": body["score"],
            },
        )
        record = DecisionRecord(analysis.id, now, service, body["decision"], source, encoded)
        await app[CONTROL].store.record_decision(record)
    app[CANARY_VERDICTS].labels(service, body["verdict"]).inc()
    answer = CanaryAnswer(analysis, body, encoded)
    app[CANARY_HISTORY].add(answer)
    return answer


def known_to(app: web.Application) -> Callable[[GateRequest], object]:
    """What `canary_request` checks names against: the SLOs of the current snapshot."""
    return lambda gate: statuses_for(app[ENGINE].snapshot, gate)


async def canary(request: web.Request) -> web.Response:
    fields = await request_fields(request, CanaryBody.__struct_fields__)
    canary_req = canary_request(fields, known_to(request.app))
    return (await analyse(request.app, canary_req, "canary")).response()


def setup(app: web.Application) -> None:
    """The analyses' own state: the last analyses shown on status pages, their counter."""
    app[CANARY_HISTORY] = CanaryHistory()
    app[CANARY_VERDICTS] = Counter(
        "slogate_canary_verdicts",
        "Canary analyses by service and verdict (pass, fail, inconclusive).",
        ["service", "verdict"],
        registry=app[TELEMETRY].registry,
    )
