"""The status page in headless Chromium (Debian's package): it renders the demo's SLOs, and a
screenshot is kept as a test artifact in test-artifacts/."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from ..conftest import ROOT
from ..tools import require_tool
from .conftest import History
from .helpers import running_slogate

ARTIFACTS = ROOT / "test-artifacts"


async def chromium(url: str, profile: Path, *args: str) -> str:
    binary = require_tool("chromium", "chromium-browser")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def test_status_page_renders_in_chromium(history: History, tmp_path: Path) -> None:
    async with running_slogate(history.url) as slogate:
        await slogate.http.post(
            "/v1/freezes",
            json={"service": "checkout", "reason": "browser test"},
            headers=slogate.admin,
        )
        dom = await chromium(f"{slogate.url}/", tmp_path / "profile", "--dump-dom")
        for service in (
            "checkout",
            "payments",
            "search",
            "catalog",
            "recommendations",
            "notifications",
        ):
            assert f"<td>{service}</td>" in dom
        assert dom.count('<tr class="slo">') == 6
        assert '<span class="deny">deny</span>' in dom and "browser test" in dom
        detail = await chromium(
            f"{slogate.url}/slos/payments/requests-availability", tmp_path / "p2", "--dump-dom"
        )
        assert "payments / requests-availability" in detail and "fast_burn" in detail
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "status-page.png"
        shot.unlink(missing_ok=True)
        await chromium(
            f"{slogate.url}/",
            tmp_path / "p3",
            f"--screenshot={shot}",
            "--window-size=1400,900",
            "--hide-scrollbars",
        )
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 10_000


PLOT_LEFT, PLOT_WIDTH = 56, 900 - 56 - 16  # core.charts.Axis defaults
MARK = re.compile(r'<(?:g|rect) class="mark ([a-z-]+)" data-at="([^"]+)"(?: x="([\d.]+)")?')
TICK_X = re.compile(r'<line x1="([\d.]+)"')


def marks_in(svg: str) -> list[tuple[str, float, float]]:
    """(kind, time, x) of every mark of one chart."""
    found = []
    for match in MARK.finditer(svg):
        kind, at = match.group(1), datetime.fromisoformat(match.group(2)).timestamp()
        x = match.group(3)
        if x is None:  # a tick: its x is its line's
            line = TICK_X.search(svg, match.end())
            assert line is not None
            x = line.group(1)
        found.append((kind, at, float(x)))
    return found


def chart(dom: str, chart_id: str) -> str:
    start = dom.index(f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}"')
    return dom[start : dom.index("</svg>", start)]


async def test_status_pictures_mark_a_known_history(history: History, tmp_path: Path) -> None:
    async with running_slogate(history.url) as slogate:
        now = time.time()
        shipped = [(now - 6 * 3600, "succeeded"), (now - 3 * 3600, "rolled_back")]
        for n, (at, outcome) in enumerate(shipped):
            started = datetime.fromtimestamp(at - 600, UTC).isoformat()
            finished = datetime.fromtimestamp(at, UTC).isoformat()
            common = {"service": "checkout", "deploy_id": f"v{n}"}
            for event, when in (("started", started), (outcome, finished)):
                response = await slogate.http.post(
                    "/v1/deployments",
                    json={**common, "event": event, "at": when, "commit_time": started},
                    headers=slogate.admin,
                )
                assert response.status_code == 200, response.text
        freeze = await slogate.http.post(
            "/v1/freezes",
            json={"service": "checkout", "reason": "pictures test"},
            headers=slogate.admin,
        )
        frozen_at = time.time()
        assert freeze.status_code == 201
        _, answer = await slogate.gate(service="checkout")
        assert answer["decision"] == "deny"
        await slogate.engine.run_cycle()  # the delivery figures follow the new deployments

        detail = await chromium(
            f"{slogate.url}/slos/checkout/requests-availability", tmp_path / "p1", "--dump-dom"
        )
        burn = chart(detail, "burn-checkout-requests-availability")
        assert 'role="img"' in burn and "<title" in burn and "<desc" in burn
        assert 'data-series="5m"' in burn and 'data-series="1h"' in burn
        seen = marks_in(burn)
        kinds = sorted(kind for kind, _, _ in seen)
        assert kinds == ["denial", "deployment", "failed-deployment", "freeze"]
        for kind, at, x in seen:  # each mark sits at its time on the 24 h axis
            expected_at = {
                "deployment": shipped[0][0],
                "failed-deployment": shipped[1][0],
                "freeze": frozen_at,
                "denial": frozen_at,
            }[kind]
            assert abs(at - expected_at) < 5, kind
            expected_x = PLOT_LEFT + (expected_at - (now - 86_400)) / 86_400 * PLOT_WIDTH
            assert abs(x - expected_x) < 1.0, (kind, x, expected_x)
        budget = chart(detail, "budget-checkout-requests-availability")
        assert "Error budget left of checkout/requests-availability over 30d" in budget
        assert "Marked: 1 gate denial, 1 deployment, 1 failed deployment, 1 freeze." in detail

        index = await chromium(f"{slogate.url}/", tmp_path / "p2", "--dump-dom")
        assert index.count('<svg xmlns="http://www.w3.org/2000/svg" class="sparkline"') == 6
        assert "Error budget left of payments/requests-availability over 30d" in index
        assert "Delivery over the last 30d; bands of the DORA 2021 report" in index
        assert "<td>2 (1 failed)</td>" in index

        ARTIFACTS.mkdir(exist_ok=True)
        for name, url, size in (
            ("status-index.png", f"{slogate.url}/", "1400,1100"),
            ("status-slo.png", f"{slogate.url}/slos/checkout/requests-availability", "1100,1300"),
        ):
            shot = ARTIFACTS / name
            shot.unlink(missing_ok=True)
            await chromium(
                url,
                tmp_path / name,
                f"--screenshot={shot}",
                f"--window-size={size}",
                "--hide-scrollbars",
            )
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
