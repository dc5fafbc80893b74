"""The canary judge (DESIGN §8): is the new version worse than the one it replaces?

Per SLO, from the canary's and the baseline's figures over one window:
- `inconclusive` (`canary_inconclusive`) when the canary has fewer than `min_requests` events
  (raw SLIs: fewer than `min_samples` step samples) or the baseline has no data;
- `fail` (`canary_regression`) when a one-sided test rejects "canary error ratio ≤
  `allowed_increase` × the baseline's" at `confidence`: the conditional binomial test of two
  Poisson rates on the counts (events SLIs), Mann-Whitney U on the window's step samples against
  the baseline's scaled by `allowed_increase` (raw SLIs);
- `fail` (`canary_burn`) when the canary's own burn rate over the window is above the SLO's
  page factor while the baseline's is not;
- else `pass`.

Overall, `fail` (roll back) if any SLO failed; `inconclusive` (hold) if any SLO is inconclusive
or the service-level gate denies — a frozen service, or one burning as fast on its baseline as
on its canary (not the canary's fault); else `pass` (promote). `score` is the share of SLOs
passing, 0-100, as Kayenta scores. `decision` is deny on fail or a gate deny, warn when
inconclusive, else the gate's own decision. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slogate.core.durations import format_duration
from slogate.core.gate import Decision
from slogate.core.model import SLO
from slogate.core.policy import Reason, ReasonCode, Verdict
from slogate.core.statistics import TestResult, mann_whitney_greater, rate_ratio_test
from slogate.core.views import number, rfc3339


@dataclass(frozen=True, slots=True)
class CanarySettings:
    """The `canary:` section of slogate's config."""

    label: str = "rollouts_pod_template_hash"
    window: float = 600.0
    min_requests: float = 500.0
    allowed_increase: float = 1.5
    confidence: float = 0.95
    min_samples: int = 5
    """Raw SLIs: fewer step samples on either side is inconclusive."""
    step: float = 60.0
    """Raw SLIs: the step of the range query whose samples Mann-Whitney compares."""
    sample_window: float = 300.0
    """Raw SLIs: the `{{.window}}` each step sample is computed over."""


class CanaryVerdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class CanaryCode(StrEnum):
    REGRESSION = "canary_regression"
    BURN = "canary_burn"
    INCONCLUSIVE = "canary_inconclusive"


@dataclass(frozen=True, slots=True)
class VersionFigures:
    """One version's figures over the window. Events SLIs have counts; raw SLIs have the
    window's error ratio and the step samples (NaN steps, 0/0, already dropped)."""

    errors: float | None = None
    total: float | None = None
    ratio: float | None = None
    samples: tuple[float, ...] = ()

    @property
    def error_ratio(self) -> float | None:
        if self.total is not None:
            return self.errors_or_zero / self.total if self.total > 0 else None
        return self.ratio

    @property
    def errors_or_zero(self) -> float:
        return self.errors or 0.0

    def burn_rate(self, slo: SLO) -> float | None:
        ratio = self.error_ratio
        return None if ratio is None else ratio / slo.error_budget


@dataclass(frozen=True, slots=True)
class SLOJudgement:
    slo: SLO
    verdict: CanaryVerdict
    canary: VersionFigures
    baseline: VersionFigures
    ratio: float | None
    test: TestResult | None
    code: CanaryCode | None = None
    message: str = ""


def _ratio(canary: float | None, baseline: float | None) -> float | None:
    if canary is None or baseline is None or baseline <= 0:
        return None
    return canary / baseline


