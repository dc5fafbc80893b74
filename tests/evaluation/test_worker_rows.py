"""What the evaluation worker sends (compact rows) rebuilds exactly the statuses it computed:
`SLOStatus.restored` against `SLOStatus(...)` computing them again, and a snapshot grouped a
chunk at a time against one grouped at once. Pure: no process, no I/O."""

from __future__ import annotations

import pickle

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from slogate.core.model import frozen_labels
from slogate.core.snapshot import SLOStatus, Snapshot, group_by_service
from slogate.core.windows import DAY
from slogate.evaluation.worker import Row, Rows, frame
from tests.factories import make_slo

SLO = make_slo(objective=99.5)
WINDOWS = SLO.windows.windows
ratios = st.lists(
    st.one_of(st.none(), st.floats(0, 1)), min_size=len(WINDOWS), max_size=len(WINDOWS)
)


def through_the_pipe(row: Row) -> Row:
    payload = frame(Rows([row]))[4:]
    [decoded] = msgspec.msgpack.decode(payload, type=Rows).rows
    return decoded


@given(ratios, st.booleans())
def test_a_row_rebuilds_the_status_it_was_made_of(values: list[float | None], some: bool) -> None:
    windows = WINDOWS[:4] if some else WINDOWS  # a status may answer for some windows only
    computed = SLOStatus(SLO, dict(zip(windows, values, strict=False)), 100.0, 100.5)
    rebuilt = through_the_pipe(Row.of(7, computed)).status(SLO, None)
    assert rebuilt == computed
    assert rebuilt.burn_rates == computed.burn_rates and rebuilt.page == computed.page
    assert rebuilt.memo == {} and rebuilt.memo is not computed.memo


def test_a_failed_row_keeps_the_serving_sides_figures() -> None:
    before = SLOStatus(SLO, {w: 0.01 for w in WINDOWS}, 100.0, 100.0)
    failed_in_worker = SLOStatus(SLO).failed("cannot reach prometheus", 130.0)
    rebuilt = through_the_pipe(Row.of(0, failed_in_worker)).status(SLO, before)
    assert rebuilt == SLOStatus(SLO, before.error_ratios, 100.0, 130.0, "cannot reach prometheus")
    assert rebuilt.error_budget_remaining == before.error_budget_remaining == -1.0  # 1% vs 0.5%
    other = make_slo(objective=90.0)  # a previous status of another SLO (reloaded): not kept
    assert through_the_pipe(Row.of(0, failed_in_worker)).status(SLO, SLOStatus(other)) == (
        SLOStatus(SLO, {}, None, 130.0, "cannot reach prometheus")
    )


def test_failed_is_the_same_status_with_the_error() -> None:
    status = SLOStatus(SLO, {w: 0.004 for w in WINDOWS}, 10.0, 10.0)
    failed = status.failed("boom", 40.0)
    assert failed == SLOStatus(SLO, status.error_ratios, 10.0, 40.0, "boom")
    assert failed.burn_rates[30 * DAY] == 0.8


def test_a_snapshot_grouped_in_chunks_is_the_one_grouped_at_once() -> None:
    slos = [make_slo(f"svc{n % 3}", f"slo{n}") for n in range(10)]
    statuses = {slo.id: SLOStatus(slo, {w: 0.001 for w in WINDOWS}, 5.0, 5.0) for slo in slos}
    grouped: dict[str, list[SLOStatus]] = {}
    values = list(statuses.values())
    for n in range(0, len(values), 4):
        group_by_service(values[n : n + 4], grouped)
    chunked = Snapshot(statuses, 5.0, 3, grouped=grouped)
    assert chunked == Snapshot(statuses, 5.0, 3)
    assert chunked.services == ("svc0", "svc1", "svc2")
    assert [s.slo.name for s in chunked.of_service("svc1")] == ["slo1", "slo4", "slo7"]


def test_slo_models_pickle_for_the_worker() -> None:
    slo = make_slo(labels=frozen_labels({"team": "pay"}))
    assert pickle.loads(pickle.dumps(slo)) == slo  # read-only mappings included
