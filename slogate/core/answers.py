"""Gate answers from memory: each kind of request decided once per snapshot, policy and
overrides, every answer still its own decision.

Within one snapshot, one policy configuration and one set of freezes and exemptions, the
outcome of a gate request (verdict, reasons, the JSON of both and of the SLOs' figures) changes
with the clock only at known instants: when an SLO's figures turn stale, when a freeze or an
exemption ends (`policy.valid_until`). Until the first of them, requests of the same kind
(service, SLO, change type, and the deploy id when an exemption names one) get the outcome
computed for the first, with their own id, time, deploy id, step and data ages. A new snapshot,
a reloaded policy or any override change starts afresh. Pure: no I/O, the caller passes `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slogate.core.gate import Decision, make_decision
from slogate.core.ids import ulid
from slogate.core.overrides import Exemption, Freeze
from slogate.core.policy import GateRequest, PolicyConfig, valid_until
from slogate.core.snapshot import Snapshot
from slogate.core.views import AnswerTemplate, prepare_answer

Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class _Outcome:
    first: Decision
    template: AnswerTemplate
    until: float


class AnswerCache:
    """`make_decision` and `encode_decision` for the gate's hot path."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        """Kinds of request kept at once (change types and deploy ids come from clients)."""
        self._outcomes: dict[Key, _Outcome] = {}
        self._snapshot: Snapshot | None = None
        self._policy: PolicyConfig | None = None
        self._version = -1
        self._by_deploy_id = False
        self.hits = 0
        self.misses = 0

    def answer(
        self,
        request: GateRequest,
        snapshot: Snapshot,
        policy: PolicyConfig,
        now: float,
        *,
        freezes: Callable[[str], Sequence[Freeze]],
        exemptions: Callable[[], Sequence[Exemption]],
        overrides_version: int,
    ) -> tuple[Decision, str]:
        """The decision on `request` at `now` and its answer's JSON. `freezes(service)` and
        `exemptions()` give the active ones, `overrides_version` changes whenever they do."""
        if (
            snapshot is not self._snapshot
            or policy is not self._policy
            or overrides_version != self._version
        ):
            self._outcomes.clear()
            self._snapshot, self._policy, self._version = snapshot, policy, overrides_version
            self._by_deploy_id = any(e.deploy_id for e in exemptions())
        key = (
            request.service,
            request.slo,
            request.change_type,
            request.deploy_id if self._by_deploy_id else "",
        )
        known = self._outcomes.get(key)
        if known is not None and now < known.until:
            self.hits += 1
            first = known.first
            decision = Decision(
                ulid(now),
                request,
                first.verdict,
                first.reasons,
                first.statuses,
                now,
                first.exemption_id,
            )
            template = known.template
        else:
            self.misses += 1
            active_freezes, active_exemptions = freezes(request.service), exemptions()
            decision = make_decision(
                request,
                snapshot,
                policy,
                now=now,
                freezes=active_freezes,
                exemptions=active_exemptions,
            )
            template = prepare_answer(decision, policy.for_slo, now)
            until = valid_until(
                decision.statuses,
                policy.resolver(request.service),
                now,
                active_freezes,
                active_exemptions,
            )
            if until > now:
                if len(self._outcomes) >= self.max_entries:
                    self._outcomes.clear()
                self._outcomes[key] = _Outcome(decision, template, until)
        encoded = template.render(decision.id, now, request.deploy_id, request.step, now)
        return decision, encoded
