"""Sloth-compatible Prometheus rules from slogate's SLO model (Sloth v0.16's generator, pure).

`generate_slo_rules(slo, options)` returns the rules Sloth would generate for one SLO: the SLI
error-ratio recordings (one per window), the metadata recordings and the multiwindow
multi-burn-rate page/ticket alerts, in Sloth's three rule groups (plus any extra group a plugin
adds). Like Sloth since v0.13, every step is an SLO plugin run in `validation.effective_chain`
order; the built-in `sloth.dev/core/*` and `sloth.dev/contrib/*` plugins are re-implemented here.

Numbers are printed the way Sloth's Go code prints them (`%g`/`%v`: `vector(0.9990000000000001)`,
`14.4 * 0.0009999999999999432`), windows as Prometheus durations (28d is `4w`). Specs were
validated when they were loaded (`slogate.spec`), so the validate plugins have nothing left to do.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from slogate.conventions import (
    ALERT_FOR_PLUGIN,
    ALERT_RULES_PLUGIN,
    ALERTS_GROUP_PREFIX,
    BUDGET_EXHAUSTED_PLUGIN,
    CURRENT_BURN_RATE_METRIC,
    DEBUG_PLUGIN,
    DEFAULT_VERSION,
    DENOMINATOR_CORRECTED_PLUGIN,
    ERROR_BUDGET_METRIC,
    EVENTS_SLI_TEMPLATE,
    EXTRA_GROUP_PREFIX,
    ID_LABEL,
    INFO_LABELS_PLUGIN,
    INFO_METRIC,
    METADATA_GROUP_PREFIX,
    METADATA_RULES_PLUGIN,
    MODE_LABEL,
    NOOP_PLUGIN,
    NUMERATOR_CORRECTION_METRIC,
    OBJECTIVE_LABEL,
    OBJECTIVE_METRIC,
    PAGE,
    PERIOD_BUDGET_REMAINING_METRIC,
    PERIOD_BURN_RATE_METRIC,
    REMOVE_LABELS_PLUGIN,
    RULE_INTERVALS_PLUGIN,
    SERVICE_LABEL,
    SEVERITY_LABEL,
    SLI_GROUP_PREFIX,
    SLI_RULES_PLUGIN,
    SLI_TOTAL_AMOUNT_GROUP_PREFIX,
    SLI_TOTAL_AMOUNT_METRIC,
    SLI_TOTAL_AMOUNT_PLUGIN,
    SLO_LABEL,
    SLO_PLUGIN_IDS,
    SPEC_LABEL,
    TICKET,
    TIME_PERIOD_DAYS_METRIC,
    VALIDATE_METRICSQL_PLUGIN,
    VALIDATE_PROMQL_PLUGIN,
    VERSION_LABEL,
    WINDOW_LABEL,
    render_window,
    sli_error_metric,
    sli_expression,
)
from slogate.core.durations import format_duration, parse_duration
from slogate.core.model import (
    SLO,
    AlertMeta,
    EventsSLI,
    Labels,
    SpecKind,
    frozen_labels,
    no_labels,
)
from slogate.core.windows import AlertWindows, BurnWindow
from slogate.errors import PluginError, SpecError
from slogate.sloth.promql import go_float, go_quote  # Go's %v and strconv.Quote
from slogate.sloth.validation import effective_chain

log = logging.getLogger(__name__)

# `sloth_mode` of Sloth's CLI, by spec format.
CLI_MODES: Final[Mapping[SpecKind, str]] = {
    "prometheus/v1": "cli-gen-prom",
    "sloth.slok.dev/v1": "cli-gen-k8s",
    "openslo/v1alpha": "cli-gen-openslo",
}

# --- Data types -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One Prometheus recording (`record`) or alerting (`alert`) rule."""

    expr: str
    record: str = ""
    alert: str = ""
    for_seconds: float = 0.0
    labels: Labels = field(default_factory=no_labels)
    annotations: Labels = field(default_factory=no_labels)


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A Prometheus rule group; `interval` 0 means Prometheus' global evaluation interval."""

    name: str
    rules: tuple[Rule, ...] = ()
    interval: float = 0.0


