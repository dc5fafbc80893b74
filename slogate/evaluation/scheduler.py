"""Evaluation cycles on a fixed interval (apscheduler), the first one immediately."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from slogate.evaluation.engine import Engine

log = logging.getLogger(__name__)


async def _cycle(engine: Engine) -> None:
    try:
        await engine.run_cycle()
    except Exception:  # a broken cycle must not stop the next one
        log.exception("evaluation cycle failed")


def start_scheduler(engine: Engine) -> AsyncIOScheduler:
    """Run `engine.run_cycle` every `interval` seconds; overlapping runs are skipped."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        _cycle,
        "interval",
        args=[engine],
        seconds=engine.config.interval,
        next_run_time=datetime.now(UTC),
        id="evaluate",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(engine.config.interval)),
    )
    scheduler.start()
    return scheduler
