"""Deployments folded from events, and the DORA figures with exact numbers."""

from __future__ import annotations

import statistics

import pytest

from slogate.core.dora import (
    BANDS,
    DAY,
    Deployment,
    DeploymentEvent,
    EventKind,
    IncidentSpan,
    Metric,
    Outcome,
    apply_event,
    caused_incidents,
    event_problem,
    figures,
)

T = 1_800_000_000.0
HOUR = 3600.0


def event(kind: EventKind, at: float, deploy_id: str = "d1", **extra: object) -> DeploymentEvent:
    return DeploymentEvent("shop", deploy_id, kind, at, "api", **extra)  # type: ignore[arg-type]


def fold(*events: DeploymentEvent) -> Deployment:
    current: Deployment | None = None
    for e in events:
        assert event_problem(current, e) is None
        current = apply_event(current, e)
    assert current is not None
    return current


def test_a_deployment_is_folded_from_its_events() -> None:
    d = fold(
        event(EventKind.STARTED, T, version="1.2.0", commit_sha="abc", commit_time=T - 7200),
        event(EventKind.STEP, T + 60, step="canary/10"),
        event(EventKind.SUCCEEDED, T + 600),
    )
    assert (d.outcome, d.started_at, d.finished_at, d.updated_at) == (
        Outcome.SUCCEEDED,
        T,
        T + 600,
        T + 600,
    )
    assert (d.version, d.commit_sha, d.commit_time) == ("1.2.0", "abc", T - 7200)


def test_repeating_an_event_changes_nothing() -> None:
    once = fold(event(EventKind.STARTED, T), event(EventKind.SUCCEEDED, T + 600))
    twice = fold(
        event(EventKind.STARTED, T),
        event(EventKind.SUCCEEDED, T + 600),
        event(EventKind.STARTED, T),
        event(EventKind.SUCCEEDED, T + 600),
    )
    assert once == twice


def test_a_rollback_after_success_wins_and_a_late_success_does_not_undo_it() -> None:
    d = fold(
        event(EventKind.STARTED, T),
        event(EventKind.SUCCEEDED, T + 600),
        event(EventKind.ROLLED_BACK, T + 900),
        event(EventKind.SUCCEEDED, T + 1000),
    )
    assert (d.outcome, d.finished_at) == (Outcome.ROLLED_BACK, T + 900)


def test_a_backfilled_terminal_event_alone_starts_and_finishes_the_deployment() -> None:
    d = fold(event(EventKind.SUCCEEDED, T))
    assert (d.outcome, d.started_at, d.finished_at) == (Outcome.SUCCEEDED, T, T)


def test_finishing_before_starting_is_refused_naming_the_field() -> None:
    started = apply_event(None, event(EventKind.STARTED, T))
    problem = event_problem(started, event(EventKind.SUCCEEDED, T - 1))
    assert problem is not None and problem.field == "at"
    assert "before" in problem.message
    late = event_problem(started, event(EventKind.SUCCEEDED, T + 5, commit_time=T + 10))
    assert late is not None and late.field == "commit_time"


def test_a_step_keeps_a_finished_deployment_finished() -> None:
    d = fold(event(EventKind.SUCCEEDED, T), event(EventKind.STEP, T + 10, step="late"))
    assert d.outcome is Outcome.SUCCEEDED and d.finished_at == T


def held_out() -> list[Deployment]:
    """Ten deployments over five days, the 4th and the 8th rolled back, each commit two hours
    before its deployment started, each taking ten minutes."""
    found = []
    for n in range(10):
        start = T - 5 * DAY + n * 12 * HOUR
        end = EventKind.ROLLED_BACK if n in (3, 7) else EventKind.SUCCEEDED
        found.append(
            fold(
                event(EventKind.STARTED, start, f"d{n}", commit_time=start - 2 * HOUR),
                event(end, start + 600, f"d{n}"),
            )
        )
    return found


def test_held_out_ten_deployments_two_rolled_back_over_five_days() -> None:
    got = figures(
        "shop",
        held_out(),
        [],
        now=T,
        window=5 * DAY,
        failure_window=HOUR,
        bands=BANDS[2021],
    )
    assert (got.deployments, got.failed) == (10, 2)
    assert got.deployment_frequency_per_day == 2.0
    assert got.change_failure_rate == 0.2
    assert got.lead_time_seconds == 2 * HOUR + 600
    assert got.lead_time_samples == 10
    assert got.time_to_restore_seconds is None and got.restored_incidents == 0
    assert got.report_year == 2021
    assert got.bands == {
        Metric.DEPLOYMENT_FREQUENCY: "elite",  # at least daily
        Metric.LEAD_TIME: "high",  # over an hour, under a week
        Metric.CHANGE_FAILURE_RATE: "high",  # 16-30%
        Metric.TIME_TO_RESTORE: None,
    }
    over_30_days = figures(
        "shop", held_out(), [], now=T, window=30 * DAY, failure_window=HOUR, bands=BANDS[2021]
    )
    assert over_30_days.deployment_frequency_per_day == pytest.approx(10 / 30)
    assert over_30_days.bands[Metric.DEPLOYMENT_FREQUENCY] == "high"


