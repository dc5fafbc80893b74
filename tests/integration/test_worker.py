"""The evaluation worker process (`evaluation.worker: process`, the default): its figures are the
inline evaluator's, the serving side never queries or decodes, a crashed or hung worker is
replaced (its cycle's SLOs keep their figures with the error, then recover), a reload reaches
it, and no worker outlives serve."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from aiohttp import web

from slogate.cli.localprom import free_port
from slogate.config import parse_config
from slogate.core.snapshot import Snapshot
from slogate.evaluation import worker as worker_module
from slogate.evaluation.engine import Engine, SpecSource
from slogate.evaluation.evaluator import Evaluator
from slogate.evaluation.settings import EvaluatorSettings
from slogate.evaluation.worker import Worker
from slogate.server.app import backend_options

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ServeProcess, eventually, running_slogate
from .test_evaluation import check_against_model


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def gone(pid: int) -> bool:
    return not alive(pid)


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def test_figures_come_from_the_worker_and_match_inline(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        engine = slogate.engine
        assert engine.worker is not None and engine.worker.pid is not None
        assert cmdline(engine.worker.pid)[1:] == ["-m", "slogate.evaluation.worker"]
        snapshot = engine.snapshot
        assert snapshot.taken_at is not None and snapshot.queries > 0
        # The serving side's client sent nothing and decoded nothing.
        serving = engine.evaluator.backend.costs
        assert serving.queries == 0 and serving.decoding == 0.0
        assert engine.last_cost.queries == snapshot.queries and engine.worker.intake.chunks >= 1
        inline = (
            await EvaluatorSettings.of(engine.config)
            .evaluator(engine.evaluator.backend)
            .evaluate(engine.slos, None, snapshot.taken_at)
        )
        assert snapshot.statuses == inline.statuses  # to the bit, burn rates and alerts included
        [checkout] = snapshot.of_service("checkout")
        check_against_model(checkout, history.anchor)


async def test_the_serving_evaluator_is_never_used(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: object, **kwargs: object) -> Snapshot:
        raise AssertionError("evaluated on the serving loop")

    monkeypatch.setattr(Evaluator, "evaluate", refuse)
    async with running_slogate(history.url) as slogate:
        second = await slogate.engine.run_cycle()
        assert second.cycle == 2 and not any(s.error for s in second.statuses.values())


async def test_a_reload_sends_the_new_slos(history: History, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(DEMO_SPECS / "checkout.yml", specs / "checkout.yml")
    async with running_slogate(history.url, specs=specs) as slogate:
        engine = slogate.engine
        assert engine.snapshot.services == ("checkout",)
        shutil.copy(DEMO_SPECS / "payments.yml", specs / "payments.yml")
        assert engine.load().ok
        snapshot = await engine.run_cycle()
        [payments] = snapshot.of_service("payments")
        assert payments.error is None and payments.evaluated_at == snapshot.taken_at
        check_against_model(payments, history.anchor)
        assert engine.worker is not None and engine.worker.starts == 1  # same worker, new SLOs


@dataclass
class HeldPrometheus:
    """Answers rules-mode queries (every loaded SLO at 0.1% errors) once `release` is set."""

    ids: list[str]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def query(self, request: web.Request) -> web.Response:
        await request.post()
        self.arrived.set()
        await self.release.wait()
        result = [{"metric": {"sloth_id": i}, "value": [0, "0.001"]} for i in self.ids]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )


@asynccontextmanager
async def held_engine(limit: str) -> AsyncIterator[tuple[Engine, HeldPrometheus]]:
    """An engine in rules mode with its worker, against a `HeldPrometheus` on loopback."""
    port = free_port()
    config = parse_config(
        f"evaluation: {{mode: rules, interval: {limit}}}\nprometheus: {{timeout: {limit}}}",
        "test",
        {"prometheus.url": f"http://127.0.0.1:{port}"},
    )
    options = backend_options(config)
    engine = Engine(config, SpecSource(DEMO_SPECS), options.client(), worker=options)
    assert engine.load().ok
    held = HeldPrometheus([slo.id for slo in engine.slos])
    app = web.Application()
    app.router.add_post("/api/v1/query", held.query)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield engine, held
    finally:
        held.release.set()
        await engine.aclose()
        await engine.evaluator.backend.aclose()  # type: ignore[attr-defined]
        await runner.cleanup()


def assert_fresh(snapshot: Snapshot) -> None:
    for status in snapshot.statuses.values():
        assert status.error is None and status.evaluated_at == snapshot.taken_at
        burn = pytest.approx(0.001 / status.slo.error_budget)  # HeldPrometheus' 0.1% errors
        assert status.burn_rates and all(b == burn for b in status.burn_rates.values())


def assert_kept(snapshot: Snapshot, before: Snapshot, error: str) -> None:
    assert snapshot.cycle == before.cycle + 1
    for key, status in snapshot.statuses.items():
        assert status.error is not None and status.error.startswith(error), status.error
        assert status.error_ratios == before.statuses[key].error_ratios
        assert status.evaluated_at == before.taken_at


async def test_a_worker_killed_mid_cycle_is_replaced() -> None:
    async with held_engine("30s") as (engine, held):
        held.release.set()
        first = await engine.run_cycle()
        assert_fresh(first)
        assert engine.worker is not None and engine.worker.pid is not None
        pid = engine.worker.pid
        held.release.clear()
        cycle = asyncio.create_task(engine.run_cycle())
        await asyncio.wait_for(held.arrived.wait(), 30)  # the worker waits on its queries
        os.kill(pid, signal.SIGKILL)
        crashed = await cycle
        assert_kept(crashed, first, "evaluation worker failed: exited with signal SIGKILL")
        held.release.set()
        recovered = await engine.run_cycle()
        assert_fresh(recovered)
        assert engine.worker.starts == 2 and engine.worker.pid not in (None, pid)
        assert not alive(pid)


async def test_a_hung_worker_is_killed_after_the_cycle_timeout() -> None:
    async with held_engine("3s") as (engine, held):
        held.release.set()
        first = await engine.run_cycle()
        assert engine.worker is not None and engine.worker.pid is not None
        pid = engine.worker.pid
        os.kill(pid, signal.SIGSTOP)  # alive, answering nothing
        hung = await engine.run_cycle()
        assert_kept(hung, first, "evaluation cycle timed out after 3s")
        recovered = await engine.run_cycle()
        assert_fresh(recovered)
        assert engine.worker.starts == 2 and not alive(pid)


FLOOD = "import sys\nwhile True:\n    sys.stdout.buffer.write(b'x' * 65536)\n"
"""A worker in the middle of an answer that nobody reads any more: it ignores its input."""


@pytest.mark.parametrize("stopped", ["closed", "killed mid-cycle"])
async def test_a_worker_whose_answer_nobody_reads_is_still_reaped(
    stopped: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its output pipe full and reading paused, waiting for the exit alone never ended."""
    monkeypatch.setattr(worker_module, "STOP_GRACE", 0.5)
    config = parse_config("", "test", {"prometheus.url": "http://127.0.0.1:9"})
    worker = Worker(backend_options(config), EvaluatorSettings.of(config))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOOD, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    worker.process = process
    await asyncio.sleep(0.5)  # the pipe and the reader's buffer fill; reading pauses
    if stopped == "killed mid-cycle":
        worker._kill()
    async with asyncio.timeout(30):
        await worker.aclose()
    assert process.returncode == -signal.SIGKILL and not alive(process.pid)


async def test_a_closed_worker_exits_by_itself() -> None:
    """The end of its input stops it: nothing waits for the grace or kills it."""
    config = parse_config("", "test", {"prometheus.url": "http://127.0.0.1:9"})
    worker = Worker(backend_options(config), EvaluatorSettings.of(config))
    process = await worker._running()
    await worker.aclose()
    assert process.returncode == 0


async def test_no_worker_outlives_serve(history: History, tmp_path: Path) -> None:
    for stop in (signal.SIGTERM, signal.SIGKILL):
        server = ServeProcess(history.url, DEMO_SPECS, tmp_path / f"{stop.name}.db")
        await server.start()
        try:
            assert server.process is not None
            [worker] = children(server.process.pid)
            assert cmdline(worker)[1:] == ["-m", "slogate.evaluation.worker"]
            server.signal(stop)
            await asyncio.to_thread(server.wait)
            # SIGTERM: serve stops it; SIGKILL: it sees its input end and exits.
            await eventually(partial(gone, worker), f"the worker to exit after {stop.name}")
        finally:
            server.stop()
