"""Build slogate's Grafana dashboards (DESIGN §6) as plain JSON.

    python grafana/build.py          # rewrite grafana/*.json
    python grafana/build.py --check  # exit 1 if a committed file differs from what is built

The dashboards read only slogate's own metrics (`slogate/telemetry/metrics.py`). Every panel
queries the `datasource` variable; `service` and `slo` come from `slogate_slo_objective_ratio`.
Output is pretty-printed with sorted keys so that a change to this script shows as a reviewable
diff.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slogate.core.durations import format_duration
from slogate.core.windows import DAY, BurnWindow, google_windows

Json = dict[str, Any]

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x
OVERVIEW_UID = "slogate-overview"
DETAIL_UID = "slogate-slo-detail"
DELIVERY_UID = "slogate-delivery"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["slo", "slogate"]

# The burn-rate conditions of a 30d SLO period, derived as slogate derives them: the page alert
# fires when both windows of a pair burn faster than the factor (14.4 over 5m and 1h, 6 over 30m
# and 6h), the ticket alert likewise (3 over 2h and 1d, 1 over 6h and 3d).
_WINDOWS = google_windows(30 * DAY)
Threshold = tuple[float, str, str]


def _threshold(window: BurnWindow) -> Threshold:
    factor = round(window.burn_factor, 6)
    return (
        int(factor) if factor.is_integer() else factor,  # 6, not 6.0, in the JSON
        format_duration(window.short_window),
        format_duration(window.long_window),
    )


def _windows(*conditions: BurnWindow) -> tuple[str, ...]:
    seconds = {w for c in conditions for w in (c.short_window, c.long_window)}
    return tuple(format_duration(s) for s in sorted(seconds))


PAGE = (_WINDOWS.page_quick, _WINDOWS.page_slow)
TICKET = (_WINDOWS.ticket_quick, _WINDOWS.ticket_slow)
PAGE_THRESHOLDS = tuple(_threshold(w) for w in PAGE)
TICKET_THRESHOLDS = tuple(_threshold(w) for w in TICKET)
PAGE_WINDOWS = _windows(*PAGE)  # 5m, 30m, 1h, 6h
TICKET_WINDOWS = _windows(*TICKET)  # 2h, 6h, 1d, 3d
PAGE_FACTOR = PAGE_THRESHOLDS[0][0]  # 14.4, over 5m and 1h
BUDGET_LOW = 0.25  # policy default budget_low_threshold
MAX_STALENESS = 90.0  # policy default max_staleness, seconds

DECISION_COLORS = {"allow": "green", "warn": "orange", "deny": "red"}
ALERT_MAPPINGS: list[Json] = [
    {
        "options": {
            "0": {"color": "green", "index": 0, "text": "ok"},
            "1": {"color": "red", "index": 1, "text": "FIRING"},
        },
        "type": "value",
    }
]


# --- PromQL --------------------------------------------------------------------------------------


def selector(**labels: str) -> str:
    """`{a="x",b=~"y"}`: a value starting with `~` is a regex match."""
    parts = []
    for name, value in labels.items():
        op = "=~" if value.startswith("~") else "="
        parts.append(f'{name}{op}"{value.removeprefix("~")}"')
    return "{" + ",".join(parts) + "}"


# Overview: multi-value variables (regex). Detail: one service and one SLO (exact match).
OV = {"service": "~$service", "slo": "~$slo"}
DT = {"service": "$service", "slo": "$slo"}


def decisions_per_slo(decision: str) -> str:
    """Gate decisions of `decision` over the range for each SLO's service (0 when none), with the
    SLO's labels so that the row joins the SLO table (decisions are counted per service)."""
    objective = f"slogate_slo_objective_ratio{selector(**OV)}"
    counter = f"slogate_gate_decisions_total{selector(service='~$service', decision=decision)}"
    return (
        f"max by (service, slo) ({objective}) * 0"
        f" + on (service) group_left () ("
        f"sum by (service) (increase({counter}[$__range]))"
        f" or max by (service) ({objective}) * 0)"
    )


def quantile(q: float) -> str:
    return (
        f"histogram_quantile({q}, sum by (le) "
        "(rate(slogate_evaluation_duration_seconds_bucket[$__rate_interval])))"
    )


# --- Panels --------------------------------------------------------------------------------------