@dataclass(frozen=True, slots=True)
class SLORules:
    """Sloth's rule slots of one SLO: SLI recordings, metadata recordings, alerts, extras."""

    slo: SLO
    sli: RuleGroup = field(default_factory=lambda: RuleGroup(""))
    metadata: RuleGroup = field(default_factory=lambda: RuleGroup(""))
    alerts: RuleGroup = field(default_factory=lambda: RuleGroup(""))
    extra: tuple[RuleGroup, ...] = ()

    @property
    def groups(self) -> tuple[RuleGroup, ...]:
        """The groups Sloth writes, in its order; empty groups are left out."""
        return tuple(g for g in (self.sli, self.metadata, self.alerts, *self.extra) if g.rules)


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """What Sloth's `generate` command adds to every SLO of a run."""

    version: str = DEFAULT_VERSION
    extra_labels: Labels = field(default_factory=no_labels)
    disable_recordings: bool = False
    disable_alerts: bool = False


@dataclass(frozen=True, slots=True)
class PluginRequest:
    """What an SLO plugin sees: the SLO (extra labels merged), run info and the raw spec."""

    slo: SLO
    version: str
    spec_document: Mapping[str, Any] | None = None


Processor = Callable[[PluginRequest, SLORules], SLORules]
PluginFactory = Callable[[Mapping[str, Any]], Processor]


# --- Go-compatible formatting ---------------------------------------------------------------------


def go_format_f(value: float) -> str:
    """Go's `strconv.FormatFloat(value, 'f', -1, 64)`: shortest digits, never an exponent."""
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def label_filter(labels: Mapping[str, str]) -> str:
    """prometheus/common `LabelSet.String()`: `{a="x", b="y"}`, names sorted, values Go-quoted."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def window_name(seconds: float) -> str:
    return format_duration(seconds)


# --- Labels and windows of an SLO -----------------------------------------------------------------


def id_labels(slo: SLO) -> dict[str, str]:
    return {ID_LABEL: slo.id, SLO_LABEL: slo.name, SERVICE_LABEL: slo.service}


def slo_filter(slo: SLO) -> str:
    return label_filter(id_labels(slo))


def merge(*layers: Mapping[str, str]) -> Labels:
    """Sloth's `MergeLabels`: later layers win; the result is immutable and sorted."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return frozen_labels(merged)


def alert_windows(windows: AlertWindows) -> tuple[float, ...]:
    """Sloth's `TimeDurationWindows()`: the unique alert windows, shortest first."""
    return tuple(sorted({w for c in windows.conditions for w in (c.short_window, c.long_window)}))


def sli_windows(windows: AlertWindows) -> tuple[float, ...]:
    """Every SLI recording window: the alert windows, then the SLO period."""
    return (*alert_windows(windows), windows.period)


def _sli_labels(slo: SLO, window: float) -> Labels:
    return merge(id_labels(slo), {WINDOW_LABEL: window_name(window)}, slo.labels)


def _meta_labels(slo: SLO) -> Labels:
    return merge(id_labels(slo), slo.labels)


# --- sloth.dev/core/sli_rules/v1 ------------------------------------------------------------------

OPTIMIZED_SLI_TEMPLATE: Final = (
    "sum_over_time({metric}{filter}[{window}])\n"
    "/ ignoring ({window_label})\n"
    "count_over_time({metric}{filter}[{window}])\n"
)


def _optimized_sli_expr(slo: SLO, window: float) -> str:
    short = slo.windows.page_quick.short_window
    if window == short:
        raise PluginError("can't optimize using the same shortwindow as the window to optimize")
    return OPTIMIZED_SLI_TEMPLATE.format(
        metric=sli_error_metric(short),
        filter=slo_filter(slo),
        window=window_name(window),
        window_label=WINDOW_LABEL,
    )


def sli_rules(slo: SLO, *, optimized: bool = True) -> tuple[Rule, ...]:
    """One `slo:sli_error:ratio_rate<window>` rule per window; the period one optimized."""
    rules = []
    for window in sli_windows(slo.windows):
        if optimized and window == slo.period:
            expr = _optimized_sli_expr(slo, window)
        else:
            expr = sli_expression(slo.sli, window)
        rules.append(Rule(expr, record=sli_error_metric(window), labels=_sli_labels(slo, window)))
    return tuple(rules)


def _sli_rules_plugin(config: Mapping[str, Any]) -> Processor:
    optimized = not _config_bool(config, "disableOptimized")

    def process(request: PluginRequest, result: SLORules) -> SLORules:
        group = dataclasses.replace(result.sli, rules=sli_rules(request.slo, optimized=optimized))
        return dataclasses.replace(result, sli=group)

    return process


