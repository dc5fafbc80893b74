"""The demo's delivery history: deployments backfilled through slogate's own API, so that the
delivery figures (`/v1/dora`, the status page, Grafana) have something to show.

checkout ships twice a day for five days (two of ten rolled back, each commit two hours before
its release); payments shipped 20 minutes ago, and the page incident slogate opens for its fast
burn marks that release failed (it opened within `dora.failure_window` after it).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

HOUR = 3600.0
DAY = 86_400.0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def demo_events(now: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(10):
        start = now - 5 * DAY + HOUR + n * 12 * HOUR
        common = {
            "service": "checkout",
            "deploy_id": f"checkout-{n + 1}",
            "version": f"1.{n}.0",
            "commit_sha": f"c0ffee{n}",
        }
        events.append(
            {**common, "event": "started", "at": _iso(start), "commit_time": _iso(start - 2 * HOUR)}
        )
        outcome = "rolled_back" if n in (3, 7) else "succeeded"
        events.append({**common, "event": outcome, "at": _iso(start + 15 * 60)})
    release = {"service": "payments", "deploy_id": "payments-42", "version": "4.2.0"}
    events.append(
        {**release, "event": "started", "at": _iso(now - 25 * 60), "commit_time": _iso(now - DAY)}
    )
    events.append({**release, "event": "succeeded", "at": _iso(now - 20 * 60)})
    return events


async def backfill_deployments(base_url: str, token: str) -> None:
    """Post the demo's deployments (backfill needs the admin token)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        for event in demo_events(time.time()):
            response = await http.post(
                "/v1/deployments", json=event, headers={"Authorization": f"Bearer {token}"}
            )
            response.raise_for_status()


async def delivery_summary(base_url: str) -> str:
    """The delivery figures of the demo's services, as lines of text."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        body = (await http.get("/v1/dora", params={"window": "30d"})).json()
    lines = []
    for f in body["services"]:
        if not f["deployments"]:
            continue
        bands = f["bands"]
        lead = f["lead_time_seconds"]
        rate = f["change_failure_rate"]
        plural = "s" if f["deployments"] != 1 else ""
        lines.append(
            f"  {f['service']:<10} {f['deployments']} deployment{plural}"
            f" ({f['failed']} failed) in 30d:"
            f" {f['deployment_frequency_per_day']:.2f}/day [{bands['deployment_frequency']}],"
            f" lead time {'n/a' if lead is None else f'{lead / HOUR:.2f} h'}"
            f" [{bands['lead_time']}],"
            f" change failure rate {'n/a' if rate is None else f'{rate:.0%}'}"
            f" [{bands['change_failure_rate']}] (DORA {bands['report_year']} bands)"
        )
    return "\n".join(lines)
