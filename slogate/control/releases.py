"""Release control: freezes, exemptions, automatic halts and the decisions audit.

The gate reads freezes and exemptions from memory on every call; every change is written to
the store first and becomes visible only once it is durable. Replicas sharing a store each keep
this memory: every decision is recorded with the store's overrides version it was made on, and
the store refuses it if another replica has changed them since (the gate then reloads and
decides again), so no answer ignores an acknowledged change. Automatic halts follow the error
budget with hysteresis: a service is halted when an SLO's budget is exhausted and released only
when that budget has recovered above the policy's recovery threshold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slogate.core.dora import DeploymentEvent
from slogate.core.gate import Decision
from slogate.core.ids import ulid
from slogate.core.overrides import ALL_SERVICES, Exemption, Freeze, FreezeKind
from slogate.core.policy import PolicyConfig
from slogate.core.snapshot import Snapshot
from slogate.errors import StoreError
from slogate.store.base import AdminAction, DecisionRecord, EventResult, Store

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "slogate"


@dataclass(frozen=True, slots=True)
class HaltChange:
    freeze: Freeze
    halted: bool


YIELD_EVERY = 1000
"""SLOs looked at between two chances for gate calls after a cycle (~4 ms at 10,000 SLOs)."""


class ReleaseControl:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._freezes: dict[str, Freeze] = {}
        self._exemptions: dict[str, Exemption] = {}
        self._by_service: dict[str, list[Freeze]] | None = None
        """The freezes indexed by service (`*` for all), rebuilt after any change: the gate
        reads it on every call, and there is a system freeze per SLO out of budget."""
        self._halts: dict[tuple[str, str], Freeze] | None = None
        """The system freezes by (service, SLO), rebuilt after any change likewise."""
        self.version = 0
        """Counts changes to the freezes and exemptions (what the gate's answer cache keys on)."""
        self.store_version = -1
        """The store's overrides version the freezes and exemptions in memory are at."""

    def _changed(self) -> None:
        self._by_service = self._halts = None
        self.version += 1

    async def load(self) -> None:
        """Read the active freezes and exemptions back: after a start or a crash, and whenever
        another replica may have changed them (the version first: after every cycle it has
        not changed, and there is a halt per SLO out of budget to read otherwise)."""
        if await self.store.overrides_version() == self.store_version:
            return
        overrides = await self.store.overrides()
        if overrides.version == self.store_version:
            return
        self._freezes = {f.id: f for f in overrides.freezes}
        self._exemptions = {e.id: e for e in overrides.exemptions}
        self.store_version = overrides.version
        self._changed()

    # --- what the gate reads ----------------------------------------------------------------

    def freezes(self, service: str = "") -> list[Freeze]:
        """The active freezes; with `service`, only those covering it."""
        now = self.clock()
        if not service:
            return [f for f in self._freezes.values() if f.active(now)]
        index = self._index()
        covering = index.get(service, []) + index.get(ALL_SERVICES, [])
        return [f for f in covering if f.active(now)]

    def _index(self) -> dict[str, list[Freeze]]:
        if self._by_service is None:
            self._by_service = {}
            for freeze in self._freezes.values():
                self._by_service.setdefault(freeze.service, []).append(freeze)
        return self._by_service

    def exemptions(self) -> list[Exemption]:
        now = self.clock()
        return [e for e in self._exemptions.values() if e.active(now)]

    def halted(self) -> set[tuple[str, str]]:
        """(service, SLO) pairs under an automatic halt."""
        return {(f.service, f.slo) for f in self.freezes() if f.kind is FreezeKind.SYSTEM}

    def freeze(self, freeze_id: str) -> Freeze | None:
        return self._freezes.get(freeze_id)

    def exemption(self, exemption_id: str) -> Exemption | None:
        return self._exemptions.get(exemption_id)

    # --- changes (durable first) ------------------------------------------------------------

    def _action(self, actor: str, action: str, target: str, **detail: Any) -> AdminAction:
        return AdminAction(self.clock(), actor, action, target, detail)

    def _freeze_action(self, freeze: Freeze) -> AdminAction:
        return self._action(
            freeze.created_by,
            "freeze",
            freeze.id,
            service=freeze.service,
            slo=freeze.slo,
            reason=freeze.reason,
            until=freeze.until,
            kind=freeze.kind.value,
        )

    async def add_freeze(
        self, service: str, reason: str, actor: str, *, until: float | None = None, slo: str = ""
    ) -> Freeze:
        """A person's freeze, once durable (never refused: only halts are one per SLO)."""
        now = self.clock()
        freeze = Freeze(ulid(now), service, reason, now, actor, until, FreezeKind.MANUAL, slo)
        saved = await self.store.save_freeze(freeze, self._freeze_action(freeze))
        await self.load()
        if not saved:
            raise StoreError(f"the store refused a manual freeze of {service}")
        log.info("freeze %s on %s by %s: %s", freeze.id, service, actor, reason)
        return freeze

    async def lift_freeze(self, freeze_id: str, actor: str, reason: str = "") -> Freeze | None:
        if freeze_id not in self._freezes:
            await self.load()  # it may be another replica's
        freeze = self._freezes.get(freeze_id)
        if freeze is None:
            return None
        lifted = await self.store.lift_freeze(
            freeze_id, self._action(actor, "lift", freeze_id, reason=reason)
        )
        await self.load()
        if not lifted:
            return None
        log.info("freeze %s on %s lifted by %s %s", freeze_id, freeze.service, actor, reason)
        return freeze

    async def add_exemption(
        self,
        service: str,
        reason: str,
        actor: str,
        *,
        until: float,
        change_type: str = "",
        deploy_id: str = "",
    ) -> Exemption:
        now = self.clock()
        exemption = Exemption(ulid(now), service, reason, now, actor, until, change_type, deploy_id)
        await self.store.save_exemption(
            exemption,
            self._action(
                actor,
                "exempt",
                exemption.id,
                service=service,
                reason=reason,
                until=until,
                change_type=change_type,
                deploy_id=deploy_id,
            ),
        )
        await self.load()
        return exemption

    async def revoke_exemption(self, exemption_id: str, actor: str) -> Exemption | None:
        if exemption_id not in self._exemptions:
            await self.load()  # it may be another replica's
        exemption = self._exemptions.get(exemption_id)
        if exemption is None:
            return None
        revoked = await self.store.revoke_exemption(
            exemption_id, self._action(actor, "revoke", exemption_id)
        )
        await self.load()
        return exemption if revoked else None

    async def record(
        self, decision: Decision, encoded: str, source: str, step: DeploymentEvent | None = None
    ) -> EventResult | None:
        """Audit one decision, `encoded` being its answer's JSON, with the deployment `step` it
        is, if any (one transaction); durable on return."""
        record = DecisionRecord(
            decision.id,
            decision.decided_at,
            decision.request.service,
            decision.verdict.value,
            source,
            encoded,
            self.store_version,
        )
        return await self.store.record_decision(record, step)

    # --- automatic halts --------------------------------------------------------------------

    def _system_freeze(self, service: str, slo: str) -> Freeze | None:
        if self._halts is None:  # asked for every SLO after each cycle: indexed once
            self._halts = {
                (f.service, f.slo): f for f in self._freezes.values() if f.kind is FreezeKind.SYSTEM
            }
        return self._halts.get((service, slo))

    async def apply_halts(self, snapshot: Snapshot, policy: PolicyConfig) -> list[HaltChange]:
        """Halt services whose budget is exhausted; release those recovered past the threshold
        and those of SLOs no longer defined. Each replica does it on its own figures; the store
        keeps one halt per SLO. A cycle's halts and releases are one store transaction and one
        overrides change, however many: a fleet-wide incident exhausting thousands of budgets
        at once must not become thousands of changes, each of which sends every gate decision
        in flight back to be made again on the new overrides."""
        await self.load()  # another replica may have halted or released since
        now = self.clock()
        halts: list[Freeze] = []
        releases: list[tuple[Freeze, str]] = []
        known = set()
        for n, status in enumerate(snapshot.statuses.values(), 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let gate calls in
            slo = status.slo
            known.add((slo.service, slo.name))
            remaining = status.error_budget_remaining
            if remaining is None or status.error is not None:
                continue  # no fresh figures: change nothing
            halt = self._system_freeze(slo.service, slo.name)
            threshold = policy.for_slo(slo.service, slo.name).recovery_threshold
            if halt is None and remaining <= 0:
                reason = (
                    f"error budget of {slo.name} exhausted ({remaining * 100:.1f}% left);"
                    f" lifted automatically once above {threshold * 100:g}%"
                )
                halts.append(
                    Freeze(
                        ulid(now),
                        slo.service,
                        reason,
                        now,
                        SYSTEM_ACTOR,
                        None,
                        FreezeKind.SYSTEM,
                        slo.name,
                    )
                )
            elif halt is not None and remaining > threshold:
                releases.append((halt, f"budget recovered to {remaining * 100:.1f}%"))
        releases += [
            (f, "SLO no longer defined")
            for f in self._freezes.values()
            if f.kind is FreezeKind.SYSTEM and (f.service, f.slo) not in known
        ]
        if not halts and not releases:
            return []
        saved, lifted = await self.store.change_freezes(
            [(f, self._freeze_action(f)) for f in halts],
            [(f.id, self._action(SYSTEM_ACTOR, "lift", f.id, reason=r)) for f, r in releases],
        )
        await self.load()
        changes = [HaltChange(f, True) for f, done in zip(halts, saved, strict=True) if done]
        for change in changes:
            log.info(
                "freeze %s on %s by %s: %s",
                change.freeze.id,
                change.freeze.service,
                SYSTEM_ACTOR,
                change.freeze.reason,
            )
        for (freeze, reason), done in zip(releases, lifted, strict=True):
            if done:
                log.info(
                    "freeze %s on %s lifted by %s %s",
                    freeze.id,
                    freeze.service,
                    SYSTEM_ACTOR,
                    reason,
                )
                changes.append(HaltChange(freeze, False))
        return changes
