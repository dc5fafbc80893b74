"""`slogate demo`: slogate against a local Prometheus holding a month of generated history.

The services in `slo_specs/` get traffic whose error ratio is known (`DEMO_TRAFFIC`): one
healthy, one burning fast, one with its budget exhausted, one burning slowly, one low on budget,
one without traffic. History is backfilled with promtool; a small exporter then serves the same
counters live, so the numbers keep moving as the demo runs.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from slogate.cli.demo_deployments import backfill_deployments, delivery_summary
from slogate.cli.localprom import LocalAlertmanager, LocalPrometheus, backfill, free_port
from slogate.cli.traffic import Phase, Traffic, exposition, openmetrics
from slogate.config import parse_config
from slogate.core.windows import DAY
from slogate.evaluation.engine import SpecSource
from slogate.server.app import serve
from slogate.server.auth import ENV_TOKEN
from slogate.sloth.spec import LoadOptions

HISTORY = 32 * DAY
TIERS = ((3 * DAY, 900.0), (DAY, 300.0), (0.0, 60.0))

CANARY_LABEL = "rollouts_pod_template_hash"
DEMO_TRAFFIC = (
    Traffic("checkout", 20.0, (Phase(-math.inf, 0.0002),), ((CANARY_LABEL, "stable"),)),
    Traffic("payments", 20.0, (Phase(-math.inf, 0.0002), Phase(-90 * 60, 0.02))),
    Traffic("search", 20.0, (Phase(-math.inf, 0.0015),)),
    Traffic("catalog", 20.0, (Phase(-math.inf, 0.0005), Phase(-4 * DAY, 0.01))),
    Traffic("recommendations", 20.0, (Phase(-math.inf, 0.0008),)),
    Traffic("notifications", 0.0, (Phase(-math.inf, 0.0),)),
)


# Two canaries of checkout beside its stable version, deployed 6 hours ago at 1 request/s each
# (5% of checkout's traffic together): one as good as stable, one failing 3% of its requests
# for the last 2 hours. Checkout's burn rate is ~1.6: the service gate allows; the canary
# analysis tells them apart.
DEMO_CANARIES = (
    Traffic("checkout", 1.0, (Phase(-math.inf, 0.0002),), ((CANARY_LABEL, "good"),), -6 * 3600),
    Traffic(
        "checkout",
        1.0,
        (Phase(-math.inf, 0.0002), Phase(-2 * 3600, 0.03)),
        ((CANARY_LABEL, "bad"),),
        -6 * 3600,
    ),
)


def write_history(
    workdir: Path, anchor: float, end: float = 0.0, traffic: Sequence[Traffic] = DEMO_TRAFFIC
) -> Path:
    """Backfill `HISTORY` of `traffic` ending `end` seconds after `anchor`; returns data dir."""
    text = openmetrics(traffic, anchor=anchor, start=-HISTORY, end=end, tiers=TIERS)
    source = workdir / "history.om"
    source.write_text(text, encoding="utf-8")
    data = workdir / "data"
    shutil.rmtree(data, ignore_errors=True)  # a previous run's blocks would overlap
    backfill(source, data)
    source.unlink()
    return data


async def start_exporter(
    anchor: float, traffic: Sequence[Traffic] = DEMO_TRAFFIC
) -> tuple[web.AppRunner, int]:
    """Serve the counters live on a loopback port, continuing the backfilled history."""

    async def handler(request: web.Request) -> web.Response:
        text = exposition(traffic, now=time.time(), anchor=anchor, start=-HISTORY)
        return web.Response(text=text, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _banner(listen: str, prometheus: str, alertmanager: str, token: str) -> str:
    base = f"http://{listen}"
    auth = f"-H 'Authorization: Bearer {token}'"
    return f"""
slogate demo: Prometheus with 32 days of history on {prometheus}, slogate on {base},
paging an Alertmanager on {alertmanager}

Try:
  curl -s '{base}/v1/gate?service=checkout'          # allow: healthy
  curl -s '{base}/v1/gate?service=payments'          # deny: fast_burn
  curl -s '{base}/v1/gate?service=search'            # deny: budget_exhausted
  curl -s '{base}/v1/gate?service=catalog'           # warn: slow_burn
  curl -s '{base}/v1/gate?service=recommendations'   # warn: budget_low
  curl -s '{base}/v1/gate?service=notifications'     # warn: no_data
  curl -s '{base}/v1/gate?service=search&change_type=rollback'   # allow: exempted
  curl -s '{base}/v1/slos/payments/requests-availability'
  curl -s '{base}/metrics' | grep slogate_slo_burn_rate
  slogate status --url {base}
  slogate check --service payments --url {base}; echo "exit $?"

