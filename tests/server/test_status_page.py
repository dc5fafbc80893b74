"""The status page's HTML (pure rendering)."""

from __future__ import annotations

from slogate.core.overrides import Freeze
from slogate.core.policy import Policy
from slogate.core.snapshot import SLOStatus
from slogate.server.status_page import render_index, render_slo
from tests.factories import make_slo

NOW = 1_800_000_000.0


def make(service: str, ratio: float | None, description: str = "") -> SLOStatus:
    slo = make_slo(service, description=description)
    return SLOStatus(slo, {w: ratio for w in slo.windows.windows}, NOW - 5, NOW - 5)


def policy(_service: str, _slo: str) -> Policy:
    return Policy()


def test_index_lists_slos_worst_first_with_gate_state() -> None:
    statuses = [make("healthy", 0.0001), make("burning", 0.05), make("quiet", None)]
    html = render_index(statuses, policy, [], NOW)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert html.index(">burning<") < html.index(">healthy<") < html.index(">quiet<")
    assert '<span class="deny">deny</span>' in html and "fast_burn" in html
    assert "90.0%" in html  # healthy: 0.01% vs 0.1% budget
    assert "no data" in html
    assert '<p class="muted">none</p>' in html  # no freezes


def test_freezes_and_escaping() -> None:
    freeze = Freeze("f1", "healthy", "<b>incident</b> & more", NOW - 60, "alice")
    html = render_index([make("healthy", 0.0001)], policy, [freeze], NOW)
    assert "&lt;b&gt;incident&lt;/b&gt; &amp; more" in html and "<b>incident" not in html
    assert "frozen" in html


def test_slo_page_shows_every_window_and_condition() -> None:
    html = render_slo(make("burning", 0.05, "<i>checkout</i>"), Policy(), [], NOW)
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert f"<td>{window}</td>" in html
    assert "<td>page (quick)</td><td>5m, 1h</td><td>14.4</td>" in html
    assert "&lt;i&gt;checkout&lt;/i&gt;" in html
    assert "fast_burn: burn rate 50.0 over 1h and 50.0 over 5m exceeds 14.4" in html
