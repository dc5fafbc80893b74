"""Storage faults: a locked database and a full disk (a file-size limit on the running process).
Gate calls fail closed with a clear reason — never an unrecorded allow — and recover after."""

from __future__ import annotations

import asyncio
import resource
import sqlite3
from pathlib import Path

import httpx

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ServeProcess, running_slogate


async def test_locked_database_fails_closed_then_recovers(history: History, tmp_path: Path) -> None:
    store = tmp_path / "slogate.db"
    async with running_slogate(history.url, store_path=store) as slogate:
        assert (await slogate.gate(service="checkout"))[0] == 200
        locker = sqlite3.connect(store, timeout=0, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            async with httpx.AsyncClient(base_url=slogate.url, timeout=30) as http:
                response = await http.get("/v1/gate", params={"service": "checkout"})
            assert response.status_code == 503
            assert response.json()["error"] == {
                "code": "store_unavailable",
                "message": "audit store unavailable: nothing was decided",
            }
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        status, body = await slogate.gate(service="checkout")
        assert status == 200 and body["decision"] == "allow"
        found = (await slogate.http.get("/v1/decisions")).json()["decisions"]
        assert found[0]["decision_id"] == body["decision_id"]


def database_size(store: Path) -> int:
    return store.stat().st_size


def file_size_limit(pid: int, limit: int) -> None:
    """Lower (or restore) the soft limit only: it can be raised back up to the hard one."""
    _soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    soft = hard if limit == resource.RLIM_INFINITY else limit
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


async def test_full_disk_fails_closed_then_recovers(history: History, tmp_path: Path) -> None:
    store = tmp_path / "slogate.db"
    server = ServeProcess(history.url, DEMO_SPECS, store)
    await server.start()
    assert server.process is not None
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            # The process may not write past the database file's current size: the disk is
            # "full" for the write-ahead log (already larger) and for the next checkpoint.
            file_size_limit(server.process.pid, database_size(store))
            refused = None
            for _ in range(2000):
                response = await http.get("/v1/gate", params={"service": "checkout"})
                if response.status_code == 503:
                    refused = response
                    break
                assert response.status_code == 200
            assert refused is not None, "writes never failed"
            assert refused.json()["error"]["code"] == "store_unavailable"
            assert (await http.get("/healthz")).status_code == 200
            file_size_limit(server.process.pid, resource.RLIM_INFINITY)
            for _ in range(50):
                response = await http.get("/v1/gate", params={"service": "checkout"})
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert response.status_code == 200
            decided = response.json()["decision_id"]
            recent = (await http.get("/v1/decisions", params={"limit": "1"})).json()["decisions"]
            assert recent[0]["decision_id"] == decided
    finally:
        server.stop()
    assert store.exists()
