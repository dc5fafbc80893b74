"""The gate policy: from SLO statuses, freezes and exemptions to allow / warn / deny.

Pure: the caller passes the statuses from the current snapshot, the overrides, and `now`.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from slogate.core.budget import condition_firing
from slogate.core.durations import format_duration
from slogate.core.model import SLO
from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.core.snapshot import SLOStatus
from slogate.core.windows import BurnWindow


class Verdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    DENY = "deny"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def allows(self) -> bool:
        return self is not Verdict.DENY


_RANK = {Verdict.ALLOW: 0, Verdict.WARN: 1, Verdict.DENY: 2}


class ReasonCode(StrEnum):
    BUDGET_EXHAUSTED = "budget_exhausted"
    FAST_BURN = "fast_burn"
    SLOW_BURN = "slow_burn"
    BUDGET_LOW = "budget_low"
    NO_DATA = "no_data"
    STALE_DATA = "stale_data"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    FROZEN = "frozen"
    EXEMPTED = "exempted"


class FailMode(StrEnum):
    CLOSED = "closed"
    """Stale data or a down backend denies releases."""
    OPEN = "open"
    """Stale data or a down backend only warns."""


FAILURE_CODES = frozenset({ReasonCode.STALE_DATA, ReasonCode.BACKEND_UNAVAILABLE})


@dataclass(frozen=True, slots=True)
class Policy:
    """What blocks a release of one SLO's service."""

    deny: frozenset[ReasonCode] = frozenset(
        {ReasonCode.BUDGET_EXHAUSTED, ReasonCode.FAST_BURN, ReasonCode.FROZEN}
    )
    warn: frozenset[ReasonCode] = frozenset(
        {ReasonCode.SLOW_BURN, ReasonCode.BUDGET_LOW, ReasonCode.NO_DATA}
    )
    budget_low_threshold: float = 0.25
    max_staleness: float = 90.0
    fail_mode: FailMode = FailMode.CLOSED
    exempt_change_types: frozenset[str] = frozenset({"rollback", "security"})
    recovery_threshold: float = 0.05

    def verdict_for(self, code: ReasonCode) -> Verdict:
        if code in FAILURE_CODES:
            return Verdict.DENY if self.fail_mode is FailMode.CLOSED else Verdict.WARN
        if code in self.deny:
            return Verdict.DENY
        if code in self.warn:
            return Verdict.WARN
        return Verdict.ALLOW


@dataclass(frozen=True, slots=True)
class Reason:
    slo: str
    code: ReasonCode
    message: str
    verdict: Verdict = Verdict.ALLOW


@dataclass(frozen=True, slots=True)
class GateRequest:
    service: str
    slo: str = ""
    deploy_id: str = ""
    step: str = ""
    change_type: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    exemption: Exemption | None = field(default=None)


def _num(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.3g}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _condition_message(status: SLOStatus, condition: BurnWindow) -> str:
    rates = status.burn_rates
    long_rate = rates.get(condition.long_window) or 0.0
    short_rate = rates.get(condition.short_window) or 0.0
    return (
        f"burn rate {_num(long_rate)} over {format_duration(condition.long_window)} and"
        f" {_num(short_rate)} over {format_duration(condition.short_window)}"
        f" exceeds {condition.burn_factor:g}"
    )


def _firing(status: SLOStatus, conditions: Iterable[BurnWindow]) -> BurnWindow | None:
    for condition in conditions:
        if condition_firing(condition, status.error_ratios, status.slo.error_budget):
            return condition
    return None


def freshness_reason(status: SLOStatus, policy: Policy, now: float) -> Reason | None:
    """`stale_data` or `backend_unavailable` once the figures are older than the policy allows.
    The message names the limit, not the age (each SLO's answer has its `data_age_seconds`): it
    stays true as the figures age, so a stale outcome is decided once per snapshot."""
    slo = status.slo.name
    age = status.age(now)
    if age is not None and age <= policy.max_staleness:
        return None
    limit = format_duration(policy.max_staleness)
    if status.error:
        since = "never evaluated" if age is None else f"no fresh data for over {limit}"
        code, message = ReasonCode.BACKEND_UNAVAILABLE, f"{since}: {status.error}"
    elif age is None:
        code, message = ReasonCode.STALE_DATA, "not evaluated yet"
    else:
        code, message = ReasonCode.STALE_DATA, f"data is older than {limit}"
    return Reason(slo, code, message, policy.verdict_for(code))


def slo_reasons(status: SLOStatus, policy: Policy, now: float) -> list[Reason]:
    """Every reason one SLO gives to hold a release back, each with its policy verdict."""
    if (stale := freshness_reason(status, policy, now)) is not None:
        return [stale]
    key = ("reasons", policy)  # the rest depends only on the figures: once per status
    cached: list[Reason] | None = status.memo.get(key)
    if cached is None:
        cached = status.memo[key] = _figure_reasons(status, policy)
    return list(cached)


