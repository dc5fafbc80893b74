"""The PromQL slogate sends: one expression per SLO and window, rendered from the SLI.

An events SLI becomes one expression dividing errors by total, so Prometheus divides values
taken at the same instant (never two queries divided client-side). A service with no errors
often has no error series at all; `or 0 * total` makes that a ratio of 0 rather than no data,
while no traffic (no total) stays no data. Templates are rendered as Sloth renders them:
`{{.window}}` → the window in Prometheus' duration form.
"""

from __future__ import annotations

from slogate.durations import format_duration
from slogate.model import SLO, EventsSLI
from slogate.promql import render_window
from slogate.rules import sli_error_metric


def error_ratio_query(slo: SLO, window: float) -> str:
    """The error ratio of `slo` over the `window` seconds before the query time."""
    w = format_duration(window)
    sli = slo.sli
    if isinstance(sli, EventsSLI):
        errors, total = render_window(sli.error_query, w), render_window(sli.total_query, w)
        return f"(\n  ({errors})\n  or\n  0 * ({total})\n)\n/\n({total})\n"
    return f"({render_window(sli.error_ratio_query, w)})"


def recorded_ratios_query(window: float) -> str:
    """Every SLO's error ratio over `window` from Sloth's recording rules, in one query."""
    return f'{sli_error_metric(window)}{{sloth_id!=""}}'