def _missing_data(
    slo: SLO,
    canary: VersionFigures,
    baseline: VersionFigures,
    settings: CanarySettings,
    window: str,
) -> str:
    """Why there is too little data to judge, or "" when there is enough."""
    if canary.total is not None:  # events
        if canary.total < settings.min_requests:
            return (
                f"canary served {canary.total:.0f} requests in {window},"
                f" fewer than min_requests {settings.min_requests:g}"
            )
        if not baseline.total:
            return f"baseline has no traffic in {window}"
        return ""
    if len(canary.samples) < settings.min_samples:
        return (
            f"canary has {len(canary.samples)} samples in {window},"
            f" fewer than min_samples {settings.min_samples}"
        )
    if len(baseline.samples) < settings.min_samples:
        return f"baseline has {len(baseline.samples)} samples in {window}: no data to compare"
    return ""


def _test(canary: VersionFigures, baseline: VersionFigures, allowed: float) -> TestResult:
    if canary.total is not None and baseline.total is not None:
        return rate_ratio_test(
            round(canary.errors_or_zero),
            canary.total,
            round(baseline.errors_or_zero),
            baseline.total,
            allowed,
        )
    scaled = [allowed * s for s in baseline.samples]
    return mann_whitney_greater(canary.samples, scaled)


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.3g}%"


def judge_slo(
    slo: SLO,
    canary: VersionFigures,
    baseline: VersionFigures,
    settings: CanarySettings,
    window: float,
) -> SLOJudgement:
    """One SLO's verdict on the canary (rules in the module docstring)."""
    span = format_duration(window)
    ratio = _ratio(canary.error_ratio, baseline.error_ratio)
    if problem := _missing_data(slo, canary, baseline, settings, span):
        return SLOJudgement(
            slo, CanaryVerdict.INCONCLUSIVE, canary, baseline, ratio, None,
            CanaryCode.INCONCLUSIVE, problem,
        )  # fmt: skip
    result = _test(canary, baseline, settings.allowed_increase)
    alpha = 1 - settings.confidence
    if result.p_value < alpha:
        times = "" if ratio is None else f" ({ratio:.3g}x)"
        message = (
            f"canary error ratio {_pct(canary.error_ratio)} is worse than"
            f" {settings.allowed_increase:g}x the baseline's {_pct(baseline.error_ratio)}{times}"
            f" over {span}: p = {result.p_value:.2g} < {alpha:.2g} ({result.method})"
        )
        return SLOJudgement(
            slo, CanaryVerdict.FAIL, canary, baseline, ratio, result,
            CanaryCode.REGRESSION, message,
        )  # fmt: skip
    factor = slo.windows.page_quick.burn_factor
    canary_burn, baseline_burn = canary.burn_rate(slo), baseline.burn_rate(slo)
    if canary_burn is not None and canary_burn > factor and (baseline_burn or 0.0) <= factor:
        message = (
            f"canary burn rate {canary_burn:.1f} over {span} exceeds the page factor {factor:g}"
            f" while the baseline's is {baseline_burn or 0.0:.1f}"
        )
        return SLOJudgement(
            slo, CanaryVerdict.FAIL, canary, baseline, ratio, result, CanaryCode.BURN, message
        )
    return SLOJudgement(slo, CanaryVerdict.PASS, canary, baseline, ratio, result)


@dataclass(frozen=True, slots=True)
class CanaryReason:
    slo: str
    code: str
    message: str
    effect: Verdict


