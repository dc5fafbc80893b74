"""Deployments and the four DORA delivery figures (DESIGN §9). Pure.

A deployment is keyed by (service, deploy_id) and folded from events: `started`, `step` (a gate
call), and the terminal `succeeded`, `failed`, `rolled_back`. One never seen to finish becomes
`abandoned` after a while and counts neither as a success nor as a failure.

Figures per service over a window ending at `now`, over the deployments that *finished* in it:
- deployment frequency: finished deployments per day;
- lead time for changes: median of finished − commit_time (deployments that name a commit time);
- change failure rate: failed / finished, over distinct deployments (Four Keys' join of changes
  and incidents can count one deployment twice and exceed 100%; this cannot);
- time to restore: median duration of the resolved page incidents of the service opened in it.

A deployment failed when its outcome is `failed` or `rolled_back`, or when a page incident of
its service opened within `failure_window` after it finished. Each figure gets the band of one
DORA report (the year named: the bands move every year, `reference/dora.md` §4).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

DAY = 86_400.0
WEEK = 7 * DAY
MONTH = 30.4 * DAY
HALF_YEAR = 182.5 * DAY


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ABANDONED = "abandoned"


FINISHED = frozenset({Outcome.SUCCEEDED, Outcome.FAILED, Outcome.ROLLED_BACK})
FAILED = frozenset({Outcome.FAILED, Outcome.ROLLED_BACK})


class EventKind(StrEnum):
    STARTED = "started"
    STEP = "step"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


PIPELINE_EVENTS = (EventKind.STARTED, EventKind.SUCCEEDED, EventKind.FAILED, EventKind.ROLLED_BACK)
"""What a pipeline may report (`POST /v1/deployments`); steps come from gate calls."""


@dataclass(frozen=True, slots=True)
class Deployment:
    service: str
    deploy_id: str
    outcome: Outcome
    started_at: float | None
    finished_at: float | None
    updated_at: float
    version: str = ""
    commit_sha: str = ""
    commit_time: float | None = None
    source: str = ""

    @property
    def finished(self) -> bool:
        return self.outcome in FINISHED

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.deploy_id)


@dataclass(frozen=True, slots=True)
class DeploymentEvent:
    service: str
    deploy_id: str
    kind: EventKind
    at: float
    source: str
    version: str = ""
    commit_sha: str = ""
    commit_time: float | None = None
    step: str = ""
    decision_id: str = ""
    verdict: str = ""


@dataclass(frozen=True, slots=True)
class EventProblem:
    """Why an event cannot apply to a deployment (answered 400 naming `field`)."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class IncidentSpan:
    """One page or ticket incident of an SLO, as it was opened and (maybe) resolved."""

    id: int
    service: str
    slo: str
    severity: str
    opened_at: float
    resolved_at: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.opened_at


def event_problem(existing: Deployment | None, event: DeploymentEvent) -> EventProblem | None:
    """What makes `event` wrong for the deployment as it stands (None when it applies)."""
    started = existing.started_at if existing is not None else None
    if event.kind is EventKind.STARTED:
        finished = existing.finished_at if existing is not None else None
        if finished is not None and event.at > finished:
            return EventProblem("at", "started after the deployment finished")
        return None
    if event.kind is not EventKind.STEP and started is not None and event.at < started:
        return EventProblem("at", "finished before the deployment started")
    if event.commit_time is not None and event.commit_time > event.at:
        return EventProblem("commit_time", "commit_time is after the deployment event")
    return None


def _outcome(existing: Outcome | None, kind: EventKind) -> Outcome:
    """A failure or rollback wins over a success (a rolled back release did not succeed); a
    repeated event changes nothing."""
    if kind in (EventKind.STARTED, EventKind.STEP):
        return existing if existing in FINISHED else Outcome.IN_PROGRESS
    new = Outcome(kind.value)
    if existing in FAILED and new is Outcome.SUCCEEDED:
        return existing
    return new


