"""Retention and the disk-space guard on a real SQLite file (statvfs injected)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from slogate.config import RetentionConfig, parse_config
from slogate.core.ids import first_ulid, ulid
from slogate.errors import ConfigError, StoreError, StoreFullError
from slogate.store.base import (
    DecisionQuery,
    DecisionRecord,
    IncidentChange,
    OpenIncident,
    OutboxEntry,
)
from slogate.store.diskguard import DiskGuard
from slogate.store.housekeeping import BATCH, Housekeeping
from slogate.store.sqlite import SQLiteStore

DAY = 86_400.0
NOW = 1_800_000_000.0


def decision(at: float) -> DecisionRecord:
    return DecisionRecord(ulid(at), at, "checkout", "allow", "api", json.dumps({"at": at}))


def fake_statvfs(free: list[int]) -> object:
    def statvfs(path: Path) -> os.statvfs_result:
        # f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, ... (f_bavail in 4 KiB blocks)
        return os.statvfs_result((4096, 4096, 1 << 20, free[0], free[0], 0, 0, 0, 0, 255))

    return statvfs


def test_first_ulid_sorts_between_the_milliseconds() -> None:
    at = NOW + 0.5  # exact in binary, as are the quarter seconds around it
    assert ulid(at - 0.25) < first_ulid(at) <= ulid(at) < first_ulid(at + 0.25)
    assert first_ulid(at)[:10] == ulid(at)[:10]
    assert first_ulid(at)[10:] == "0" * 16


async def test_prune_deletes_only_older_decisions_in_batches(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.open()
    try:
        for day in range(10):  # 10 days, 120 decisions a day
            for n in range(120):
                await store.record_decision(decision(NOW - (day + 1) * DAY + n))
        assert await store.prune("decisions", NOW - 5 * DAY, 100) == 100  # a batch at most
        assert await store.prune("decisions", NOW - 5 * DAY, 1000) == 5 * 120 - 100
        assert await store.prune("decisions", NOW - 5 * DAY, 1000) == 0
        kept = await store.decisions(DecisionQuery(limit=10_000))
        assert len(kept) == 5 * 120
        assert min(r.decided_at for r in kept) >= NOW - 5 * DAY
        sizes = await store.sizes()
        assert sizes.rows == {"decisions": 600, "notifications": 0}
        assert sizes.bytes >= (tmp_path / "s.db").stat().st_size > 0
        with pytest.raises(StoreError, match="no retention for table 'freezes'"):
            await store.prune("freezes", NOW, 10)
    finally:
        await store.close()


def incident(n: int) -> dict[str, str]:
    return {"slo_id": f"svc-slo{n}", "service": "svc", "slo": f"slo{n}", "severity": "page"}


def outbox_entry(n: int, at: float) -> OutboxEntry:
    return OutboxEntry("am", "trigger", f"k{n}", incident(n), at, at, at + DAY, at)


async def test_prune_keeps_pending_notifications(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.open()
    try:
        at = NOW - 40 * DAY
        change = IncidentChange(
            opened=tuple(OpenIncident(incident(n), at) for n in range(4)),
            notifications=tuple(outbox_entry(n, at) for n in range(4)),
        )
        queued = await store.change_incidents(change)
        await store.finish_notification(queued[0].id, "delivered", NOW - 39 * DAY, None)
        await store.finish_notification(queued[1].id, "expired", NOW - 39 * DAY, "gone")
        await store.finish_notification(queued[2].id, "delivered", NOW - 1 * DAY, None)
        assert await store.prune("notifications", NOW - 30 * DAY, 100) == 2
        assert [e.id for e in await store.pending_notifications()] == [queued[3].id]
        assert [e.id for e in await store.notifications("delivered")] == [queued[2].id]
    finally:
        await store.close()


async def test_housekeeping_prunes_every_table_to_its_retention(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.open()
    try:
        for n in range(BATCH * 2 + 7):  # older than 400 days: more than two batches
            await store.record_decision(decision(NOW - 401 * DAY + n))
        for n in range(3):
            await store.record_decision(decision(NOW - 399 * DAY + n))
        keeper = Housekeeping(store, RetentionConfig(), clock=lambda: NOW)
        await keeper.run_once()
        assert keeper.pruned == {"decisions": BATCH * 2 + 7, "notifications": 0}
        assert keeper.sizes is not None
        assert keeper.sizes.rows["decisions"] == 3
    finally:
        await store.close()


async def test_a_full_disk_refuses_decisions_and_recovers(tmp_path: Path) -> None:
    free = [100]  # 4 KiB blocks: 400 KiB
    guard = DiskGuard(tmp_path / "s.db", 1 << 20, fake_statvfs(free))  # type: ignore[arg-type]
    store = SQLiteStore(tmp_path / "s.db", guard=guard)
    await store.open()
    try:
        assert guard.refresh() is True
        assert guard.free_bytes == 100 * 4096
        with pytest.raises(StoreFullError, match="below the floor of 1048576"):
            await store.record_decision(decision(NOW))
        assert await store.decisions(DecisionQuery()) == []
        free[0] = 1000
        assert guard.refresh() is False
        await store.record_decision(decision(NOW))
        assert len(await store.decisions(DecisionQuery())) == 1
    finally:
        await store.close()


def test_store_and_server_limit_config() -> None:
    config = parse_config(
        "store: {min_free_mb: 10, prune_every: 5s, retention: {decisions: 2h}}\n"
        "server: {request_timeout: 3s, max_connections_per_peer: 7,"
        " rate_limit: {rate: 2.5, burst: 4}, require_token_for: [gate]}\n"
    )
    retention = config.store.retention_config
    assert (retention.decisions, retention.notifications) == (7200.0, 30 * DAY)
    assert (retention.prune_every, retention.min_free_bytes) == (5.0, 10 << 20)
    limits = config.server.limits
    assert (limits.request_timeout, limits.idle_timeout) == (3.0, 60.0)
    assert (limits.max_connections, limits.max_connections_per_peer) == (0, 7)
    assert (limits.rate, limits.burst, limits.require_token_for) == (2.5, 4, frozenset({"gate"}))
    defaults = parse_config("").store.retention
    assert defaults.decisions == 400 * DAY


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("store: {retention: {decisions: soon}}", "f.yaml: store.retention.decisions: "),
        (
            "store: {retention: {deployments: 1d}}",
            "f.yaml: store.retention.deployments: unknown",
        ),
        (
            "server: {require_token_for: [admin]}",
            "f.yaml: server.require_token_for[0]: must be one",
        ),
        ("server: {rate_limit: {rate: -1}}", "f.yaml: server.rate_limit.rate: must not be"),
        (
            "server: {max_connections_per_peer: 0}",
            "f.yaml: server.max_connections_per_peer: ",
        ),
    ],
)
def test_bad_limit_config_names_file_and_key(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match="^" + error.replace("[", r"\[")):
        parse_config(text, "f.yaml")
