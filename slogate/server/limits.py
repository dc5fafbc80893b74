"""Connection limits: what a client that never finishes its request, or opens thousands of
connections, may take from the gate.

- A request (its headers and body) must arrive within `request_timeout` of its first byte (of
  the connection's opening, for its first request); past it the connection is closed. A handler
  already running on a fully read request is not interrupted.
- A keep-alive connection with no request in flight closes after `idle_timeout` (aiohttp's own
  keep-alive timer).
- At most `max_connections_per_peer` open connections per peer address and `max_connections`
  in all; a connection past either is closed as soon as it is accepted, before any parsing.
  The total stays below the process' file-descriptor limit, so `accept()` never fails for want
  of descriptors (the store, the backend pool and the logs keep `FD_RESERVE` of them).

Each refused or timed-out connection is counted by reason (`on_reject`):
`per_peer`, `total`, `request_timeout`.

Hooked in by `GuardedSite`, a `TCPSite` whose protocol factory makes `GuardedHandler`s (aiohttp's
`RequestHandler` with the checks above) for the runner's server.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from slogate.config import ServerLimitsConfig

log = logging.getLogger(__name__)

FD_RESERVE = 128
"""File descriptors kept for everything that is not a client connection."""


def fd_budget(soft_limit: int | None = None) -> int:
    """Connections the process can hold open without running out of descriptors."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0] if soft_limit is None else soft_limit
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(16, soft - FD_RESERVE)


class ConnectionGuard:
    """Open connections by peer, the caps, and the count of what was refused."""

    def __init__(
        self,
        limits: ServerLimitsConfig,
        on_reject: Callable[[str], None] = lambda reason: None,
        *,
        soft_fd_limit: int | None = None,
    ) -> None:
        budget = fd_budget(soft_fd_limit)
        if limits.max_connections > budget:
            log.warning(
                "server.max_connections %d is above what the file-descriptor limit allows;"
                " using %d",
                limits.max_connections,
                budget,
            )
        self.limits = limits
        self.max_total = min(limits.max_connections or budget, budget)
        self.on_reject = on_reject
        self.by_peer: Counter[str] = Counter()
        self.open = 0

    def admit(self, peer: str) -> bool:
        if self.open >= self.max_total:
            self.on_reject("total")
            return False
        if self.by_peer[peer] >= self.limits.max_connections_per_peer:
            self.on_reject("per_peer")
            return False
        self.open += 1
        self.by_peer[peer] += 1
        return True

    def release(self, peer: str) -> None:
        self.open -= 1
        self.by_peer[peer] -= 1
        if not self.by_peer[peer]:
            del self.by_peer[peer]


def _peer(transport: asyncio.BaseTransport) -> str:
    peername = transport.get_extra_info("peername")
    return str(peername[0]) if isinstance(peername, tuple) else str(peername)


class GuardedHandler(RequestHandler):
    """aiohttp's request handler, admitted by a `ConnectionGuard`, with a request deadline."""

    __slots__ = ("_deadline", "_guard", "_overdue", "_peer_address")

    def __init__(self, manager: web.Server, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._peer_address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._overdue = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = _peer(transport)
        if not self._guard.admit(peer):
            # No parser and no task made: the descriptor is freed at once.
            cast(asyncio.Transport, transport).abort()
            return
        self._peer_address = peer
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._peer_address is None:
            return  # refused in connection_made: aiohttp never saw it
        self._guard.release(self._peer_address)
        self._peer_address = None
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and data:
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)

    async def finish_response(self, request: Any, resp: Any, start_time: float | None) -> Any:
        self._disarm()
        return await super().finish_response(request, resp, start_time)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(
            self._guard.limits.request_timeout, self._request_overdue
        )

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _request_overdue(self) -> None:
        self._deadline = None
        request = self._current_request
        if request is not None and request.content.is_eof():
            return  # read in full and being answered: the handler's own timeouts apply
        self._guard.on_reject("request_timeout")
        self._overdue = True
        self.force_close()

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        if not self._overdue:  # a body cut at its deadline is counted, not a traceback
            super().log_exception(*args, **kwargs)


class GuardedSite(web.TCPSite):
    """A TCP site whose connections go through `guard`."""

    def __init__(
        self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int, **kwargs: Any
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert isinstance(server, web.Server)
        loop = asyncio.get_running_loop()
        handler_args = server._kwargs  # what the runner was given (keepalive_timeout, ...)

        def factory() -> GuardedHandler:
            return GuardedHandler(server, self._guard, loop=loop, **handler_args)

        self._server = await loop.create_server(
            factory,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


def guarded_runner(app: web.Application, limits: ServerLimitsConfig) -> web.AppRunner:
    """The runner for `app` with the idle timeout set (request deadlines come from the site)."""
    return web.AppRunner(
        app, access_log=None, keepalive_timeout=limits.idle_timeout, shutdown_timeout=10
    )
