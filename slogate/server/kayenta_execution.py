"""A Kayenta canary execution: slogate's analyses of its scopes, scored and shown as Kayenta
shows a judge's result (what Argo Rollouts' `kayenta` provider reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slogate.core.canary import CanaryVerdict
from slogate.server.canary_history import CanaryAnswer

CLASSIFICATION = {
    CanaryVerdict.PASS: "Pass",
    CanaryVerdict.INCONCLUSIVE: "Marginal",
    CanaryVerdict.FAIL: "Fail",
}
_WORST_FIRST = (CanaryVerdict.FAIL, CanaryVerdict.INCONCLUSIVE, CanaryVerdict.PASS)


@dataclass(frozen=True, slots=True)
class Thresholds:
    pass_score: int
    marginal: int

    def score(self, verdict: CanaryVerdict, share_passing: int) -> int:
        if verdict is CanaryVerdict.PASS:
            return 100
        if verdict is CanaryVerdict.INCONCLUSIVE:
            return self.marginal
        return max(0, min(share_passing, self.marginal - 1))


@dataclass(frozen=True, slots=True)
class Execution:
    id: str
    service: str
    answers: tuple[tuple[str, CanaryAnswer], ...]
    """(scope name, its analysis)."""
    thresholds: Thresholds

    @property
    def verdict(self) -> CanaryVerdict:
        verdicts = {answer.analysis.verdict for _, answer in self.answers}
        return next(v for v in _WORST_FIRST if v in verdicts)

    def view(self) -> dict[str, Any]:
        verdict = self.verdict
        lowest = min(answer.analysis.score for _, answer in self.answers)
        score = self.thresholds.score(verdict, lowest)
        results: list[dict[str, Any]] = [
            {
                "name": f"{name}/{judgement['slo']}",
                "classification": CLASSIFICATION[CanaryVerdict(judgement["verdict"])],
                "critical": False,
                "groups": [judgement["slo"]],
                "resultMetadata": {"ratio": judgement["ratio"], "pValue": judgement["p_value"]},
            }
            for name, answer in self.answers
            for judgement in answer.body["slos"]
        ]
        reasons = [
            f"{r['slo'] or self.service}: {r['code']}: {r['message']}"
            for _, answer in self.answers
            for r in answer.body["reasons"]
        ]
        return {
            "pipelineId": self.id,
            "complete": True,
            "status": "succeeded",
            "result": {
                "judgeResult": {
                    "judgeName": "slogate",
                    "score": {
                        "score": score,
                        "classification": CLASSIFICATION[verdict],
                        "classificationReason": "; ".join(reasons),
                    },
                    "results": results,
                    "groupScores": [
                        {
                            "name": r["groups"][0],
                            "score": 100 if r["classification"] == "Pass" else 0,
                        }
                        for r in results
                    ],
                },
            },
            "slogate": [answer.body for _, answer in self.answers],
        }
