"""Connection limits on a real loopback socket: the caps and the request deadline."""

from __future__ import annotations

import asyncio

from aiohttp import web

from slogate.cli.localprom import free_port
from slogate.config import ServerLimitsConfig
from slogate.server.limits import FD_RESERVE, ConnectionGuard, GuardedSite, fd_budget


def test_budget_keeps_a_reserve_of_descriptors() -> None:
    assert fd_budget(1024) == 1024 - FD_RESERVE
    assert fd_budget(100) == 16
    guard = ConnectionGuard(ServerLimitsConfig(max_connections=5000), soft_fd_limit=1024)
    assert guard.max_total == 1024 - FD_RESERVE  # never past the descriptors there are


def test_guard_caps_per_peer_and_in_total() -> None:
    refused: list[str] = []
    guard = ConnectionGuard(
        ServerLimitsConfig(max_connections=3, max_connections_per_peer=2), refused.append
    )
    assert [guard.admit("a"), guard.admit("a"), guard.admit("a")] == [True, True, False]
    assert [guard.admit("b"), guard.admit("b")] == [True, False]
    assert refused == ["per_peer", "total"]
    guard.release("a")
    assert guard.admit("b") is True
    assert (guard.open, dict(guard.by_peer)) == (3, {"a": 1, "b": 2})


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=(await request.text()) or "hello")


async def test_slow_headers_are_cut_at_the_deadline_and_caps_refuse_early() -> None:
    refused: list[str] = []
    limits = ServerLimitsConfig(request_timeout=0.3, max_connections_per_peer=2)
    guard = ConnectionGuard(limits, refused.append)
    app = web.Application()
    app.router.add_route("*", "/", hello)
    runner = web.AppRunner(app, keepalive_timeout=30)
    await runner.setup()
    port = free_port()
    await GuardedSite(runner, guard, "127.0.0.1", port).start()
    try:
        slow_reader, slow = await asyncio.open_connection("127.0.0.1", port)
        slow.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        body_reader, body = await asyncio.open_connection("127.0.0.1", port)
        body.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")  # 3 of 10
        third_reader, third = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(third_reader.read(), 5) == b""  # over the cap: closed
        assert await asyncio.wait_for(slow_reader.read(), 5) == b""  # cut at the deadline
        assert await asyncio.wait_for(body_reader.read(), 5) == b""  # a slow body too
        assert sorted(refused) == ["per_peer", "request_timeout", "request_timeout"]
        assert guard.open == 0
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):  # a kept-alive connection: a fresh deadline per request
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"hello"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            await asyncio.sleep(0.4)  # idle past the request deadline: not cut
        writer.close()
        for stream in (slow, body, third):
            stream.close()
    finally:
        await runner.cleanup()
