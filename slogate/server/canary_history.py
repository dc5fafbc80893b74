"""The last canary analyses slogate made, kept in memory (bounded): by id for the Kayenta API's
polling, and per SLO for the status page."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from slogate.core.canary import CanaryAnalysis

KEPT_ANALYSES = 1000
KEPT_PER_SLO = 10


@dataclass(frozen=True, slots=True)
class CanaryAnswer:
    analysis: CanaryAnalysis
    body: dict[str, Any]
    encoded: str

    def response(self, status: int = 200) -> web.Response:
        return web.Response(text=self.encoded, status=status, content_type="application/json")


class CanaryHistory:
    """The last analyses by id (for Kayenta's polling) and per SLO (for the status page)."""

    def __init__(self) -> None:
        self.by_id: OrderedDict[str, CanaryAnswer] = OrderedDict()
        self.by_slo: dict[tuple[str, str], deque[CanaryAnswer]] = {}

    def add(self, answer: CanaryAnswer) -> None:
        self.by_id[answer.analysis.id] = answer
        while len(self.by_id) > KEPT_ANALYSES:
            self.by_id.popitem(last=False)
        for judgement in answer.analysis.judgements:
            key = (answer.analysis.service, judgement.slo.name)
            self.by_slo.setdefault(key, deque(maxlen=KEPT_PER_SLO)).appendleft(answer)

    def of_slo(self, service: str, slo: str) -> list[CanaryAnswer]:
        return list(self.by_slo.get((service, slo), ()))
