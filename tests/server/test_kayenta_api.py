"""Canary request checks and the Kayenta API's scores, without a server."""

from __future__ import annotations

import pytest

from slogate.core.canary import (
    CanaryAnalysis,
    CanarySettings,
    CanaryVerdict,
    VersionFigures,
    analysis_view,
    judge_slo,
)
from slogate.core.gate import Decision
from slogate.core.policy import GateRequest, Verdict
from slogate.errors import BadRequestError
from slogate.server.canary_api import canary_request
from slogate.server.canary_history import CanaryAnswer
from slogate.server.kayenta_execution import Execution, Thresholds
from tests.factories import make_slo


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"canary": "c"}, "service"),
        ({"service": "shop", "baseline": "b"}, "canary"),
        ({"service": "shop", "canary": "c"}, "baseline"),
        ({"service": "shop", "canary": "c", "baseline": "c"}, "baseline"),
        ({"service": "shop", "canary": "c", "baseline": "b", "window": "10 min"}, "window"),
        ({"service": "shop", "canary": "c", "baseline": "b", "window": "0s"}, "window"),
        (
            {"service": "shop", "canary": "c", "baseline": "b", "window": "5m", "start": "x"},
            "window",
        ),
        ({"service": "shop", "canary": "c", "baseline": "b", "end": "2026-01-01T00:00:00"}, "end"),
        ({"service": "shop", "canary": "with space", "baseline": "b"}, "canary"),
        ({"service": "-shop", "canary": "c", "baseline": "b"}, "service"),
    ],
)
def test_canary_request_names_the_bad_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        canary_request(fields)
    assert caught.value.field == field


def test_canary_request_keeps_the_gate_fields() -> None:
    request = canary_request(
        {"service": "shop", "canary": "c", "baseline": "b", "window": "20m", "deploy_id": "d"}
    )
    assert request.gate == GateRequest("shop", deploy_id="d")
    assert (request.window, request.start, request.end) == (1200.0, None, None)


THRESHOLDS = Thresholds(pass_score=90, marginal=75)


@pytest.mark.parametrize(
    ("verdict", "share", "score", "argo"),
    [
        (CanaryVerdict.PASS, 100, 100, "Successful"),
        (CanaryVerdict.INCONCLUSIVE, 50, 75, "Inconclusive"),
        (CanaryVerdict.FAIL, 80, 74, "Failed"),
        (CanaryVerdict.FAIL, 0, 0, "Failed"),
    ],
)
def test_kayenta_scores_read_as_argo_reads_them(
    verdict: CanaryVerdict, share: int, score: int, argo: str
) -> None:
    got = THRESHOLDS.score(verdict, share)
    assert got == score
    phase = "Successful" if got >= 90 else "Inconclusive" if got >= 75 else "Failed"
    assert phase == argo


def test_execution_view_has_kayentas_fields() -> None:
    slo = make_slo("shop", "availability")
    judgement = judge_slo(
        slo,
        VersionFigures(errors=36, total=1200),
        VersionFigures(errors=5, total=22800),
        CanarySettings(),
        600.0,
    )
    gate = Decision("g", GateRequest("shop"), Verdict.ALLOW, (), (), 1000.0)
    analysis = CanaryAnalysis("01J", "c", "b", 400.0, 1000.0, (judgement,), gate)
    answer = CanaryAnswer(analysis, analysis_view(analysis), "{}")
    view = Execution("01J", "shop", (("default", answer),), THRESHOLDS).view()
    assert view["complete"] is True
    score = view["result"]["judgeResult"]["score"]
    assert (score["score"], score["classification"]) == (0, "Fail")
    assert "canary_regression" in score["classificationReason"]
    [result] = view["result"]["judgeResult"]["results"]
    assert result["name"] == "default/availability" and result["classification"] == "Fail"
