"""Names shared across layers: Sloth's metric, label and plugin names, the `{{.window}}`
placeholder, the SLI expression, and the name rule that spec validation and the HTTP API both use.

Sloth keeps these in `pkg/common/conventions`; here they sit above the core (they import only
the package version, `core.durations` and `core.model`) so the Sloth layer, the evaluator and the
server agree on one spelling. Pure.
"""

from __future__ import annotations

import re
from typing import Final

from slogate import __version__
from slogate.core.durations import format_duration
from slogate.core.model import SLI, EventsSLI

# --- Sloth's metric, label and group names (pkg/common/conventions) -------------------------------

SLI_ERROR_METRIC: Final = "slo:sli_error:ratio_rate"
OBJECTIVE_METRIC: Final = "slo:objective:ratio"
ERROR_BUDGET_METRIC: Final = "slo:error_budget:ratio"
TIME_PERIOD_DAYS_METRIC: Final = "slo:time_period:days"
CURRENT_BURN_RATE_METRIC: Final = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE_METRIC: Final = "slo:period_burn_rate:ratio"
PERIOD_BUDGET_REMAINING_METRIC: Final = "slo:period_error_budget_remaining:ratio"
INFO_METRIC: Final = "sloth_slo_info"
NUMERATOR_CORRECTION_METRIC: Final = "slo:numerator_correction:ratio"
SLI_TOTAL_AMOUNT_METRIC: Final = "slo:sli_total:amount"

ID_LABEL: Final = "sloth_id"
SERVICE_LABEL: Final = "sloth_service"
SLO_LABEL: Final = "sloth_slo"
WINDOW_LABEL: Final = "sloth_window"
SEVERITY_LABEL: Final = "sloth_severity"
VERSION_LABEL: Final = "sloth_version"
MODE_LABEL: Final = "sloth_mode"
SPEC_LABEL: Final = "sloth_spec"
OBJECTIVE_LABEL: Final = "sloth_objective"
DEFAULT_VERSION: Final = f"slogate-{__version__}"
"""The `VERSION_LABEL` value and the headers' version unless `generate --sloth-version` says."""

SLI_GROUP_PREFIX: Final = "sloth-slo-sli-recordings-"
METADATA_GROUP_PREFIX: Final = "sloth-slo-meta-recordings-"
ALERTS_GROUP_PREFIX: Final = "sloth-slo-alerts-"
EXTRA_GROUP_PREFIX: Final = "sloth-slo-extra-rules-"
SLI_TOTAL_AMOUNT_GROUP_PREFIX: Final = "sloth-slo-sli-total-amount-"

PAGE: Final = "page"
TICKET: Final = "ticket"


# --- SLO plugin IDs -------------------------------------------------------------------------------

SLI_RULES_PLUGIN: Final = "sloth.dev/core/sli_rules/v1"
METADATA_RULES_PLUGIN: Final = "sloth.dev/core/metadata_rules/v1"
ALERT_RULES_PLUGIN: Final = "sloth.dev/core/alert_rules/v1"
DEBUG_PLUGIN: Final = "sloth.dev/core/debug/v1"
NOOP_PLUGIN: Final = "sloth.dev/core/noop/v1"
ALERT_FOR_PLUGIN: Final = "sloth.dev/contrib/alert_for/v1"
DENOMINATOR_CORRECTED_PLUGIN: Final = "sloth.dev/contrib/denominator_corrected_rules/v1"
BUDGET_EXHAUSTED_PLUGIN: Final = "sloth.dev/contrib/error_budget_exhausted_alert/v1"
INFO_LABELS_PLUGIN: Final = "sloth.dev/contrib/info_labels/v1"
REMOVE_LABELS_PLUGIN: Final = "sloth.dev/contrib/remove_labels/v1"
RULE_INTERVALS_PLUGIN: Final = "sloth.dev/contrib/rule_intervals/v1"
SLI_TOTAL_AMOUNT_PLUGIN: Final = "sloth.dev/contrib/sli_total_amount_rules/v1"

VALIDATE_PROMQL_PLUGIN: Final = "sloth.dev/core/validate/v1"
VALIDATE_METRICSQL_PLUGIN: Final = "sloth.dev/contrib/validate_victoria_metrics/v1"

SLO_PLUGIN_IDS: Final = frozenset(
    {
        VALIDATE_PROMQL_PLUGIN,
        VALIDATE_METRICSQL_PLUGIN,
        SLI_RULES_PLUGIN,
        METADATA_RULES_PLUGIN,
        ALERT_RULES_PLUGIN,
        DEBUG_PLUGIN,
        NOOP_PLUGIN,
        ALERT_FOR_PLUGIN,
        DENOMINATOR_CORRECTED_PLUGIN,
        BUDGET_EXHAUSTED_PLUGIN,
        INFO_LABELS_PLUGIN,
        REMOVE_LABELS_PLUGIN,
        RULE_INTERVALS_PLUGIN,
        SLI_TOTAL_AMOUNT_PLUGIN,
    }
)
"""Every SLO plugin slogate implements (`sloth.rules.SLO_PLUGINS` is checked against it at
import): what validation accepts in a spec's plugin chain."""

# --- Names ------------------------------------------------------------------------------------

NAME: Final = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")
"""Sloth's rule for SLO IDs, names and services (two characters at least). The HTTP API checks
`service` and `slo` with it too, so a name that validates is one the gate answers for."""
NAME_RULE: Final = (
    "name must start and end with an alphanumeric and can only contain alphanumeric, '.', '_',"
    " and '-'"
)


def valid_name(name: str) -> bool:
    return NAME.match(name) is not None


# --- The SLI ----------------------------------------------------------------------------------

WINDOW_PLACEHOLDER: Final = re.compile(r"{{ *\.window *}}")
"""Sloth's `{{.window}}` / `{{ .window }}` template variable."""


def render_window(template: str, window: str) -> str:
    """Replace Sloth's `{{.window}}` placeholders with `window` (e.g. `1m`)."""
    return WINDOW_PLACEHOLDER.sub(lambda _match: window, template)


EVENTS_SLI_TEMPLATE: Final = "({error})\n/\n({total})\n"
RAW_SLI_TEMPLATE: Final = "({query})"


def sli_expression(sli: SLI, window: float) -> str:
    """Sloth's SLI error-ratio expression over `window` seconds: errors divided by total in one
    expression (events), or the raw ratio query; what its recording rules record and what the
    evaluator asks when there are none."""
    if isinstance(sli, EventsSLI):
        template = EVENTS_SLI_TEMPLATE.format(error=sli.error_query, total=sli.total_query)
    else:
        template = RAW_SLI_TEMPLATE.format(query=sli.error_ratio_query)
    return render_window(template, format_duration(window))


def sli_error_metric(window: float) -> str:
    """The recording rule's metric of the SLI error ratio over `window` seconds."""
    return SLI_ERROR_METRIC + format_duration(window)
