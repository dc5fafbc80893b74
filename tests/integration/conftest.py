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

from slogate.cli.demo import DEMO_TRAFFIC, write_history
from slogate.cli.localprom import LocalPrometheus
from slogate.cli.traffic import Phase, Traffic

from ..tools import require_tool

# The demo's services, and test-only ones:
# - flapper: 5% errors from 150 to 40 minutes before the anchor, healthy otherwise. Evaluated
#   50 minutes before the anchor its page condition holds; at the anchor it has recovered
#   (the 5m and 30m windows are clean) while its ticket condition still holds.
TEST_TRAFFIC = (
    Traffic(
        "flapper", 10.0, (Phase(-math.inf, 0.0002), Phase(-150 * 60, 0.05), Phase(-40 * 60, 0.0002))
    ),
)
HISTORY_TRAFFIC = DEMO_TRAFFIC + TEST_TRAFFIC


@dataclass(frozen=True)
class History:
    prometheus: LocalPrometheus
    anchor: float

    @property
    def url(self) -> str:
        return self.prometheus.url


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    require_tool("prometheus")
    require_tool("promtool")
    workdir = tmp_path_factory.mktemp("prometheus")
    anchor = math.floor(time.time() / 60) * 60
    write_history(workdir, anchor, end=3 * 3600, traffic=HISTORY_TRAFFIC)
    prometheus = LocalPrometheus(workdir)
    prometheus.start()
    try:
        yield History(prometheus, anchor)
    finally:
        prometheus.stop()
