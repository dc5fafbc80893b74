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


def tagged(expr: str, label: str, value: str) -> str:
    """`expr` with `label` set to `value` on each of its series."""
    return f'label_replace({expr}, "{label}", "{value}", "", "")'


def windows_query(slo: SLO, windows: Sequence[float] | None = None) -> str:
    """Every window's error ratio of `slo` (or of `windows`) in one query; each series carries
    its window in the `slogate_window` label (distinct per window, so `or` keeps them all)."""
    return "\nor\n".join(
        tagged(error_ratio_query(slo, w), WINDOW_LABEL, format_duration(w))
        for w in (slo.windows.windows if windows is None else windows)
    )


ERRORS, TOTAL = "errors", "total"
"""`slogate_window` of `counts_query`'s two series."""


def counts_query(sli: EventsSLI, window: str) -> str:
    """The SLI's error and total queries over `window` (rendered as is: `{{.window}}` stays for
    a later render), tagged `errors` and `total` in the `slogate_window` label."""
    return "\nor\n".join(
        tagged(f"({render_window(query, window)})", WINDOW_LABEL, part)
        for query, part in ((sli.error_query, ERRORS), (sli.total_query, TOTAL))
    )


SLO_LABEL = "slogate_slo"


def tag_batch(queries: Sequence[str]) -> str:
    """Several SLOs' queries in one; each series carries its query's index in the `slogate_slo`
    label (an index, not the SLO's name: nothing but numbers and the specs' own PromQL goes
    into the query). One query is itself."""
    if len(queries) == 1:
        return queries[0]
    return "\nor\n".join(tagged(query, SLO_LABEL, str(n)) for n, query in enumerate(queries))


def batch_query(slos: Sequence[SLO]) -> str:
    """`windows_query` of several SLOs in one query, tagged by `tag_batch`."""
    return tag_batch([windows_query(slo) for slo in slos])


def traffic_query(sli: EventsSLI, window: float) -> str:
    """The events SLI's total over `window`: asked only when the error ratio came back empty."""
    return f"({render_window(sli.total_query, format_duration(window))})"


def recorded_ratios_query(window: float) -> str:
    """Every SLO's error ratio over `window` from Sloth's recording rules, in one query: per
    `sloth_id`, the worst value of its series that is not +Inf (x/0). Prometheus' `max` skips
    NaN (0/0) unless every series is NaN, so NaN comes back only where nothing else is, and an
    SLO whose every series is +Inf is left out, as not recorded. One selector and one
    aggregation: at 10,000 SLOs, a third of Prometheus' time for the same answer with a second,
    `or`-ed pass for NaN (`benchmarks/scale.py`). Aggregated by Prometheus, so the answer
    carries one label per SLO, not every label of every series. Series of that name without a
    `sloth_id` (not Sloth's) make one group with an empty id, which matches no SLO: a
    `sloth_id!=""` matcher would cost a union of every id's postings to say the same."""
    return f"max by (sloth_id) ({sli_error_metric(window)} != +Inf)"