# --- sloth.dev/core/metadata_rules/v1 -------------------------------------------------------------

BURN_RATE_TEMPLATE: Final = (
    "{sli_metric}{filter}\n/ on({id_label}, {slo_label}, {service_label}) group_left\n"
    "{budget_metric}{filter}\n"
)


def _burn_rate_expr(slo: SLO, window: float) -> str:
    return BURN_RATE_TEMPLATE.format(
        sli_metric=sli_error_metric(window),
        filter=slo_filter(slo),
        id_label=ID_LABEL,
        slo_label=SLO_LABEL,
        service_label=SERVICE_LABEL,
        budget_metric=ERROR_BUDGET_METRIC,
    )


def metadata_rules(slo: SLO, *, version: str) -> tuple[Rule, ...]:
    """Objective, error budget, period, burn rates, budget remaining and `sloth_slo_info`."""
    labels = _meta_labels(slo)
    ratio = go_float(slo.objective / 100)
    info_labels = {
        VERSION_LABEL: version,
        MODE_LABEL: CLI_MODES[slo.origin.kind],
        SPEC_LABEL: slo.origin.kind,
        OBJECTIVE_LABEL: go_format_f(slo.objective),
    }
    expressions = (
        (OBJECTIVE_METRIC, f"vector({ratio})"),
        (ERROR_BUDGET_METRIC, f"vector(1-{ratio})"),
        (TIME_PERIOD_DAYS_METRIC, f"vector({go_float(slo.period / 3600 / 24)})"),
        (CURRENT_BURN_RATE_METRIC, _burn_rate_expr(slo, slo.windows.page_quick.short_window)),
        (PERIOD_BURN_RATE_METRIC, _burn_rate_expr(slo, slo.period)),
        (PERIOD_BUDGET_REMAINING_METRIC, f"1 - {PERIOD_BURN_RATE_METRIC}{slo_filter(slo)}"),
    )
    rules = [Rule(expr, record=record, labels=labels) for record, expr in expressions]
    rules.append(Rule("vector(1)", record=INFO_METRIC, labels=merge(labels, info_labels)))
    return tuple(rules)


def _metadata_rules_plugin(_config: Mapping[str, Any]) -> Processor:
    def process(request: PluginRequest, result: SLORules) -> SLORules:
        rules = metadata_rules(request.slo, version=request.version)
        return dataclasses.replace(
            result, metadata=dataclasses.replace(result.metadata, rules=rules)
        )

    return process


# --- sloth.dev/core/alert_rules/v1 ----------------------------------------------------------------

MWMB_ALERT_TEMPLATE: Final = """(
    max({quick_short}{filter} > ({quick_factor} * {budget})) without ({window_label})
    and
    max({quick_long}{filter} > ({quick_factor} * {budget})) without ({window_label})
)
or
(
    max({slow_short}{filter} > ({slow_factor} * {budget})) without ({window_label})
    and
    max({slow_long}{filter} > ({slow_factor} * {budget})) without ({window_label})
)
"""
TITLE_TEMPLATE: Final = (
    "({severity}) {{{{$labels.{service}}}}} {{{{$labels.{slo}}}}}"
    " SLO error budget burn rate is too fast."
)
SUMMARY_TEMPLATE: Final = (
    "{{{{$labels.{service}}}}} {{{{$labels.{slo}}}}} SLO error budget burn rate is over expected."
)


def mwmb_alert_expr(slo: SLO, quick: BurnWindow, slow: BurnWindow) -> str:
    """The multiwindow multi-burn-rate condition of one severity."""
    return MWMB_ALERT_TEMPLATE.format(
        filter=slo_filter(slo),
        budget=go_float(slo.error_budget),
        window_label=WINDOW_LABEL,
        quick_short=sli_error_metric(quick.short_window),
        quick_long=sli_error_metric(quick.long_window),
        quick_factor=go_float(quick.burn_factor),
        slow_short=sli_error_metric(slow.short_window),
        slow_long=sli_error_metric(slow.long_window),
        slow_factor=go_float(slow.burn_factor),
    )