def test_a_page_incident_soon_after_a_deployment_fails_it_once_however_many() -> None:
    deployments = held_out()
    first_end = deployments[0].finished_at
    assert first_end is not None
    incidents = [  # two pages after the first deployment: one failure, not two (Four Keys: two)
        IncidentSpan(1, "shop", "availability", "page", first_end + 600, first_end + 600 + 1800),
        IncidentSpan(2, "shop", "latency", "page", first_end + 1200, first_end + 1200 + 5400),
        # a ticket, another service's page, and a page past the failure window: no failure
        IncidentSpan(3, "shop", "availability", "ticket", first_end + 60, first_end + 120),
        IncidentSpan(4, "cart", "availability", "page", first_end + 60, first_end + 120),
        IncidentSpan(5, "shop", "availability", "page", first_end + 2 * HOUR, None),
    ]
    got = figures(
        "shop",
        deployments,
        incidents,
        now=T,
        window=5 * DAY,
        failure_window=HOUR,
        bands=BANDS[2021],
    )
    assert (got.deployments, got.failed, got.change_failure_rate) == (10, 3, 0.3)
    assert [i.id for i in caused_incidents(deployments[0], incidents, HOUR)] == [1, 2]
    assert got.time_to_restore_seconds == statistics.median([1800, 5400]) == 3600
    assert got.restored_incidents == 2
    assert got.bands[Metric.TIME_TO_RESTORE] == "elite"  # at most an hour
    assert got.bands[Metric.CHANGE_FAILURE_RATE] == "high"


def test_a_deployment_exactly_one_window_ago_still_counts_seconds_later() -> None:
    at_start = fold(event(EventKind.SUCCEEDED, T - 5 * DAY, "first"))
    later = figures(
        "shop", [at_start], [], now=T + 30, window=5 * DAY, failure_window=HOUR, bands=BANDS[2021]
    )
    assert later.deployments == 1
    too_old = fold(event(EventKind.SUCCEEDED, T - 5 * DAY - 61, "older"))
    got = figures(
        "shop", [too_old], [], now=T, window=5 * DAY, failure_window=HOUR, bands=BANDS[2021]
    )
    assert got.deployments == 0


def test_only_deployments_finished_in_the_window_count() -> None:
    in_progress = fold(event(EventKind.STARTED, T - HOUR, "running"))
    abandoned = Deployment("shop", "gone", Outcome.ABANDONED, T - DAY, None, T - DAY)
    old = fold(event(EventKind.SUCCEEDED, T - 40 * DAY, "old"))
    other = Deployment("cart", "c", Outcome.SUCCEEDED, T - HOUR, T - HOUR, T - HOUR)
    got = figures(
        "shop",
        [in_progress, abandoned, old, other],
        [],
        now=T,
        window=30 * DAY,
        failure_window=HOUR,
        bands=BANDS[2019],
    )
    assert (got.deployments, got.failed, got.deployment_frequency_per_day) == (0, 0, 0.0)
    assert got.change_failure_rate is None and got.lead_time_seconds is None
    assert got.bands[Metric.DEPLOYMENT_FREQUENCY] == "low"
    assert got.bands[Metric.CHANGE_FAILURE_RATE] is None


@pytest.mark.parametrize(
    ("year", "metric", "value", "band"),
    [
        (2019, Metric.DEPLOYMENT_FREQUENCY, 1.0, "elite"),
        (2019, Metric.DEPLOYMENT_FREQUENCY, 0.5, "high"),
        (2019, Metric.DEPLOYMENT_FREQUENCY, 1 / 10, "medium"),
        (2019, Metric.DEPLOYMENT_FREQUENCY, 1 / 60, "low"),
        (2019, Metric.LEAD_TIME, 23 * HOUR, "elite"),
        (2019, Metric.LEAD_TIME, 3 * DAY, "high"),
        (2019, Metric.LEAD_TIME, 20 * DAY, "medium"),
        (2019, Metric.LEAD_TIME, 90 * DAY, "low"),
        (2019, Metric.CHANGE_FAILURE_RATE, 0.15, "elite"),
        (2019, Metric.CHANGE_FAILURE_RATE, 0.2, "low"),  # 16-45% is no 2019 band: the worse
        (2019, Metric.TIME_TO_RESTORE, 2 * DAY, "low"),
        (2021, Metric.LEAD_TIME, 1800.0, "elite"),
        (2021, Metric.LEAD_TIME, 2 * HOUR, "high"),  # between < 1 h and 1 d-1 w: the worse
        (2021, Metric.LEAD_TIME, 60 * DAY, "medium"),
        (2021, Metric.LEAD_TIME, 200 * DAY, "low"),
        (2021, Metric.TIME_TO_RESTORE, 3 * DAY, "medium"),
        (2021, Metric.CHANGE_FAILURE_RATE, 0.31, "low"),
        (2022, Metric.DEPLOYMENT_FREQUENCY, 3.0, "high"),
        (2022, Metric.DEPLOYMENT_FREQUENCY, 1 / 7, "medium"),
        (2022, Metric.CHANGE_FAILURE_RATE, 0.25, "medium"),
        (2022, Metric.LEAD_TIME, 2 * HOUR, "high"),
    ],
)
def test_bands_by_report_year(year: int, metric: Metric, value: float, band: str) -> None:
    assert BANDS[year].band(metric, value) == band
