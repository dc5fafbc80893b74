"""A real Prometheus on loopback holding the demo traffic's history (backfilled with promtool),
and a real VictoriaMetrics holding the same history (loaded through its import API).

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
from slogate.cli.localprom import LocalPrometheus, LocalServer
from slogate.cli.traffic import Phase, Traffic
from slogate.evaluation.flavors import Flavor

from .backends import HISTORY_END, start_victoria_metrics

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
    prometheus: LocalServer
    """The server holding the history (a Prometheus unless `flavor` says otherwise)."""
    anchor: float
    flavor: Flavor = Flavor.PROMETHEUS

    @property
    def url(self) -> str:
        return self.prometheus.url

    @property
    def config(self) -> str:
        """slogate's config for this backend."""
        return f"prometheus: {{flavor: {self.flavor.value}}}\n"


@pytest.fixture(scope="session")
def anchor() -> float:
    """The session start, to the minute: every backend's history is relative to it."""
    return math.floor(time.time() / 60) * 60


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory, anchor: float) -> Iterator[History]:
    workdir = tmp_path_factory.mktemp("prometheus")
    write_history(workdir, anchor, end=HISTORY_END, traffic=HISTORY_TRAFFIC)
    prometheus = LocalPrometheus(workdir)
    prometheus.start()
    try:
        yield History(prometheus, anchor)
    finally:
        prometheus.stop()


@pytest.fixture(scope="session")
def vm_history(tmp_path_factory: pytest.TempPathFactory, anchor: float) -> Iterator[History]:
    """The same history (same anchor, same samples) in a VictoriaMetrics."""
    workdir = tmp_path_factory.mktemp("victoria-metrics")
    server = start_victoria_metrics(workdir, anchor, HISTORY_TRAFFIC)
    try:
        yield History(server, anchor, Flavor.VICTORIAMETRICS)
    finally:
        server.stop()


@pytest.fixture(params=[Flavor.PROMETHEUS, Flavor.VICTORIAMETRICS], ids=str)
def backend(request: pytest.FixtureRequest) -> History:
    """Each backend holding the history in turn: tests taking it run against both."""
    fixture = "history" if request.param is Flavor.PROMETHEUS else "vm_history"
    found: History = request.getfixturevalue(fixture)
    return found