def _alert_rule(
    slo: SLO, severity: str, meta: AlertMeta, quick: BurnWindow, slow: BurnWindow
) -> Rule:
    names = {"service": SERVICE_LABEL, "slo": SLO_LABEL}
    defaults = {
        "title": TITLE_TEMPLATE.format(severity=severity, **names),
        "summary": SUMMARY_TEMPLATE.format(**names),
    }
    return Rule(
        mwmb_alert_expr(slo, quick, slow),
        alert=slo.alert_name,
        labels=merge({SEVERITY_LABEL: severity}, meta.labels),
        annotations=merge(defaults, meta.annotations),
    )


def alert_rules(slo: SLO) -> tuple[Rule, ...]:
    """The page then the ticket alert, each unless disabled; both named `alerting.name`."""
    w = slo.windows
    severities = (
        (PAGE, slo.page_alert, w.page_quick, w.page_slow),
        (TICKET, slo.ticket_alert, w.ticket_quick, w.ticket_slow),
    )
    return tuple(
        _alert_rule(slo, severity, meta, quick, slow)
        for severity, meta, quick, slow in severities
        if not meta.disable
    )


def _alert_rules_plugin(_config: Mapping[str, Any]) -> Processor:
    def process(request: PluginRequest, result: SLORules) -> SLORules:
        group = dataclasses.replace(result.alerts, rules=alert_rules(request.slo))
        return dataclasses.replace(result, alerts=group)

    return process


# --- core validate/debug/noop, contrib validate_victoria_metrics ----------------------------------


def _passthrough(_request: PluginRequest, result: SLORules) -> SLORules:
    return result


def _noop_plugin(_config: Mapping[str, Any]) -> Processor:
    """Validation already ran when the spec was loaded; noop does nothing by definition."""
    return _passthrough


def _debug_plugin(config: Mapping[str, Any]) -> Processor:
    message = _config_str(config, "msg")

    def process(request: PluginRequest, result: SLORules) -> SLORules:
        if message:
            log.debug("%s: %s", request.slo.id, message)
        return result

    return process


# --- sloth.dev/contrib/denominator_corrected_rules/v1 ---------------------------------------------

DENOMINATOR_CORRECTED_TEMPLATE: Final = (
    "(\n{correction}{window}{filter}\n* on()\n{error}\n)\n/\n({total})\n"
)
OPTIMIZED_CORRECTED_TEMPLATE: Final = (
    "sum_over_time({metric}[{window}])\n"
    "/ ignoring ({window_label})\n"
    "count_over_time({metric}[{window}])\n"
)


def _events_sli(slo: SLO, reason: str) -> EventsSLI:
    sli = slo.sli
    if not isinstance(sli, EventsSLI) or not sli.error_query or not sli.total_query:
        raise PluginError(reason)
    return sli


def _corrected_sli_expr(slo: SLO, sli: EventsSLI, window: float, optimized: bool) -> str:
    name = window_name(window)
    if window == slo.period and optimized:
        metric = sli_error_metric(slo.windows.page_quick.short_window) + slo_filter(slo)
        return OPTIMIZED_CORRECTED_TEMPLATE.format(
            metric=metric, window=name, window_label=WINDOW_LABEL
        )
    if window == slo.period:
        template = EVENTS_SLI_TEMPLATE.format(error=sli.error_query, total=sli.total_query)
    else:
        template = DENOMINATOR_CORRECTED_TEMPLATE.format(
            correction=NUMERATOR_CORRECTION_METRIC,
            window=name,
            filter=slo_filter(slo),
            error=sli.error_query,
            total=sli.total_query,
        )
    return render_window(template, name)


def _numerator_correction_rule(slo: SLO, sli: EventsSLI, window: float) -> Rule:
    numerator = render_window(sli.total_query, window_name(window))
    denominator = render_window(sli.total_query, window_name(slo.period))
    return Rule(
        f"({numerator})/({denominator})",
        record=NUMERATOR_CORRECTION_METRIC + window_name(window),
        labels=_meta_labels(slo),
    )


