"""The gate policy: every reason code, its default effect, overrides, freezes and exemptions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from slogate.core.overrides import Exemption, Freeze, FreezeKind
from slogate.core.policy import (
    FailMode,
    GateRequest,
    Policy,
    ReasonCode,
    Verdict,
    decide,
    slo_reasons,
    valid_until,
)
from slogate.core.snapshot import SLOStatus
from slogate.core.windows import DAY
from tests.factories import make_slo

NOW = 1_800_000_000.0
SLO_ = make_slo("checkout", errors="errors[{{.window}}]", total="total[{{.window}}]")
WINDOWS = SLO_.windows.windows


def status(
    ratio: float | None = 0.0001,
    *,
    overrides: dict[float, float | None] | None = None,
    age: float | None = 5.0,
    error: str | None = None,
) -> SLOStatus:
    ratios = {w: ratio for w in WINDOWS} | (overrides or {})
    evaluated = None if age is None else NOW - age
    return SLOStatus(SLO_, ratios, evaluated_at=evaluated, attempted_at=NOW, error=error)


def codes(s: SLOStatus, policy: Policy | None = None) -> list[ReasonCode]:
    return [r.code for r in slo_reasons(s, policy or Policy(), NOW)]


def verdict(
    s: SLOStatus, policy: Policy | None = None, **request: str
) -> tuple[Verdict, list[ReasonCode]]:
    outcome = decide(GateRequest("checkout", **request), [s], lambda _slo: policy or Policy(), NOW)
    return outcome.verdict, [r.code for r in outcome.reasons]


def test_healthy_allows_without_reasons() -> None:
    assert verdict(status(0.0001)) == (Verdict.ALLOW, [])


def test_budget_exhausted_denies() -> None:
    # 0.15% over 30d against a 0.1% budget: −50% left; 1.5 burn also trips the slow ticket pair.
    assert verdict(status(0.0015)) == (
        Verdict.DENY,
        [ReasonCode.BUDGET_EXHAUSTED, ReasonCode.SLOW_BURN],
    )


def test_fast_burn_denies_with_the_windows_in_the_message() -> None:
    s = status(0.0001, overrides={300: 0.05, 3600: 0.05, 1800: 0.05})
    reasons = slo_reasons(s, Policy(), NOW)
    assert [r.code for r in reasons] == [ReasonCode.FAST_BURN]
    assert reasons[0].message == "burn rate 50.0 over 1h and 50.0 over 5m exceeds 14.4"
    assert verdict(s)[0] is Verdict.DENY


def test_slow_burn_warns() -> None:
    s = status(0.0001, overrides={21600: 0.002, 3 * DAY: 0.002})
    assert verdict(s) == (Verdict.WARN, [ReasonCode.SLOW_BURN])


def test_budget_low_warns_below_threshold_only() -> None:
    assert verdict(status(0.0008)) == (Verdict.WARN, [ReasonCode.BUDGET_LOW])  # 20% left
    assert verdict(status(0.0007)) == (Verdict.ALLOW, [])  # 30% left
    assert verdict(status(0.0007), Policy(budget_low_threshold=0.5)) == (
        Verdict.WARN,
        [ReasonCode.BUDGET_LOW],
    )


def test_no_traffic_is_no_data_and_warns() -> None:
    assert verdict(status(None)) == (Verdict.WARN, [ReasonCode.NO_DATA])


def test_stale_data_fails_closed_by_default_and_open_when_configured() -> None:
    stale = status(0.0001, age=200.0)
    assert verdict(stale, Policy(max_staleness=90)) == (Verdict.DENY, [ReasonCode.STALE_DATA])
    assert verdict(stale, Policy(max_staleness=90, fail_mode=FailMode.OPEN)) == (
        Verdict.WARN,
        [ReasonCode.STALE_DATA],
    )


def test_backend_errors_within_staleness_keep_last_figures() -> None:
    s = status(0.0001, age=30.0, error="cannot reach prometheus")
    assert verdict(s, Policy(max_staleness=90)) == (Verdict.ALLOW, [])


def test_backend_unavailable_past_staleness() -> None:
    s = status(0.0001, age=100.0, error="cannot reach prometheus")
    reasons = slo_reasons(s, Policy(max_staleness=90), NOW)
    assert [r.code for r in reasons] == [ReasonCode.BACKEND_UNAVAILABLE]
    assert "cannot reach prometheus" in reasons[0].message


def test_never_evaluated_is_stale() -> None:
    assert codes(status(age=None)) == [ReasonCode.STALE_DATA]


@pytest.mark.parametrize(
    ("deny", "warn", "expected"),
    [
        ({ReasonCode.BUDGET_LOW}, set(), Verdict.DENY),
        (set(), set(), Verdict.ALLOW),
        (set(), {ReasonCode.BUDGET_LOW}, Verdict.WARN),
    ],
)
def test_policy_decides_each_codes_effect(
    deny: set[ReasonCode], warn: set[ReasonCode], expected: Verdict
) -> None:
    policy = Policy(deny=frozenset(deny), warn=frozenset(warn))
    assert verdict(status(0.0008), policy)[0] is expected


def test_exempt_change_type_turns_budget_deny_into_audited_allow() -> None:
    result, found = verdict(status(0.0015), change_type="rollback")
    assert result is Verdict.ALLOW
    assert found[-1] is ReasonCode.EXEMPTED
    assert verdict(status(0.0015), change_type="feature")[0] is Verdict.DENY


def test_manual_freeze_denies_and_change_type_cannot_pass_it() -> None:
    freeze = Freeze("f1", "checkout", "incident 42", NOW - 60, "alice")
    request = GateRequest("checkout", change_type="rollback")
    outcome = decide(request, [status()], lambda _s: Policy(), NOW, [freeze])
    assert outcome.verdict is Verdict.DENY
    assert [r.code for r in outcome.reasons] == [ReasonCode.FROZEN]
    assert "incident 42" in outcome.reasons[0].message


def test_system_freeze_passes_for_exempt_change_type() -> None:
    freeze = Freeze(
        "f1", "checkout", "budget exhausted", NOW - 60, "slogate", kind=FreezeKind.SYSTEM
    )
    request = GateRequest("checkout", change_type="security")
    outcome = decide(request, [status()], lambda _s: Policy(), NOW, [freeze])
    assert outcome.verdict is Verdict.ALLOW


def test_expired_or_other_service_freezes_do_not_apply() -> None:
    expired = Freeze("f1", "checkout", "old", NOW - 600, "alice", until=NOW - 1)
    other = Freeze("f2", "payments", "other", NOW - 600, "alice")
    everything = Freeze("f3", "*", "holidays", NOW - 600, "alice")
    assert (
        decide(
            GateRequest("checkout"), [status()], lambda _s: Policy(), NOW, [expired, other]
        ).verdict
        is Verdict.ALLOW
    )
    assert (
        decide(GateRequest("checkout"), [status()], lambda _s: Policy(), NOW, [everything]).verdict
        is Verdict.DENY
    )


def test_explicit_exemption_passes_manual_freeze_for_its_deploy_only() -> None:
    freeze = Freeze("f1", "checkout", "incident", NOW - 60, "alice")
    exemption = Exemption(
        "e1", "checkout", "hotfix", NOW - 10, "bob", until=NOW + 3600, deploy_id="d-7"
    )
    for deploy, expected in (("d-7", Verdict.ALLOW), ("d-8", Verdict.DENY)):
        outcome = decide(
            GateRequest("checkout", deploy_id=deploy),
            [status()],
            lambda _s: Policy(),
            NOW,
            [freeze],
            [exemption],
        )
        assert outcome.verdict is expected
    expired = replace(exemption, until=NOW - 1)
    outcome = decide(
        GateRequest("checkout", deploy_id="d-7"),
        [status()],
        lambda _s: Policy(),
        NOW,
        [freeze],
        [expired],
    )
    assert outcome.verdict is Verdict.DENY


# --- The policy matrix: each reason code × deny / warn / exempt / frozen -------------------------

SCENARIOS: dict[ReasonCode, SLOStatus] = {
    ReasonCode.BUDGET_EXHAUSTED: status(0.0012, overrides={21600: 0.0001}),
    ReasonCode.FAST_BURN: status(0.0001, overrides={300: 0.05, 3600: 0.05}),
    ReasonCode.SLOW_BURN: status(0.0001, overrides={21600: 0.002, 3 * DAY: 0.002}),
    ReasonCode.BUDGET_LOW: status(0.0008),
    ReasonCode.NO_DATA: status(None),
    ReasonCode.STALE_DATA: status(0.0001, age=1000.0),
    ReasonCode.BACKEND_UNAVAILABLE: status(0.0001, age=1000.0, error="connection refused"),
}
DEFAULT_EFFECT = {
    ReasonCode.BUDGET_EXHAUSTED: Verdict.DENY,
    ReasonCode.FAST_BURN: Verdict.DENY,
    ReasonCode.SLOW_BURN: Verdict.WARN,
    ReasonCode.BUDGET_LOW: Verdict.WARN,
    ReasonCode.NO_DATA: Verdict.WARN,
    ReasonCode.STALE_DATA: Verdict.DENY,
    ReasonCode.BACKEND_UNAVAILABLE: Verdict.DENY,
}
MATRIX_POLICY = Policy(max_staleness=90)


@pytest.mark.parametrize("code", list(SCENARIOS))
def test_matrix_each_scenario_gives_exactly_its_code(code: ReasonCode) -> None:
    assert codes(SCENARIOS[code], MATRIX_POLICY) == [code]


@pytest.mark.parametrize("code", list(SCENARIOS))
def test_matrix_default_effect(code: ReasonCode) -> None:
    assert verdict(SCENARIOS[code], MATRIX_POLICY)[0] is DEFAULT_EFFECT[code]


@pytest.mark.parametrize("code", list(SCENARIOS))
@pytest.mark.parametrize("effect", [Verdict.DENY, Verdict.WARN, Verdict.ALLOW])
def test_matrix_configured_effect(code: ReasonCode, effect: Verdict) -> None:
    deny = frozenset({code}) if effect is Verdict.DENY else frozenset()
    warn = frozenset({code}) if effect is Verdict.WARN else frozenset()
    if code in (ReasonCode.STALE_DATA, ReasonCode.BACKEND_UNAVAILABLE):
        # Freshness failures follow the fail mode, not the deny/warn lists.
        mode = FailMode.CLOSED if effect is Verdict.DENY else FailMode.OPEN
        expected = Verdict.DENY if mode is FailMode.CLOSED else Verdict.WARN
        policy = Policy(max_staleness=90, fail_mode=mode, deny=deny, warn=warn)
    else:
        expected, policy = effect, Policy(max_staleness=90, deny=deny, warn=warn)
    assert verdict(SCENARIOS[code], policy)[0] is expected


@pytest.mark.parametrize("code", list(SCENARIOS))
def test_matrix_exempt_change_type(code: ReasonCode) -> None:
    result, found = verdict(SCENARIOS[code], MATRIX_POLICY, change_type="security")
    if DEFAULT_EFFECT[code] is Verdict.DENY:
        assert (result, found) == (Verdict.ALLOW, [code, ReasonCode.EXEMPTED])
    else:
        assert (result, found) == (DEFAULT_EFFECT[code], [code])


@pytest.mark.parametrize("code", list(SCENARIOS))
def test_matrix_frozen(code: ReasonCode) -> None:
    freeze = Freeze("f1", "checkout", "incident", NOW - 60, "alice")
    for change_type in ("", "security"):
        outcome = decide(
            GateRequest("checkout", change_type=change_type),
            [SCENARIOS[code]],
            lambda _s: MATRIX_POLICY,
            NOW,
            [freeze],
        )
        assert outcome.verdict is Verdict.DENY
        assert [r.code for r in outcome.reasons] == [code, ReasonCode.FROZEN]


def test_valid_until_is_the_first_staleness_or_override_end() -> None:
    fresh = [status(age=10.0), replace(status(age=30.0), slo=make_slo("checkout", "latency"))]
    policy = Policy(max_staleness=90.0)
    # the older SLO turns stale first: evaluated at NOW-30, stale after 90 s
    assert valid_until(fresh, lambda _slo: policy, NOW) == NOW + 60
    freezes = [
        Freeze("f1", "checkout", "x", NOW - 5, "alice", until=NOW + 20),
        Freeze("f2", "checkout", "x", NOW - 5, "alice", until=NOW - 1),  # over: never again
        Freeze("f3", "checkout", "x", NOW - 5, "alice"),  # until lifted
    ]
    assert valid_until(fresh, lambda _slo: policy, NOW, freezes) == NOW + 20
    exemptions = [Exemption("e1", "checkout", "x", NOW - 5, "bob", until=NOW + 7)]
    assert valid_until(fresh, lambda _slo: policy, NOW, freezes, exemptions) == NOW + 7


def test_valid_until_forever_once_stale_or_never_evaluated() -> None:
    policy = Policy(max_staleness=90.0)
    assert valid_until([status(age=None)], lambda _slo: policy, NOW) == float("inf")
    # stale stays stale, in the same words, until the next snapshot
    assert valid_until([status(age=91.0)], lambda _slo: policy, NOW) == float("inf")
    assert valid_until([status(age=91.0), status(age=30.0)], lambda _slo: policy, NOW) == NOW + 60
    # exactly at the limit: still fresh, for this instant only
    assert codes(status(age=90.0), policy) == []
    assert valid_until([status(age=90.0)], lambda _slo: policy, NOW) == NOW
