"""Evaluation in a child process, so that the event loop answering gate calls never sends a
query, decodes an answer or builds a cycle's statuses from it.

`slogate serve` starts the child (`python -m slogate.evaluation.worker`) and talks to it over
its stdin and stdout, one length-prefixed msgpack frame per message:

    serving process → worker:  Start (backend options, settings), Load (the SLOs, pickled,
                               once per reload, in parts), Configure (a config reload),
                               Evaluate (one cycle at a pinned time)
    worker → serving process:  Ready (to Start), Rows (the statuses of up to `CHUNK` SLOs,
                               as plain values), Done (the cycle's counts and costs)

The serving side takes a cycle's answer in a chunk at a time (decode a frame, rebuild its
statuses with `SLOStatus.restored`, group them by service), letting gate calls in between; the
snapshot is then swapped in whole, as inline. A worker that exits, hangs past the cycle timeout
or breaks the protocol is killed; that cycle's SLOs keep their previous figures with the error
(their staleness then applies the fail mode), and the next cycle starts a new worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import logging
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, Any

import msgspec

from slogate.core.model import SLO
from slogate.core.snapshot import SLOStatus, Snapshot, group_by_service
from slogate.errors import WorkerError
from slogate.evaluation.backend_options import BackendOptions
from slogate.evaluation.costs import CycleCost
from slogate.evaluation.settings import EvaluatorSettings
from slogate.telemetry.logs import JsonFormatter, register_secret, setup_logging
from slogate.telemetry.tracing import setup_from_env

log = logging.getLogger(__name__)

CHUNK = 25
"""SLOs in one answer frame: taking one in holds the serving loop ~1 ms (see
`benchmarks/load.py --only-evaluation`)."""
LOAD_CHUNK = 10
"""SLOs pickled between two chances for gate calls on a reload (pickling an SLO is ~0.1 ms)."""
MAX_FRAME = 256 * 2**20
"""A frame longer than this is a broken worker, not an answer."""
START_TIMEOUT = 120.0
"""Seconds a worker has to start (imports, its client) and take in the SLOs of a reload."""
STOP_GRACE = 5.0
"""Seconds a worker has to exit once its stdin is closed, before it is killed."""
_HEADER = struct.Struct(">I")


def _mappingproxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


# SLO models hold read-only mappings, which pickle does not know: sent as dicts, rebuilt as proxies.
copyreg.pickle(MappingProxyType, lambda proxy: (_mappingproxy, (dict(proxy),)))


# --- messages -----------------------------------------------------------------------------------


class Start(msgspec.Struct, tag=True, frozen=True):
    options: BackendOptions
    settings: EvaluatorSettings
    log_level: int
    log_json: bool


class Load(msgspec.Struct, tag=True, frozen=True):
    slos: bytes
    """Pickled SLOs, appended to those of the previous `Load` unless `first`."""
    first: bool


class Configure(msgspec.Struct, tag=True, frozen=True):
    settings: EvaluatorSettings


class Evaluate(msgspec.Struct, tag=True, frozen=True):
    at: float


class Row(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One SLO's status: by its index in the loaded SLOs; an error, or `SLOStatus.figures()`."""

    index: int
    evaluated_at: float | None
    attempted_at: float | None
    error: str | None = None
    windows: tuple[float, ...] = ()
    ratios: tuple[float | None, ...] = ()
    burns: tuple[float | None, ...] = ()
    remaining: float | None = None
    page: bool = False
    ticket: bool = False

    @classmethod
    def of(cls, index: int, status: SLOStatus) -> Row:
        if status.error is not None:
            return cls(index, status.evaluated_at, status.attempted_at, status.error)
        windows, ratios, burns, remaining, page, ticket = status.figures()
        return cls(
            index,
            status.evaluated_at,
            status.attempted_at,
            None,
            tuple(windows),
            tuple(ratios),
            tuple(burns),
            remaining,
            page,
            ticket,
        )

    def status(self, slo: SLO, previous: SLOStatus | None) -> SLOStatus:
        """The status this row describes; a failed one keeps the serving side's figures."""
        if self.error is not None:
            base = previous if previous is not None and previous.slo == slo else SLOStatus(slo)
            return base.failed(self.error, self.attempted_at or 0.0)
        figures = (self.windows, self.ratios, self.burns, self.remaining, self.page, self.ticket)
        return SLOStatus.restored(slo, figures, self.evaluated_at, self.attempted_at)


class Ready(msgspec.Struct, tag=True, frozen=True):
    """Started: its backend client built."""


class Rows(msgspec.Struct, tag=True, frozen=True, gc=False):
    rows: list[Row]


class Done(msgspec.Struct, tag=True, frozen=True):
    queries: int
    failed_queries: int
    from_rules: int
    cost: CycleCost


ToWorker = Start | Load | Configure | Evaluate
FromWorker = Ready | Rows | Done


def frame(message: msgspec.Struct) -> bytes:
    payload = msgspec.msgpack.encode(message)
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's payload; None at the end of the stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise WorkerError("stream ended inside a frame header") from None
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise WorkerError(f"frame of {length} bytes refused")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise WorkerError("stream ended inside a frame") from None


