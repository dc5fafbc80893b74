"""The pager's open incidents after each cycle: another replica's openings and resolutions are
seen, and a steady cycle reads only the incidents' keys, never their docs again. A sender that
stops finishes the send in flight and hands the rest of its rows to the next one at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from slogate.config import parse_config
from slogate.core.incidents import Severity, incident_from_json
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.notify import paging
from slogate.notify.paging import Pager
from slogate.notify.sinks import Notification
from slogate.store.sqlite import SQLiteStore
from tests.factories import make_slo

NOW = 1_800_000_000.0
SLOS = [make_slo("checkout", f"slo{n}") for n in range(3)]
CONFIG = parse_config("")
ONE_SINK = parse_config(
    "notifications:\n  sinks:\n    - {name: held, type: slack, url_env: UNUSED}\n"
)


AM_SINK = parse_config(
    "notifications:\n  sinks:\n    - {name: am, type: alertmanager, url: 'http://127.0.0.1:9'}\n"
)


class RefreshedSink:
    """Expires what it is not sent again (as Alertmanager): records each delivery and how
    many refresh requests there were."""

    name = "am"

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self.requests = 0

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        self.got.append((notification.action.value, notification.incident.dedup_key))

    async def refresh(self, notifications: Sequence[Notification], http: httpx.AsyncClient) -> None:
        self.requests += 1
        self.got += [(n.action.value, n.incident.dedup_key) for n in notifications]


class HeldSink:
    """Takes each notification at once, and answers only when `answer` is set."""

    name = "held"

    def __init__(self) -> None:
        self.taken: list[tuple[str, str]] = []
        self.answer = asyncio.Event()
        self._took = asyncio.Event()

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        self.taken.append((notification.action.value, notification.incident.dedup_key))
        self._took.set()
        await self.answer.wait()

    async def until_taken(self, count: int) -> None:
        while len(self.taken) < count:
            self._took.clear()
            await self._took.wait()


def cycle(error_ratio: float) -> Snapshot:
    statuses = {
        s.id: SLOStatus(s, {w: error_ratio for w in s.windows.windows}, NOW, NOW) for s in SLOS
    }
    return Snapshot(statuses, NOW)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "s.db")
    await opened.open()
    yield opened
    await opened.close()


async def replica(store: SQLiteStore) -> Pager:
    pager = Pager(CONFIG.notifications, {}, store, clock=lambda: NOW)
    await pager.load()
    return pager


async def test_replicas_see_each_others_incidents_and_steady_cycles_read_no_docs(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, other = await replica(store), await replica(store)
    try:
        await one.after_cycle(cycle(0.1), set())  # 100x burn: every SLO pages
        pages = {(s.id, Severity.PAGE) for s in SLOS}
        assert pages <= set(one.open) and len(await store.open_incidents()) == len(one.open)
        reads = 0
        read = store.open_incidents

        async def counted() -> list:  # type: ignore[type-arg]
            nonlocal reads
            reads += 1
            return await read()

        monkeypatch.setattr(store, "open_incidents", counted)
        await other.after_cycle(cycle(0.1), set())  # new to it: docs read once
        assert set(other.open) == set(one.open) and reads == 1
        assert other.open[(SLOS[0].id, Severity.PAGE)].doc["slo"] == SLOS[0].name
        await other.after_cycle(cycle(0.1), set())
        await one.after_cycle(cycle(0.1), set())
        assert reads == 1  # steady: keys only
        await one.after_cycle(cycle(0.0), set())  # recovered: `one` resolves them all
        assert one.open == {} and await store.open_incident_keys() == set()
        changes = 0
        change = store.change_incidents

        async def counted_change(*args: object) -> list:  # type: ignore[type-arg]
            nonlocal changes
            changes += 1
            return await change(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "change_incidents", counted_change)
        await other.after_cycle(cycle(0.0), set())  # sees them gone: has nothing to resolve
        assert other.open == {} and reads == 1 and changes == 0
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_stopping_sender_finishes_its_sends_and_hands_the_rest_back(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sends answered within the stop's grace are recorded as delivered, not sent again; those
    still unanswered after it are the next sender's at once, not once the lease ran out."""
    first_sink, next_sink = HeldSink(), HeldSink()
    first = Pager(ONE_SINK.notifications, {"held": first_sink}, store, clock=lambda: NOW)
    first.owner = "first"
    await first.load()
    await first.after_cycle(cycle(0.1), set())  # page and ticket for each of the 3 SLOs
    queued = len(await store.pending_notifications())
    assert queued == 6
    sender = asyncio.create_task(first.run())
    await first_sink.until_taken(6)  # each (sink, incident) has one row due: all six in flight
    sender.cancel()
    await asyncio.sleep(0.05)
    first_sink.answer.set()  # the sinks answer during the stop's grace
    with pytest.raises(asyncio.CancelledError):
        await sender
    assert await store.pending_notifications() == []
    delivered = await store.notifications("delivered")
    assert len(delivered) == 6 and first_sink.taken.count(first_sink.taken[0]) == 1

    await first.after_cycle(cycle(0.0), set())  # recovered: 6 resolves
    await first.claim()  # leased to `first` for a minute of NOW, which never moves
    second = Pager(ONE_SINK.notifications, {"held": next_sink}, store, clock=lambda: NOW)
    second.owner = "second"
    await second.claim()
    assert second.pending == []  # held by first's lease
    first_sink.answer.clear()  # now the sink never answers: the grace runs out
    monkeypatch.setattr(paging, "STOP_GRACE", 0.1)
    sender = asyncio.create_task(first.run())
    await first_sink.until_taken(12)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender
    await second.claim()  # cut short, so to be sent again: by the next sender, at once
    assert sorted((e.action, e.dedup_key) for e in second.pending) == sorted(
        ("resolve", key) for _, key in first_sink.taken[:6]
    )


