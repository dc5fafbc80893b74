"""The canary judge: per-SLO verdicts, the overall verdict, score, decision and reasons."""

from __future__ import annotations

import pytest
from scipy import stats

from slogate.core.canary import (
    CanaryAnalysis,
    CanarySettings,
    CanaryVerdict,
    SLOJudgement,
    VersionFigures,
    analysis_view,
    backend_failure,
    judge_slo,
    window_problem,
)
from slogate.core.gate import Decision
from slogate.core.model import RawSLI
from slogate.core.policy import GateRequest, Reason, ReasonCode, Verdict
from tests.factories import make_slo

SLO = make_slo("shop", "requests-availability")
SETTINGS = CanarySettings()
WINDOW = 600.0


def events(errors: float, total: float) -> VersionFigures:
    return VersionFigures(errors=errors, total=total)


def gate(verdict: Verdict = Verdict.ALLOW, *reasons: Reason) -> Decision:
    return Decision("g1", GateRequest("shop"), verdict, reasons, (), 1_000.0)


def analysis(*judgements: SLOJudgement, gate_decision: Decision | None = None) -> CanaryAnalysis:
    return CanaryAnalysis(
        "01J",
        "c",
        "b",
        400.0,
        1_000.0,
        tuple(judgements),
        gate_decision or gate(),
    )


