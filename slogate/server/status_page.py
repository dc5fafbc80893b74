"""The status page: server-rendered HTML (no JavaScript), for people on call.

`/` lists every SLO — objective, budget left as a bar, burn rates, alert and gate state — and
the active freezes; `/slos/{service}/{slo}` shows one SLO's figures. Everything is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

from slogate.core.durations import format_duration
from slogate.core.overrides import Freeze
from slogate.core.policy import GateRequest, Outcome, Policy, Verdict, decide
from slogate.core.snapshot import SLOStatus
from slogate.core.views import rfc3339, status_state
from slogate.server.status_charts import IndexPictures

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1d1d1f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e5e5e5; }
th { font-weight: 600; background: #fafafa; }
.bar { width: 140px; height: 10px; background: #eee; border-radius: 5px; display: inline-block; }
.bar span { display: block; height: 100%; border-radius: 5px; }
.ok { color: #137333; } .warn { color: #b06000; }
.deny, .firing { color: #c5221f; font-weight: 600; }
.hot { color: #c5221f; } .muted { color: #888; }
a { color: #1a73e8; text-decoration: none; }
svg.chart { display: block; max-width: 100%; height: auto; margin: .5em 0 1em; }
svg .axis { font: 11px system-ui, sans-serif; fill: #5f6368; }
svg.sparkline { vertical-align: middle; }
.band { font-size: .85em; padding: 0 .45em; border-radius: .8em; background: #f1f3f4; }
.dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%; margin-right: .4em; }
details.marks { margin: .5em 0 1.5em; } details.marks li { list-style: none; }
caption { text-align: left; color: #5f6368; padding: .3em 0; }
.legend { color: #5f6368; font-size: .9em; } .legend > span { margin-right: 1.2em; }
"""

