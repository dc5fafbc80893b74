"""The status page in headless Chromium (Debian's package): it renders the demo's SLOs, and a
screenshot is kept as a test artifact in test-artifacts/."""

from __future__ import annotations

import asyncio
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