# --- the serving side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intake:
    """What taking one cycle's answer in cost the serving loop (seconds of its CPU)."""

    total: float = 0.0
    chunks: int = 0
    longest: float = 0.0
    """The longest stretch without a chance for gate calls (a chunk, or the final snapshot)."""
    longest_cpu: float = 0.0
    """The CPU time of that stretch's longest (on shared cores, `longest` includes waiting for
    a core)."""


class Worker:
    """The serving side of one evaluation worker at a time, started when first needed."""

    def __init__(self, options: BackendOptions, settings: EvaluatorSettings) -> None:
        self.options = options
        self.settings = settings
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        """Workers started so far (a restart adds one)."""
        self.last_cost = CycleCost()
        """Where the worker's last cycle went (its own queries, decoding, building)."""
        self.intake = Intake()
        """What taking the last cycle's answer in cost the serving loop."""
        self._loaded: Sequence[SLO] | None = None
        self._configured = settings
        self._killed: list[asyncio.subprocess.Process] = []

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def configure(self, settings: EvaluatorSettings) -> None:
        """Use `settings` from the next cycle on."""
        self.settings = settings

    async def prepare(self, slos: Sequence[SLO]) -> None:
        """A worker running, ready and holding `slos` (started and sent them if need be),
        within `START_TIMEOUT`: a start and a reload's SLOs do not count in a cycle's time."""
        with self._failing():
            try:
                async with asyncio.timeout(START_TIMEOUT):
                    process = await self._running()
                    await self._send_slos(process, slos)
            except TimeoutError:
                raise WorkerError(f"not ready within {START_TIMEOUT:g}s") from None

    async def evaluate(self, slos: Sequence[SLO], previous: Snapshot, at: float) -> Snapshot:
        """One cycle in the worker `prepare`d for `slos`."""
        with self._failing():
            process = self.process
            if process is None or self._loaded is not slos:
                raise WorkerError("not prepared for these SLOs")
            if self._configured != self.settings:
                await self._send(process, Configure(self.settings))
                self._configured = self.settings
            await self._send(process, Evaluate(at))
            return await self._take_in(process, slos, previous, at)

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """Any failure kills the worker (the next cycle starts a new one) and is a
        `WorkerError`, but a cancellation (the cycle timed out, or the engine is stopping)."""
        try:
            yield
        except WorkerError as exc:
            self._kill()
            raise WorkerError(f"evaluation worker failed: {exc}") from None
        except (OSError, msgspec.DecodeError) as exc:
            self._kill()
            raise WorkerError(f"evaluation worker failed: {exc!r}") from None
        except BaseException:
            self._kill()
            raise

    async def _running(self) -> asyncio.subprocess.Process:
        if self.process is not None and self.process.returncode is None:
            return self.process
        await self._reap()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "slogate.evaluation.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self.starts += 1
        self._loaded, self._configured = None, self.settings
        root = logging.getLogger()
        start = Start(
            self.options,
            self.settings,
            root.getEffectiveLevel(),
            any(isinstance(h.formatter, JsonFormatter) for h in root.handlers),
        )
        await self._send(self.process, start)
        assert self.process.stdout is not None
        ready = await read_frame(self.process.stdout)
        if ready is None:
            raise WorkerError(f"exited at start with {_exit_text(await self.process.wait())}")
        if not isinstance(answer := msgspec.msgpack.decode(ready, type=FromWorker), Ready):
            raise WorkerError(f"answered Start with {type(answer).__name__}")
        log.info("evaluation worker started (pid %d)", self.process.pid)
        return self.process

    async def _send_slos(self, process: asyncio.subprocess.Process, slos: Sequence[SLO]) -> None:
        """The SLOs, if the worker does not have these yet: pickled a few at a time."""
        if self._loaded is slos:
            return
        for n in range(0, max(len(slos), 1), LOAD_CHUNK):
            part = pickle.dumps(tuple(slos[n : n + LOAD_CHUNK]), pickle.HIGHEST_PROTOCOL)
            await self._send(process, Load(part, first=n == 0))
            await asyncio.sleep(0)  # drain() lets gate calls in only once the pipe is full
        self._loaded = slos

    @staticmethod
    async def _send(process: asyncio.subprocess.Process, message: msgspec.Struct) -> None:
        assert process.stdin is not None
        process.stdin.write(frame(message))
        await process.stdin.drain()

    async def _take_in(
        self,
        process: asyncio.subprocess.Process,
        slos: Sequence[SLO],
        previous: Snapshot,
        at: float,
    ) -> Snapshot:
        """The worker's answer as a snapshot, a chunk at a time between gate calls."""
        assert process.stdout is not None
        started = time.perf_counter()
        decoder = msgspec.msgpack.Decoder(FromWorker)
        known = previous.statuses
        statuses: dict[str, SLOStatus] = {}
        grouped: dict[str, list[SLOStatus]] = {}
        total = longest = longest_cpu = 0.0
        chunks = 0
        while True:
            payload = await read_frame(process.stdout)
            if payload is None:
                code = await process.wait()
                raise WorkerError(f"exited with {_exit_text(code)}")
            chunk_started, chunk_cpu = time.perf_counter(), time.thread_time()
            message = decoder.decode(payload)
            if isinstance(message, Done):
                break
            if not isinstance(message, Rows):
                raise WorkerError(f"unexpected {type(message).__name__}")
            for row in message.rows:
                if not 0 <= row.index < len(slos):
                    raise WorkerError(f"answered for SLO #{row.index} of {len(slos)}")
                slo = slos[row.index]
                statuses[slo.id] = status = row.status(slo, known.get(slo.id))
                group_by_service((status,), grouped)
            spent = time.perf_counter() - chunk_started
            total, longest, chunks = total + spent, max(longest, spent), chunks + 1
            longest_cpu = max(longest_cpu, time.thread_time() - chunk_cpu)
            await asyncio.sleep(0)  # let gate calls in between chunks
        if len(statuses) != len(slos):
            raise WorkerError(f"answered for {len(statuses)} of {len(slos)} SLOs")
        assembling, assembling_cpu = time.perf_counter(), time.thread_time()
        snapshot = Snapshot(
            statuses,
            taken_at=at,
            cycle=previous.cycle + 1,
            duration=assembling - started,
            queries=message.queries,
            failed_queries=message.failed_queries,
            from_rules=message.from_rules,
            grouped=grouped,
        )
        spent = time.perf_counter() - assembling
        longest_cpu = max(longest_cpu, time.thread_time() - assembling_cpu)
        self.intake = Intake(total + spent, chunks, max(longest, spent), longest_cpu)
        self.last_cost = message.cost
        return snapshot

    def _kill(self) -> None:
        """Kill the worker now (its own PID); it is reaped at the next start or at close."""
        if self.process is not None:
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
            self._killed.append(self.process)
            self.process = None

    async def _reap(self) -> None:
        for process in self._killed:
            await _ended(process)
        self._killed.clear()

    async def aclose(self) -> None:
        """Stop the worker: end of its input, then killed if it has not exited in time."""
        process = self.process
        if process is not None and process.returncode is None:
            try:
                async with asyncio.timeout(STOP_GRACE):
                    await _ended(process)
            except TimeoutError:
                self._kill()
        if self.process is not None:
            self._killed.append(self.process)
            self.process = None
        await self._reap()