def _denominator_corrected_plugin(config: Mapping[str, Any]) -> Processor:
    optimized = not _config_bool(config, "disableOptimized")

    def process(request: PluginRequest, result: SLORules) -> SLORules:
        slo = request.slo
        sli = _events_sli(slo, "denominator corrected SLI requires SLI event type")
        recordings = tuple(
            Rule(
                _corrected_sli_expr(slo, sli, window, optimized),
                record=sli_error_metric(window),
                labels=_sli_labels(slo, window),
            )
            for window in sli_windows(slo.windows)
        )
        corrections = tuple(
            _numerator_correction_rule(slo, sli, w) for w in alert_windows(slo.windows)
        )
        return dataclasses.replace(
            result,
            sli=dataclasses.replace(result.sli, rules=recordings),
            metadata=dataclasses.replace(
                result.metadata, rules=(*result.metadata.rules, *corrections)
            ),
        )

    return process


# --- sloth.dev/contrib/error_budget_exhausted_alert/v1 --------------------------------------------

BUDGET_EXHAUSTED_ALERT: Final = "ErrorBudgetExhausted"
BUDGET_EXHAUSTED_FOR: Final = 5 * 60.0


def _budget_exhausted_plugin(config: Mapping[str, Any]) -> Processor:
    threshold = _config_float(config, "threshold")
    pending = _config_duration(config, "for") or BUDGET_EXHAUSTED_FOR
    alert_name = _config_str(config, "alert_name") or BUDGET_EXHAUSTED_ALERT
    annotations = _config_str_map(config, "annotations")
    selectors = _config_str_map(config, "selector_labels")
    alert_labels = _config_str_map(config, "alert_labels")

    def process(request: PluginRequest, result: SLORules) -> SLORules:
        slo = request.slo
        own = {
            SLO_LABEL: slo.name,
            SERVICE_LABEL: slo.service,
            ID_LABEL: f"{slo.service}-{slo.name}",
        }
        selector = label_filter(merge(own, slo.labels, selectors))
        rule = Rule(
            f"{PERIOD_BUDGET_REMAINING_METRIC}{selector} <= {go_float(threshold)}",
            alert=alert_name,
            for_seconds=pending,
            labels=frozen_labels(alert_labels),
            annotations=frozen_labels(annotations),
        )
        alerts = dataclasses.replace(result.alerts, rules=(*result.alerts.rules, rule))
        return dataclasses.replace(result, alerts=alerts)

    return process


# --- sloth.dev/contrib/info_labels/v1 -------------------------------------------------------------


def _info_labels_plugin(config: Mapping[str, Any]) -> Processor:
    labels = _config_str_map(config, "labels")
    metric = _config_str(config, "metricName") or INFO_METRIC
    if not labels:
        raise PluginError("at least one label is required")

    def process(_request: PluginRequest, result: SLORules) -> SLORules:
        rules = list(result.metadata.rules)
        for index, rule in enumerate(rules):
            if rule.record == metric:
                rules[index] = dataclasses.replace(rule, labels=merge(rule.labels, labels))
                break
        return dataclasses.replace(
            result, metadata=dataclasses.replace(result.metadata, rules=tuple(rules))
        )

    return process


# --- sloth.dev/contrib/remove_labels/v1 -----------------------------------------------------------


def _keep_labels(
    rules: Sequence[Rule], keep: frozenset[str], skip: frozenset[str]
) -> tuple[Rule, ...]:
    return tuple(
        rule
        if rule.record in skip
        else dataclasses.replace(
            rule, labels=frozen_labels({k: v for k, v in rule.labels.items() if k in keep})
        )
        for rule in rules
    )


def _remove_labels_plugin(config: Mapping[str, Any]) -> Processor:
    preserve = frozenset(_config_str_list(config, "preserveLabels"))
    skip = frozenset({INFO_METRIC, *_config_str_list(config, "skipMetrics")})

    def process(request: PluginRequest, result: SLORules) -> SLORules:
        keep = frozenset({*id_labels(request.slo), *preserve})
        sli = _keep_labels(result.sli.rules, keep | {WINDOW_LABEL}, skip)
        meta = _keep_labels(result.metadata.rules, keep - {WINDOW_LABEL}, skip)
        return dataclasses.replace(
            result,
            sli=dataclasses.replace(result.sli, rules=sli),
            metadata=dataclasses.replace(result.metadata, rules=meta),
        )

    return process


# --- sloth.dev/contrib/rule_intervals/v1 ----------------------------------------------------------


