"""The durable store: decisions audit, freezes, exemptions, admin actions (DESIGN §1, §7).

`Store` is the interface the rest of slogate uses; `slogate.store.sqlite.SQLiteStore` is the
embedded default, `slogate.store.postgresql.PostgreSQLStore` the one replicas share. A write
returns only once it is on disk, so an acknowledged decision, freeze or exemption survives a
crash.

Several processes may share one store. The store arbitrates between them: every change to the
freezes and exemptions bumps one overrides version in its transaction, and a decision made on an
older version is refused (`StaleOverridesError`) rather than recorded; one system freeze per
(service, SLO) and one open incident per (SLO, severity) are unique in the schema, and a write
that finds one already there changes nothing; outbox rows are claimed with a lease.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slogate.core.dora import Deployment, DeploymentEvent, EventProblem, IncidentSpan, Outcome
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
    overrides_version: int | None = None
    """The store's overrides version the decision was made on; None records it unchecked."""

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
class Overrides:
    """The active freezes and exemptions, read at one instant, and the version they are at."""

    version: int
    freezes: tuple[Freeze, ...]
    exemptions: tuple[Exemption, ...]


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


TABLES: dict[str, tuple[str, ...]] = {
    "decisions": ("id", "decided_at", "service", "verdict", "source", "body"),
    "freezes": (
        "id",
        "service",
        "slo",
        "kind",
        "reason",
        "created_at",
        "created_by",
        "until",
        "lifted_at",
        "lifted_by",
    ),
    "exemptions": (
        "id",
        "service",
        "change_type",
        "deploy_id",
        "reason",
        "created_at",
        "created_by",
        "until",
        "revoked_at",
        "revoked_by",
    ),
    "admin_actions": ("seq", "at", "actor", "action", "target", "detail"),
    "incidents": ("slo_id", "severity", "opened_at", "incident"),
    "outbox": (
        "id",
        "sink",
        "action",
        "dedup_key",
        "incident",
        "opened_at",
        "at",
        "expires_at",
        "attempts",
        "next_attempt_at",
        "last_error",
        "state",
        "finished_at",
        "claimed_by",
        "lease_until",
    ),
    "deployments": (
        "service",
        "deploy_id",
        "outcome",
        "started_at",
        "finished_at",
        "updated_at",
        "version",
        "commit_sha",
        "commit_time",
        "source",
    ),
    "deployment_steps": (
        "service",
        "deploy_id",
        "at",
        "step",
        "source",
        "decision_id",
        "verdict",
    ),
    "incident_history": ("id", "slo_id", "service", "slo", "severity", "opened_at", "resolved_at"),
}
"""Every table that holds history and state, with its columns: what `slogate store copy` moves
(the same in every store; the overrides version is per store and only bumped by a copy)."""

OUTBOX_COLUMNS = (
    "id, sink, action, dedup_key, incident, opened_at, at, expires_at, attempts,"
    " next_attempt_at, last_error, state, finished_at"
)
"""The outbox's columns, as `outbox_entry` reads them (the same in every store)."""


def outbox_entry(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        sink=row[1],
        action=row[2],
        dedup_key=row[3],
        incident=json.loads(row[4]),
        opened_at=row[5],
        at=row[6],
        expires_at=row[7],
        attempts=row[8],
        next_attempt_at=row[9],
        last_error=row[10],
        id=row[0],
        state=row[11],
        finished_at=row[12],
    )


IncidentKey = tuple[str, str]
"""(SLO id, severity) as the store keys incidents."""


def incident_key(doc: dict[str, Any]) -> IncidentKey:
    return (doc["slo_id"], doc["severity"])


def changed_notifications(
    change: IncidentChange, opened: set[IncidentKey], resolved: set[IncidentKey]
) -> list[OutboxEntry]:
    """The change's notifications of the incidents a write did open or resolve (not of those
    another replica had already opened or resolved)."""
    done = {(key, "trigger") for key in opened} | {(key, "resolve") for key in resolved}
    return [e for e in change.notifications if (incident_key(e.incident), e.action) in done]


PRUNABLE = ("decisions", "notifications")
"""What retention applies to: audited decisions, and finished (delivered, failed, expired)
notifications, a resolved incident's only record (open incidents and overrides are kept)."""