def target(
    expr: str, ref: str, legend: str = "__auto", *, instant: bool = False, table: bool = False
) -> Json:
    """A Prometheus query: a range query for time series panels, an instant one (`instant`) for
    stats and bar gauges, an instant one returned as a table (`table`) for tables."""
    instant = instant or table
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend,
        "range": not instant,
        "refId": ref,
    }


def steps(*pairs: tuple[float | None, str]) -> Json:
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in pairs],
    }


def panel(kind: str, title: str, description: str, targets: Sequence[Json], **extra: Any) -> Json:
    p: Json = {
        "datasource": DATASOURCE,
        "description": description,
        "targets": list(targets),
        "title": title,
        "type": kind,
    }
    p.update(extra)
    return p


def stat(
    title: str,
    description: str,
    expr: str,
    legend: str,
    *,
    unit: str = "short",
    thresholds: Json | None = None,
    decimals: int | None = None,
    mappings: list[Json] | None = None,
    color_mode: str = "background",
) -> Json:
    defaults: Json = {
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
        "thresholds": thresholds or steps((None, "green")),
        "unit": unit,
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return panel(
        "stat",
        title,
        description,
        [target(expr, "A", legend, instant=True)],
        fieldConfig={"defaults": defaults, "overrides": []},
        options={
            "colorMode": color_mode,
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": "auto",
            "wideLayout": True,
        },
    )


def color_overrides(colors: dict[str, str]) -> list[Json]:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"fixedColor": color, "mode": "fixed"}}],
        }
        for name, color in colors.items()
    ]