Canary analysis (checkout's canaries "good" and "bad" beside "stable", 1 request/s each):
  curl -s '{base}/v1/canary?service=checkout&canary=good&baseline=stable'  # pass
  curl -s '{base}/v1/canary?service=checkout&canary=bad&baseline=stable'   # fail: canary_regression
  slogate check --service checkout --canary bad --baseline stable --url {base}; echo "exit $?"

Paging (payments and search page, catalog and search open tickets):
  curl -s {base}/v1/incidents
  curl -s '{alertmanager}/api/v2/alerts?filter=sloth_severity="page"'

Release control (admin token for this demo: {token}):
  curl -s {auth} -X POST {base}/v1/freezes \\
       -d '{{"service": "checkout", "reason": "demo freeze", "duration": "1h"}}'
  curl -s '{base}/v1/gate?service=checkout'          # deny: frozen
  curl -s {auth} {base}/v1/freezes    # the manual freeze, and search's automatic halt
  curl -s '{base}/v1/decisions?limit=5'

Deployments and delivery figures (the status page at {base}/ draws them):
  curl -s {auth} -X POST {base}/v1/deployments \
       -d '{{"service": "search", "deploy_id": "s-1", "event": "started"}}'
  curl -s '{base}/v1/gate?service=search&deploy_id=s-1&step=canary'
  curl -s '{base}/v1/deployments/search/s-1'
  curl -s '{base}/v1/dora?service=checkout'

Ctrl-C stops slogate and Prometheus.
"""


async def _run(
    specs: Path,
    listen: str,
    prometheus_port: int,
    alertmanager_port: int,
    workdir: Path,
    interval: str,
) -> None:
    anchor = math.floor(time.time() / 60) * 60
    print(f"generating {HISTORY // DAY:.0f} days of history in {workdir} ...", flush=True)
    traffic = DEMO_TRAFFIC + DEMO_CANARIES
    await asyncio.to_thread(write_history, workdir, anchor, 0.0, traffic)
    exporter, exporter_port = await start_exporter(anchor, traffic)
    port = prometheus_port if _port_free(prometheus_port) else free_port()
    prometheus = LocalPrometheus(
        workdir,
        port,
        jobs={"slogate-demo": [f"127.0.0.1:{exporter_port}"], "slogate": [listen]},
    )
    alertmanager = LocalAlertmanager(
        workdir, alertmanager_port if _port_free(alertmanager_port) else None
    )
    await asyncio.to_thread(prometheus.start)
    try:
        await asyncio.to_thread(alertmanager.start)
        config = parse_config(
            "notifications:\n  sinks: [{name: alertmanager, type: alertmanager,"
            f" url: '{alertmanager.url}'}}]\n",
            "demo",
            {
                "prometheus.url": prometheus.url,
                "server.listen": listen,
                "evaluation.interval": interval,
                "store.path": str(workdir / "slogate.db"),
                "notifications.base_url": f"http://{listen}",
            },
        )
        token = os.environ.get(ENV_TOKEN) or f"demo-{secrets.token_hex(12)}"
        os.environ[ENV_TOKEN] = token
        ready = asyncio.Event()
        server = asyncio.create_task(serve(config, SpecSource(specs, LoadOptions()), ready=ready))
        await asyncio.wait(
            [server, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if not server.done():
            await backfill_deployments(f"http://{listen}", token)
            print(_banner(listen, prometheus.url, alertmanager.url, token), flush=True)
            print("Delivery (DORA), from backfilled deployments:", flush=True)
            print(await delivery_summary(f"http://{listen}"), flush=True)
        await server
    finally:
        alertmanager.stop()
        prometheus.stop()
        await exporter.cleanup()


def run_demo(
    *,
    specs: Path,
    listen: str,
    prometheus_port: int,
    alertmanager_port: int,
    workdir: Path | None,
    interval: str,
) -> int:
    if not specs.is_dir():
        print(
            f"slogate demo: no specs directory {specs} (run it from the repository root)",
            file=sys.stderr,
        )
        return 2
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(_run(specs, listen, prometheus_port, alertmanager_port, workdir, interval))
        return 0
    with tempfile.TemporaryDirectory(prefix="slogate-demo-") as tmp:
        asyncio.run(_run(specs, listen, prometheus_port, alertmanager_port, Path(tmp), interval))
    return 0
