"""A real Prometheus on loopback holding the demo traffic's history (backfilled with promtool).

History runs from 32 days before the anchor (the session start, to the minute) to 3 hours after
it, so that windows ending "now" are covered whenever a test evaluates; expected figures are
computed from the traffic model at each evaluation's own pinned timestamp.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from slogate.demo import write_history
from slogate.localprom import LocalPrometheus


@dataclass(frozen=True)
class History:
    prometheus: LocalPrometheus
    anchor: float

    @property
    def url(self) -> str:
        return self.prometheus.url


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    workdir = tmp_path_factory.mktemp("prometheus")
    anchor = math.floor(time.time() / 60) * 60
    write_history(workdir, anchor, end=3 * 3600)
    prometheus = LocalPrometheus(workdir)
    prometheus.start()
    try:
        yield History(prometheus, anchor)
    finally:
        prometheus.stop()