@dataclass(frozen=True, slots=True)
class CanaryAnalysis:
    """The answer to one canary request: per-SLO judgements and the service gate's decision."""

    id: str
    canary: str
    baseline: str
    start: float
    end: float
    judgements: tuple[SLOJudgement, ...]
    gate: Decision
    failure: Reason | None = None
    """The canary's figures could not be had (the backend failed): a fail-mode reason."""

    @property
    def service(self) -> str:
        return self.gate.request.service

    @property
    def verdict(self) -> CanaryVerdict:
        verdicts = {j.verdict for j in self.judgements}
        if CanaryVerdict.FAIL in verdicts:
            return CanaryVerdict.FAIL
        held = self.gate.verdict is Verdict.DENY or self.failure is not None
        if CanaryVerdict.INCONCLUSIVE in verdicts or held:
            return CanaryVerdict.INCONCLUSIVE
        return CanaryVerdict.PASS

    @property
    def score(self) -> int:
        if not self.judgements:
            return 0
        passed = sum(j.verdict is CanaryVerdict.PASS for j in self.judgements)
        return round(100 * passed / len(self.judgements))

    @property
    def decision(self) -> Verdict:
        verdict = self.verdict
        if verdict is CanaryVerdict.FAIL or self.gate.verdict is Verdict.DENY:
            return Verdict.DENY
        if self.failure is not None:
            return max(self.failure.verdict, Verdict.WARN, key=lambda v: v.rank)
        if verdict is CanaryVerdict.INCONCLUSIVE:
            return Verdict.WARN
        return self.gate.verdict

    @property
    def reasons(self) -> tuple[CanaryReason, ...]:
        effects = {
            CanaryVerdict.FAIL: Verdict.DENY,
            CanaryVerdict.INCONCLUSIVE: Verdict.WARN,
        }
        found = [
            CanaryReason(j.slo.name, j.code.value, j.message, effects[j.verdict])
            for j in self.judgements
            if j.code is not None
        ]
        if self.failure is not None:
            failure = self.failure
            found.append(
                CanaryReason(failure.slo, failure.code.value, failure.message, failure.verdict)
            )
        found += [
            CanaryReason(r.slo, r.code.value, r.message, r.verdict) for r in self.gate.reasons
        ]
        return tuple(found)


def backend_failure(message: str, effect: Verdict) -> Reason:
    return Reason("", ReasonCode.BACKEND_UNAVAILABLE, message, effect)


def _figures_view(figures: VersionFigures, slo: SLO) -> dict[str, Any]:
    view: dict[str, Any] = {
        "errors": number(figures.errors_or_zero) if figures.total is not None else None,
        "total": number(figures.total),
        "error_ratio": number(figures.error_ratio),
        "burn_rate": number(figures.burn_rate(slo)),
    }
    if figures.total is None:
        view["samples"] = len(figures.samples)
    return view


def judgement_view(judgement: SLOJudgement) -> dict[str, Any]:
    test = judgement.test
    return {
        "slo": judgement.slo.name,
        "verdict": judgement.verdict.value,
        "canary": _figures_view(judgement.canary, judgement.slo),
        "baseline": _figures_view(judgement.baseline, judgement.slo),
        "ratio": number(judgement.ratio),
        "p_value": None if test is None else number(test.p_value),
        "test": None if test is None else test.method,
    }


def analysis_view(analysis: CanaryAnalysis, deploy_id: str = "", step: str = "") -> dict[str, Any]:
    """The `/v1/canary` answer (DESIGN §8), also what the decision trail keeps."""
    decision = analysis.decision
    body: dict[str, Any] = {
        "decision": decision.value,
        "allow": decision.allows,
        "verdict": analysis.verdict.value,
        "score": analysis.score,
        "service": analysis.service,
        "decision_id": analysis.id,
        "kind": "canary",
        "canary": analysis.canary,
        "baseline": analysis.baseline,
        "window": {"start": rfc3339(analysis.start), "end": rfc3339(analysis.end)},
        "evaluated_at": rfc3339(analysis.gate.decided_at),
        "gate": analysis.gate.verdict.value,
        "reasons": [
            {"slo": r.slo, "code": r.code, "message": r.message, "effect": r.effect.value}
            for r in analysis.reasons
        ],
        "slos": [judgement_view(j) for j in analysis.judgements],
    }
    if deploy_id:
        body["deploy_id"] = deploy_id
    if step:
        body["step"] = step
    return body


def window_problem(start: float, end: float, slos: Sequence[SLO]) -> tuple[str, str] | None:
    """(field, reason) when a window cannot be analysed: empty, or longer than an SLO period."""
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        return ("start", "start must be before end")
    shortest = min((slo.period for slo in slos), default=math.inf)
    if end - start > shortest:
        return ("window", f"window is longer than the SLO period ({format_duration(shortest)})")
    return None
