"""Paging: open and resolve incidents as SLOs burn and recover, and deliver every notification
at least once.

After each cycle the pager compares the incidents that should be open (`incidents`) with those
that are, and writes the transitions and their notifications to the store in one transaction
before anything is sent. A sender loop then delivers the outbox: per (sink, incident) in order,
retried with exponential backoff and jitter until the sink acknowledges (2xx) or the
notification expires. Incidents live in the store too, so a restart neither pages again for an
open incident nor forgets to resolve one. Alertmanager also gets every firing alert again each
cycle, as Prometheus re-sends, so alerts do not expire while the condition holds.

Replicas sharing a store each page from their own cycles: the store keeps one open incident per
(SLO, severity) and queues the notifications of a transition only for the replica whose write
made it. The sender delivers what it holds a lease on (`claim_notifications`), renewed each
pass; the rows of a replica that died are claimed by another once its lease ran out. A sender
that is stopped lets the deliveries in flight finish (for `STOP_GRACE` at most) and hands its
other rows back, so a restart or a rolling update neither sends them twice nor holds them for a
lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

import httpx

from slogate.config import NotificationsConfig
from slogate.core.incidents import (
    Incident,
    IncidentKey,
    Severity,
    desired_incidents,
    incident_from_json,
    incident_to_json,
)
from slogate.core.snapshot import Snapshot
from slogate.errors import DeliveryError
from slogate.notify.sinks import Action, Notification, RefreshingSink, Sink
from slogate.store.base import IncidentChange, OpenIncident, OutboxEntry, Store

log = logging.getLogger(__name__)

Outcome = Callable[[str, str], None]
MAX_IN_FLIGHT = 8
REFRESH_BATCH = 500
"""Firing alerts re-sent in one request (a fleet-wide incident has thousands open)."""
STOP_GRACE = 5.0
"""Seconds a stopping sender waits for the deliveries in flight (a sink's answer)."""
YIELD_EVERY = 1000
"""SLOs looked at between two chances for gate calls after a cycle (~4 ms at 10,000 SLOs)."""


def backoff(
    attempts: int, initial: float, maximum: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before retry number `attempts` (1-based): doubling from `initial`, capped at
    `maximum`, with jitter between half and all of it."""
    base = min(maximum, initial * 2.0 ** (attempts - 1))
    return float(base * (0.5 + rand() / 2))


class Pager:
    def __init__(
        self,
        config: NotificationsConfig,
        sinks: Mapping[str, Sink],
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        on_outcome: Outcome | None = None,
        timeout: float = 10.0,
        owner: str = "slogate",
        lease: float = 60.0,
    ) -> None:
        self.config = config
        self.sinks = dict(sinks)
        self.store = store
        self.clock = clock
        self.on_outcome = on_outcome or (lambda sink, outcome: None)
        self.owner = owner
        """Who holds the outbox leases this sender takes (unique per process)."""
        self.lease = lease
        self.open: dict[IncidentKey, OpenIncident] = {}
        self.pending: list[OutboxEntry] = []
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._delivering: asyncio.Future[list[None]] | None = None
        self._decoded: dict[IncidentKey, tuple[float, Incident]] = {}
        """`open`'s incidents decoded with when they opened (`_incident`), kept to its keys
        wherever it changes."""
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=3.0))

    async def load(self) -> None:
        await self._load_open()
        self.pending = await self.store.pending_notifications()

    async def _load_open(self) -> None:
        items = await self.store.open_incidents()
        self.open = {(i.doc["slo_id"], Severity(i.doc["severity"])): i for i in items}
        self._decoded = {k: v for k, v in self._decoded.items() if k in self.open}

    async def _refresh_open(self) -> None:
        """The open incidents again, as another replica may have opened or resolved some. An
        incident's doc never changes once open, so only the keys are read, and the docs only
        when one is new to this process: this runs after every cycle on the serving loop, over
        every open incident (thousands in a fleet-wide outage)."""
        keys = await self.store.open_incident_keys()
        if any(key not in self.open for key in keys):
            await self._load_open()
        elif len(keys) < len(self.open):
            self.open = {key: item for key, item in self.open.items() if key in keys}
            self._decoded = {k: v for k, v in self._decoded.items() if k in keys}

    async def aclose(self) -> None:
        await self.http.aclose()

    def depth(self) -> dict[str, int]:
        counts = {name: 0 for name in self.sinks}
        for entry in self.pending:
            counts[entry.sink] = counts.get(entry.sink, 0) + 1
        return counts

    # --- transitions ------------------------------------------------------------------------

    def _entries(
        self, incident: Incident, action: Action, opened_at: float, at: float
    ) -> list[OutboxEntry]:
        names = self.config.sinks_for(incident.service, incident.slo, incident.severity.value)
        doc = incident_to_json(incident)
        return [
            OutboxEntry(
                name, action.value, incident.dedup_key, doc, opened_at, at, at + self.config.ttl, at
            )
            for name in names
        ]

    async def after_cycle(self, snapshot: Snapshot, halted: set[tuple[str, str]]) -> None:
        """Open what started burning, resolve what recovered, refresh what still fires."""
        await self._refresh_open()
        now = self.clock()
        statuses, open_keys = list(snapshot.statuses.values()), set(self.open)
        wanted: dict[IncidentKey, Incident | None] = {}
        for n in range(0, len(statuses), YIELD_EVERY):
            chunk = statuses[n : n + YIELD_EVERY]
            wanted.update(desired_incidents(chunk, halted, open_keys, self.config.base_url))
            await asyncio.sleep(0)  # let gate calls in
        opened: list[tuple[Incident, OpenIncident]] = []
        resolved, entries = [], []
        for key, incident in wanted.items():
            if incident is not None and key not in self.open:
                opened.append((incident, OpenIncident(incident_to_json(incident), now)))
                entries += self._entries(incident, Action.TRIGGER, now, now)
        for key, item in self.open.items():
            if key not in wanted:
                resolved.append((key[0], key[1].value))
                entries += self._entries(
                    self._incident(key, item), Action.RESOLVE, item.opened_at, now
                )
        if opened or resolved:
            items = tuple(item for _, item in opened)
            change = IncidentChange(items, tuple(resolved), tuple(entries), now)
            queued = await self.store.change_incidents(change)  # durable before any send
            for incident, item in opened:
                self.open[incident.key] = item
                self._decoded[incident.key] = (item.opened_at, incident)
            for slo_id, severity in resolved:
                del self.open[(slo_id, Severity(severity))]
                self._decoded.pop((slo_id, Severity(severity)), None)
            self.pending += queued
            for entry in queued:
                log.info("%s %s to %s", entry.action, entry.dedup_key, entry.sink)
            self._wake.set()
        await self._refresh(now)

    async def _refresh(self, now: float) -> None:
        """Re-send firing alerts to sinks that expire them (Alertmanager), `REFRESH_BATCH` to a
        request."""
        refreshing = {n: s for n, s in self.sinks.items() if isinstance(s, RefreshingSink)}
        if not refreshing:
            return
        queued = {(e.sink, e.dedup_key) for e in self.pending}  # sent by the outbox instead
        notes: dict[str, list[Notification]] = {name: [] for name in refreshing}
        for key, item in self.open.items():
            incident = self._incident(key, item)
            for name in self.config.sinks_for(
                incident.service, incident.slo, incident.severity.value
            ):
                if name in notes and (name, incident.dedup_key) not in queued:
                    notes[name].append(
                        Notification(0, name, Action.REFRESH, incident, item.opened_at, now)
                    )
        await asyncio.gather(
            *(
                self._send_refresh(refreshing[name], batch[n : n + REFRESH_BATCH])
                for name, batch in notes.items()
                for n in range(0, len(batch), REFRESH_BATCH)
            )
        )

    def _incident(self, key: IncidentKey, item: OpenIncident) -> Incident:
        """An open incident's doc decoded, once: a doc never changes while it is open (a
        re-read of the open incidents keeps it; one resolved and opened again has a new time)."""
        cached = self._decoded.get(key)
        if cached is None or cached[0] != item.opened_at:
            cached = self._decoded[key] = (item.opened_at, incident_from_json(item.doc))
        return cached[1]

    async def _send_refresh(self, sink: RefreshingSink, notes: list[Notification]) -> None:
        async with self._slots:
            try:
                await sink.refresh(notes, self.http)
                outcome = "refreshed"
            except DeliveryError as exc:
                log.warning("refresh of %d alerts to %s failed: %s", len(notes), sink.name, exc)
                outcome = "refresh_failed"
        for _ in notes:
            self.on_outcome(sink.name, outcome)

    # --- delivery ---------------------------------------------------------------------------

    def _due(self, now: float) -> list[OutboxEntry]:
        """The oldest pending entry of each (sink, incident), if it is due: order is kept."""
        heads: dict[tuple[str, str], OutboxEntry] = {}
        for entry in self.pending:
            heads.setdefault((entry.sink, entry.dedup_key), entry)
        return [e for e in heads.values() if e.next_attempt_at <= now]

    async def claim(self) -> None:
        """Hold (or renew) the lease on the outbox rows this sender is to deliver."""
        now = self.clock()
        self.pending = await self.store.claim_notifications(self.owner, now, now + self.lease)

    async def deliver_due(self) -> int:
        """One pass over the outbox; returns how many entries were attempted."""
        due = self._due(self.clock())
        self._delivering = asyncio.gather(*(self._attempt(entry) for entry in due))
        await asyncio.shield(self._delivering)  # stopping the sender does not cut a send short
        return len(due)

    async def _finish(self, entry: OutboxEntry, state: str, error: str | None) -> None:
        await self.store.finish_notification(entry.id, state, self.clock(), error)
        self.pending = [e for e in self.pending if e.id != entry.id]
        self.on_outcome(entry.sink, state)

    async def _attempt(self, entry: OutboxEntry) -> None:
        sink = self.sinks.get(entry.sink)
        if sink is None:
            await self._finish(entry, "failed", f"no sink named {entry.sink!r} is configured")
            return
        note = Notification(
            entry.id,
            entry.sink,
            Action(entry.action),
            incident_from_json(entry.incident),
            entry.opened_at,
            entry.at,
        )
        async with self._slots:
            try:
                await sink.deliver(note, self.http)
            except DeliveryError as exc:
                await self._failed(entry, exc)
                return
        await self._finish(entry, "delivered", None)

    async def _failed(self, entry: OutboxEntry, exc: DeliveryError) -> None:
        now = self.clock()
        attempts = entry.attempts + 1
        message = f"attempt {attempts}: {exc}"
        if not exc.retryable:
            log.error(
                "%s of %s to %s failed for good: %s", entry.action, entry.dedup_key, entry.sink, exc
            )
            await self._finish(entry, "failed", message)
            return
        delay = backoff(attempts, self.config.retry_initial, self.config.retry_max)
        next_at = now + max(delay, exc.retry_after or 0.0)
        if next_at > entry.expires_at:
            log.error("%s of %s to %s expired: %s", entry.action, entry.dedup_key, entry.sink, exc)
            await self._finish(entry, "expired", message)
            return
        await self.store.retry_notification(entry.id, attempts, next_at, message)
        updated = replace(entry, attempts=attempts, next_attempt_at=next_at, last_error=message)
        self.pending = [updated if e.id == entry.id else e for e in self.pending]
        self.on_outcome(entry.sink, "retried")
        log.warning(
            "%s of %s to %s failed, retry in %.1fs: %s",
            entry.action,
            entry.dedup_key,
            entry.sink,
            next_at - now,
            exc,
        )

    async def run(self) -> None:
        """Deliver the outbox until cancelled; wakes on new entries or the next retry time."""
        try:
            await self._deliver_until_cancelled()
        finally:
            await self._stop()

    async def _stop(self) -> None:
        """Let the sends in flight finish, then hand back the leases on what is left: a send cut
        short would be sent again by the next sender, a lease kept would hold a page back."""
        if self._delivering is not None:
            done, _ = await asyncio.wait([self._delivering], timeout=STOP_GRACE)
            if not done:
                self._delivering.cancel()
                await asyncio.wait([self._delivering])
                with contextlib.suppress(asyncio.CancelledError):
                    self._delivering.exception()  # retrieved: cut short on purpose
                log.warning("stopped with notifications in flight: they will be sent again")
        try:
            released = await self.store.release_notifications(self.owner)
        except Exception:  # the store may be failing: the leases then simply run out
            log.exception("could not hand back the outbox leases")
            return
        if released:
            log.info("handed back %d pending notifications", released)

    async def _deliver_until_cancelled(self) -> None:
        while True:
            try:
                await self.claim()
                await self.deliver_due()
            except Exception:  # the store may be failing: keep the loop, retry later
                log.exception("notification delivery pass failed")
            self._wake.clear()
            now = self.clock()
            next_times = [e.next_attempt_at for e in self.pending]
            wait = min([1.0, *(max(0.0, t - now) for t in next_times)])
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.05)):
                    await self._wake.wait()
