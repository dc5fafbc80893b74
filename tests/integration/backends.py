"""Metric backends other than Prometheus, started for the integration tests on loopback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slogate.cli.demo import HISTORY, TIERS
from slogate.cli.localvm import LocalVictoriaMetrics
from slogate.cli.traffic import Traffic, openmetrics

HISTORY_END = 3 * 3600.0
"""As the Prometheus history: 3 hours past the anchor, so windows ending "now" are covered."""


def start_victoria_metrics(
    workdir: Path, anchor: float, traffic: Sequence[Traffic]
) -> LocalVictoriaMetrics:
    """A VictoriaMetrics holding the same samples as the backfilled Prometheus (same model,
    same sample times), loaded through `/api/v1/import/prometheus`."""
    server = LocalVictoriaMetrics(workdir)
    server.start()
    try:
        text = openmetrics(traffic, anchor=anchor, start=-HISTORY, end=HISTORY_END, tiers=TIERS)
        server.import_openmetrics(text)
    except BaseException:
        server.stop()
        raise
    return server