def _rule_intervals_plugin(config: Mapping[str, Any]) -> Processor:
    intervals = _config_mapping(config.get("interval"), "interval")
    default = _config_duration(intervals, "default")
    if not default:
        raise PluginError("at least default interval is required")
    sli = _config_duration(intervals, "sliError") or default
    meta = _config_duration(intervals, "metadata") or default
    alert = _config_duration(intervals, "alert") or default

    def process(_request: PluginRequest, result: SLORules) -> SLORules:
        return dataclasses.replace(
            result,
            sli=dataclasses.replace(result.sli, interval=sli),
            metadata=dataclasses.replace(result.metadata, interval=meta),
            alerts=dataclasses.replace(result.alerts, interval=alert),
        )

    return process


# --- sloth.dev/contrib/sli_total_amount_rules/v1 --------------------------------------------------


def _sli_total_amount_plugin(_config: Mapping[str, Any]) -> Processor:
    def process(request: PluginRequest, result: SLORules) -> SLORules:
        slo = request.slo
        sli = _events_sli(slo, "SLI event type with TotalQuery required")
        labels = _meta_labels(slo)
        rules = tuple(
            Rule(
                render_window(sli.total_query, window_name(window)),
                record=SLI_TOTAL_AMOUNT_METRIC + window_name(window),
                labels=labels,
            )
            for window in sli_windows(slo.windows)
        )
        group = RuleGroup(SLI_TOTAL_AMOUNT_GROUP_PREFIX + slo.id, rules)
        return dataclasses.replace(result, extra=(*result.extra, group))

    return process


# --- sloth.dev/contrib/alert_for/v1 ---------------------------------------------------------------


def _spec_alert_for(document: Mapping[str, Any] | None, slo_name: str) -> dict[str, float]:
    """`for` of the page and ticket alerts of `slo_name` in a prometheus/v1 spec document."""
    if not isinstance(document, Mapping):
        return {}
    for item in document.get("slos") or ():
        if not isinstance(item, Mapping) or str(item.get("name")) != slo_name:
            continue
        alerting = _config_mapping(item.get("alerting"), "alerting")
        return {
            severity: _config_duration(_config_mapping(alerting.get(key), key), "for")
            for severity, key in ((PAGE, "page_alert"), (TICKET, "ticket_alert"))
        }
    return {}


def _with_for(rule: Rule, pending: Mapping[str, float]) -> Rule:
    seconds = pending.get(rule.labels.get(SEVERITY_LABEL, ""), 0.0)
    return dataclasses.replace(rule, for_seconds=seconds) if seconds else rule


def _alert_for_plugin(_config: Mapping[str, Any]) -> Processor:
    def process(request: PluginRequest, result: SLORules) -> SLORules:
        if request.slo.origin.kind != "prometheus/v1":
            return result
        pending = _spec_alert_for(request.spec_document, request.slo.name)
        rules = tuple(_with_for(rule, pending) for rule in result.alerts.rules)
        return dataclasses.replace(result, alerts=dataclasses.replace(result.alerts, rules=rules))

    return process


# --- Plugin config decoding (Go's encoding/json into typed structs) -------------------------------