async def _ended(process: asyncio.subprocess.Process) -> None:
    """Close its input and wait for its exit, reading and dropping what it still writes.
    `wait()` alone returns only once the output pipe is closed too, and a worker stopped in the
    middle of an answer nobody reads leaves that pipe full and its reading paused: serve then
    never stopped (seen once in a benchmark run's SIGTERM)."""
    if process.stdin is not None:
        process.stdin.close()  # communicate() closes it only when given input
    await process.communicate()


def _exit_text(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


# --- the worker process -------------------------------------------------------------------------


async def _serve(reader: asyncio.StreamReader, out: IO[bytes]) -> None:
    """Answer the serving process' messages until its end of the pipe closes."""
    decoder = msgspec.msgpack.Decoder(ToWorker)
    first = await read_frame(reader)
    if first is None:
        return
    start = decoder.decode(first)
    if not isinstance(start, Start):
        raise WorkerError(f"expected Start, got {type(start).__name__}")
    setup_logging(logging.getLevelName(start.log_level), "json" if start.log_json else "text")
    if start.options.token:
        register_secret(start.options.token)
    setup_from_env()  # the backend query spans come from here when tracing is on
    backend = start.options.client()
    evaluator = start.settings.evaluator(backend)
    out.write(frame(Ready()))
    out.flush()
    parts: list[SLO] = []
    slos: tuple[SLO, ...] = ()
    previous: Snapshot | None = None
    try:
        while (payload := await read_frame(reader)) is not None:
            message = decoder.decode(payload)
            if isinstance(message, Load):
                if message.first:
                    parts, previous = [], None
                parts.extend(pickle.loads(message.slos))  # noqa: S301 (from our own parent)
                slos = tuple(parts)
            elif isinstance(message, Configure):
                message.settings.apply(evaluator)
            elif isinstance(message, Evaluate):
                previous = await evaluator.evaluate(slos, previous, message.at)
                _answer(out, slos, previous, evaluator.last_cost)
            else:
                raise WorkerError(f"unexpected {type(message).__name__}")
    finally:
        await backend.aclose()


def _answer(out: IO[bytes], slos: Sequence[SLO], snapshot: Snapshot, cost: CycleCost) -> None:
    statuses = snapshot.statuses
    for n in range(0, len(slos), CHUNK):
        rows = [Row.of(i, statuses[slo.id]) for i, slo in enumerate(slos[n : n + CHUNK], n)]
        out.write(frame(Rows(rows)))
    out.write(frame(Done(snapshot.queries, snapshot.failed_queries, snapshot.from_rules, cost)))
    out.flush()


async def _main() -> None:
    # The protocol owns the real stdout; anything printed goes to stderr with the logs.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_FRAME)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    await _serve(reader, out)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops serve, which stops us
    asyncio.run(_main())
