"""The store operations both stores share, written once over `statements` and `plans`.

A store subclasses `Queries` and gives the three ways it runs statements: `_rows` (the rows a
text returns), `_rowcount` (how many rows it changed) and `_transaction` (a plan's statements
in one transaction). SQLite runs them on its store thread, PostgreSQL on a pooled connection.
What each store does its own way stays in it: the decisions' group commit, sizes, the copy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from slogate.core.dora import Deployment, DeploymentEvent, IncidentSpan
from slogate.core.ids import first_ulid
from slogate.core.overrides import Exemption, Freeze
from slogate.errors import StoreError
from slogate.store import plans, statements
from slogate.store.base import (
    PRUNABLE,
    AdminAction,
    DecisionQuery,
    DecisionRecord,
    DeploymentQuery,
    DeploymentStep,
    EventResult,
    IncidentChange,
    IncidentKey,
    OpenIncident,
    OutboxEntry,
    Overrides,
    deployment_from_row,
    outbox_entry,
)
from slogate.store.plans import Plan
from slogate.store.statements import (
    admin_action_from_row,
    decisions_query,
    deployments_query,
    exemption_args,
    freeze_args,
    freeze_from_row,
    incident_from_row,
    incident_history_query,
)

T = TypeVar("T")


class Queries(ABC):
    """`Store`'s operations, over a store's three ways of running `statements`."""

    @abstractmethod
    async def _rows(self, text: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows `text` (one of `statements`) returns."""

    @abstractmethod
    async def _rowcount(self, text: str, args: Sequence[Any]) -> int:
        """How many rows `text` changed."""

    @abstractmethod
    async def _transaction(self, plan: Callable[[], Plan[T]], *, snapshot: bool = False) -> T:
        """The value of a plan `plan()` makes, its statements run in one transaction (all of
        its reads at one instant when `snapshot`)."""

    async def _change(self, text: str, args: Sequence[Any], action: AdminAction) -> bool:
        return await self._transaction(lambda: plans.change_override(text, args, action))

    async def overrides(self) -> Overrides:
        return await self._transaction(plans.overrides, snapshot=True)

    async def overrides_version(self) -> int:
        rows = await self._rows(statements.OVERRIDES_VERSION)
        return int(rows[0][0]) if rows else 0

    # --- decisions, freezes and exemptions ----------------------------------------------------

    async def decisions(self, query: DecisionQuery) -> list[DecisionRecord]:
        return [DecisionRecord(*r) for r in await self._rows(*decisions_query(query))]

    async def save_freeze(self, freeze: Freeze, action: AdminAction) -> bool:
        return await self._change(statements.INSERT_FREEZE, freeze_args(freeze), action)

    async def lift_freeze(self, freeze_id: str, action: AdminAction) -> bool:
        args = (action.at, action.actor, freeze_id)
        return await self._change(statements.LIFT_FREEZE, args, action)

    async def change_freezes(
        self,
        saved: Sequence[tuple[Freeze, AdminAction]],
        lifted: Sequence[tuple[str, AdminAction]],
    ) -> tuple[list[bool], list[bool]]:
        return await self._transaction(lambda: plans.change_freezes(saved, lifted))

    async def active_freezes(self) -> list[Freeze]:
        return [freeze_from_row(r) for r in await self._rows(statements.ACTIVE_FREEZES)]

    async def save_exemption(self, exemption: Exemption, action: AdminAction) -> None:
        await self._change(statements.INSERT_EXEMPTION, exemption_args(exemption), action)

    async def revoke_exemption(self, exemption_id: str, action: AdminAction) -> bool:
        args = (action.at, action.actor, exemption_id)
        return await self._change(statements.REVOKE_EXEMPTION, args, action)

    async def active_exemptions(self) -> list[Exemption]:
        return [Exemption(*r) for r in await self._rows(statements.ACTIVE_EXEMPTIONS)]

    async def admin_actions(self, limit: int = 100) -> list[AdminAction]:
        rows = await self._rows(statements.ADMIN_ACTIONS, (limit,))
        return [admin_action_from_row(r) for r in rows]

    async def freeze_history(self, since: float) -> list[tuple[Freeze, float | None]]:
        rows = await self._rows(statements.FREEZE_HISTORY, (since, since))
        return [(freeze_from_row(r), r[8]) for r in rows]

    # --- incidents and the outbox -------------------------------------------------------------

    async def open_incidents(self) -> list[OpenIncident]:
        return [incident_from_row(r) for r in await self._rows(statements.OPEN_INCIDENTS)]

    async def open_incident_keys(self) -> set[IncidentKey]:
        return {(r[0], r[1]) for r in await self._rows(statements.OPEN_INCIDENT_KEYS)}

    async def change_incidents(self, change: IncidentChange) -> list[OutboxEntry]:
        """Open and resolve incidents and queue their notifications, in one transaction."""
        return await self._transaction(lambda: plans.change_incidents(change))

    async def incident_history(self, since: float, service: str = "") -> list[IncidentSpan]:
        rows = await self._rows(*incident_history_query(since, service))
        return [IncidentSpan(*r) for r in rows]

    async def pending_notifications(self) -> list[OutboxEntry]:
        return [outbox_entry(r) for r in await self._rows(statements.PENDING_NOTIFICATIONS)]

    async def claim_notifications(
        self, owner: str, now: float, until: float, limit: int = 100
    ) -> list[OutboxEntry]:
        args = (owner, until, now, owner, limit)
        rows = await self._rows(statements.CLAIM_NOTIFICATIONS, args)
        return sorted((outbox_entry(r) for r in rows), key=lambda e: e.id)

    async def release_notifications(self, owner: str) -> int:
        return await self._rowcount(statements.RELEASE_NOTIFICATIONS, (owner,))

    async def notifications(self, state: str, limit: int = 100) -> list[OutboxEntry]:
        """Recent outbox entries in `state` (pending, delivered, failed, expired), newest first."""
        rows = await self._rows(statements.NOTIFICATIONS_IN_STATE, (state, limit))
        return [outbox_entry(r) for r in rows]

    async def finish_notification(
        self, entry_id: int, state: str, at: float, error: str | None
    ) -> None:
        """Take a notification out of the queue: delivered, failed or expired."""
        await self._rowcount(statements.FINISH_NOTIFICATION, (state, at, error, entry_id))

    async def retry_notification(
        self, entry_id: int, attempts: int, next_at: float, error: str
    ) -> None:
        await self._rowcount(statements.RETRY_NOTIFICATION, (attempts, next_at, error, entry_id))

    # --- retention ----------------------------------------------------------------------------

    async def prune(self, table: str, before: float, limit: int) -> int:
        """`statements.PRUNE`'s rows of `table` older than `before`, `limit` at the most."""
        if table not in PRUNABLE:
            raise StoreError(f"no retention for table {table!r} (known: {', '.join(PRUNABLE)})")
        cutoff = first_ulid(before) if table == "decisions" else before
        return await self._rowcount(statements.PRUNE[table], (cutoff, limit))

    # --- deployments (DESIGN §9) --------------------------------------------------------------

    async def apply_deployment_event(self, event: DeploymentEvent) -> EventResult:
        return await self._transaction(lambda: plans.apply_deployment_event(event))

    async def abandon_deployments(self, idle_before: float) -> list[Deployment]:
        return await self._transaction(lambda: plans.abandon_deployments(idle_before))

    async def deployment(self, service: str, deploy_id: str) -> Deployment | None:
        rows = await self._rows(statements.DEPLOYMENT, (service, deploy_id))
        return deployment_from_row(rows[0]) if rows else None

    async def deployments(self, query: DeploymentQuery) -> list[Deployment]:
        return [deployment_from_row(r) for r in await self._rows(*deployments_query(query))]

    async def finished_deployments(self, since: float) -> list[Deployment]:
        rows = await self._rows(statements.FINISHED_DEPLOYMENTS, (since,))
        return [deployment_from_row(r) for r in rows]

    async def deployment_steps(self, service: str, deploy_id: str) -> list[DeploymentStep]:
        rows = await self._rows(statements.DEPLOYMENT_STEPS, (service, deploy_id))
        return [DeploymentStep(*r) for r in rows]
