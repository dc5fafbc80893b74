"""Deployments over the store: recorded from gate calls and pipeline events, closed when
abandoned, and the DORA figures computed from them and the incidents' history (DESIGN §9).

Every event is folded into its deployment inside one store transaction (`core.dora.apply_event`),
so concurrent reports of one deployment cannot lose each other. The figures for `/metrics` are
recomputed after an evaluation cycle when a deployment changed outcome, else once a minute
(windows slide, deployments stall): one read of the window's finished deployments and
incidents, however many gate calls arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from slogate.config import DoraConfig
from slogate.core.dora import (
    BANDS,
    Deployment,
    DeploymentEvent,
    EventKind,
    Figures,
    IncidentSpan,
    caused_incidents,
    figures,
    is_failed,
)
from slogate.core.gate import Decision
from slogate.store.base import DeploymentStep, EventResult, Store

REFRESH_EVERY = 60.0

Transition = Callable[[Deployment], None]


@dataclass(frozen=True, slots=True)
class DeploymentDetail:
    deployment: Deployment
    steps: tuple[DeploymentStep, ...]
    incidents: tuple[IncidentSpan, ...]
    """The page incidents it is taken to have caused."""
    failed: bool


class Deliveries:
    def __init__(
        self,
        store: Store,
        config: Callable[[], DoraConfig],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.on_transition: Transition = lambda deployment: None
        self.latest: dict[str, Figures] = {}
        """Per service, the figures over the configured window (what `/metrics` shows)."""
        self._refreshed = -REFRESH_EVERY

    async def report(self, event: DeploymentEvent) -> EventResult:
        """Fold one event in durably; a transition of its outcome is counted."""
        result = await self.store.apply_deployment_event(event)
        self.recorded(result)
        return result

    def _transition(self, deployment: Deployment) -> None:
        self.on_transition(deployment)
        self._refreshed = -REFRESH_EVERY  # the next cycle recomputes the figures

    def step_of(self, decision: Decision, source: str) -> DeploymentEvent | None:
        """A gate call carrying `deploy_id` is a step of that deployment; its event, to be
        recorded with the decision (`ReleaseControl.record`)."""
        request = decision.request
        if not request.deploy_id:
            return None
        return DeploymentEvent(
            service=request.service,
            deploy_id=request.deploy_id,
            kind=EventKind.STEP,
            at=decision.decided_at,
            source=source,
            step=request.step or "gate",
            decision_id=decision.id,
            verdict=decision.verdict.value,
        )

    def recorded(self, result: EventResult | None) -> Deployment | None:
        """The deployment after a step recorded with its decision; a transition is counted."""
        if result is None:
            return None
        if result.changed and result.deployment is not None:
            self._transition(result.deployment)
        return result.deployment

    async def sweep(self) -> list[Deployment]:
        """Close deployments never seen to finish as abandoned."""
        closed = await self.store.abandon_deployments(self.clock() - self.config().abandon_after)
        for deployment in closed:
            self._transition(deployment)
        return closed

    async def figures(
        self, window: float, services: Iterable[str] = (), service: str = ""
    ) -> list[Figures]:
        """The figures of `service`, or of every service known (deployed, or in `services`)."""
        config = self.config()
        now = self.clock()
        start = now - window
        deployments = await self.store.finished_deployments(start)
        incidents = await self.store.incident_history(start, service)
        names = (
            [service] if service else sorted({*services, *(d.service for d in deployments)} - {""})
        )
        bands = BANDS[config.report_year]
        return [
            figures(
                name,
                deployments,
                incidents,
                now=now,
                window=window,
                failure_window=config.failure_window,
                bands=bands,
            )
            for name in names
        ]

    async def refresh(self, services: Iterable[str]) -> None:
        """Abandon what stalled and recompute the `/metrics` figures, at most once a minute."""
        now = self.clock()
        if now - self._refreshed < REFRESH_EVERY:
            return
        self._refreshed = now
        await self.sweep()
        found = await self.figures(self.config().window, services)
        self.latest = {f.service: f for f in found}

    async def detail(self, service: str, deploy_id: str) -> DeploymentDetail | None:
        deployment = await self.store.deployment(service, deploy_id)
        if deployment is None:
            return None
        steps = await self.store.deployment_steps(service, deploy_id)
        window = self.config().failure_window
        incidents: list[IncidentSpan] = []
        if deployment.finished_at is not None:
            history = await self.store.incident_history(deployment.finished_at, service)
            incidents = caused_incidents(deployment, history, window)
        failed = is_failed(deployment, incidents, window)
        return DeploymentDetail(deployment, tuple(steps), tuple(incidents), failed)

    async def deployments_causing(self, incident: IncidentSpan) -> list[Deployment]:
        """The deployments an incident is linked to (finished within the failure window before
        it opened)."""
        window = self.config().failure_window
        candidates = await self.store.finished_deployments(incident.opened_at - window)
        return [
            d
            for d in candidates
            if d.service == incident.service and caused_incidents(d, [incident], window)
        ]