@dataclass(frozen=True, slots=True)
class StoreSizes:
    rows: dict[str, int]
    """Rows by table."""
    bytes: int
    """On disk, everything included (for SQLite: the database file and its WAL)."""


# --- deployments' rows, the same in every store

MAX_STEPS = 500
"""Steps kept per deployment: the audit trail keeps every decision, the deployment its story."""


DEPLOYMENT_COLUMNS = (
    "service, deploy_id, outcome, started_at, finished_at, updated_at, version, commit_sha,"
    " commit_time, source"
)


def deployment_from_row(row: Sequence[Any]) -> Deployment:
    return Deployment(row[0], row[1], Outcome(row[2]), *row[3:])


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def check(self) -> None:
        """Raise `StoreError` unless the store answers now (readiness)."""

    async def record_decision(
        self, record: DecisionRecord, step: DeploymentEvent | None = None
    ) -> EventResult | None:
        """Durable before it returns; `StaleOverridesError` (nothing recorded) when the
        record's overrides version is no longer the store's. `step`, the deployment step the
        decision is (DESIGN §9), is folded in the same transaction, so a gate call costs one
        commit; if folding it fails, the decision still stands (it is the audit record, and
        it carries the step): the failure is logged and the result is None."""

    async def decisions(self, query: DecisionQuery) -> list[DecisionRecord]:
        """Newest first."""

    async def save_freeze(self, freeze: Freeze, action: AdminAction) -> bool:
        """False (nothing written) when a system freeze of that SLO is already active."""

    async def lift_freeze(self, freeze_id: str, action: AdminAction) -> bool:
        """False when no active freeze has that id."""

    async def change_freezes(
        self,
        saved: Sequence[tuple[Freeze, AdminAction]],
        lifted: Sequence[tuple[str, AdminAction]],
    ) -> tuple[list[bool], list[bool]]:
        """Freezes saved and lifted (by id) in one transaction and one overrides version; per
        freeze, as `save_freeze` and `lift_freeze` answer."""

    async def active_freezes(self) -> list[Freeze]: ...

    async def save_exemption(self, exemption: Exemption, action: AdminAction) -> None: ...

    async def revoke_exemption(self, exemption_id: str, action: AdminAction) -> bool: ...

    async def active_exemptions(self) -> list[Exemption]: ...

    async def overrides(self) -> Overrides: ...

    async def overrides_version(self) -> int:
        """The version `overrides` would give, without reading the freezes and exemptions."""

    async def admin_actions(self, limit: int = 100) -> list[AdminAction]: ...

    async def open_incidents(self) -> list[OpenIncident]: ...

    async def open_incident_keys(self) -> set[IncidentKey]:
        """The (SLO id, severity) of every open incident, without reading their docs."""

    async def change_incidents(self, change: IncidentChange) -> list[OutboxEntry]:
        """Durably open/resolve incidents and queue the notifications of those it changed
        (an incident already open, or already resolved, queues nothing); returns them with ids."""

    async def pending_notifications(self) -> list[OutboxEntry]: ...

    async def claim_notifications(
        self, owner: str, now: float, until: float, limit: int = 100
    ) -> list[OutboxEntry]:
        """Lease to `owner` until `until` the pending entries nobody else holds a lease on,
        only the oldest pending entry of each (sink, dedup key); renews `owner`'s own."""

    async def release_notifications(self, owner: str) -> int:
        """Give up `owner`'s leases on the entries still pending; returns how many."""

    async def notifications(self, state: str, limit: int = 100) -> list[OutboxEntry]: ...

    async def finish_notification(
        self, entry_id: int, state: str, at: float, error: str | None
    ) -> None: ...

    async def retry_notification(
        self, entry_id: int, attempts: int, next_at: float, error: str
    ) -> None: ...

    async def prune(self, table: str, before: float, limit: int) -> int:
        """Delete at most `limit` of the oldest rows of `table` (one of `PRUNABLE`) older than
        `before`, in one short transaction; returns how many went."""

    async def sizes(self) -> StoreSizes:
        """Rows per table and bytes used, read without holding up writes."""

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
