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

from ..tools import require_tool
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


def _version(service: str, rps: float, phases: tuple[Phase, ...], version: str) -> Traffic:
    return Traffic(service, rps, phases, (("rollouts_pod_template_hash", version),), -8 * 86400)


_HEALTHY = (Phase(-math.inf, 0.0002),)
_BROKEN = (Phase(-math.inf, 0.0002), Phase(-3 * 3600, 0.03))
_OUTAGE = (Phase(-math.inf, 0.0002), Phase(-3 * 3600, 0.05))
# The held-out canaries of tests/integration/test_canary.py (specs in fixtures/canary_specs):
# each service's baseline ("stable") at 38 requests/s and its canary beside it, their series
# from 8 days before the anchor on (enough for budgets that a 3-hour canary at 3% leaves
# healthy, and not a month of them to backfill), the broken ones broken for the last 3 hours.
CANARY_TRAFFIC = (
    _version("canary-good", 38.0, (Phase(-math.inf, 0.0005),), "stable"),
    _version("canary-good", 2.0, (Phase(-math.inf, 0.0005),), "canary"),
    _version("canary-bad", 38.0, _HEALTHY, "stable"),
    _version("canary-bad", 2.0, _BROKEN, "canary"),
    _version("canary-tiny", 38.0, _HEALTHY, "stable"),
    _version("canary-tiny", 0.5, (Phase(-math.inf, 0.0002), Phase(-3 * 3600, 0.01)), "canary"),
    _version("canary-outage", 38.0, _OUTAGE, "stable"),
    _version("canary-outage", 2.0, _OUTAGE, "canary"),
)
HISTORY_TRAFFIC = DEMO_TRAFFIC + TEST_TRAFFIC + CANARY_TRAFFIC


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
    require_tool("prometheus")
    require_tool("promtool")
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