def _config_mapping(value: Any, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PluginError(f"invalid config: {key}: expected an object, got {value!r}")
    return value


def _config_bool(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PluginError(f"invalid config: {key}: expected a boolean, got {value!r}")
    return value


def _config_str(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PluginError(f"invalid config: {key}: expected a string, got {value!r}")
    return value


def _config_float(config: Mapping[str, Any], key: str) -> float:
    value = config.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PluginError(f"invalid config: {key}: expected a number, got {value!r}")
    return float(value)


def _config_duration(config: Mapping[str, Any], key: str) -> float:
    text = _config_str(config, key)
    if not text:
        return 0.0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise PluginError(f"invalid config: {key}: {exc}") from None


def _config_str_map(config: Mapping[str, Any], key: str) -> dict[str, str]:
    value = _config_mapping(config.get(key), key)
    for k, v in value.items():
        if not isinstance(v, str):
            raise PluginError(f"invalid config: {key}.{k}: expected a string, got {v!r}")
    return {str(k): v for k, v in value.items()}


def _config_str_list(config: Mapping[str, Any], key: str) -> list[str]:
    value = config.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PluginError(f"invalid config: {key}: expected a list of strings, got {value!r}")
    return list(value)


# --- The chain ------------------------------------------------------------------------------------

SLO_PLUGINS: Final[Mapping[str, PluginFactory]] = {
    VALIDATE_PROMQL_PLUGIN: _noop_plugin,
    VALIDATE_METRICSQL_PLUGIN: _noop_plugin,
    SLI_RULES_PLUGIN: _sli_rules_plugin,
    METADATA_RULES_PLUGIN: _metadata_rules_plugin,
    ALERT_RULES_PLUGIN: _alert_rules_plugin,
    DEBUG_PLUGIN: _debug_plugin,
    NOOP_PLUGIN: _noop_plugin,
    ALERT_FOR_PLUGIN: _alert_for_plugin,
    DENOMINATOR_CORRECTED_PLUGIN: _denominator_corrected_plugin,
    BUDGET_EXHAUSTED_PLUGIN: _budget_exhausted_plugin,
    INFO_LABELS_PLUGIN: _info_labels_plugin,
    REMOVE_LABELS_PLUGIN: _remove_labels_plugin,
    RULE_INTERVALS_PLUGIN: _rule_intervals_plugin,
    SLI_TOTAL_AMOUNT_PLUGIN: _sli_total_amount_plugin,
}
if SLO_PLUGINS.keys() != SLO_PLUGIN_IDS:  # one list of plugin IDs: conventions'
    raise ImportError(f"SLO plugins out of step: {sorted(SLO_PLUGINS.keys() ^ SLO_PLUGIN_IDS)}")


def _processor(plugin_id: str, config: Any) -> Processor:
    factory = SLO_PLUGINS.get(plugin_id)
    if factory is None:
        raise PluginError("not supported")
    return factory(_config_mapping(config, "config"))


def _with_default_names(result: SLORules) -> SLORules:
    """Sloth's `setDefaultsPromSLORulesResult`: name every group a plugin left unnamed."""
    slo_id = result.slo.id

    def named(group: RuleGroup, name: str) -> RuleGroup:
        return group if group.name else dataclasses.replace(group, name=name)

    return dataclasses.replace(
        result,
        sli=named(result.sli, SLI_GROUP_PREFIX + slo_id),
        metadata=named(result.metadata, METADATA_GROUP_PREFIX + slo_id),
        alerts=named(result.alerts, ALERTS_GROUP_PREFIX + slo_id),
        extra=tuple(
            named(g, f"{EXTRA_GROUP_PREFIX}{i:03d}-{slo_id}") for i, g in enumerate(result.extra)
        ),
    )


def _disabled(result: SLORules, options: GenerateOptions) -> SLORules:
    """`--disable-recordings` / `--disable-alerts` empty the groups after the chain ran."""
    if options.disable_recordings:
        result = dataclasses.replace(
            result,
            sli=dataclasses.replace(result.sli, rules=()),
            metadata=dataclasses.replace(result.metadata, rules=()),
        )
    if options.disable_alerts:
        result = dataclasses.replace(result, alerts=dataclasses.replace(result.alerts, rules=()))
    return result


def generate_slo_rules(
    slo: SLO,
    options: GenerateOptions | None = None,
    *,
    spec_document: Mapping[str, Any] | None = None,
) -> SLORules:
    """Sloth's rules for one SLO. Raises `SpecError` (source and SLO set) if a plugin fails.

    `spec_document` is the parsed spec document the SLO came from; only plugins that read the
    original spec (`alert_for`) use it.
    """
    opts = options or GenerateOptions()
    slo = dataclasses.replace(slo, labels=merge(slo.labels, opts.extra_labels))
    request = PluginRequest(slo=slo, version=opts.version, spec_document=spec_document)
    result = SLORules(slo=slo)
    for plugin in effective_chain(slo):
        try:
            result = _processor(plugin.id, plugin.config)(request, result)
        except PluginError as exc:
            reason = f'SLO plugin "{plugin.id}": {exc.reason}'
            raise SpecError(reason, source=slo.origin.source, slo=slo.id) from None
    return _disabled(_with_default_names(result), opts)


def generate_rules(
    slos: Sequence[SLO],
    options: GenerateOptions | None = None,
    *,
    spec_document: Mapping[str, Any] | None = None,
) -> tuple[SLORules, ...]:
    """`generate_slo_rules` for every SLO of one spec document, in spec order."""
    return tuple(generate_slo_rules(s, options, spec_document=spec_document) for s in slos)


def rule_groups(results: Sequence[SLORules]) -> tuple[RuleGroup, ...]:
    """Every non-empty group of `results`, per SLO in Sloth's order."""
    return tuple(group for result in results for group in result.groups)
