"""The PromQL slogate sends: one expression per SLO and window, rendered from the SLI.

An events SLI becomes one expression dividing errors by total — Sloth's own SLI expression — so
Prometheus divides values taken at the same instant (never two queries divided client-side).
A service that never failed often has no error series at all, which makes that expression
empty; `traffic_query` then tells "no errors" (a ratio of 0) from "no traffic" (no data).
Templates are rendered as Sloth renders them: `{{.window}}` → the window in Prometheus'
duration form.
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
        return f"({errors})\n/\n({total})\n"
    return f"({render_window(sli.error_ratio_query, w)})"


def traffic_query(sli: EventsSLI, window: float) -> str:
    """The events SLI's total over `window`: asked only when the error ratio came back empty."""
    return f"({render_window(sli.total_query, format_duration(window))})"


def recorded_ratios_query(window: float) -> str:
    """Every SLO's error ratio over `window` from Sloth's recording rules, in one query."""
    return f'{sli_error_metric(window)}{{sloth_id!=""}}'
