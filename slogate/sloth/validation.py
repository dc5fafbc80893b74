"""Sloth's SLO validation rules (its `sloth.dev/core/validate/v1` plugin), as pure checks.

`validate_slo` raises `SpecError` with Sloth's wording for the first problem of an SLO. Queries
are checked in the dialect the SLO's plugin chain selects: PromQL by default, a lenient
MetricsQL check when `sloth.dev/contrib/validate_victoria_metrics/v1` replaces the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from slogate.conventions import (
    ALERT_RULES_PLUGIN,
    METADATA_RULES_PLUGIN,
    NAME_RULE,
    SLI_RULES_PLUGIN,
    SLO_PLUGIN_IDS,
    VALIDATE_METRICSQL_PLUGIN,
    VALIDATE_PROMQL_PLUGIN,
    WINDOW_PLACEHOLDER,
    render_window,
    valid_name,
)
from slogate.core.model import SLO, EventsSLI, PluginRef
from slogate.errors import PromQLSyntaxError, SpecError
from slogate.sloth import promql

DEFAULT_CHAIN = (
    VALIDATE_PROMQL_PLUGIN,
    SLI_RULES_PLUGIN,
    METADATA_RULES_PLUGIN,
    ALERT_RULES_PLUGIN,
)


def effective_chain(slo: SLO) -> tuple[PluginRef, ...]:
    """The SLO plugin chain Sloth runs: defaults, then group and SLO plugins by priority.

    Plugins with a negative priority run before the defaults; `overridePrevious` on the SLO drops
    the group's chain, on either drops the defaults.
    """
    group, own = slo.group_plugins, slo.plugins
    declared = list(own.chain) if own.override_previous else [*group.chain, *own.chain]
    declared.sort(key=lambda p: p.priority)
    if group.override_previous or own.override_previous:
        return tuple(declared)
    defaults = [PluginRef(id=i) for i in DEFAULT_CHAIN]
    before = [p for p in declared if p.priority < 0]
    after = [p for p in declared if p.priority >= 0]
    return (*before, *defaults, *after)


def validate_slo(slo: SLO) -> None:
    """Raise `SpecError` for the first rule `slo` breaks, worded as Sloth words it."""
    _check_name("ID", slo.id)
    _check_name("name", slo.name)
    _check_name("service", slo.service)
    if slo.period <= 0:
        _fail("time window is required")
    if not 0 < slo.objective <= 100:
        _fail("objective must >0 and <=100")
    _check_labels(slo.labels, "SLO label")
    _check_plugins(slo)
    chain_ids = {p.id for p in effective_chain(slo)}
    if VALIDATE_PROMQL_PLUGIN in chain_ids:
        _check_sli(slo, _promql_expression)
    elif VALIDATE_METRICSQL_PLUGIN in chain_ids:
        _check_sli(slo, _metricsql_expression)
    else:
        _check_sli(slo, lambda _q: None)
    _check_alerts(slo)


def _fail(reason: str) -> None:
    raise SpecError(reason)


def _check_name(what: str, value: str) -> None:
    if not value:
        _fail(f"invalid SLO {what}: required")
    if not valid_name(value):
        _fail(f"invalid SLO {what}: {NAME_RULE}")


def _label_key_problem(key: str) -> str | None:
    if key == "__name__":
        return f'the label key "{key}" is not allowed'
    if not key:
        return f'the label key "{key}" is not valid'
    return None


def _check_labels(labels: Mapping[str, str], what: str) -> None:
    for key, value in sorted(labels.items()):
        if problem := _label_key_problem(key):
            _fail(f'invalid {what} key "{key}": {problem}')
        if not value:
            _fail(f'invalid {what} value "{value}": the label value is required')


def _check_template(query: str, what: str) -> None:
    if not query:
        _fail(f"invalid SLI: sli {what} query template: query template is required: required")
    if not WINDOW_PLACEHOLDER.search(query):
        _fail(
            f"invalid SLI: sli {what} query template:"
            " template must contain the {{ .window }} variable"
        )


def _check_sli(slo: SLO, check_expression: Callable[[str], str | None]) -> None:
    sli = slo.sli
    if isinstance(sli, EventsSLI):
        if sli.error_query == sli.total_query:
            _fail("invalid SLI: both error and total queries can't be the same")
        parts: tuple[tuple[str, str], ...] = (
            ("error", sli.error_query),
            ("total", sli.total_query),
        )
    else:
        parts = (("raw", sli.error_ratio_query),)
    for what, query in parts:
        _check_template(query, what)
    for what, query in parts:
        problem = check_expression(render_window(query, "1m"))
        if problem:
            _fail(f"invalid SLI: sli {what} query expression: {problem}")


def _promql_expression(query: str) -> str | None:
    try:
        promql.parse(query)
    except PromQLSyntaxError as exc:
        return str(exc)
    return None


_PAIRS = {")": "(", "]": "[", "}": "{"}


def _metricsql_expression(query: str) -> str | None:
    """MetricsQL extends PromQL; without its parser, check what every dialect shares."""
    if not query.strip():
        return "query is required"
    stack: list[str] = []
    quote = ""
    for char in query:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            return f"unbalanced {char!r}"
    if stack or quote:
        return "unexpected end of input"
    return None


def _check_alerts(slo: SLO) -> None:
    for severity, meta in (("page", slo.page_alert), ("ticket", slo.ticket_alert)):
        if meta.disable:
            continue
        prefix = f"invalid alert: {severity} alert"
        if not slo.alert_name:
            _fail(f"{prefix}: alert name is required")
        for key, value in sorted(meta.labels.items()):
            if problem := _label_key_problem(key):
                _fail(f'{prefix}: invalid alert label key "{key}": {problem}')
            if not value:
                _fail(f'{prefix}: invalid alert label value "{value}": the label value is required')
        for key, value in sorted(meta.annotations.items()):
            if not key:
                _fail(
                    f'{prefix}: invalid alert annotation key "{key}":'
                    ' the annotation key "" is not valid'
                )
            if not value:
                _fail(
                    f'{prefix}: invalid alert annotation value "{value}":'
                    " the annotation value is required"
                )


def _check_plugins(slo: SLO) -> None:
    for chain in (slo.group_plugins, slo.plugins):
        if chain.override_previous and not chain.chain:
            _fail("invalid plugins: override plugins is set but no plugins are defined")
        for plugin in chain.chain:
            if not plugin.id:
                _fail("invalid plugins: plugin ID is required")
            if plugin.id not in SLO_PLUGIN_IDS:
                _fail(
                    f'invalid plugins: SLO plugin "{plugin.id}" is not supported (slogate knows'
                    " Sloth's built-in sloth.dev/core/* and sloth.dev/contrib/* plugins)"
                )
