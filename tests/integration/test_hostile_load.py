"""slogate under hostile load, as a real process: slow clients past its descriptor limit, a
flood of gate calls, and a disk nearly full. Well-behaved clients keep their answers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ServeProcess, eventually

SLOW_HEADERS = b"GET /v1/gate?service=checkout HTTP/1.1\r\nHost: x\r\n"  # never finished
ATTACKER = "127.0.0.2"  # loopback, another peer address than the well-behaved client's


def metric(text: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(f"{name}{{{selector}}}" if labels else name) + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


async def slow_client(port: int) -> socket.socket | None:
    """One connection that sends half a request's headers and stops; None if refused."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((ATTACKER, 0))
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 5)
        await loop.sock_sendall(sock, SLOW_HEADERS)
    except (OSError, TimeoutError):
        sock.close()
        return None
    return sock


@contextlib.asynccontextmanager
async def well_behaved(url: str) -> AsyncIterator[list[int]]:
    """Gate calls on a fresh connection each, every 20 ms, for as long as the block runs."""
    statuses: list[int] = []
    stop = asyncio.Event()

    async def loop() -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as http:
            while not stop.is_set():
                response = await http.get("/v1/gate", params={"service": "checkout"})
                statuses.append(response.status_code)
                assert response.json()["decision"] in ("allow", "warn", "deny")
                await asyncio.sleep(0.02)

    task = asyncio.create_task(loop())
    try:
        yield statuses
    finally:
        stop.set()
        await task  # raises whatever a call met: a timeout, a refused connection


async def test_slowloris_past_the_descriptor_limit_leaves_the_gate_answering(
    history: History, tmp_path: Path
) -> None:
    config = tmp_path / "slogate.yaml"
    config.write_text("server: {request_timeout: 5s}\n")
    server = ServeProcess(
        history.url, DEMO_SPECS, tmp_path / "slogate.db", config=config, nofile=1024
    )
    await server.start()
    held: list[socket.socket] = []
    try:
        async with well_behaved(server.url) as statuses:
            for _ in range(30):  # 3,000 slow connections, three times the descriptor limit
                batch = await asyncio.gather(*(slow_client(server.port) for _ in range(100)))
                held += [s for s in batch if s is not None]
            answered_during_attack = len(statuses)
            await eventually(lambda: len(statuses) > answered_during_attack + 20, "more answers")
        assert answered_during_attack >= 1
        assert set(statuses) == {200}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:

            async def rejected() -> tuple[float, float] | None:
                text = (await http.get("/metrics")).text
                name = "slogate_connections_rejected_total"
                counts = (
                    metric(text, name, reason="per_peer"),
                    metric(text, name, reason="request_timeout"),
                )
                return counts if all(counts) else None

            per_peer, timed_out = await eventually(
                rejected, "slow connections closed at their deadline"
            )
        assert per_peer >= 1000  # 3,000 from one address, 512 at most admitted (the default cap)
        assert timed_out >= 1
        loop = asyncio.get_running_loop()
        sample = held[:20]
        closed = [await asyncio.wait_for(_closed(loop, s), 10) for s in sample]
        assert all(closed)
    finally:
        for sock in held:
            sock.close()
        server.stop()


async def _closed(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset)."""
    try:
        return await loop.sock_recv(sock, 1024) == b""
    except ConnectionError:
        return True


@contextlib.contextmanager
def small_tmpfs(where: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` mounted at `where` (root only: a missing right is a failure)."""
    where.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


async def flood(
    url: str, answered: dict[str, str], refused: list[str], stop: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while not stop.is_set():
            response = await http.get("/v1/gate", params={"service": "checkout"})
            body = response.json()
            if response.status_code == 200:
                answered[body["decision_id"]] = body["decision"]
            else:
                assert response.status_code == 503, response.text
                refused.append(body["error"]["code"])


async def test_a_disk_nearly_full_refuses_decisions_and_loses_none(
    history: History, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path / "disk", 24) as disk:
        config = tmp_path / "slogate.yaml"
        config.write_text("store: {min_free_mb: 12}\nserver: {rate_limit: {rate: 0}}\n")
        server = ServeProcess(history.url, DEMO_SPECS, disk / "slogate.db", config=config)
        server.log = tmp_path / "slogate.log"
        await server.start()
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (9 << 20))  # 24 - 9 - the store: a few MB above the floor
        answered: dict[str, str] = {}
        refused: list[str] = []
        stop = asyncio.Event()
        try:
            workers = [
                asyncio.create_task(flood(server.url, answered, refused, stop)) for _ in range(4)
            ]
            await eventually(lambda: len(refused) > 50, "store_full answers", within=120)
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                text = (await http.get("/metrics")).text
                assert metric(text, "slogate_store_full") == 1.0
                assert 0 < metric(text, "slogate_store_free_bytes") < 12 << 20
                assert (await http.get("/healthz")).status_code == 200
                filler.unlink()  # room again: decisions again, without a restart
                during = len(answered)
                await eventually(lambda: len(answered) > during + 50, "decisions again")
            stop.set()
            await asyncio.gather(*workers)
        finally:
            stop.set()
            server.stop()
        assert set(refused) == {"store_full"}
        conn = sqlite3.connect(disk / "slogate.db")
        stored = dict(conn.execute("SELECT id, verdict FROM decisions").fetchall())
        conn.close()
        assert answered.items() <= stored.items()  # every answer given is in the audit


async def test_oversize_requests_are_refused_while_others_are_answered(
    history: History, tmp_path: Path
) -> None:
    server = ServeProcess(history.url, DEMO_SPECS, tmp_path / "slogate.db")
    await server.start()
    try:
        async with (
            well_behaved(server.url) as statuses,
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        ):
            big_body = b'{"service": "' + b"x" * (1 << 20) + b'"}'  # 1 MiB: the limit is 64 KiB
            big_header = {"X-Padding": "x" * 16_384}  # over aiohttp's 8,190-byte field limit
            for _ in range(20):
                body = await http.post("/v1/gate", content=big_body)
                assert body.status_code == 413
                assert body.json()["error"]["code"] == "too_large"
                header = await http.get("/v1/gate?service=checkout", headers=big_header)
                assert header.status_code in (400, 431)
            answered = len(statuses)
            await eventually(lambda: len(statuses) > answered, "an answer after the last")
        assert set(statuses) == {200}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            page = await http.get("/v1/decisions", params={"limit": "500"})
        assert len(page.json()["decisions"]) == len(statuses)  # each answer audited, no other
    finally:
        server.stop()
