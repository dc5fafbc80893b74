"""SIGKILL under load loses no acknowledged decision, freeze or exemption; SIGTERM drains and
stops cleanly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ADMIN_TOKEN, ServeProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KILL_AFTER = 300  # acknowledged writes before the kill


async def load(url: str, acked: dict[str, set[str]], stop: asyncio.Event, worker: int) -> None:
    """Gate calls, with a freeze or an exemption every tenth request, until the server dies."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 10 == 0:
                    response = await http.post(
                        "/v1/freezes",
                        json={"service": "checkout", "reason": f"w{worker}-{n}", "duration": "1h"},
                        headers=ADMIN,
                    )
                    if response.status_code == 201:
                        acked["freezes"].add(response.json()["id"])
                elif n % 10 == 5:
                    response = await http.post(
                        "/v1/exemptions",
                        json={
                            "service": "payments",
                            "deploy_id": f"w{worker}-{n}",
                            "reason": "load",
                            "duration": "1h",
                        },
                        headers=ADMIN,
                    )
                    if response.status_code == 201:
                        acked["exemptions"].add(response.json()["id"])
                else:
                    response = await http.get(
                        "/v1/gate", params={"service": "payments", "deploy_id": f"w{worker}-{n}"}
                    )
                    if response.status_code == 200:
                        acked["decisions"].add(response.json()["decision_id"])
            except httpx.HTTPError:
                return  # the server is gone


async def all_decision_ids(http: httpx.AsyncClient) -> set[str]:
    found: set[str] = set()
    before = None
    while True:
        params = {"limit": "500", **({"before": before} if before else {})}
        page = (await http.get("/v1/decisions", params=params)).json()
        found |= {d["decision_id"] for d in page["decisions"]}
        before = page["next_before"]
        if before is None:
            return found


async def test_kill_9_under_load_loses_nothing_acknowledged(
    history: History, tmp_path: Path
) -> None:
    store = tmp_path / "slogate.db"
    server = ServeProcess(history.url, DEMO_SPECS, store)
    await server.start()
    acked: dict[str, set[str]] = {"decisions": set(), "freezes": set(), "exemptions": set()}
    stop = asyncio.Event()
    try:
        workers = [asyncio.create_task(load(server.url, acked, stop, w)) for w in range(8)]
        while sum(len(v) for v in acked.values()) < KILL_AFTER:
            await asyncio.sleep(0.01)
            assert not all(w.done() for w in workers), server.log.read_text()[-2000:]
        server.signal(signal.SIGKILL)  # mid-flight: some requests are never answered
        await asyncio.wait_for(asyncio.gather(*workers), 30)
    finally:
        stop.set()
        server.stop()
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            decisions = await all_decision_ids(http)
            freezes = {
                f["id"] for f in (await http.get("/v1/freezes", headers=ADMIN)).json()["freezes"]
            }
            exemptions = {
                e["id"]
                for e in (await http.get("/v1/exemptions", headers=ADMIN)).json()["exemptions"]
            }
    finally:
        server.stop()
    counts = {k: len(v) for k, v in acked.items()}
    found = {"decisions": len(decisions), "freezes": len(freezes), "exemptions": len(exemptions)}
    print(f"acknowledged before kill -9: {counts}; found after restart: {found}")
    assert acked["decisions"] and acked["freezes"] and acked["exemptions"]
    assert acked["decisions"] <= decisions
    assert acked["freezes"] <= freezes
    assert acked["exemptions"] <= exemptions


async def test_sigterm_drains_and_exits_cleanly(history: History, tmp_path: Path) -> None:
    server = ServeProcess(history.url, DEMO_SPECS, tmp_path / "slogate.db")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            answers = [
                asyncio.create_task(http.get("/v1/gate", params={"service": "checkout"}))
                for _ in range(20)
            ]
            await asyncio.sleep(0)
            server.signal(signal.SIGTERM)
            responses = await asyncio.gather(*answers, return_exceptions=True)
        assert await asyncio.to_thread(server.wait) == 0
        done = [r for r in responses if isinstance(r, httpx.Response)]
        assert all(r.status_code == 200 for r in done)
        assert "stopping: draining requests" in server.log.read_text()
    finally:
        server.stop()