def test_bad_canary_fails_with_the_exact_p_value() -> None:
    """DESIGN §8's example: 36 errors in 1,200 against 4.6 in 22,800."""
    j = judge_slo(SLO, events(36, 1200), events(4.6, 22800), SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.FAIL and j.code is not None
    assert j.code.value == "canary_regression"
    assert j.ratio == pytest.approx(0.03 / (4.6 / 22800))
    assert j.test is not None
    p0 = 1.5 * 1200 / (1.5 * 1200 + 22800)
    expected = stats.binomtest(36, 41, p0, alternative="greater").pvalue  # 4.6 rounds to 5
    assert j.test.p_value == pytest.approx(expected, rel=1e-8)
    assert j.canary.burn_rate(SLO) == pytest.approx(30.0)
    whole = analysis(j)
    assert whole.verdict is CanaryVerdict.FAIL and whole.decision is Verdict.DENY
    assert whole.score == 0
    [reason] = whole.reasons
    assert (reason.code, reason.effect) == ("canary_regression", Verdict.DENY)


def test_good_canary_passes_and_keeps_the_gate_decision() -> None:
    j = judge_slo(SLO, events(1, 1200), events(5, 22800), SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.PASS and j.code is None
    assert analysis(j).decision is Verdict.ALLOW
    warned = analysis(j, gate_decision=gate(Verdict.WARN))
    assert (warned.verdict, warned.decision, warned.score) == (
        CanaryVerdict.PASS,
        Verdict.WARN,
        100,
    )


def test_too_little_canary_traffic_is_inconclusive_even_with_errors() -> None:
    j = judge_slo(SLO, events(30, 300), events(5, 22800), SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.INCONCLUSIVE and j.test is None
    assert "fewer than min_requests 500" in j.message
    whole = analysis(j)
    assert (whole.verdict, whole.decision) == (CanaryVerdict.INCONCLUSIVE, Verdict.WARN)


def test_zero_baseline_traffic_is_inconclusive() -> None:
    j = judge_slo(SLO, events(0, 1200), events(0, 0), SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.INCONCLUSIVE
    assert j.message == "baseline has no traffic in 10m"
    assert j.ratio is None


def test_zero_errors_on_both_sides_pass() -> None:
    j = judge_slo(SLO, events(0, 1200), events(0, 22800), SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.PASS
    assert j.test is not None and j.test.p_value == 1.0


def test_baseline_wide_outage_holds_without_blaming_the_canary() -> None:
    """Both at 5% errors: the canary is not worse (pass), but the service gate denies on fast
    burn: hold (inconclusive), deny, no rollback."""
    j = judge_slo(SLO, events(60, 1200), events(1140, 22800), SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.PASS
    burning = gate(
        Verdict.DENY, Reason("requests-availability", ReasonCode.FAST_BURN, "burn 50", Verdict.DENY)
    )
    whole = analysis(j, gate_decision=burning)
    assert (whole.verdict, whole.decision, whole.score) == (
        CanaryVerdict.INCONCLUSIVE,
        Verdict.DENY,
        100,
    )
    assert [(r.code, r.effect) for r in whole.reasons] == [("fast_burn", Verdict.DENY)]


def test_canary_burning_past_the_page_factor_fails_when_the_test_cannot_tell() -> None:
    """A small canary at burn 20 against a baseline at burn 15 (1.33x: within the allowed
    1.5x), both page-worthy: no canary_burn. Against a healthy baseline: canary_burn."""
    settings = CanarySettings(min_requests=100, allowed_increase=10.0)
    j = judge_slo(SLO, events(4, 200), events(150, 10_000), settings, WINDOW)
    assert j.verdict is CanaryVerdict.PASS
    j = judge_slo(SLO, events(4, 200), events(9, 10_000), settings, WINDOW)
    assert j.test is not None and j.test.p_value >= 0.05
    assert j.verdict is CanaryVerdict.FAIL and j.code is not None
    assert j.code.value == "canary_burn"
    assert j.message == (
        "canary burn rate 20.0 over 10m exceeds the page factor 14.4 while the baseline's is 0.9"
    )


RAW = make_slo("shop", "latency", sli=RawSLI("x[{{.window}}]"))


def test_raw_sli_uses_mann_whitney_on_scaled_baseline_samples() -> None:
    canary = VersionFigures(ratio=0.02, samples=tuple(0.02 + i * 1e-4 for i in range(11)))
    baseline = VersionFigures(ratio=0.001, samples=tuple(0.001 + i * 1e-5 for i in range(11)))
    j = judge_slo(RAW, canary, baseline, SETTINGS, WINDOW)
    expected = stats.mannwhitneyu(
        canary.samples, [1.5 * s for s in baseline.samples], alternative="greater"
    )
    assert j.test is not None and j.test.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert j.verdict is CanaryVerdict.FAIL
    assert j.ratio == pytest.approx(20.0)
    view = analysis_view(analysis(j))["slos"][0]
    assert view["canary"]["samples"] == 11 and view["canary"]["errors"] is None


def test_raw_sli_with_too_few_samples_is_inconclusive() -> None:
    canary = VersionFigures(ratio=0.02, samples=(0.02, 0.03))
    baseline = VersionFigures(ratio=0.001, samples=(0.001,) * 11)
    j = judge_slo(RAW, canary, baseline, SETTINGS, WINDOW)
    assert j.verdict is CanaryVerdict.INCONCLUSIVE
    assert "fewer than min_samples 5" in j.message


def test_score_is_the_share_of_slos_passing() -> None:
    good = judge_slo(SLO, events(0, 1200), events(0, 22800), SETTINGS, WINDOW)
    tiny = judge_slo(
        RAW, VersionFigures(samples=(0.1,)), VersionFigures(samples=(0.1,) * 9), SETTINGS, WINDOW
    )
    whole = analysis(good, tiny)
    assert (whole.score, whole.verdict, whole.decision) == (
        50,
        CanaryVerdict.INCONCLUSIVE,
        Verdict.WARN,
    )


@pytest.mark.parametrize(("effect", "decision"), [(Verdict.DENY, "deny"), (Verdict.WARN, "warn")])
def test_backend_failure_follows_the_fail_mode(effect: Verdict, decision: str) -> None:
    whole = CanaryAnalysis(
        "01J", "c", "b", 400.0, 1000.0, (), gate(), backend_failure("down", effect)
    )
    view = analysis_view(whole)
    assert (view["verdict"], view["decision"]) == ("inconclusive", decision)
    assert view["reasons"][0]["code"] == "backend_unavailable"


def test_view_has_the_contract_fields() -> None:
    j = judge_slo(SLO, events(36, 1200), events(4.6, 22800), SETTINGS, WINDOW)
    view = analysis_view(analysis(j), deploy_id="d1", step="s")
    assert {"decision", "allow", "verdict", "score", "service", "decision_id", "window",
            "reasons", "slos"} <= set(view)  # fmt: skip
    assert view["window"] == {
        "start": "1970-01-01T00:06:40.000Z",
        "end": "1970-01-01T00:16:40.000Z",
    }
    [slo] = view["slos"]
    assert slo["canary"] == {
        "errors": 36.0,
        "total": 1200.0,
        "error_ratio": 0.03,
        "burn_rate": 30.0,
    }
    assert slo["baseline"]["error_ratio"] == pytest.approx(0.000201754)
    assert (view["deploy_id"], view["step"]) == ("d1", "s")


def test_window_problems() -> None:
    assert window_problem(10.0, 5.0, [SLO]) == ("start", "start must be before end")
    assert window_problem(0.0, 31 * 86400.0, [SLO]) == (
        "window",
        "window is longer than the SLO period (30d)",
    )
    assert window_problem(0.0, 600.0, [SLO]) is None