STEP_REFRESH = 60.0
"""A step moves a deployment's `updated_at` (what abandonment looks at) at most once a minute:
a pipeline polling the gate every few seconds does not rewrite its deployment on each call."""


def apply_event(existing: Deployment | None, event: DeploymentEvent) -> Deployment:
    """The deployment after `event` (check `event_problem` first). Idempotent: applying the
    same event twice gives the same record."""
    base = existing or Deployment(
        event.service, event.deploy_id, Outcome.IN_PROGRESS, None, None, event.at
    )
    outcome = _outcome(existing.outcome if existing else None, event.kind)
    started = base.started_at
    if event.kind in (EventKind.STARTED, EventKind.STEP) or started is None:
        started = event.at if started is None else min(started, event.at)
    finished = base.finished_at
    if event.kind not in (EventKind.STARTED, EventKind.STEP) and outcome is Outcome(event.kind):
        finished = event.at if base.outcome is not outcome or finished is None else finished
    return replace(
        base,
        outcome=outcome,
        started_at=started,
        finished_at=finished,
        updated_at=_updated(base, existing is None, event),
        version=event.version or base.version,
        commit_sha=event.commit_sha or base.commit_sha,
        commit_time=event.commit_time if event.commit_time is not None else base.commit_time,
        source=base.source or event.source,
    )


def _updated(base: Deployment, new: bool, event: DeploymentEvent) -> float:
    if new or event.kind is not EventKind.STEP or event.at - base.updated_at >= STEP_REFRESH:
        return max(base.updated_at, event.at)
    return base.updated_at


def abandon(deployment: Deployment) -> Deployment:
    return replace(deployment, outcome=Outcome.ABANDONED)


# --- failures and incidents ---------------------------------------------------------------------


def caused_incidents(
    deployment: Deployment, incidents: Iterable[IncidentSpan], failure_window: float
) -> list[IncidentSpan]:
    """The page incidents of the deployment's service opened within `failure_window` after it
    finished: the ones it is taken to have caused."""
    end = deployment.finished_at
    if end is None or not deployment.finished:
        return []
    return [
        i
        for i in incidents
        if i.severity == "page"
        and i.service == deployment.service
        and end <= i.opened_at <= end + failure_window
    ]


def is_failed(
    deployment: Deployment, incidents: Iterable[IncidentSpan], failure_window: float
) -> bool:
    return deployment.outcome in FAILED or bool(
        caused_incidents(deployment, incidents, failure_window)
    )


# --- bands --------------------------------------------------------------------------------------


class Metric(StrEnum):
    DEPLOYMENT_FREQUENCY = "deployment_frequency"
    LEAD_TIME = "lead_time"
    CHANGE_FAILURE_RATE = "change_failure_rate"
    TIME_TO_RESTORE = "time_to_restore"


Limits = tuple[tuple[str, float], ...]
"""Bands best first, each with its limit: for deployment frequency the lowest rate (per day) it
takes, for the others the highest value. A value between two bands' ranges gets the worse one;
the last band takes everything past the others."""


@dataclass(frozen=True, slots=True)
class Bands:
    report_year: int
    limits: Mapping[Metric, Limits]

    def band(self, metric: Metric, value: float | None) -> str | None:
        if value is None:
            return None
        limits = self.limits[metric]
        for name, limit in limits[:-1]:
            better = value >= limit if metric is Metric.DEPLOYMENT_FREQUENCY else value <= limit
            if better:
                return name
        return limits[-1][0]