def dashed_overrides(pattern: str) -> list[Json]:
    """Draw the series whose name matches `pattern` (thresholds) as dashed lines."""
    return [
        {
            "matcher": {"id": "byRegexp", "options": pattern},
            "properties": [
                {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
                {"id": "custom.lineWidth", "value": 2},
                {"id": "color", "value": {"fixedColor": "red", "mode": "fixed"}},
            ],
        }
    ]


def timeseries(
    title: str,
    description: str,
    targets: Sequence[Json],
    *,
    unit: str = "short",
    thresholds: Json | None = None,
    threshold_style: str = "off",
    overrides: list[Json] | None = None,
    bars: bool = False,
    min_interval: str | None = None,
    time_from: str | None = None,
    decimals: int | None = None,
) -> Json:
    custom: Json = {
        "axisPlacement": "auto",
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 80 if bars else 10,
        "lineWidth": 1,
        "pointSize": 4,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if bars else "none"},
        "thresholdsStyle": {"mode": threshold_style},
    }
    defaults: Json = {
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "thresholds": thresholds or steps((None, "green")),
        "unit": unit,
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    extra: Json = {}
    if min_interval is not None:
        extra["interval"] = min_interval
    if time_from is not None:
        extra["timeFrom"] = time_from
    return panel(
        "timeseries",
        title,
        description,
        targets,
        fieldConfig={"defaults": defaults, "overrides": overrides or []},
        options={
            "legend": {
                "calcs": ["lastNotNull", "max"],
                "displayMode": "table",
                "placement": "right",
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        **extra,
    )


def bargauge(
    title: str,
    description: str,
    expr: str,
    legend: str,
    *,
    unit: str,
    thresholds: Json,
    **kw: Any,
) -> Json:
    defaults: Json = {"color": {"mode": "thresholds"}, "thresholds": thresholds, "unit": unit}
    defaults.update(kw)
    return panel(
        "bargauge",
        title,
        description,
        [target(expr, "A", legend, instant=True)],
        fieldConfig={"defaults": defaults, "overrides": []},
        options={
            "displayMode": "lcd",
            "maxVizHeight": 300,
            "minVizHeight": 16,
            "minVizWidth": 8,
            "namePlacement": "left",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
            "sizing": "auto",
            "valueMode": "color",
        },
    )


def layout(rows: Sequence[tuple[int, Sequence[Json]]]) -> list[Json]:
    """Place panels row by row (each row `height` high, widths splitting 24 columns) and number
    them 1, 2, ... in reading order."""
    placed: list[Json] = []
    y = 0
    for height, panels in rows:
        x = 0
        width = 24 // len(panels)
        for index, p in enumerate(panels):
            w = 24 - x if index == len(panels) - 1 else width
            placed.append({**p, "gridPos": {"h": height, "w": w, "x": x, "y": y}})
            x += w
        y += height
    return [{**p, "id": i} for i, p in enumerate(placed, start=1)]


# --- Variables, annotations, dashboard -----------------------------------------------------------


def variables(*, multi: bool) -> list[Json]:
    datasource: Json = {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "type": "datasource",
    }
    out = [datasource]
    for name, label, query in (
        ("service", "Service", "label_values(slogate_slo_objective_ratio, service)"),
        (
            "slo",
            "SLO",
            'label_values(slogate_slo_objective_ratio{service=~"$service"}, slo)',
        ),
    ):
        var: Json = {
            "current": {},
            "datasource": DATASOURCE,
            "definition": query,
            "hide": 0,
            "includeAll": multi,
            "label": label,
            "multi": multi,
            "name": name,
            "options": [],
            "query": query,
            "refresh": 2,
            "regex": "",
            "skipUrlSync": False,
            "sort": 1,
            "type": "query",
        }
        if multi:
            var["allValue"] = ".*"
        out.append(var)
    return out


def annotation(name: str, color: str, expr: str) -> Json:
    return {
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": color,
        "name": name,
        "tagKeys": "service,decision",
        "target": {"expr": expr, "interval": "1m", "refId": "Anno"},
        "textFormat": "{{decision}}: gate decisions for {{service}} since the previous step",
        "titleFormat": "Deploy gate: {{decision}}",
        "useValueForTime": False,
    }


def builtin_annotation() -> Json:
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Json],
    *,
    multi: bool,
    annotations: Sequence[Json] = (),
    links: Sequence[Json] = (),
) -> Json:
    return {
        "__requires": [
            {"id": "grafana", "name": "Grafana", "type": "grafana", "version": "10.4.0"},
            {"id": "prometheus", "name": "Prometheus", "type": "datasource", "version": "1.0.0"},
        ],
        "annotations": {"list": [builtin_annotation(), *annotations]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": list(links),
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "tags": TAGS,
        "templating": {"list": variables(multi=multi)},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def link_to(uid: str, title: str) -> Json:
    return {
        "asDropdown": False,
        "icon": "dashboard",
        "includeVars": True,
        "keepTime": True,
        "tags": [],
        "targetBlank": False,
        "title": title,
        "tooltip": "",
        "type": "link",
        "url": f"/d/{uid}",
    }


# --- Overview ------------------------------------------------------------------------------------


def slo_table() -> Json:
    s = selector(**OV)
    columns = [
        ("objective", "Objective", f"max by (service, slo) (slogate_slo_objective_ratio{s})"),
        (
            "budget",
            "Budget remaining",
            f"max by (service, slo) (slogate_slo_error_budget_remaining_ratio{s})",
        ),
        (
            "burn1h",
            "Burn rate (1h)",
            f"max by (service, slo) (slogate_slo_burn_rate{selector(**OV, window='1h')})",
        ),
        (
            "page",
            "Page alert",
            f"max by (service, slo) (slogate_slo_alert_firing{selector(**OV, severity='page')})",
        ),
        (
            "ticket",
            "Ticket alert",
            f"max by (service, slo) (slogate_slo_alert_firing{selector(**OV, severity='ticket')})",
        ),
        *((d, f"{d.capitalize()} (range)", decisions_per_slo(d)) for d in DECISION_COLORS),
    ]
    targets = [target(expr, ref, table=True) for ref, _, expr in columns]
    rename = {f"Value #{ref}": name for ref, name, _ in columns}
    order = ["service", "slo", *(name for _, name, _ in columns)]

    def override(name: str, *props: Json) -> Json:
        return {"matcher": {"id": "byName", "options": name}, "properties": list(props)}

    def cell(kind: str) -> Json:
        return {"id": "custom.cellOptions", "value": {"type": kind}}

    detail_link = {
        "id": "links",
        "value": [
            {
                "title": "SLO detail",
                "url": (
                    f"/d/{DETAIL_UID}?var-service=${{__data.fields.service}}"
                    "&var-slo=${__data.fields.slo}&${datasource:queryparam}&${__url_time_range}"
                ),
            }
        ],
    }
    overrides = [
        override("slo", detail_link),
        override(
            "Objective", {"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 2}
        ),
        override(
            "Budget remaining",
            {"id": "unit", "value": "percentunit"},
            {"id": "decimals", "value": 1},
            {"id": "thresholds", "value": budget_steps()},
            cell("color-background"),
        ),
        override(
            "Burn rate (1h)",
            {"id": "decimals", "value": 2},
            {"id": "thresholds", "value": burn_steps()},
            cell("color-text"),
        ),
        *(
            override(
                name,
                {"id": "mappings", "value": ALERT_MAPPINGS},
                {"id": "thresholds", "value": steps((None, "green"), (1, "red"))},
                cell("color-background"),
            )
            for name in ("Page alert", "Ticket alert")
        ),
        *(
            override(f"{d.capitalize()} (range)", {"id": "decimals", "value": 0})
            for d in DECISION_COLORS
        ),
    ]
    return panel(
        "table",
        "SLOs, worst first",
        "One row per SLO, sorted by error budget remaining (exhausted first). Burn rate (1h) is"
        f" the page condition's long window (page threshold {PAGE_FACTOR:g}). Gate decisions are"
        " counted per service over the dashboard's time range. Click an SLO for its detail"
        " dashboard.",
        targets,
        fieldConfig={
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
                "mappings": [],
                "thresholds": steps((None, "green")),
            },
            "overrides": overrides,
        },
        options={
            "cellHeight": "sm",
            "footer": {"countRows": False, "fields": "", "reducer": ["sum"], "show": False},
            "showHeader": True,
        },
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "sortBy",
                "options": {"fields": {}, "sort": [{"desc": False, "field": "Value #budget"}]},
            },
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {name: i for i, name in enumerate(order)},
                    "renameByName": rename,
                },
            },
        ],
    )


