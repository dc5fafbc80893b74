"""`slogate store copy` and `slogate store migrate` on a populated SQLite store and a real
PostgreSQL; and how the config selects a store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from slogate.cli.main import main
from slogate.config import parse_config
from slogate.core.overrides import Exemption, Freeze
from slogate.errors import ConfigError
from slogate.store.base import (
    TABLES,
    AdminAction,
    DecisionQuery,
    DecisionRecord,
    IncidentChange,
    OpenIncident,
    OutboxEntry,
)
from slogate.store.postgresql import MIGRATIONS, PostgreSQLStore
from slogate.store.sqlite import SQLiteStore
from tests.postgres import PASSWORD, LocalPostgres

DECISIONS = 2345  # more than two pages of the copy


async def populate(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await asyncio.gather(
        *(
            store.record_decision(
                DecisionRecord(
                    f"01D{n:023d}", 1000.0 + n, "checkout", "allow", "api", f'{{"n":{n}}}'
                )
            )
            for n in range(DECISIONS)
        )
    )
    action = AdminAction(5.0, "alice", "freeze", "f1", {"why": "copy"})
    await store.save_freeze(Freeze("f1", "checkout", "release", 5.0, "alice", None), action)
    await store.save_freeze(Freeze("f2", "search", "old", 6.0, "bob", None), action)
    await store.lift_freeze("f2", action)
    await store.save_exemption(Exemption("e1", "search", "fix", 7.0, "bob", 9e9), action)
    doc = {
        "slo_id": "search/avail",
        "service": "search",
        "slo": "avail",
        "severity": "page",
        "summary": "burning",
    }
    entry = OutboxEntry("pd", "trigger", "slogate/search/avail/page", doc, 8.0, 8.0, 9e9, 8.0)
    await store.change_incidents(IncidentChange((OpenIncident(doc, 8.0),), (), (entry, entry)))
    await store.close()


def copy(path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["store", "copy", "--from", f"sqlite://{path}", "--to", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    return {line.split(":")[0]: line.split(": ", 1)[1] for line in lines}


async def test_copy_moves_everything_once(
    postgres: LocalPostgres,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "single.db"
    await populate(path)
    url = postgres.fresh_database()
    monkeypatch.setenv("SLOGATE_STORE_PASSWORD", PASSWORD)
    first = await asyncio.to_thread(copy, path, url, capsys)
    assert list(first) == list(TABLES)
    assert first["decisions"] == f"{DECISIONS} read, {DECISIONS} copied, 0 already there"
    assert first["freezes"] == "2 read, 2 copied, 0 already there"
    assert first["admin_actions"] == "4 read, 4 copied, 0 already there"
    assert first["outbox"] == "2 read, 2 copied, 0 already there"
    again = await asyncio.to_thread(copy, path, url, capsys)
    assert again["decisions"] == f"{DECISIONS} read, 0 copied, {DECISIONS} already there"
    assert all(", 0 copied," in line for line in again.values())

    source, target = SQLiteStore(path), PostgreSQLStore(url, password=PASSWORD)
    await source.open()
    await target.open()
    try:
        query = DecisionQuery(limit=DECISIONS + 1)
        assert await target.decisions(query) == await source.decisions(query)
        assert await target.active_freezes() == await source.active_freezes()
        assert await target.active_exemptions() == await source.active_exemptions()
        assert await target.admin_actions() == await source.admin_actions()
        assert await target.open_incidents() == await source.open_incidents()
        assert await target.pending_notifications() == await source.pending_notifications()
        # New rows are numbered past the copied ones; replicas see the copied freezes.
        doc = {
            "slo_id": "shop/avail",
            "service": "shop",
            "slo": "avail",
            "severity": "page",
            "summary": "new",
        }
        entry = OutboxEntry("pd", "trigger", "slogate/shop/avail/page", doc, 9.0, 9.0, 9e9, 9.0)
        [queued] = await target.change_incidents(
            IncidentChange((OpenIncident(doc, 9.0),), (), (entry,))
        )
        assert queued.id == 3
        assert (await target.overrides()).version > 0
    finally:
        await source.close()
        await target.close()


def test_migrate_as_a_job(
    postgres: LocalPostgres,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = postgres.fresh_database()
    monkeypatch.setenv("SLOGATE_STORE_PASSWORD", PASSWORD)
    assert main(["store", "migrate", "--store", url]) == 0
    assert capsys.readouterr().out == f"{url}: schema at version {len(MIGRATIONS)}\n"
    monkeypatch.setenv("SLOGATE_STORE_PASSWORD", "wrong-password-0042")
    assert main(["store", "migrate", "--store", url]) == 5
    error = capsys.readouterr().err
    assert "password authentication failed" in error and "wrong-password-0042" not in error
    assert main(["store", "migrate", "--store", str(tmp_path / "x.db")]) == 0


def test_copy_refuses_what_is_not_a_sqlite_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "copy", "--from", "/tmp/x.db", "--to", "postgresql://u@h/d"]) == 2
    assert "--from must be a sqlite:///PATH URL" in capsys.readouterr().err


def test_store_url_in_the_config() -> None:
    config = parse_config(
        "store: {url: 'postgresql://slogate@db:5432/slogate', timeout: 3s, pool_size: 4}", "c.yaml"
    ).store
    assert (config.url, config.timeout, config.pool_size) == (
        "postgresql://slogate@db:5432/slogate",
        3.0,
        4,
    )
    with pytest.raises(ConfigError, match=r"c.yaml: store.url: must not contain the password"):
        parse_config("store: {url: 'postgresql://slogate:hunter2@db/slogate'}", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml: store.url: must be a postgresql:// URL"):
        parse_config("store: {url: 'mysql://db/slogate'}", "c.yaml")
    assert parse_config("", "c.yaml").store.path == "slogate.db"
