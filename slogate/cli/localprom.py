"""Prometheus and Alertmanager of our own on loopback: history backfilled with promtool,
started and stopped by PID. Used by `slogate demo` and by the integration tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

INSTALL_HINT = "install Debian's packages: apt-get install -y prometheus prometheus-alertmanager"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/local/bin")
    if path is None:
        raise FileNotFoundError(f"{name} not found: {INSTALL_HINT}")
    return path


BACKFILL_BLOCK_SPAN = "8760h"
"""The longest block promtool may write (its hidden `--max-block-duration`): a year, i.e. a
block or two for any history here. promtool parses the whole input once per block it writes, so
with its 2-hour default 32 days of history were 387 passes over the file (60 s of CPU for the
tests' history, against 0.8 s): see `benchmarks/backfill.py`."""


def backfill(openmetrics_file: Path, data_dir: Path, timeout: float = 600) -> None:
    """Write TSDB blocks from OpenMetrics (`promtool tsdb create-blocks-from openmetrics`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            f"--max-block-duration={BACKFILL_BLOCK_SPAN}",
            "-q",
            str(openmetrics_file),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
    )


def scrape_config(jobs: Mapping[str, Sequence[str]], interval: str) -> str:
    lines = ["global:", f"  scrape_interval: {interval}", f"  evaluation_interval: {interval}"]
    if jobs:
        lines.append("scrape_configs:")
    for job, targets in jobs.items():
        lines += [
            f"  - job_name: {job}",
            "    honor_labels: true",
            "    static_configs:",
            f"      - targets: [{', '.join(repr(t) for t in targets)}]",
        ]
    return "\n".join(lines) + "\n"


class LocalServer:
    """A server binary of ours on 127.0.0.1, with its files in `workdir`; stopped by PID."""

    name = ""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.log_file = workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before a start."""

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it answers `/-/ready`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready on {self.url} after {timeout:g}s")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM by PID, SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


class LocalPrometheus(LocalServer):
    """Prometheus with its TSDB in `workdir/data` (backfill there before starting)."""

    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        jobs: Mapping[str, Sequence[str]] | None = None,
        scrape_interval: str = "15s",
        rule_files: Sequence[Path] = (),
        compact: bool = False,
    ) -> None:
        super().__init__(workdir, port)
        self.compact = compact
        self.data_dir = workdir / "data"
        self.config_file = workdir / "prometheus.yml"
        self.jobs = dict(jobs or {})
        self.scrape_interval = scrape_interval
        self.rule_files = list(rule_files)

    def prepare(self) -> None:
        text = scrape_config(self.jobs, self.scrape_interval)
        if self.rule_files:
            text += "rule_files:\n" + "".join(f"  - {f}\n" for f in self.rule_files)
        self.config_file.write_text(text, encoding="utf-8")

    def command(self) -> list[str]:
        return [
            binary("prometheus"),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=400d",
            # Unless asked to compact, backfilled 2h blocks stay as they are: tests start at
            # once, with no background compaction competing for the CPU.
            *(
                []
                if self.compact
                else [
                    "--storage.tsdb.min-block-duration=2h",
                    "--storage.tsdb.max-block-duration=2h",
                ]
            ),
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]

    def blocks(self) -> int:
        """TSDB blocks loaded (`prometheus_tsdb_blocks_loaded`)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        line = next(x for x in text.splitlines() if x.startswith("prometheus_tsdb_blocks_loaded "))
        return int(float(line.split()[1]))

    def reload(self) -> None:
        httpx.post(f"{self.url}/-/reload", timeout=10).raise_for_status()


ALERTMANAGER_CONFIG = """route:
  receiver: "null"
  group_by: [alertname, service, slo]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


class LocalAlertmanager(LocalServer):
    """Debian's prometheus-alertmanager, clustering off, routing to a receiver that drops all."""

    name = "alertmanager"

    def prepare(self) -> None:
        (self.workdir / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG, encoding="utf-8")

    def command(self) -> list[str]:
        return [
            binary("prometheus-alertmanager"),
            f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    def alerts(self, **filters: str) -> list[dict[str, object]]:
        """Active alerts (`GET /api/v2/alerts`), optionally filtered by label equality."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("filter", f'{k}="{v}"') for k, v in filters.items()
        ]
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        response.raise_for_status()
        found: list[dict[str, object]] = response.json()
        return found