INDEX_WINDOWS = (300.0, 3600.0, 21600.0, 259200.0)
VERDICT_CLASS = {Verdict.ALLOW: "ok", Verdict.WARN: "warn", Verdict.DENY: "deny"}


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], row_class: str = "") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    attr = f' class="{row_class}"' if row_class else ""
    body = "".join(f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _budget_bar(remaining: float | None) -> str:
    if remaining is None:
        return '<span class="muted">no data</span>'
    width = max(0.0, min(1.0, remaining)) * 100
    colour = "#137333" if remaining > 0.25 else "#b06000" if remaining > 0 else "#c5221f"
    return (
        f'<span class="bar" title="{_pct(remaining)} left"><span style="width:{width:.0f}%;'
        f'background:{colour}"></span></span> {_pct(remaining)}'
    )


def _burn(value: float | None, threshold: float | None) -> str:
    if value is None:
        return '<span class="muted">n/a</span>'
    hot = threshold is not None and value > threshold
    return f'<span class="{"hot" if hot else ""}">{value:.2f}</span>'


def _alerts(status: SLOStatus) -> str:
    states = [name for name, on in (("page", status.page), ("ticket", status.ticket)) if on]
    return (
        " ".join(f'<span class="firing">{s}</span>' for s in states)
        or '<span class="ok">none</span>'
    )


def gate_preview(
    status: SLOStatus, policy: Policy, now: float, freezes: Iterable[Freeze]
) -> Outcome:
    """What the gate would answer for this SLO alone right now (nothing is recorded)."""
    request = GateRequest(status.slo.service, status.slo.name)
    return decide(request, [status], lambda _slo: policy, now, freezes)


def _verdict(outcome: Outcome) -> str:
    codes = ", ".join(r.code.value for r in outcome.reasons)
    cls = VERDICT_CLASS[outcome.verdict]
    verdict = f'<span class="{cls}">{outcome.verdict.value}</span>'
    return f'{verdict} <span class="muted">{escape(codes)}</span>'


def _threshold(status: SLOStatus, window: float) -> float | None:
    """The lowest burn factor a window takes part in (what makes it 'hot')."""
    factors = [
        c.burn_factor
        for c in status.slo.windows.conditions
        if window in (c.short_window, c.long_window)
    ]
    return min(factors) if factors else None


def render_index(
    statuses: Sequence[SLOStatus],
    policy_for: Callable[[str, str], Policy],
    freezes: Sequence[Freeze],
    now: float,
    pictures: IndexPictures | None = None,
) -> str:
    """Every SLO, worst budget first, and the active freezes; with `pictures`, a budget
    sparkline per SLO and the delivery figures per service."""
    order = sorted(
        statuses, key=lambda s: (s.error_budget_remaining is None, s.error_budget_remaining or 0)
    )
    rows = []
    for status in order:
        slo = status.slo
        policy = policy_for(slo.service, slo.name)
        link = f"/slos/{escape(slo.service)}/{escape(slo.name)}"
        burns = [_burn(status.burn_rates.get(w), _threshold(status, w)) for w in INDEX_WINDOWS]
        rows.append(
            [
                escape(slo.service),
                f'<a href="{link}">{escape(slo.name)}</a>',
                f"{slo.objective:g}% / {format_duration(slo.period)}",
                _budget_bar(status.error_budget_remaining),
                *([pictures.sparklines.get(slo.id, "")] if pictures else []),
                *burns,
                _alerts(status),
                _verdict(gate_preview(status, policy, now, freezes)),
                escape(status_state(status, policy, now)),
            ]
        )
    frozen = [
        [
            escape(f.service),
            escape(f.kind.value),
            escape(f.reason),
            escape(f.created_by),
            rfc3339(f.until) or "until lifted",
        ]
        for f in freezes
    ]
    headers = ["service", "SLO", "objective", "budget left"]
    headers += ["budget over the period"] if pictures else []
    headers += [f"burn {format_duration(w)}" for w in INDEX_WINDOWS] + ["alerts", "gate", "data"]
    body = (
        f"<h1>slogate — {len(statuses)} SLOs</h1>"
        f'<p class="muted">rendered {rfc3339(now)}</p>'
        + _table(headers, rows, "slo")
        + "<h2>Active freezes</h2>"
        + (
            _table(["service", "kind", "reason", "by", "until"], frozen)
            if frozen
            else '<p class="muted">none</p>'
        )
        + (f"<h2>Delivery</h2>{pictures.delivery}" if pictures else "")
    )
    return _page("slogate", body)


def _canary_rows(slo: str, analyses: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """One row per canary analysis (the `/v1/canary` bodies), this SLO's figures."""
    rows = []
    for body in analyses:
        mine = next((j for j in body["slos"] if j["slo"] == slo), None)
        if mine is None:
            continue
        codes = ", ".join(r["code"] for r in body["reasons"] if r["slo"] in (slo, ""))
        rows.append(
            [
                escape(body["window"]["end"] or ""),
                f"{escape(body['canary'])} vs {escape(body['baseline'])}",
                f'<span class="{_CANARY_CLASS[mine["verdict"]]}">{escape(mine["verdict"])}</span>'
                f" → {escape(body['verdict'])}/{escape(body['decision'])}",
                _pct6(mine["canary"]["error_ratio"]),
                _pct6(mine["baseline"]["error_ratio"]),
                "n/a" if mine["p_value"] is None else f"{mine['p_value']:.2g}",
                escape(codes),
                escape(body["decision_id"]),
            ]
        )
    return rows


_CANARY_CLASS = {"pass": "ok", "inconclusive": "warn", "fail": "deny"}


def _pct6(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.3g}%"


def render_slo(
    status: SLOStatus,
    policy: Policy,
    freezes: Sequence[Freeze],
    now: float,
    canaries: Sequence[Mapping[str, Any]] = (),
    charts: str = "",
) -> str:
    """One SLO: every window's error ratio and burn rate, its alerts, the gate's answer, and
    the last canary analyses (`/v1/canary` bodies, newest first); `charts` (already escaped
    HTML) goes above the tables."""
    slo = status.slo
    windows = [
        [
            format_duration(w),
            "n/a" if (ratio := status.error_ratios.get(w)) is None else f"{ratio:.6f}",
            _burn(status.burn_rates.get(w), _threshold(status, w)),
        ]
        for w in slo.windows.windows
    ]
    conditions = [
        [
            name,
            f"{format_duration(c.short_window)}, {format_duration(c.long_window)}",
            f"{c.burn_factor:g}",
        ]
        for name, c in (
            ("page (quick)", slo.windows.page_quick),
            ("page (slow)", slo.windows.page_slow),
            ("ticket (quick)", slo.windows.ticket_quick),
            ("ticket (slow)", slo.windows.ticket_slow),
        )
    ]
    outcome = gate_preview(status, policy, now, freezes)
    reasons = "".join(
        f"<li>{escape(r.code.value)}: {escape(r.message)}</li>" for r in outcome.reasons
    )
    error = f" · last error: {escape(status.error)}" if status.error else ""
    summary = (
        f"Objective {slo.objective:g}% over {format_duration(slo.period)}"
        f" · budget left {_budget_bar(status.error_budget_remaining)}"
        f" · alerts {_alerts(status)} · gate {_verdict(outcome)}"
    )
    body = (
        f'<p><a href="/">← all SLOs</a></p><h1>{escape(slo.service)} / {escape(slo.name)}</h1>'
        f"<p>{escape(slo.description)}</p><p>{summary}</p><ul>{reasons}</ul>"
        f'<p class="muted">figures of {rfc3339(status.evaluated_at) or "never"}{error}</p>'
        + charts
        + "<h2>Windows</h2>"
        + _table(["window", "error ratio", "burn rate"], windows)
        + "<h2>Burn-rate alerts</h2>"
        + _table(["condition", "windows", "burn above"], conditions)
        + "<h2>Last canary analyses</h2>"
        + _table(
            [
                "window end",
                "canary vs baseline",
                "SLO → overall",
                "canary errors",
                "baseline errors",
                "p-value",
                "reasons",
                "decision",
            ],
            _canary_rows(slo.name, canaries),
        )
    )
    return _page(f"slogate — {slo.service}/{slo.name}", body)