def budget_steps() -> Json:
    return steps((None, "red"), (0, "orange"), (BUDGET_LOW, "green"))


def burn_steps() -> Json:
    """Colours of a burn rate: spending faster than the budget allows, then the page factors."""
    (fast, _, _), (slow, _, _) = PAGE_THRESHOLDS
    return steps((None, "green"), (1, "yellow"), (slow, "orange"), (fast, "red"))


def overview() -> Json:
    s = selector(**OV)
    health = [
        stat(
            "Snapshot age",
            "Seconds since slogate's current snapshot was evaluated. Gate answers turn to"
            f" stale_data past max_staleness (default {MAX_STALENESS:g}s).",
            "max(slogate_snapshot_age_seconds)",
            "age",
            unit="s",
            decimals=1,
            thresholds=steps(
                (None, "green"), (MAX_STALENESS / 2, "orange"), (MAX_STALENESS, "red")
            ),
        ),
        stat(
            "Evaluation duration (p95)",
            "95th percentile of one evaluation cycle (all SLOs, all windows).",
            quantile(0.95),
            "p95",
            unit="s",
            thresholds=steps((None, "green"), (5, "orange"), (30, "red")),
        ),
        stat(
            "Backend errors (range)",
            "Backend queries that failed (unreachable, timeout, error answer) over the range.",
            "sum(increase(slogate_backend_errors_total[$__range]))",
            "errors",
            decimals=0,
            thresholds=steps((None, "green"), (1, "red")),
        ),
        stat(
            "Backend error ratio",
            "Failed over sent backend queries, now.",
            "sum(rate(slogate_backend_errors_total[$__rate_interval]))"
            " / sum(rate(slogate_backend_queries_total[$__rate_interval]))",
            "error ratio",
            unit="percentunit",
            thresholds=steps((None, "green"), (0.001, "orange"), (0.05, "red")),
        ),
        stat(
            "Active freezes",
            "Release freezes in force by kind: manual (admin API) and system (automatic halts"
            " on an exhausted budget).",
            "sum by (kind) (slogate_freezes_active)",
            "{{kind}}",
            decimals=0,
            thresholds=steps((None, "green"), (1, "orange")),
        ),
        stat(
            "Active exemptions",
            "Exemptions in force (deploys let through despite the budget).",
            "sum(slogate_exemptions_active)",
            "exemptions",
            decimals=0,
            thresholds=steps((None, "green"), (1, "blue")),
        ),
    ]
    alerts = [
        stat(
            "SLOs alerting",
            "SLOs whose multiwindow burn-rate condition holds, by severity.",
            f"sum by (severity) (slogate_slo_alert_firing{s})",
            "{{severity}}",
            decimals=0,
            thresholds=steps((None, "green"), (1, "red")),
        ),
        stat(
            "Open incidents",
            "Incidents slogate has opened and not resolved, by severity.",
            "sum by (severity) (slogate_incidents_open)",
            "{{severity}}",
            decimals=0,
            thresholds=steps((None, "green"), (1, "red")),
        ),
        stat(
            "Gate decisions (range)",
            "Gate decisions for the selected services over the range, by decision.",
            "sum by (decision) (increase("
            f"slogate_gate_decisions_total{selector(service='~$service')}[$__range]))",
            "{{decision}}",
            decimals=0,
            color_mode="value",
        ),
        stat(
            "Last reload",
            "Whether the last reload of config and specs succeeded (a failed reload keeps the"
            " last good set). No data until slogate has reloaded once.",
            "min by (kind) (slogate_reload_success)",
            "{{kind}}",
            mappings=[
                {
                    "options": {
                        "0": {"color": "red", "index": 0, "text": "FAILED"},
                        "1": {"color": "green", "index": 1, "text": "ok"},
                    },
                    "type": "value",
                }
            ],
            thresholds=steps((None, "red"), (1, "green")),
        ),
    ]
    ranked = [
        bargauge(
            "Error budget remaining, worst first",
            "Fraction of each SLO's period error budget left; negative when overspent.",
            f"sort(max by (service, slo) (slogate_slo_error_budget_remaining_ratio{s}))",
            "{{service}} / {{slo}}",
            unit="percentunit",
            thresholds=budget_steps(),
            max=1,
        ),
        bargauge(
            "Burn rate (1h), worst first",
            "Error budget burn rate over the last hour; 1 spends the budget exactly over the"
            f" period, {PAGE_FACTOR:g} is the page threshold.",
            "sort_desc(max by (service, slo) "
            f"(slogate_slo_burn_rate{selector(**OV, window='1h')}))",
            "{{service}} / {{slo}}",
            unit="none",
            thresholds=burn_steps(),
            decimals=2,
            min=0,
        ),
    ]
    trends = [
        timeseries(
            "Burn rate (1h) by SLO",
            f"Burn rate over the page condition's long window; the line is its {PAGE_FACTOR:g}"
            " threshold.",
            [
                target(
                    f"max by (service, slo) (slogate_slo_burn_rate{selector(**OV, window='1h')})",
                    "A",
                    "{{service}} / {{slo}}",
                )
            ],
            thresholds=steps((None, "green"), (PAGE_FACTOR, "red")),
            threshold_style="dashed",
            decimals=2,
        ),
        timeseries(
            "Error budget remaining by SLO",
            "Budget left over each SLO's rolling period; below 0 the budget is exhausted.",
            [
                target(
                    f"max by (service, slo) (slogate_slo_error_budget_remaining_ratio{s})",
                    "A",
                    "{{service}} / {{slo}}",
                )
            ],
            unit="percentunit",
            thresholds=steps((None, "red"), (0, "transparent")),
            threshold_style="dashed",
        ),
    ]
    activity = [
        timeseries(
            "Gate decisions",
            "Gate decisions by service and decision, per $__rate_interval window.",
            [
                target(
                    "sum by (service, decision) (increase("
                    f"slogate_gate_decisions_total{selector(service='~$service')}"
                    "[$__rate_interval]))",
                    "A",
                    "{{service}} {{decision}}",
                )
            ],
            bars=True,
            min_interval="1m",
            decimals=0,
        ),
        timeseries(
            "Evaluation duration",
            "Duration of one evaluation cycle: 95th percentile and mean.",
            [
                target(quantile(0.95), "A", "p95"),
                target(
                    "sum(rate(slogate_evaluation_duration_seconds_sum[$__rate_interval]))"
                    " / sum(rate(slogate_evaluation_duration_seconds_count[$__rate_interval]))",
                    "B",
                    "mean",
                ),
            ],
            unit="s",
        ),
    ]
    backend = [
        timeseries(
            "Backend queries and errors",
            "Queries slogate sends to Prometheus, and those that failed, per second.",
            [
                target(
                    "sum(rate(slogate_backend_queries_total[$__rate_interval]))", "A", "queries"
                ),
                target("sum(rate(slogate_backend_errors_total[$__rate_interval]))", "B", "errors"),
            ],
            unit="reqps",
            overrides=color_overrides({"errors": "red"}),
        ),
        timeseries(
            "Notifications",
            "Notification attempts by sink and outcome per $__rate_interval window, and the"
            " outbox depth (notifications not yet acknowledged) by sink.",
            [
                target(
                    "sum by (sink, outcome) "
                    "(increase(slogate_notifications_total[$__rate_interval]))",
                    "A",
                    "{{sink}} {{outcome}}",
                ),
                target(
                    "sum by (sink) (slogate_notification_outbox_depth)",
                    "B",
                    "{{sink}} outbox",
                ),
            ],
            decimals=0,
        ),
    ]
    panels = layout(
        [
            (4, health),
            (4, alerts),
            (10, [slo_table()]),
            (9, ranked),
            (9, trends),
            (8, activity),
            (8, backend),
        ]
    )
    return dashboard(
        OVERVIEW_UID,
        "slogate / Overview",
        "Every SLO slogate evaluates: objective, budget, burn, alert state and gate decisions;"
        " and slogate's own health.",
        panels,
        multi=True,
        links=[link_to(DETAIL_UID, "SLO detail")],
    )


