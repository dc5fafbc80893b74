"""Deployments and the incidents' history in both stores: a SQLite file and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

import psycopg
import pytest

from slogate.config import DoraConfig, seconds
from slogate.control.deployments import Deliveries
from slogate.core.dora import Deployment, DeploymentEvent, EventKind, Outcome
from slogate.core.gate import Decision
from slogate.core.policy import GateRequest, Verdict
from slogate.errors import StaleOverridesError
from slogate.store import postgresql, sqlite
from slogate.store.base import (
    DecisionQuery,
    DecisionRecord,
    DeploymentQuery,
    IncidentChange,
    OpenIncident,
)
from slogate.store.postgresql import PostgreSQLStore
from slogate.store.sqlite import SQLiteStore
from tests.integration.helpers import eventually
from tests.postgres import PASSWORD
from tests.store.test_store import location, make_store

__all__ = ["location"]  # the fixture: each test runs on both stores

T = 1_800_000_000.0


def event(kind: EventKind, at: float, deploy_id: str = "d1", version: str = "") -> DeploymentEvent:
    return DeploymentEvent("shop", deploy_id, kind, at, "api", version=version)


async def opened(location: str) -> SQLiteStore | PostgreSQLStore:
    store = make_store(location)
    await store.open()
    return store


async def test_events_fold_into_one_durable_record_with_its_steps(location: str) -> None:
    store = await opened(location)
    first = await store.apply_deployment_event(event(EventKind.STARTED, T, version="1.0"))
    assert first.changed and first.deployment is not None
    step = DeploymentEvent(
        "shop",
        "d1",
        EventKind.STEP,
        T + 5,
        "api",
        step="canary/10",
        decision_id="01X",
        verdict="allow",
    )
    assert not (await store.apply_deployment_event(step)).changed
    done = await store.apply_deployment_event(event(EventKind.SUCCEEDED, T + 60))
    again = await store.apply_deployment_event(event(EventKind.SUCCEEDED, T + 60))
    assert done.changed and not again.changed
    await store.close()

    store = await opened(location)  # after a restart, as it was acknowledged
    got = await store.deployment("shop", "d1")
    assert got is not None
    assert (got.outcome, got.started_at, got.finished_at, got.version) == (
        Outcome.SUCCEEDED,
        T,
        T + 60,
        "1.0",
    )
    steps = await store.deployment_steps("shop", "d1")
    assert [(s.step, s.decision_id, s.verdict) for s in steps] == [("canary/10", "01X", "allow")]
    await store.close()


async def test_a_refused_event_writes_nothing(location: str) -> None:
    store = await opened(location)
    await store.apply_deployment_event(event(EventKind.STARTED, T))
    refused = await store.apply_deployment_event(event(EventKind.SUCCEEDED, T - 10))
    assert refused.problem is not None and refused.problem.field == "at"
    got = await store.deployment("shop", "d1")
    assert got is not None and got.outcome is Outcome.IN_PROGRESS
    await store.close()


async def test_concurrent_events_of_one_deployment_lose_nothing(location: str) -> None:
    store = await opened(location)
    steps = [
        DeploymentEvent("shop", "d1", EventKind.STEP, T + 61 * n, "api", step=f"s{n}")
        for n in range(50)
    ]
    # All at once: the first events race to create the deployment's row, and
    # the earliest `at` must still be its start (on PostgreSQL they serialize on that row).
    await asyncio.gather(*(store.apply_deployment_event(s) for s in steps))
    got = await store.deployment("shop", "d1")
    assert got is not None and (got.started_at, got.updated_at) == (T, T + 61 * 49)
    assert len(await store.deployment_steps("shop", "d1")) == 50
    await store.close()


@contextlib.asynccontextmanager
async def inserts_held(location: str, waiters: int) -> AsyncIterator[None]:
    """On PostgreSQL, deployments can be read but not written until `waiters` transactions wait
    to insert (each first event has read "no row yet"), then all go at once: the first events'
    race, every time. On SQLite (one writer) the events simply run."""
    if not location.startswith("postgresql://"):
        yield
        return
    async with await psycopg.AsyncConnection.connect(location, password=PASSWORD) as conn:
        await conn.execute("LOCK TABLE deployments IN SHARE MODE")  # blocks INSERT, not SELECT
        yield

        async def blocked() -> bool:
            async with await psycopg.AsyncConnection.connect(
                location, password=PASSWORD, autocommit=True
            ) as probe:
                cursor = await probe.execute(
                    "SELECT count(*) FROM pg_locks"
                    " WHERE relation = 'deployments'::regclass AND NOT granted"
                )
                row = await cursor.fetchone()
                return row is not None and row[0] >= waiters

        await eventually(blocked, f"{waiters} first events waiting to insert", within=10)
        await conn.rollback()


async def test_first_events_racing_keep_the_earliest_start_and_the_latest_update(
    location: str,
) -> None:
    store = await opened(location)
    later = DeploymentEvent("shop", "d1", EventKind.STEP, T + 120, "api", step="canary")
    earlier = DeploymentEvent("shop", "d1", EventKind.STARTED, T, "api", version="2.0")
    async with inserts_held(location, 2):
        results = asyncio.gather(*(store.apply_deployment_event(e) for e in (later, earlier)))
    first, second = await results
    whole = Deployment("shop", "d1", Outcome.IN_PROGRESS, T, None, T + 120, "2.0", source="api")
    assert await store.deployment("shop", "d1") == whole  # earliest start, latest update
    assert sorted([first.changed, second.changed]) == [False, True]  # one created it
    steps = await store.deployment_steps("shop", "d1")
    assert [(s.at, s.step) for s in steps] == [(T + 120, "canary")]
    await store.close()


async def test_a_polled_step_is_kept_once_and_does_not_rewrite_its_deployment(
    location: str,
) -> None:
    store = await opened(location)
    for n in range(20):  # a pipeline asking every 2 s for the same step, allowed each time
        poll = DeploymentEvent(
            "shop", "d1", EventKind.STEP, T + 2 * n, "api", step="canary", verdict="allow"
        )
        await store.apply_deployment_event(poll)
    denied = DeploymentEvent(
        "shop", "d1", EventKind.STEP, T + 50, "api", step="canary", verdict="deny"
    )
    await store.apply_deployment_event(denied)
    steps = await store.deployment_steps("shop", "d1")
    assert [(s.at, s.verdict) for s in steps] == [(T, "allow"), (T + 50, "deny")]
    got = await store.deployment("shop", "d1")
    assert got is not None and got.updated_at == T  # refreshed at most once a minute
    await store.close()


async def test_listing_pages_newest_first_and_filters(location: str) -> None:
    store = await opened(location)
    for n in range(5):
        await store.apply_deployment_event(event(EventKind.SUCCEEDED, T + n, f"d{n}"))
    await store.apply_deployment_event(event(EventKind.STARTED, T + 10, "running"))
    page = await store.deployments(DeploymentQuery(outcome="succeeded", limit=3))
    assert [d.deploy_id for d in page] == ["d4", "d3", "d2"]
    last = page[-1]
    rest = await store.deployments(
        DeploymentQuery(
            outcome="succeeded", before=(last.updated_at, last.service, last.deploy_id), limit=3
        )
    )
    assert [d.deploy_id for d in rest] == ["d1", "d0"]
    assert [d.deploy_id for d in await store.finished_deployments(T + 3)] == ["d3", "d4"]
    assert await store.deployments(DeploymentQuery(service="cart")) == []
    await store.close()


async def test_stalled_deployments_are_closed_as_abandoned(location: str) -> None:
    store = await opened(location)
    await store.apply_deployment_event(event(EventKind.STARTED, T, "stalled"))
    await store.apply_deployment_event(event(EventKind.STARTED, T + 100, "fresh"))
    closed = await store.abandon_deployments(T + 50)
    assert [(d.deploy_id, d.outcome) for d in closed] == [("stalled", Outcome.ABANDONED)]
    fresh = await store.deployment("shop", "fresh")
    assert fresh is not None and fresh.outcome is Outcome.IN_PROGRESS
    assert await store.abandon_deployments(T + 50) == []
    await store.close()


async def test_incidents_keep_a_history_when_resolved(location: str) -> None:
    store = await opened(location)
    doc = {"slo_id": "shop-availability", "service": "shop", "slo": "availability"}
    page = OpenIncident({**doc, "severity": "page"}, T)
    await store.change_incidents(IncidentChange(opened=(page,)))
    await store.change_incidents(
        IncidentChange(resolved=(("shop-availability", "page"),), at=T + 900)
    )
    assert await store.open_incidents() == []
    (span,) = await store.incident_history(T - 1, "shop")
    assert (span.service, span.slo, span.severity, span.opened_at, span.resolved_at) == (
        "shop",
        "availability",
        "page",
        T,
        T + 900,
    )
    assert span.duration == 900
    assert await store.incident_history(T - 1, "cart") == []
    await store.close()


async def gate_call(
    store: SQLiteStore | PostgreSQLStore, deliveries: Deliveries, decision: Decision
) -> Deployment | None:
    """What the gate does: the decision and its deployment step recorded together."""
    step = deliveries.step_of(decision, "api")
    record = DecisionRecord(decision.id, T, "shop", "allow", "api", "{}")
    return deliveries.recorded(await store.record_decision(record, step))


async def test_deliveries_record_gate_steps_count_transitions_and_abandon(location: str) -> None:
    store = await opened(location)
    now = [T]
    deliveries = Deliveries(
        store, lambda: DoraConfig(abandon_after=seconds(3600.0)), clock=lambda: now[0]
    )
    seen: list[tuple[str, str]] = []
    deliveries.on_transition = lambda d: seen.append((d.deploy_id, d.outcome.value))
    decision = Decision(
        "01D", GateRequest("shop", deploy_id="d9", step="canary"), Verdict.ALLOW, (), (), T
    )
    first = await gate_call(store, deliveries, decision)
    assert first is not None and first.outcome is Outcome.IN_PROGRESS
    plain = Decision("01E", GateRequest("shop"), Verdict.ALLOW, (), (), T)
    assert deliveries.step_of(plain, "api") is None
    assert await gate_call(store, deliveries, plain) is None
    now[0] = T + 3599
    assert await deliveries.sweep() == []
    now[0] = T + 3601
    (closed,) = await deliveries.sweep()
    assert closed.outcome is Outcome.ABANDONED
    assert seen == [("d9", "in_progress"), ("d9", "abandoned")]
    (figures,) = await deliveries.figures(30 * 86_400.0, ["shop"])
    assert (figures.deployments, figures.failed) == (0, 0)  # abandoned counts in no figure
    await store.close()


def step(decision_id: str, name: str = "canary") -> DeploymentEvent:
    return DeploymentEvent(
        "shop", "d7", EventKind.STEP, T, "api", step=name, decision_id=decision_id, verdict="allow"
    )


async def test_a_decision_and_its_step_go_in_one_commit(location: str) -> None:
    store = await opened(location)
    before = store.commits
    result = await store.record_decision(
        DecisionRecord("01A", T, "shop", "allow", "api", "{}"), step("01A")
    )
    assert store.commits == before + 1
    assert result is not None and result.changed
    assert result.deployment is not None and result.deployment.outcome is Outcome.IN_PROGRESS
    (steps,) = await store.deployment_steps("shop", "d7")
    assert (steps.step, steps.decision_id, steps.verdict) == ("canary", "01A", "allow")
    assert [r.id for r in await store.decisions(DecisionQuery())] == ["01A"]
    await store.close()


async def test_a_refused_decision_records_no_step(location: str) -> None:
    store = await opened(location)
    version = (await store.overrides()).version
    with pytest.raises(StaleOverridesError):
        await store.record_decision(
            DecisionRecord("01A", T, "shop", "allow", "api", "{}", version + 1), step("01A")
        )
    assert await store.deployment("shop", "d7") is None
    assert await store.decisions(DecisionQuery()) == []
    await store.close()


async def test_a_step_that_fails_leaves_its_decision_standing(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await opened(location)

    def sqlite_fails(*_: object, **__: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    async def postgresql_fails(*_: object, **__: object) -> None:
        raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")

    if isinstance(store, SQLiteStore):
        monkeypatch.setattr(sqlite, "_fold_event", sqlite_fails)
    else:
        monkeypatch.setattr(postgresql, "_fold_event", postgresql_fails)
    result = await store.record_decision(
        DecisionRecord("01A", T, "shop", "allow", "api", "{}"), step("01A")
    )
    assert result is None
    assert [r.id for r in await store.decisions(DecisionQuery())] == ["01A"]
    monkeypatch.undo()
    assert await store.deployment("shop", "d7") is None
    await store.close()
