"""The store operations that take several statements in one transaction, written once.

A plan is a generator: it yields each statement (one of `statements`' texts and its
arguments), receives its `Result`, and returns the operation's value. It does no I/O; a store
drives it inside one transaction of its own (`drive` on SQLite's store thread, an async loop
on a pooled PostgreSQL connection), so both stores run the same statements in the same order
and decide the same way. A store may run a plan again (SQLite retries a failed batch job by
job), so operations pass plans around as functions that make one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slogate.core.dora import Deployment, DeploymentEvent, Outcome, abandon, apply_event
from slogate.core.dora import event_problem as problem_of
from slogate.core.overrides import Exemption, Freeze
from slogate.store import statements
from slogate.store.base import (
    AdminAction,
    EventResult,
    IncidentChange,
    IncidentKey,
    OutboxEntry,
    Overrides,
    changed_notifications,
    deployment_from_row,
    incident_key,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Result:
    """What a statement gave: its rows (none unless it returns rows), and how many it changed."""

    rows: list[tuple[Any, ...]]
    rowcount: int


Statement = tuple[str, Sequence[Any]]
Plan = Generator[Statement, Result, T]


def drive(plan: Plan[T], run: Callable[[str, Sequence[Any]], Result]) -> T:
    """Run `plan`'s statements with `run`, in order; its value."""
    try:
        statement = next(plan)
        while True:
            statement = plan.send(run(*statement))
    except StopIteration as done:
        value: T = done.value
        return value


def change_override(text: str, args: Sequence[Any], action: AdminAction) -> Plan[bool]:
    """One override change, its audit row and a new overrides version; False (nothing
    written) when `text` changed no row."""
    if not (yield text, args).rowcount:
        return False
    yield statements.INSERT_ADMIN_ACTION, statements.admin_action_args(action)
    yield statements.BUMP_OVERRIDES_VERSION, ()
    return True


def change_freezes(
    saved: Sequence[tuple[Freeze, AdminAction]], lifted: Sequence[tuple[str, AdminAction]]
) -> Plan[tuple[list[bool], list[bool]]]:
    """Freezes saved and lifted, each change with its audit row, and one new overrides
    version if any changed: a cycle's halts, however many, as one change. Which were saved
    (False: a system freeze of that SLO is already active) and which lifted (False: none
    active with that id)."""
    saves, lifts = [], []
    for freeze, action in saved:
        saves.append(
            bool((yield statements.INSERT_FREEZE, statements.freeze_args(freeze)).rowcount)
        )
        if saves[-1]:
            yield statements.INSERT_ADMIN_ACTION, statements.admin_action_args(action)
    for freeze_id, action in lifted:
        args = (action.at, action.actor, freeze_id)
        lifts.append(bool((yield statements.LIFT_FREEZE, args).rowcount))
        if lifts[-1]:
            yield statements.INSERT_ADMIN_ACTION, statements.admin_action_args(action)
    if any(saves) or any(lifts):
        yield statements.BUMP_OVERRIDES_VERSION, ()
    return saves, lifts


def overrides() -> Plan[Overrides]:
    """The overrides version with the active freezes and exemptions (run in one snapshot)."""
    version = (yield statements.OVERRIDES_VERSION, ()).rows
    freezes = (yield statements.ACTIVE_FREEZES, ()).rows
    exemptions = (yield statements.ACTIVE_EXEMPTIONS, ()).rows
    return Overrides(
        version[0][0] if version else 0,
        tuple(statements.freeze_from_row(r) for r in freezes),
        tuple(Exemption(*r) for r in exemptions),
    )


def change_incidents(change: IncidentChange) -> Plan[list[OutboxEntry]]:
    """Open and resolve incidents and queue their notifications. An incident another replica
    opened or resolved first is that replica's to record and notify."""
    opened: set[IncidentKey] = set()
    for incident in change.opened:
        if (yield statements.INSERT_INCIDENT, statements.incident_args(incident)).rowcount:
            opened.add(incident_key(incident.doc))
    resolved: set[IncidentKey] = set()
    for key in change.resolved:
        if (yield statements.DELETE_INCIDENT, key).rowcount:
            resolved.add(key)
    for incident in change.opened:  # the history: time to restore
        if incident_key(incident.doc) in opened:
            yield statements.INSERT_INCIDENT_HISTORY, statements.incident_history_args(incident)
    for slo_id, severity in resolved:
        yield statements.RESOLVE_INCIDENT_HISTORY, (change.at, slo_id, severity)
    queued = []
    for entry in changed_notifications(change, opened, resolved):
        inserted = yield statements.INSERT_NOTIFICATION, statements.notification_args(entry)
        queued.append(replace(entry, id=inserted.rows[0][0]))
    return queued


def apply_deployment_event(event: DeploymentEvent) -> Plan[EventResult]:
    """Fold `event` into its deployment, under the deployment's row lock (first events too:
    `_lock_or_create`); a refused event writes nothing."""
    existing, created = yield from _lock_or_create(event)
    problem = problem_of(existing, event)
    if problem is not None:
        return EventResult(existing, problem)
    updated = apply_event(existing, event)
    if updated != existing and not created:
        yield statements.SAVE_DEPLOYMENT, statements.deployment_row(updated)
    if statements.records_step(event) and (yield from _new_step(event)):
        yield statements.INSERT_STEP, statements.step_args(event)
    before = existing.outcome if existing is not None else None
    return EventResult(updated, None, updated.outcome is not before)


def _lock_or_create(event: DeploymentEvent) -> Plan[tuple[Deployment | None, bool]]:
    """The event's deployment as it was, its row locked for the transaction; and whether this
    transaction created the row (as `apply_event(None, event)`: then it was None before). Of
    two first events at once (PostgreSQL), one inserts; the other's insert waits for that
    commit, inserts nothing, and locks the row the first made, as any later event would."""
    key = (event.service, event.deploy_id)
    rows = (yield statements.LOCK_DEPLOYMENT, key).rows
    if not rows and problem_of(None, event) is None:
        first = statements.deployment_row(apply_event(None, event))
        if (yield statements.CREATE_DEPLOYMENT, first).rowcount:
            return None, True
        rows = (yield statements.LOCK_DEPLOYMENT, key).rows
    return (deployment_from_row(rows[0]) if rows else None), False


def _new_step(event: DeploymentEvent) -> Plan[bool]:
    key = (event.service, event.deploy_id)
    last = (yield statements.LAST_STEP, key).rows
    count = (yield statements.COUNT_STEPS, key).rows
    return statements.is_new_step(event, last[0] if last else None, int(count[0][0]))


def abandon_deployments(idle_before: float) -> Plan[list[Deployment]]:
    """Deployments in progress with no news since `idle_before`, closed as abandoned (rows
    another replica is closing are skipped)."""
    args = (Outcome.IN_PROGRESS.value, idle_before)
    rows = (yield statements.IDLE_DEPLOYMENTS, args).rows
    closed = [abandon(deployment_from_row(r)) for r in rows]
    for deployment in closed:
        yield statements.SAVE_DEPLOYMENT, statements.deployment_row(deployment)
    return closed
