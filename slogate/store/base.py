"""The durable store: decisions audit, freezes, exemptions, admin actions (DESIGN §1, §7).

`Store` is the interface the rest of slogate uses; `slogate.sqlite_store.SQLiteStore` is the
embedded default. A write returns only once it is on disk, so an acknowledged decision,
freeze or exemption survives a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from slogate.core.dora import Deployment, DeploymentEvent, EventProblem, IncidentSpan
from slogate.core.overrides import Exemption, Freeze


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One audited gate decision: the answer exactly as it was given, and where it went."""

    id: str
    decided_at: float
    service: str
    verdict: str
    source: str
    encoded: str
    """The answer's JSON text, byte for byte."""

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.encoded)
        return body


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    service: str = ""
    since: float | None = None
    until: float | None = None
    before: str = ""
    limit: int = 50


@dataclass(frozen=True, slots=True)
class AdminAction:
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenIncident:
    doc: dict[str, Any]
    """The incident as `incidents.incident_to_json` writes it (what its resolve will say)."""
    opened_at: float


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One notification to one sink, kept until the sink acknowledged it or it expired."""

    sink: str
    action: str
    dedup_key: str
    incident: dict[str, Any]
    opened_at: float
    at: float
    expires_at: float
    next_attempt_at: float
    attempts: int = 0
    last_error: str | None = None
    id: int = 0
    state: str = "pending"
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class IncidentChange:
    opened: tuple[OpenIncident, ...] = ()
    resolved: tuple[tuple[str, str], ...] = ()
    notifications: tuple[OutboxEntry, ...] = ()
    at: float = 0.0
    """When the resolved incidents were resolved (their history keeps it)."""


# --- deployments (DESIGN §9) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    service: str = ""
    outcome: str = ""
    since: float | None = None
    """Updated at or after."""
    until: float | None = None
    before: tuple[float, str, str] | None = None
    """Cursor: (updated_at, service, deploy_id) of the last row of the previous page."""
    limit: int = 50


@dataclass(frozen=True, slots=True)
class DeploymentStep:
    """One gate call (or pipeline event) of a deployment, with its decision if any."""

    service: str
    deploy_id: str
    at: float
    step: str
    source: str
    decision_id: str = ""
    verdict: str = ""


@dataclass(frozen=True, slots=True)
class EventResult:
    deployment: Deployment | None
    problem: EventProblem | None = None
    changed: bool = False
    """True when the event changed the deployment's outcome (a transition to count)."""


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def record_decision(self, record: DecisionRecord) -> None:
        """Durable before it returns."""

    async def decisions(self, query: DecisionQuery) -> list[DecisionRecord]:
        """Newest first."""

    async def save_freeze(self, freeze: Freeze, action: AdminAction) -> None: ...

    async def lift_freeze(self, freeze_id: str, action: AdminAction) -> bool:
        """False when no active freeze has that id."""

    async def active_freezes(self) -> list[Freeze]: ...

    async def save_exemption(self, exemption: Exemption, action: AdminAction) -> None: ...

    async def revoke_exemption(self, exemption_id: str, action: AdminAction) -> bool: ...

    async def active_exemptions(self) -> list[Exemption]: ...

    async def admin_actions(self, limit: int = 100) -> list[AdminAction]: ...

    async def open_incidents(self) -> list[OpenIncident]: ...

    async def change_incidents(self, change: IncidentChange) -> list[OutboxEntry]:
        """Durably open/resolve incidents and queue notifications; returns them with ids."""

    async def pending_notifications(self) -> list[OutboxEntry]: ...

    async def notifications(self, state: str, limit: int = 100) -> list[OutboxEntry]: ...

    async def finish_notification(
        self, entry_id: int, state: str, at: float, error: str | None
    ) -> None: ...

    async def retry_notification(
        self, entry_id: int, attempts: int, next_at: float, error: str
    ) -> None: ...

    # --- deployments ---

    async def apply_deployment_event(self, event: DeploymentEvent) -> EventResult:
        """Fold `event` into its deployment (and its step, if any) atomically; nothing is
        written when `core.dora.event_problem` objects."""

    async def deployment(self, service: str, deploy_id: str) -> Deployment | None: ...

    async def deployments(self, query: DeploymentQuery) -> list[Deployment]:
        """Most recently updated first."""

    async def finished_deployments(self, since: float) -> list[Deployment]:
        """Every deployment finished at or after `since` (for the figures)."""

    async def deployment_steps(self, service: str, deploy_id: str) -> list[DeploymentStep]: ...

    async def abandon_deployments(self, idle_before: float) -> list[Deployment]:
        """Close in-progress deployments not updated since `idle_before`; returns them."""

    async def incident_history(self, since: float, service: str = "") -> list[IncidentSpan]:
        """Incidents opened at or after `since`, oldest first."""

    async def freeze_history(self, since: float) -> list[tuple[Freeze, float | None]]:
        """Freezes active at some time since `since`, each with when it was lifted (if)."""
