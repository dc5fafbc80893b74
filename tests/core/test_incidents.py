"""Which incidents should be open, from SLO statuses (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from slogate.core.incidents import Severity, desired_incidents, incident_from_json, incident_to_json
from slogate.core.model import AlertMeta, frozen_labels
from slogate.core.snapshot import SLOStatus
from slogate.core.windows import DAY
from tests.factories import make_slo

NOW = 1_800_000_000.0
SLO_ = make_slo(
    alert_name="ApiBurn",
    page_alert=AlertMeta(False, frozen_labels({"severity": "critical", "team": "a"})),
    ticket_alert=AlertMeta(False, frozen_labels({"severity": "warning"})),
)
WINDOWS = SLO_.windows.windows


def status(
    ratio: float | None,
    overrides: dict[float, float | None] | None = None,
    error: str | None = None,
) -> SLOStatus:
    ratios = {w: ratio for w in WINDOWS} | (overrides or {})
    if error:
        return SLOStatus(SLO_, ratios, NOW - 60, NOW, error)
    return SLOStatus(SLO_, ratios, NOW, NOW)


def severities(wanted: Mapping[tuple[str, Severity], object]) -> set[Severity]:
    return {severity for (_, severity) in wanted}


def test_fast_burn_pages_with_the_specs_labels() -> None:
    wanted = desired_incidents([status(0.0001, {300: 0.05, 3600: 0.05})], set(), set())
    page = wanted[("api-availability", Severity.PAGE)]
    assert page is not None
    assert page.labels["alertname"] == "ApiBurn"
    assert page.labels["severity"] == "critical"  # the spec's routing label wins
    assert page.labels["sloth_severity"] == "page" and page.labels["team"] == "a"
    assert page.dedup_key == "slogate/api-availability/page"
    assert severities(wanted) == {Severity.PAGE}


def test_slow_burn_tickets_only() -> None:
    wanted = desired_incidents([status(0.0001, {21600: 0.002, 3 * DAY: 0.002})], set(), set())
    assert severities(wanted) == {Severity.TICKET}


def test_exhaustion_pages_and_stays_open_while_halted() -> None:
    assert severities(desired_incidents([status(0.0012, {21600: 0.0001})], set(), set())) == {
        Severity.PAGE
    }
    recovering = status(0.00097, {21600: 0.0001})  # 3% left: no longer exhausted
    assert desired_incidents([recovering], set(), set()) == {}
    still_halted = desired_incidents([recovering], {("api", "availability")}, set())
    assert severities(still_halted) == {Severity.PAGE}


def test_missing_data_keeps_open_incidents_without_new_content() -> None:
    open_keys = {("api-availability", Severity.PAGE)}
    wanted = desired_incidents([status(0.0, error="backend down")], set(), open_keys)
    assert wanted == {("api-availability", Severity.PAGE): None}
    assert desired_incidents([status(None)], set(), set()) == {}


def test_open_incidents_still_burning_are_kept_without_being_rebuilt() -> None:
    burning = status(0.0001, {300: 0.05, 3600: 0.05})
    open_keys = {("api-availability", Severity.PAGE)}
    assert desired_incidents([burning], set(), open_keys) == {
        ("api-availability", Severity.PAGE): None
    }
    [built] = desired_incidents([burning], set(), set()).values()
    assert built is not None and built.severity is Severity.PAGE


def test_incident_round_trips_through_json() -> None:
    wanted = desired_incidents([status(0.0001, {300: 0.05, 3600: 0.05})], set(), set(), "http://g")
    page = wanted[("api-availability", Severity.PAGE)]
    assert page is not None
    assert incident_from_json(incident_to_json(page)) == page
    assert page.link == "http://g/v1/slos/api/availability"
