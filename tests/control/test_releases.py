"""Automatic halts with hysteresis, and overrides that become visible only once durable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slogate.config import parse_config
from slogate.control.releases import ReleaseControl
from slogate.core.overrides import FreezeKind
from slogate.core.policy import GateRequest, ReasonCode, Verdict, decide
from slogate.core.snapshot import SLOStatus, Snapshot
from slogate.store.sqlite import SQLiteStore
from tests.factories import make_slo

NOW = 1_800_000_000.0
SLO_ = make_slo("search")
POLICY = parse_config("")  # recovery threshold 5%


def snapshot_with_remaining(remaining: float | None, error: str | None = None) -> Snapshot:
    ratio = None if remaining is None else (1 - remaining) * SLO_.error_budget
    status = SLOStatus(SLO_, {w: ratio for w in SLO_.windows.windows}, NOW, NOW, error)
    return Snapshot({SLO_.id: status}, NOW)


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[ReleaseControl]:
    store = SQLiteStore(tmp_path / "s.db")
    await store.open()
    yield ReleaseControl(store, clock=lambda: NOW)
    await store.close()


def halted(control: ReleaseControl) -> bool:
    return any(f.kind is FreezeKind.SYSTEM and f.service == "search" for f in control.freezes())


async def test_halt_hysteresis_around_zero(control: ReleaseControl) -> None:
    sequence = [
        (0.10, False),  # healthy
        (0.00, True),  # exhausted: halt
        (0.03, True),  # recovering but under the 5% threshold: stays halted (no flapping)
        (-0.02, True),
        (0.049, True),  # just under the threshold: still halted
        (0.051, False),  # above it: lifted
        (0.02, False),  # low again but not exhausted: no new halt
        (-0.01, True),
    ]
    for remaining, expected in sequence:
        await control.apply_halts(snapshot_with_remaining(remaining), POLICY.policy)
        assert halted(control) is expected, remaining


async def test_no_fresh_data_changes_nothing(control: ReleaseControl) -> None:
    await control.apply_halts(snapshot_with_remaining(-0.5), POLICY.policy)
    await control.apply_halts(snapshot_with_remaining(0.9, error="backend down"), POLICY.policy)
    await control.apply_halts(snapshot_with_remaining(None), POLICY.policy)
    assert halted(control)


async def test_a_cycles_halts_are_one_overrides_change(control: ReleaseControl) -> None:
    """200 budgets exhausted in one cycle: 200 halts in one change of the overrides (not 200,
    each sending every gate decision in flight back to be made again), then released at once."""
    slos = [make_slo("search", f"slo{n:03d}") for n in range(200)]

    def fleet(remaining: float) -> Snapshot:
        ratio = (1 - remaining) * slos[0].error_budget
        return Snapshot(
            {s.id: SLOStatus(s, {w: ratio for w in s.windows.windows}, NOW, NOW) for s in slos},
            NOW,
        )

    store = control.store
    halted_now = await control.apply_halts(fleet(-0.5), POLICY.policy)
    assert sorted(c.freeze.slo for c in halted_now if c.halted) == [s.name for s in slos]
    assert (await store.overrides()).version == 1 and control.store_version == 1
    assert len(control.halted()) == 200 and len(await store.admin_actions(500)) == 200
    assert await control.apply_halts(fleet(-0.5), POLICY.policy) == []  # already halted
    released = await control.apply_halts(fleet(0.5), POLICY.policy)
    assert len(released) == 200 and not any(c.halted for c in released)
    assert (await store.overrides()).version == 2 and control.halted() == set()


async def test_halt_denies_with_frozen_until_recovered(control: ReleaseControl) -> None:
    await control.apply_halts(snapshot_with_remaining(-0.1), POLICY.policy)
    status = snapshot_with_remaining(0.03).statuses[SLO_.id]
    outcome = decide(
        GateRequest("search"), [status], POLICY.policy.resolver("search"), NOW, control.freezes()
    )
    assert outcome.verdict is Verdict.DENY
    assert [r.code for r in outcome.reasons] == [ReasonCode.BUDGET_LOW, ReasonCode.FROZEN]
    assert "lifted automatically once above 5%" in outcome.reasons[-1].message


async def test_halts_and_overrides_survive_a_restart(control: ReleaseControl) -> None:
    await control.apply_halts(snapshot_with_remaining(-0.1), POLICY.policy)
    manual = await control.add_freeze("*", "holidays", "alice")
    exemption = await control.add_exemption(
        "search", "CVE fix", "bob", until=NOW + 3600, change_type="security"
    )
    reborn = ReleaseControl(control.store, clock=lambda: NOW)
    await reborn.load()
    assert {f.id for f in reborn.freezes()} == {f.id for f in control.freezes()}
    assert manual in reborn.freezes()
    assert reborn.exemptions() == [exemption]


async def test_system_halt_of_a_removed_slo_is_lifted(control: ReleaseControl) -> None:
    await control.apply_halts(snapshot_with_remaining(-0.1), POLICY.policy)
    await control.apply_halts(Snapshot({}, NOW), POLICY.policy)
    assert not halted(control)


async def test_expired_overrides_stop_applying(control: ReleaseControl, tmp_path: Path) -> None:
    freeze = await control.add_freeze("search", "deploy window closed", "alice", until=NOW + 10)
    assert freeze in control.freezes()
    later = ReleaseControl(control.store, clock=lambda: NOW + 11)
    await later.load()
    assert later.freezes() == []


async def test_freezes_of_a_service_include_all_service_freezes(control: ReleaseControl) -> None:
    search = await control.add_freeze("search", "incident", "alice")
    everything = await control.add_freeze("*", "holiday", "bob")
    other = await control.add_freeze("checkout", "migration", "carol")
    assert control.freezes("search") == [search, everything]
    assert control.freezes("checkout") == [other, everything]
    assert control.freezes("unknown") == [everything]
    await control.lift_freeze(everything.id, "bob")
    assert control.freezes("search") == [search]
    assert control.freezes("unknown") == []
    assert control.freezes() == [search, other]


async def test_every_override_change_moves_the_version(control: ReleaseControl) -> None:
    seen = [control.version]
    freeze = await control.add_freeze("search", "incident", "alice")
    seen.append(control.version)
    await control.lift_freeze(freeze.id, "alice")
    seen.append(control.version)
    exemption = await control.add_exemption("search", "CVE", "bob", until=NOW + 60)
    seen.append(control.version)
    await control.revoke_exemption(exemption.id, "bob")
    seen.append(control.version)
    await control.apply_halts(snapshot_with_remaining(-0.1), POLICY.policy)
    seen.append(control.version)
    await control.apply_halts(snapshot_with_remaining(-0.2), POLICY.policy)  # still halted
    seen.append(control.version)
    assert seen == [0, 1, 2, 3, 4, 5, 5]


async def test_replicas_see_each_others_overrides_and_halt_once(tmp_path: Path) -> None:
    stores = [SQLiteStore(tmp_path / "shared.db") for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        one, other = (ReleaseControl(s, clock=lambda: NOW) for s in stores)
        await one.load()
        await other.load()
        freeze = await one.add_freeze("checkout", "incident", "alice")
        assert other.freeze(freeze.id) is None  # not read yet: its next decision is refused
        assert await other.lift_freeze(freeze.id, "bob") == freeze  # found in the store
        assert one.freeze(freeze.id) is not None
        await one.load()
        assert one.freezes() == []
        for control in (one, other):
            await control.apply_halts(snapshot_with_remaining(-0.1), POLICY.policy)
        assert [f.kind for f in await stores[0].active_freezes()] == [FreezeKind.SYSTEM]
        assert halted(one) and halted(other)
    finally:
        for store in stores:
            await store.close()
