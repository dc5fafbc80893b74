"""JSON views of statuses and decisions: the field names of the HTTP contract (DESIGN §4).

Numbers are finite or null, never NaN; times are RFC 3339 UTC; windows are Prometheus durations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, overload

from slogate.core.durations import format_duration
from slogate.core.gate import Decision
from slogate.core.overrides import Exemption, Freeze
from slogate.core.policy import Policy
from slogate.core.snapshot import SLOStatus

_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def encode(body: Any) -> str:
    """Compact JSON; NaN or Infinity is an error, never an answer."""
    return _ENCODER.encode(body)


_second: tuple[int, str] = (0, "1970-01-01T00:00:00")


@overload
def rfc3339(ts: float) -> str: ...
@overload
def rfc3339(ts: None) -> None: ...
@overload
def rfc3339(ts: float | None) -> str | None: ...


def rfc3339(ts: float | None) -> str | None:
    """`ts` to the millisecond, UTC, as `datetime.isoformat` would (microseconds rounded half
    to even, then truncated); the date and time of day formatted once per second, as every
    gate answer carries one."""
    global _second
    if ts is None:
        return None
    seconds = math.floor(ts)
    micros = round((ts - seconds) * 1e6)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    if seconds != _second[0]:
        _second = (seconds, datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{micros // 1000:03d}Z"


def number(value: float | None, digits: int = 6) -> float | None:
    """A finite float to `digits` significant digits, or None."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def by_window(values: Mapping[float, float | None]) -> dict[str, float | None]:
    return {format_duration(w): number(v) for w, v in sorted(values.items())}


def status_state(status: SLOStatus, policy: Policy, now: float) -> str:
    """`pending` (never evaluated), `stale`, `no_data` or `ok`."""
    age = status.age(now)
    if age is None:
        return "pending"
    if age > policy.max_staleness:
        return "stale"
    return "ok" if status.has_data else "no_data"


def _figures(status: SLOStatus) -> dict[str, Any]:
    """The part of a status view that depends only on the status: built once per status (the
    gate answers many requests from one snapshot) and shared, read-only, by every answer."""
    cached: dict[str, Any] | None = status.memo.get("view")
    if cached is None:
        slo = status.slo
        cached = {
            "service": slo.service,
            "slo": slo.name,
            "id": slo.id,
            "objective": slo.objective,
            "period": format_duration(slo.period),
            "error_budget_remaining": number(status.error_budget_remaining),
            "error_ratios": by_window(status.error_ratios),
            "burn_rates": by_window(status.burn_rates),
            "alerts": {"page": status.page, "ticket": status.ticket},
            "evaluated_at": rfc3339(status.evaluated_at),
        }
        status.memo["view"] = cached
    return cached


def _live(status: SLOStatus, policy: Policy, now: float) -> dict[str, Any]:
    """The part of a status view that changes with the time of the answer."""
    age = status.age(now)
    return {
        "data_age_seconds": None if age is None else round(age, 3),
        "state": status_state(status, policy, now),
        "error": status.error,
    }


def status_view(status: SLOStatus, policy: Policy, now: float) -> dict[str, Any]:
    return {**_figures(status), **_live(status, policy, now)}


PolicyFor = Callable[[str, str], Policy]


def _optional(value: str) -> str:
    """`encode(value or None)` for a string, without the encoder's general path."""
    return encode_basestring_ascii(value) if value else "null"


@dataclass(frozen=True, slots=True)
class AnswerTemplate:
    """A gate answer's JSON with what differs between answers of the same outcome left open:
    the decision id and time, the deploy id and step, and each SLO's data age. Built once per
    outcome, rendered once per answer; each SLO's `state` is the one at build time, so a
    template is only used while that state holds (see `policy.valid_until`)."""

    opening: str
    middle: str
    slos: tuple[tuple[str, SLOStatus, str], ...]
    """Per SLO: its figures (the object left open), the status, the closing fields."""

    def render(
        self, decision_id: str, decided_at: float, deploy_id: str, step: str, now: float
    ) -> str:
        slos = []
        for figures, status, closing in self.slos:
            age = status.age(now)
            age_json = "null" if age is None else float.__repr__(round(age, 3))  # as json does
            slos.append(f'{figures},"data_age_seconds":{age_json},{closing}')
        return (
            f'{self.opening}{decision_id}","evaluated_at":"{rfc3339(decided_at)}"'
            f',"deploy_id":{_optional(deploy_id)},"step":{_optional(step)}'
            f"{self.middle}{','.join(slos)}]}}"
        )


def _status_parts(status: SLOStatus, policy: Policy, now: float) -> tuple[str, SLOStatus, str]:
    """`encode(status_view(...))` in parts, what depends only on the status encoded once per
    status (not once per answer)."""
    cached: tuple[str, str] | None = status.memo.get("json")
    if cached is None:
        figures = encode(_figures(status))[:-1]  # the object, left open for the live fields
        cached = (figures, encode(status.error))
        status.memo["json"] = cached
    figures, error = cached
    return figures, status, f'"state":"{status_state(status, policy, now)}","error":{error}}}'


def prepare_answer(decision: Decision, policy_for: PolicyFor, now: float) -> AnswerTemplate:
    """The template of `decision`'s answer, SLO states as of `now`."""
    request = decision.request
    opening = encode(
        {
            "decision": decision.verdict.value,
            "allow": decision.allow,
            "service": request.service,
            "slo": request.slo or None,
        }
    )[:-1]
    reasons = [
        {
            "slo": r.slo or None,
            "code": r.code.value,
            "message": r.message,
            "effect": r.verdict.value,
        }
        for r in decision.reasons
    ]
    return AnswerTemplate(
        f'{opening},"decision_id":"',
        f',"change_type":{_optional(request.change_type)},"reasons":{encode(reasons)},"slos":[',
        tuple(
            _status_parts(s, policy_for(s.slo.service, s.slo.name), now) for s in decision.statuses
        ),
    )


def encode_decision(decision: Decision, policy_for: PolicyFor, *, now: float | None = None) -> str:
    """The gate's answer to `decision`, SLO data ages and states as of `now` (default: when it
    was decided)."""
    at = decision.decided_at if now is None else now
    request = decision.request
    return prepare_answer(decision, policy_for, at).render(
        decision.id, decision.decided_at, request.deploy_id, request.step, at
    )


def freeze_view(freeze: Freeze) -> dict[str, Any]:
    return {
        "id": freeze.id,
        "service": freeze.service,
        "slo": freeze.slo or None,
        "kind": freeze.kind.value,
        "reason": freeze.reason,
        "created_at": rfc3339(freeze.created_at),
        "created_by": freeze.created_by,
        "until": rfc3339(freeze.until),
    }


def exemption_view(exemption: Exemption) -> dict[str, Any]:
    return {
        "id": exemption.id,
        "service": exemption.service,
        "change_type": exemption.change_type or None,
        "deploy_id": exemption.deploy_id or None,
        "reason": exemption.reason,
        "created_at": rfc3339(exemption.created_at),
        "created_by": exemption.created_by,
        "until": rfc3339(exemption.until),
    }
