"""The gate's answer cache: the same answers as deciding afresh, recomputed exactly when the
snapshot, the policy, the overrides or the clock could change them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from slogate.core.answers import AnswerCache
from slogate.core.gate import Decision, make_decision
from slogate.core.overrides import Exemption, Freeze
from slogate.core.policy import GateRequest, Policy, PolicyConfig, ReasonCode, Verdict
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.core.views import encode_decision
from tests.factories import make_slo

NOW = 1_800_000_000.0
POLICY = PolicyConfig(default=Policy(max_staleness=90.0))
LATENCY = make_slo("checkout", "latency")
AVAILABILITY = make_slo("checkout", "availability")


def snapshot(ratio: float = 0.0001, age: float = 10.0) -> Snapshot:
    statuses = [
        SLOStatus(slo, {w: ratio for w in slo.windows.windows}, evaluated_at=NOW - age)
        for slo in (LATENCY, AVAILABILITY)
    ]
    return Snapshot({s.slo.id: s for s in statuses}, taken_at=NOW - age)


class Overrides:
    def __init__(self) -> None:
        self.freezes_: list[Freeze] = []
        self.exemptions_: list[Exemption] = []
        self.version = 0
        self.now = NOW

    def freezes(self, service: str) -> Sequence[Freeze]:
        return [f for f in self.freezes_ if f.covers(service) and f.active(self.now)]

    def exemptions(self) -> Sequence[Exemption]:
        return [e for e in self.exemptions_ if e.active(self.now)]


def ask(
    cache: AnswerCache,
    request: GateRequest,
    snap: Snapshot,
    overrides: Overrides,
    now: float,
    policy: PolicyConfig = POLICY,
) -> tuple[Decision, dict[str, Any]]:
    overrides.now = now
    decision, encoded = cache.answer(
        request,
        snap,
        policy,
        now,
        freezes=overrides.freezes,
        exemptions=overrides.exemptions,
        overrides_version=overrides.version,
    )
    return decision, json.loads(encoded)


def fresh(request: GateRequest, snap: Snapshot, overrides: Overrides, now: float) -> Decision:
    overrides.now = now
    return make_decision(
        request,
        snap,
        POLICY,
        now=now,
        freezes=overrides.freezes(request.service),
        exemptions=overrides.exemptions(),
    )


def test_a_repeated_request_is_answered_from_memory_as_its_own_decision() -> None:
    cache, snap, overrides = AnswerCache(), snapshot(0.0015), Overrides()
    first, first_body = ask(
        cache, GateRequest("checkout", deploy_id="d1", step="s1"), snap, overrides, NOW
    )
    request = GateRequest("checkout", deploy_id="d2", step="canary-50")
    second, body = ask(cache, request, snap, overrides, NOW + 2.5)
    assert (cache.misses, cache.hits) == (1, 1)
    assert second.id != first.id and second.decided_at == NOW + 2.5
    assert second.request == request
    assert (second.verdict, second.reasons) == (first.verdict, first.reasons)
    assert second.verdict is Verdict.DENY
    # byte for byte what deciding and encoding afresh gives
    expected = replace(fresh(request, snap, overrides, NOW + 2.5), id=second.id)
    assert body == json.loads(encode_decision(expected, POLICY.for_slo))
    assert (body["deploy_id"], body["step"], body["evaluated_at"]) == (
        "d2",
        "canary-50",
        "2027-01-15T08:00:02.500Z",
    )
    assert [s["data_age_seconds"] for s in body["slos"]] == [12.5, 12.5]
    assert [s["data_age_seconds"] for s in first_body["slos"]] == [10.0, 10.0]


def test_kinds_of_request_are_kept_apart() -> None:
    cache, snap, overrides = AnswerCache(), snapshot(0.0015), Overrides()
    whole, _ = ask(cache, GateRequest("checkout"), snap, overrides, NOW)
    one, body = ask(cache, GateRequest("checkout", slo="latency"), snap, overrides, NOW)
    exempt, _ = ask(cache, GateRequest("checkout", change_type="security"), snap, overrides, NOW)
    assert cache.misses == 3
    assert [s["slo"] for s in body["slos"]] == ["latency"]
    assert len(whole.statuses) == 2 and len(one.statuses) == 1
    assert (whole.verdict, exempt.verdict) == (Verdict.DENY, Verdict.ALLOW)


def test_staleness_is_decided_afresh_at_its_instant() -> None:
    cache, snap, overrides = AnswerCache(), snapshot(age=80.0), Overrides()
    request = GateRequest("checkout")
    assert ask(cache, request, snap, overrides, NOW)[0].verdict is Verdict.ALLOW
    assert ask(cache, request, snap, overrides, NOW + 9.9)[0].verdict is Verdict.ALLOW
    stale, body = ask(cache, request, snap, overrides, NOW + 11)
    assert [r.code for r in stale.reasons] == [ReasonCode.STALE_DATA] * 2
    assert stale.reasons[0].message == "data is older than 1m30s"
    assert [s["state"] for s in body["slos"]] == ["stale", "stale"]
    assert [s["data_age_seconds"] for s in body["slos"]] == [91.0, 91.0]
    # stale stays stale until the next snapshot: decided once, each answer with its own ages
    later, later_body = ask(cache, request, snap, overrides, NOW + 20)
    assert later.verdict is Verdict.DENY and later.reasons == stale.reasons
    assert [s["data_age_seconds"] for s in later_body["slos"]] == [100.0, 100.0]
    assert (cache.hits, cache.misses) == (2, 2)


def test_a_freeze_applies_at_once_and_ends_at_its_until() -> None:
    cache, snap, overrides = AnswerCache(), snapshot(), Overrides()
    request = GateRequest("checkout")
    assert ask(cache, request, snap, overrides, NOW)[0].verdict is Verdict.ALLOW
    overrides.freezes_.append(Freeze("f1", "checkout", "db migration", NOW, "alice", NOW + 30))
    overrides.version += 1
    frozen, body = ask(cache, request, snap, overrides, NOW + 1)
    assert frozen.verdict is Verdict.DENY and body["reasons"][0]["code"] == "frozen"
    assert ask(cache, request, snap, overrides, NOW + 29.999)[0].verdict is Verdict.DENY
    assert ask(cache, request, snap, overrides, NOW + 30)[0].verdict is Verdict.ALLOW


def test_an_exemption_for_one_deploy_keys_answers_by_deploy_id() -> None:
    cache, snap, overrides = AnswerCache(), snapshot(0.0015), Overrides()
    overrides.exemptions_.append(
        Exemption("e1", "checkout", "hotfix", NOW, "bob", NOW + 60, deploy_id="d-7")
    )
    assert ask(cache, GateRequest("checkout", deploy_id="d-7"), snap, overrides, NOW)[0].allow
    assert not ask(cache, GateRequest("checkout", deploy_id="d-8"), snap, overrides, NOW)[0].allow
    assert ask(cache, GateRequest("checkout", deploy_id="d-7"), snap, overrides, NOW + 1)[0].allow
    assert (
        ask(cache, GateRequest("checkout", deploy_id="d-7"), snap, overrides, NOW + 61)[0].verdict
        is Verdict.DENY
    )


def test_a_new_snapshot_or_policy_is_decided_afresh() -> None:
    cache, overrides = AnswerCache(), Overrides()
    request = GateRequest("checkout")
    assert ask(cache, request, snapshot(0.0001), overrides, NOW)[0].verdict is Verdict.ALLOW
    assert ask(cache, request, snapshot(0.0015), overrides, NOW)[0].verdict is Verdict.DENY
    lenient = PolicyConfig(default=Policy(deny=frozenset(), max_staleness=90.0))
    snap = snapshot(0.0015)
    assert ask(cache, request, snap, overrides, NOW, lenient)[0].verdict is Verdict.WARN
    assert cache.misses == 3


def test_the_number_of_kinds_kept_is_bounded() -> None:
    cache, snap, overrides = AnswerCache(max_entries=2), snapshot(), Overrides()
    for n in range(5):
        ask(cache, GateRequest("checkout", change_type=f"type{n}"), snap, overrides, NOW)
    assert len(cache._outcomes) <= 2
    ask(cache, GateRequest("checkout", change_type="type4"), snap, overrides, NOW)
    assert cache.hits == 1