# --- SLO detail ----------------------------------------------------------------------------------


def burn_panel(kind: str, windows: Sequence[str], thresholds: Sequence[Threshold]) -> Json:
    pattern = "|".join(windows)
    targets = [
        target(
            f"max by (window) (slogate_slo_burn_rate{selector(**DT, window='~' + pattern)})",
            "A",
            "{{window}}",
        )
    ]
    for index, (factor, short, long) in enumerate(thresholds):
        targets.append(
            target(
                f"vector({factor:g})",
                chr(ord("B") + index),
                f"{kind} threshold {factor:g} ({short} & {long})",
            )
        )
    listed = ", ".join(f"{f:g} over {s} and {lg}" for f, s, lg in thresholds)
    return timeseries(
        f"{kind.capitalize()} burn rate",
        f"Burn rate over the {kind} condition's windows. The {kind} alert fires when both windows"
        f" of a pair burn faster than its threshold ({listed}; factors of a 30d period, the"
        " thresholds of other periods differ).",
        targets,
        overrides=dashed_overrides(".*threshold.*"),
        decimals=2,
    )


def slo_detail() -> Json:
    s = selector(**DT)
    svc = selector(service="$service")
    decisions = f"slogate_gate_decisions_total{svc}"
    status = [
        stat(
            "Objective",
            "The SLO's objective.",
            f"max(slogate_slo_objective_ratio{s})",
            "objective",
            unit="percentunit",
            decimals=2,
            color_mode="value",
            thresholds=steps((None, "text")),
        ),
        stat(
            "Error budget remaining",
            "Fraction of the period's error budget left (negative: overspent).",
            f"max(slogate_slo_error_budget_remaining_ratio{s})",
            "remaining",
            unit="percentunit",
            decimals=1,
            thresholds=budget_steps(),
        ),
        stat(
            "Burn rate (1h)",
            f"Current burn rate over the last hour (page threshold {PAGE_FACTOR:g}).",
            f"max(slogate_slo_burn_rate{selector(**DT, window='1h')})",
            "1h",
            decimals=2,
            thresholds=burn_steps(),
        ),
        stat(
            "Alert state",
            "Whether the page and ticket multiwindow burn-rate conditions hold.",
            f"max by (severity) (slogate_slo_alert_firing{s})",
            "{{severity}}",
            mappings=ALERT_MAPPINGS,
            thresholds=steps((None, "green"), (1, "red")),
        ),
        stat(
            "Data age",
            "Age of this SLO's figures.",
            f"max(slogate_slo_data_age_seconds{s})",
            "age",
            unit="s",
            decimals=1,
            thresholds=steps(
                (None, "green"), (MAX_STALENESS / 2, "orange"), (MAX_STALENESS, "red")
            ),
        ),
        stat(
            "Gate decisions (range)",
            "Gate decisions for the service over the range, by decision.",
            f"sum by (decision) (increase({decisions}[$__range]))",
            "{{decision}}",
            decimals=0,
            color_mode="value",
        ),
    ]
    burn = [
        burn_panel("page", PAGE_WINDOWS, PAGE_THRESHOLDS),
        burn_panel("ticket", TICKET_WINDOWS, TICKET_THRESHOLDS),
    ]
    budget = [
        timeseries(
            "Error budget burn-down (30d)",
            "Budget remaining over the last 30 days (the SLO period of the default windows):"
            " 100% is untouched, 0 exhausted. The 30d burn rate is the fraction spent.",
            [
                target(f"max(slogate_slo_error_budget_remaining_ratio{s})", "A", "remaining"),
                target(
                    f"max(slogate_slo_burn_rate{selector(**DT, window='30d')})",
                    "B",
                    "spent (30d burn rate)",
                ),
            ],
            unit="percentunit",
            thresholds=budget_steps(),
            threshold_style="dashed",
            time_from="30d",
        ),
        timeseries(
            "Error ratio vs allowed",
            "SLI error ratio per window, against the allowed error ratio (1 - objective). A"
            " window above the allowed line is burning faster than 1.",
            [
                target(f"max by (window) (slogate_slo_error_ratio{s})", "A", "{{window}}"),
                target(
                    f"1 - max(slogate_slo_objective_ratio{s})",
                    "B",
                    "allowed (1 - objective)",
                ),
            ],
            unit="percentunit",
            overrides=dashed_overrides("^allowed.*"),
        ),
    ]
    gate = [
        timeseries(
            "Gate decisions over time",
            "Gate decisions for the service by decision, per $__rate_interval window. The same"
            " decisions are drawn as annotations on every time series.",
            [
                target(
                    f"sum by (decision) (increase({decisions}[$__rate_interval]))",
                    "A",
                    "{{decision}}",
                )
            ],
            bars=True,
            min_interval="1m",
            decimals=0,
            overrides=color_overrides(DECISION_COLORS),
        ),
    ]
    panels = layout([(4, status), (9, burn), (9, budget), (8, gate)])
    burn_ids = [p["id"] for p in panels if p["title"].endswith("burn rate")]
    annotations = [failed_deployments_annotation(burn_ids)] + [
        annotation(
            name,
            color,
            "sum by (service, decision) (increase(slogate_gate_decisions_total"
            f"{selector(service='$service', decision=match)}[$__rate_interval])) > 0",
        )
        for name, color, match in (
            ("Deploys denied", "red", "deny"),
            ("Deploys allowed or warned", "green", "~allow|warn"),
        )
    ]
    return dashboard(
        DETAIL_UID,
        "slogate / SLO detail",
        "One SLO: burn rate per alert window against the page and ticket thresholds, budget"
        " burn-down, error ratio against the allowed ratio, and the deploy gate's decisions.",
        panels,
        multi=False,
        annotations=annotations,
        links=[link_to(OVERVIEW_UID, "SLO overview")],
    )