def _figure_reasons(status: SLOStatus, policy: Policy) -> list[Reason]:
    slo = status.slo
    found: list[tuple[ReasonCode, str]] = []
    remaining = status.error_budget_remaining
    period = format_duration(slo.period)
    if remaining is None:
        found.append((ReasonCode.NO_DATA, f"no events in the last {period}: the SLI has no data"))
    elif remaining <= 0:
        found.append(
            (
                ReasonCode.BUDGET_EXHAUSTED,
                f"error budget exhausted: {_pct(remaining)} left over {period}",
            )
        )
    elif remaining < policy.budget_low_threshold:
        found.append(
            (
                ReasonCode.BUDGET_LOW,
                f"error budget low: {_pct(remaining)} left over {period}"
                f" (threshold {_pct(policy.budget_low_threshold)})",
            )
        )
    windows = slo.windows
    if (page := _firing(status, (windows.page_quick, windows.page_slow))) is not None:
        found.append((ReasonCode.FAST_BURN, _condition_message(status, page)))
    elif (ticket := _firing(status, (windows.ticket_quick, windows.ticket_slow))) is not None:
        found.append((ReasonCode.SLOW_BURN, _condition_message(status, ticket)))
    return [Reason(slo.name, code, msg, policy.verdict_for(code)) for code, msg in found]


def freeze_reason(freeze: Freeze, policy: Policy) -> Reason:
    who = "slogate" if freeze.kind is FreezeKind.SYSTEM else freeze.created_by
    scope = "all services" if freeze.service == "*" else freeze.service
    message = f"release freeze on {scope} by {who}: {freeze.reason}"
    return Reason(freeze.slo, ReasonCode.FROZEN, message, policy.verdict_for(ReasonCode.FROZEN))


def decide(
    request: GateRequest,
    statuses: Sequence[SLOStatus],
    policy_for: Callable[[SLO | None], Policy],
    now: float,
    freezes: Iterable[Freeze] = (),
    exemptions: Iterable[Exemption] = (),
) -> Outcome:
    """The gate's verdict for one release step of `request.service`."""
    reasons: list[Reason] = []
    for status in statuses:
        reasons.extend(slo_reasons(status, policy_for(status.slo), now))
    service_policy = policy_for(None)
    active_freezes = [f for f in freezes if f.active(now) and f.covers(request.service)]
    reasons.extend(freeze_reason(f, service_policy) for f in active_freezes)
    verdict = max((r.verdict for r in reasons), key=lambda v: v.rank, default=Verdict.ALLOW)
    if verdict is not Verdict.DENY:
        return Outcome(verdict, tuple(reasons))
    exemption = next(
        (
            e
            for e in exemptions
            if e.active(now) and e.matches(request.service, request.change_type, request.deploy_id)
        ),
        None,
    )
    if exemption is not None:
        message = f"exemption {exemption.id} by {exemption.created_by}: {exemption.reason}"
    elif request.change_type and request.change_type in service_policy.exempt_change_types:
        if any(f.kind is FreezeKind.MANUAL for f in active_freezes):
            return Outcome(verdict, tuple(reasons))
        message = f"change type {request.change_type!r} is exempt from error-budget denials"
    else:
        return Outcome(verdict, tuple(reasons))
    exempted = Reason(request.slo, ReasonCode.EXEMPTED, message, Verdict.ALLOW)
    return Outcome(Verdict.ALLOW, (*reasons, exempted), exemption)


def valid_until(
    statuses: Sequence[SLOStatus],
    policy_for: Callable[[SLO | None], Policy],
    now: float,
    freezes: Iterable[Freeze] = (),
    exemptions: Iterable[Exemption] = (),
) -> float:
    """Until when `decide` gives what it gives at `now` (verdict, reasons, messages) for the same
    request, statuses and overrides: the first moment an SLO's figures turn stale or an active
    freeze or exemption ends. A stale SLO stays stale (until the next snapshot), as does one
    never evaluated."""
    until = math.inf
    for status in statuses:
        if status.evaluated_at is None:
            continue  # "never evaluated" stays true
        policy = policy_for(status.slo)
        if freshness_reason(status, policy, now) is None:
            until = min(until, status.evaluated_at + policy.max_staleness)
    for freeze in freezes:
        if freeze.until is not None and now < freeze.until:
            until = min(until, freeze.until)
    for exemption in exemptions:
        if now < exemption.until:
            until = min(until, exemption.until)
    return until


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """Policy fields that differ for the services (and SLOs) matching the globs."""

    service: str
    slo: str
    changes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The default policy and selector-keyed overrides (later rules win)."""

    default: Policy = field(default_factory=Policy)
    rules: tuple[PolicyRule, ...] = ()

    def for_slo(self, service: str, slo: str = "") -> Policy:
        """The policy of `service`'s SLO `slo` ("" for the service as a whole)."""
        policy = self.default
        for rule in self.rules:
            if fnmatch.fnmatchcase(service, rule.service) and (
                rule.slo == "*" or (slo and fnmatch.fnmatchcase(slo, rule.slo))
            ):
                policy = replace(policy, **rule.changes)
        return policy

    def resolver(self, service: str) -> Callable[[SLO | None], Policy]:
        """`policy_for` for `policy.decide`: per SLO, or the service's own for `None`."""
        return lambda slo: self.for_slo(service, slo.name if slo else "")
