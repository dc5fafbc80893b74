"""The durable store: decisions audit, freezes, exemptions, admin actions (DESIGN §1, §7).

`Store` is the interface the rest of slogate uses; `slogate.sqlite_store.SQLiteStore` is the
embedded default. A write returns only once it is on disk, so an acknowledged decision,
freeze or exemption survives a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

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


PRUNABLE = ("decisions", "notifications")
"""What retention applies to: audited decisions, and finished (delivered, failed, expired)
notifications, a resolved incident's only record (open incidents and overrides are kept)."""


@dataclass(frozen=True, slots=True)
class StoreSizes:
    rows: dict[str, int]
    """Rows by table."""
    bytes: int
    """On disk, everything included (for SQLite: the database file and its WAL)."""


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

    async def prune(self, table: str, before: float, limit: int) -> int:
        """Delete at most `limit` of the oldest rows of `table` (one of `PRUNABLE`) older than
        `before`, in one short transaction; returns how many went."""

    async def sizes(self) -> StoreSizes:
        """Rows per table and bytes used, read without holding up writes."""