# --- Delivery (DORA) -----------------------------------------------------------------------------

FAILED_OUTCOMES = "~failed|rolled_back"
BAND_MAPPINGS: list[Json] = [
    {
        "options": {
            "1": {"color": "red", "index": 0, "text": "low"},
            "2": {"color": "orange", "index": 1, "text": "medium"},
            "3": {"color": "green", "index": 2, "text": "high"},
            "4": {"color": "purple", "index": 3, "text": "elite"},
        },
        "type": "value",
    }
]


def failed_deployments_annotation(panel_ids: Sequence[int] = (), service: str = "$service") -> Json:
    """Failed or rolled back deployments of the service; drawn on `panel_ids` only if given."""
    failed = selector(service=service, outcome=FAILED_OUTCOMES)
    only: Json = {"filter": {"exclude": False, "ids": list(panel_ids)}} if panel_ids else {}
    return {
        **only,
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "purple",
        "name": "Failed deployments",
        "tagKeys": "service,outcome",
        "target": {
            "expr": "sum by (service, outcome) (increase(slogate_deployments_total"
            f"{failed}[$__rate_interval])) > 0",
            "interval": "1m",
            "refId": "Anno",
        },
        "textFormat": "{{outcome}}: a deployment of {{service}} since the previous step",
        "titleFormat": "Deployment {{outcome}}",
        "useValueForTime": False,
    }


