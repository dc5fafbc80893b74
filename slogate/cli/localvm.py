"""VictoriaMetrics of our own on loopback (Debian's `victoria-metrics`), history loaded through
its import API, started and stopped by PID. Used by the integration tests to run the evaluation
and the gate against a second implementation of the Prometheus query API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx

from slogate.cli.localprom import LocalServer, binary

IMPORT_PATH = "/api/v1/import/prometheus"
LINES_PER_IMPORT = 50_000
"""Samples in one import request (VictoriaMetrics bounds a request's size)."""


def prometheus_text(openmetrics_text: str) -> Iterator[str]:
    """OpenMetrics sample lines (timestamps in seconds) as Prometheus text lines (timestamps in
    milliseconds), the form `/api/v1/import/prometheus` reads; comments are left out."""
    for line in openmetrics_text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, seconds = line.rsplit(" ", 1)
        yield f"{sample} {round(float(seconds) * 1000)}"


class LocalVictoriaMetrics(LocalServer):
    """Single-node VictoriaMetrics with its data in `workdir/data`.

    `latency_offset` is its `-search.latencyOffset` (30 s by default, as VictoriaMetrics'
    own): clients that pin `time=` near now send `nocache=1` to be answered at that time."""

    name = "victoria-metrics"

    def __init__(
        self, workdir: Path, port: int | None = None, *, latency_offset: str = "30s"
    ) -> None:
        super().__init__(workdir, port)
        self.data_dir = workdir / "data"
        self.latency_offset = latency_offset

    def command(self) -> list[str]:
        return [
            binary("victoria-metrics"),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.data_dir}",
            "-retentionPeriod=1y",
            f"-search.latencyOffset={self.latency_offset}",
            "-loggerLevel=WARN",
        ]

    def import_openmetrics(self, text: str) -> int:
        """Load OpenMetrics samples (with timestamps) and make them searchable at once;
        returns how many samples were sent."""
        lines = list(prometheus_text(text))
        with httpx.Client(base_url=self.url, timeout=120) as http:
            for n in range(0, len(lines), LINES_PER_IMPORT):
                body = "\n".join(lines[n : n + LINES_PER_IMPORT]) + "\n"
                http.post(IMPORT_PATH, content=body.encode()).raise_for_status()
            http.get("/internal/force_flush").raise_for_status()
        return len(lines)
