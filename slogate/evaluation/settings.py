"""The evaluator's settings taken from the config (mode, batch size, concurrency, long windows),
applied alike to the serving process' evaluator and to the evaluation worker's."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from slogate.evaluation.backend import QueryBackend
from slogate.evaluation.evaluator import Evaluator, Mode

if TYPE_CHECKING:  # the worker process imports these settings, and needs no config parser
    from slogate.config import Config


class EvaluatorSettings(msgspec.Struct, frozen=True, kw_only=True):
    mode: Mode
    batch_size: int
    concurrency: int
    incremental: bool
    """Long windows summed from hourly buckets (`long_windows: incremental`)."""

    @classmethod
    def of(cls, config: Config) -> EvaluatorSettings:
        return cls(
            mode=Mode(config.mode),
            batch_size=config.batch_size,
            concurrency=config.prometheus.max_concurrency,
            incremental=config.long_windows == "incremental",
        )

    def evaluator(self, backend: QueryBackend, clock: Callable[[], float] = time.time) -> Evaluator:
        return Evaluator(
            backend,
            clock=clock,
            mode=self.mode,
            concurrency=self.concurrency,
            batch_size=self.batch_size,
            long_windows=self.incremental,
        )

    def apply(self, evaluator: Evaluator) -> None:
        """What a config reload changes at once (concurrency shapes the pool: at restart)."""
        evaluator.mode = self.mode
        evaluator.batch_size = self.batch_size
        evaluator.sum_long_windows(self.incremental)