_INF = float("inf")
# From the reports' "how do we compare" tables (reference/dora.md §4). "On demand (multiple
# deploys per day)" is taken as at least one a day; "< 1 hour" as at most an hour.
BANDS: Mapping[int, Bands] = {
    2019: Bands(
        2019,
        {
            Metric.DEPLOYMENT_FREQUENCY: (
                ("elite", 1.0),
                ("high", 1 / 7),
                ("medium", 1 / 30.4),
                ("low", 0.0),
            ),
            Metric.LEAD_TIME: (("elite", DAY), ("high", WEEK), ("medium", MONTH), ("low", _INF)),
            Metric.TIME_TO_RESTORE: (("elite", 3600.0), ("high", DAY), ("low", _INF)),
            Metric.CHANGE_FAILURE_RATE: (("elite", 0.15), ("low", 1.0)),
        },
    ),
    2021: Bands(
        2021,
        {
            Metric.DEPLOYMENT_FREQUENCY: (
                ("elite", 1.0),
                ("high", 1 / 30.4),
                ("medium", 1 / 182.5),
                ("low", 0.0),
            ),
            Metric.LEAD_TIME: (
                ("elite", 3600.0),
                ("high", WEEK),
                ("medium", HALF_YEAR),
                ("low", _INF),
            ),
            Metric.TIME_TO_RESTORE: (
                ("elite", 3600.0),
                ("high", DAY),
                ("medium", WEEK),
                ("low", _INF),
            ),
            Metric.CHANGE_FAILURE_RATE: (("elite", 0.15), ("high", 0.30), ("low", 1.0)),
        },
    ),
    2022: Bands(
        2022,
        {
            Metric.DEPLOYMENT_FREQUENCY: (("high", 1.0), ("medium", 1 / 30.4), ("low", 0.0)),
            Metric.LEAD_TIME: (("high", WEEK), ("medium", MONTH), ("low", _INF)),
            Metric.TIME_TO_RESTORE: (("high", DAY), ("medium", WEEK), ("low", _INF)),
            Metric.CHANGE_FAILURE_RATE: (("high", 0.15), ("medium", 0.30), ("low", 1.0)),
        },
    ),
}
DEFAULT_REPORT_YEAR = 2021
"""The newest report whose four band tables are read from the report itself here."""


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    service: str
    window: float
    deployments: int
    failed: int
    deployment_frequency_per_day: float
    lead_time_seconds: float | None
    lead_time_samples: int
    change_failure_rate: float | None
    time_to_restore_seconds: float | None
    restored_incidents: int
    bands: Mapping[Metric, str | None]
    report_year: int


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def figures(
    service: str,
    deployments: Iterable[Deployment],
    incidents: Sequence[IncidentSpan],
    *,
    now: float,
    window: float,
    failure_window: float,
    bands: Bands,
) -> Figures:
    """The four figures of `service` over [`now` − `window`, `now`], the start rounded down to
    the minute (a backfill placed exactly `window` ago still counts a few seconds later)."""
    start = math.floor((now - window) / 60) * 60
    done = [
        d
        for d in deployments
        if d.service == service
        and d.finished
        and d.finished_at is not None
        and start <= d.finished_at <= now
    ]
    own = [i for i in incidents if i.service == service]
    failures = sum(1 for d in done if is_failed(d, own, failure_window))
    leads = [
        d.finished_at - d.commit_time
        for d in done
        if d.commit_time is not None and d.finished_at is not None
    ]
    restores = [
        i.duration
        for i in own
        if i.severity == "page" and i.duration is not None and start <= i.opened_at <= now
    ]
    frequency = len(done) / (window / DAY)
    rate = failures / len(done) if done else None
    lead = _median(leads)
    restore = _median([r for r in restores if r is not None])
    return Figures(
        service=service,
        window=window,
        deployments=len(done),
        failed=failures,
        deployment_frequency_per_day=frequency,
        lead_time_seconds=lead,
        lead_time_samples=len(leads),
        change_failure_rate=rate,
        time_to_restore_seconds=restore,
        restored_incidents=len(restores),
        bands={
            Metric.DEPLOYMENT_FREQUENCY: bands.band(Metric.DEPLOYMENT_FREQUENCY, frequency),
            Metric.LEAD_TIME: bands.band(Metric.LEAD_TIME, lead),
            Metric.CHANGE_FAILURE_RATE: bands.band(Metric.CHANGE_FAILURE_RATE, rate),
            Metric.TIME_TO_RESTORE: bands.band(Metric.TIME_TO_RESTORE, restore),
        },
        report_year=bands.report_year,
    )
