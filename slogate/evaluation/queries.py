"""The PromQL slogate sends: one expression per SLO and window, rendered from the SLI.

An SLO's windows go to the backend together (`windows_query`): each window's expression tagged
with its window by `label_replace` and joined with `or`, one round trip per SLO. Several SLOs
go together the same way (`batch_query`), each tagged with its place in the batch.
An events SLI becomes one expression dividing errors by total — Sloth's own SLI expression — so
Prometheus divides values taken at the same instant (never two queries divided client-side).
A service that never failed often has no error series at all, which makes that expression
empty; `traffic_query` then tells "no errors" (a ratio of 0) from "no traffic" (no data).
Templates are rendered as Sloth renders them: `{{.window}}` → the window in Prometheus'
duration form.
"""

from __future__ import annotations

from collections.abc import Sequence

from slogate.conventions import render_window, sli_error_metric, sli_expression
from slogate.core.durations import format_duration
from slogate.core.model import SLO, EventsSLI


def error_ratio_query(slo: SLO, window: float) -> str:
    """The error ratio of `slo` over the `window` seconds before the query time."""
    return sli_expression(slo.sli, window)


WINDOW_LABEL = "slogate_window"


def windows_query(slo: SLO, windows: Sequence[float] | None = None) -> str:
    """Every window's (or `windows`') error ratio of `slo` in one query; each series carries
    its window in the `slogate_window` label (distinct per window, so `or` keeps them all)."""
    return "\nor\n".join(
        f'label_replace({error_ratio_query(slo, w)}, "{WINDOW_LABEL}", "{format_duration(w)}",'
        ' "", "")'
        for w in (slo.windows.windows if windows is None else windows)
    )


SLO_LABEL = "slogate_slo"


def batch_query(slos: Sequence[SLO]) -> str:
    """`windows_query` of several SLOs in one query; each series carries its SLO's index in
    `slos` in the `slogate_slo` label (an index, not the SLO's name: nothing but numbers and
    the specs' own PromQL goes into the query). One SLO is its plain `windows_query`."""
    if len(slos) == 1:
        return windows_query(slos[0])
    return "\nor\n".join(
        f'label_replace({windows_query(slo)}, "{SLO_LABEL}", "{n}", "", "")'
        for n, slo in enumerate(slos)
    )


def traffic_query(sli: EventsSLI, window: float) -> str:
    """The events SLI's total over `window`: asked only when the error ratio came back empty."""
    return f"({render_window(sli.total_query, format_duration(window))})"


def recorded_ratios_query(window: float) -> str:
    """Every SLO's error ratio over `window` from Sloth's recording rules, in one query: per
    `sloth_id`, the worst finite value of its series (NaN or ±Inf only where nothing else is).
    Aggregated by Prometheus, so the answer carries one label per SLO, not every label of
    every series: the answer of a 1,000-SLO window is decoded on the gate's event loop."""
    series = f'{sli_error_metric(window)}{{sloth_id!=""}}'
    return f"max by (sloth_id) ({series} < +Inf) or max by (sloth_id) ({series})"
