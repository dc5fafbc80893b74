"""The gate answer's JSON: exact fields, figures encoded once per status, live fields per answer."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from slogate.core.gate import Decision
from slogate.core.policy import GateRequest, Policy, Reason, ReasonCode, Verdict
from slogate.core.snapshot import SLOStatus
from slogate.core.views import encode, encode_decision, rfc3339, status_view
from tests.factories import make_slo

NOW = 1_800_000_000.0
SLO_ = make_slo("checkout", "latency")
WINDOWS = SLO_.windows.windows


def status(ratio: float | None, age: float, error: str | None = None) -> SLOStatus:
    return SLOStatus(
        SLO_, {w: ratio for w in WINDOWS}, evaluated_at=NOW - age, attempted_at=NOW, error=error
    )


def decision(*statuses: SLOStatus) -> Decision:
    reason = Reason("latency", ReasonCode.BUDGET_LOW, "error budget low", Verdict.WARN)
    return Decision(
        id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        request=GateRequest("checkout", deploy_id="d-1", step="canary-10"),
        verdict=Verdict.WARN,
        reasons=(reason,),
        statuses=statuses,
        decided_at=NOW,
    )


def policy_for(_service: str, _slo: str) -> Policy:
    return Policy(max_staleness=90.0)


def test_answer_fields_and_figures() -> None:
    answer = json.loads(encode_decision(decision(status(0.0005, age=12.5)), policy_for))
    slo = answer.pop("slos")
    assert answer == {
        "decision": "warn",
        "allow": True,
        "service": "checkout",
        "slo": None,
        "decision_id": "01JABCDEFGHJKMNPQRSTVWXYZ0",
        "evaluated_at": "2027-01-15T08:00:00.000Z",
        "deploy_id": "d-1",
        "step": "canary-10",
        "change_type": None,
        "reasons": [
            {
                "slo": "latency",
                "code": "budget_low",
                "message": "error budget low",
                "effect": "warn",
            }
        ],
    }
    assert len(slo) == 1
    assert slo[0]["burn_rates"]["1h"] == 0.5
    assert slo[0]["error_budget_remaining"] == 0.5
    assert (slo[0]["data_age_seconds"], slo[0]["state"], slo[0]["error"]) == (12.5, "ok", None)
    assert slo[0] == status_view(status(0.0005, age=12.5), policy_for("", ""), NOW)


def test_figures_are_encoded_once_and_live_fields_follow_the_clock() -> None:
    shared = status(0.0005, age=10.0, error="backend down")
    first = json.loads(encode_decision(decision(shared), policy_for))["slos"][0]
    assert "json" in shared.memo
    later = json.loads(encode_decision(decision(shared), policy_for, now=NOW + 100))["slos"][0]
    assert (first["data_age_seconds"], first["state"]) == (10.0, "ok")
    assert (later["data_age_seconds"], later["state"]) == (110.0, "stale")
    assert later["error"] == first["error"] == "backend down"
    assert {k: v for k, v in later.items() if k not in ("data_age_seconds", "state")} == {
        k: v for k, v in first.items() if k not in ("data_age_seconds", "state")
    }


def test_several_slos_keep_their_order_and_no_data_is_null() -> None:
    both = decision(status(0.002, 1.0), status(None, 1.0))
    answer = json.loads(encode_decision(both, policy_for))
    assert [s["burn_rates"]["1h"] for s in answer["slos"]] == [2.0, None]
    assert answer["slos"][1]["state"] == "no_data"


def test_nan_is_never_encoded() -> None:
    with pytest.raises(ValueError):
        encode({"x": float("nan")})


def test_rfc3339_matches_isoformat_to_the_millisecond() -> None:
    rng = random.Random(7)
    stamps = [0.0, 1.0, NOW, NOW + 0.9995, NOW + 0.9999996, NOW - 0.0005, 1_700_000_000.123]
    stamps += [rng.uniform(0, 4_000_000_000) for _ in range(20_000)]
    stamps += [NOW + rng.randrange(1_000_000) / 1e6 for _ in range(20_000)]
    for ts in stamps:
        expected = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
        assert rfc3339(ts) == expected.replace("+00:00", "Z"), ts
    assert rfc3339(None) is None