def dora_stat(title: str, description: str, metric: str, unit: str, thresholds: Json) -> Json:
    return stat(
        title,
        description,
        f"max by (service) ({metric}{selector(service='~$service')})",
        "{{service}}",
        unit=unit,
        decimals=2,
        thresholds=thresholds,
    )


def delivery() -> Json:
    svc = selector(service="~$service")
    hour, day, week = 3600, 86_400, 7 * 86_400
    figures = [
        dora_stat(
            "Deployment frequency",
            "Deployments finished per day over slogate's DORA window (dora.window, 30d by"
            " default). Colours as the 2021 report's bands: elite at least daily, high weekly"
            " to monthly.",
            "slogate_dora_deployment_frequency_per_day",
            "short",
            steps((None, "red"), (1 / 182.5, "orange"), (1 / 30.4, "green"), (1, "purple")),
        ),
        dora_stat(
            "Lead time for changes (median)",
            "Median time from commit to finished deployment (deployments that reported their"
            " commit time). Elite under an hour, high under a week (2021 bands).",
            "slogate_dora_lead_time_seconds",
            "s",
            steps((None, "purple"), (hour, "green"), (week, "orange"), (182.5 * day, "red")),
        ),
        dora_stat(
            "Change failure rate",
            "Failed / finished deployments, over distinct deployments: failed or rolled back,"
            " or followed by a page incident within dora.failure_window.",
            "slogate_dora_change_failure_rate",
            "percentunit",
            steps((None, "purple"), (0.15, "green"), (0.30, "red")),
        ),
        dora_stat(
            "Time to restore (median)",
            "Median duration of the service's resolved page incidents. Elite under an hour,"
            " high under a day (2021 bands).",
            "slogate_dora_time_to_restore_seconds",
            "s",
            steps((None, "purple"), (hour, "green"), (day, "orange"), (week, "red")),
        ),
    ]
    bands = [
        stat(
            "DORA bands",
            "The band of each figure per service, from the report year slogate is configured"
            " with (dora.report_year; the label report_year says which).",
            f"max by (service, metric, report_year) (slogate_dora_band{svc})",
            "{{service}} {{metric}} ({{report_year}})",
            mappings=BAND_MAPPINGS,
            thresholds=steps((None, "red"), (2, "orange"), (3, "green"), (4, "purple")),
        ),
    ]
    over_time = [
        timeseries(
            "Deployments per day",
            "Deployments reaching each outcome per day, per service.",
            [
                target(
                    f"sum by (service, outcome) (increase(slogate_deployments_total{svc}[1d]))",
                    "A",
                    "{{service}} {{outcome}}",
                )
            ],
            bars=True,
            min_interval="1h",
            decimals=0,
        ),
        timeseries(
            "Deployments and failures in the window",
            "Finished and failed deployments over slogate's DORA window, per service.",
            [
                target(f"max by (service) (slogate_dora_deployments{svc})", "A", "{{service}}"),
                target(
                    f"max by (service) (slogate_dora_failed_deployments{svc})",
                    "B",
                    "{{service}} failed",
                ),
            ],
            decimals=0,
        ),
    ]
    reliability = [
        timeseries(
            "Change failure rate over time",
            "The change failure rate over slogate's DORA window, as it moved.",
            [
                target(
                    f"max by (service) (slogate_dora_change_failure_rate{svc})", "A", "{{service}}"
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "Error budget remaining",
            "Budget left of the selected SLOs: what the deployments spent.",
            [
                target(
                    "max by (service, slo)"
                    f" (slogate_slo_error_budget_remaining_ratio{selector(**OV)})",
                    "A",
                    "{{service}}/{{slo}}",
                )
            ],
            unit="percentunit",
            thresholds=budget_steps(),
        ),
    ]
    panels = layout([(5, figures), (5, bands), (9, over_time), (9, reliability)])
    return dashboard(
        DELIVERY_UID,
        "slogate / Delivery (DORA)",
        "Deployment frequency, lead time, change failure rate and time to restore per service,"
        " with their DORA bands, from slogate's own deployment records; failed deployments"
        " are annotated here and on the SLO detail dashboard's burn-rate panels.",
        panels,
        multi=True,
        annotations=[failed_deployments_annotation(service="~$service")],
        links=[link_to(OVERVIEW_UID, "SLO overview"), link_to(DETAIL_UID, "SLO detail")],
    )


# --- Output --------------------------------------------------------------------------------------

DASHBOARDS = {
    "slogate-overview.json": overview,
    "slogate-slo-detail.json": slo_detail,
    "slogate-delivery.json": delivery,
}


def render(doc: Json) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if a committed dashboard is out of date"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="directory of the JSON files")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path: Path = args.out / name
        text = render(build())
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python grafana/build.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