async def test_refreshes_resend_every_open_incident_and_decode_none_again(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = RefreshedSink()
    pager = Pager(AM_SINK.notifications, {"am": sink}, store, clock=lambda: NOW)
    await pager.load()
    await pager.after_cycle(cycle(0.1), set())  # 6 triggers queued: the outbox sends them
    await pager.claim()
    await pager.deliver_due()
    assert sorted(a for a, _ in sink.got) == ["trigger"] * 6
    decoded = 0
    decode = incident_from_json

    def counted(doc: dict) -> object:  # type: ignore[type-arg]
        nonlocal decoded
        decoded += 1
        return decode(doc)

    monkeypatch.setattr(paging, "incident_from_json", counted)
    for _ in range(2):
        await pager.after_cycle(cycle(0.1), set())
    refreshes = [key for action, key in sink.got if action == "refresh"]
    assert sorted(refreshes) == sorted([key for _, key in sink.got[:6]] * 2)
    assert decoded == 0  # opened by this pager: decoded never
    assert sink.requests == 2  # the 6 firing alerts in one request a cycle
    replica = Pager(AM_SINK.notifications, {"am": sink}, store, clock=lambda: NOW)
    await replica.load()
    for _ in range(2):
        await replica.after_cycle(cycle(0.1), set())
    assert decoded == 6  # read from the store: each decoded once
    await replica._load_open()  # as when another replica opens one: all read back
    await replica.after_cycle(cycle(0.1), set())
    assert decoded == 6  # the same incidents (same opening times): not decoded again


async def test_refreshes_go_many_alerts_to_a_request(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "REFRESH_BATCH", 4)
    sink = RefreshedSink()
    pager = Pager(AM_SINK.notifications, {"am": sink}, store, clock=lambda: NOW)
    await pager.load()
    await pager.after_cycle(cycle(0.1), set())
    await pager.claim()
    await pager.deliver_due()
    outcomes: list[str] = []
    pager.on_outcome = lambda name, outcome: outcomes.append(outcome)
    await pager.after_cycle(cycle(0.1), set())
    assert sink.requests == 2 and outcomes == ["refreshed"] * 6  # 4 + 2
