from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from slogate.config import json_schema, parse_config
from slogate.core.policy import FailMode, ReasonCode
from slogate.errors import ConfigError
from tests.conftest import ROOT


def test_defaults_follow_design() -> None:
    config = parse_config("")
    policy = config.policy.for_slo("any", "slo")
    assert config.interval == 30
    assert policy.max_staleness == 90  # three intervals
    assert policy.deny == {ReasonCode.BUDGET_EXHAUSTED, ReasonCode.FAST_BURN, ReasonCode.FROZEN}
    assert policy.warn == {ReasonCode.SLOW_BURN, ReasonCode.BUDGET_LOW, ReasonCode.NO_DATA}
    assert policy.fail_mode is FailMode.CLOSED
    assert policy.budget_low_threshold == 0.25


def test_overrides_by_service_and_slo_glob_later_wins() -> None:
    config = parse_config(
        """
evaluation: {interval: 10s}
policy:
  default: {budget_low_threshold: 0.1}
  overrides:
    - match: {service: "pay*"}
      fail_mode: open
    - match: {service: payments, slo: latency}
      warn: []
"""
    )
    assert config.policy.for_slo("checkout", "x").budget_low_threshold == 0.1
    assert config.policy.for_slo("payments", "availability").fail_mode is FailMode.OPEN
    assert config.policy.for_slo("payments", "availability").max_staleness == 30
    latency = config.policy.for_slo("payments", "latency")
    assert latency.warn == frozenset() and latency.fail_mode is FailMode.OPEN
    assert config.policy.for_slo("payments").fail_mode is FailMode.OPEN  # service-level


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("polcy: {}", r"slogate.yaml: polcy: unknown key"),
        (
            "policy: {default: {fail_mode: sideways}}",
            r"policy.default.fail_mode: must be one of closed, open",
        ),
        (
            "policy: {default: {deny: [fast_burnn]}}",
            r"policy.default.deny: unknown reason code 'fast_burnn'",
        ),
        (
            "policy: {default: {budget_low_threshold: 2}}",
            r"budget_low_threshold: must be between 0 and 1",
        ),
        ("evaluation: {interval: often}", r"evaluation.interval: not a valid duration"),
        (
            "policy: {overrides: [{fail_mode: open}]}",
            r"policy.overrides\[0\].match.service: is required",
        ),
        ("prometheus: {max_concurrency: many}", r"prometheus.max_concurrency: expected int"),
        ("evaluation: {batch_size: 0}", r"evaluation.batch_size: must be positive"),
        ("evaluation: {long_windows: summed}", r"evaluation.long_windows: .*incremental"),
        ("evaluation: {worker: thread}", r"evaluation.worker: must be one of process, inline"),
        ("[1, 2", r"not valid YAML"),
    ],
)
def test_invalid_config_names_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_command_line_overrides_are_checked_like_the_file() -> None:
    config = parse_config("evaluation: {interval: 1m}", overrides={"evaluation.interval": "5s"})
    assert config.interval == 5
    with pytest.raises(ConfigError, match=r"evaluation\.interval"):
        parse_config("", overrides={"evaluation.interval": "soon"})


def test_unknown_keys_and_missing_ones_are_named_with_what_is_known() -> None:
    with pytest.raises(ConfigError) as unknown:
        parse_config("notifications: {routes: [{match: {sevrity: page}}]}")
    assert str(unknown.value) == (
        "slogate.yaml: notifications.routes[0].match.sevrity: unknown key"
        " (known: service, severity, slo)"
    )
    with pytest.raises(ConfigError) as missing:
        parse_config("notifications: {sinks: [{name: am}]}")
    assert str(missing.value) == (
        "slogate.yaml: notifications.sinks[0].type: is required"
        " (one of alertmanager, pagerduty, opsgenie, slack, webhook)"
    )
    with pytest.raises(ConfigError, match=r"notifications.sinks\[0\].secret_env: a pagerduty"):
        parse_config("notifications: {sinks: [{name: pd, type: pagerduty}]}")
    with pytest.raises(ConfigError, match=r"notifications.routes\[0\].sinks: unknown sink 'x'"):
        parse_config("notifications: {routes: [{sinks: [x]}]}")
    with pytest.raises(ConfigError, match=r"github.app_id: not a GitHub App id"):
        parse_config("github: {app_id: 'a b'}")


def test_durations_numbers_and_nulls() -> None:
    config = parse_config("evaluation: {interval: 90s}\nspecs: {watch_interval: 1m30s}\nstore:")
    assert config.interval == 90 and config.specs.watch_interval == 90.0
    assert config.store.path == "slogate.db"  # `store:` with nothing is the default
    assert parse_config("github: {app_id: 123456}").github.app_id == "123456"
    with pytest.raises(ConfigError, match=r"specs.watch_interval: must be positive"):
        parse_config("specs: {watch_interval: 0s}")


SCHEMA_FILE = ROOT / "docs" / "slogate.schema.json"


def test_the_published_schema_is_the_parsers_own() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json.loads(json.dumps(json_schema()))


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (
            "evaluation: {interval: 30s, mode: rules}\npolicy: {default: {fail_mode: open},"
            " overrides: [{match: {service: pay*}, warn: []}]}\nnotifications: {sinks: [{name:"
            " pd, type: pagerduty, secret_env: PD}], routes: [{match: {severity: page},"
            " sinks: [pd]}]}",
            True,
        ),
        ("evaluation: {interval: often}", False),
        ("polcy: {}", False),
        ("notifications: {sinks: [{name: x, type: email}]}", False),
        ("prometheus: {max_concurrency: 0}", False),
    ],
)
def test_the_schema_agrees_with_the_parser(text: str, valid: bool) -> None:
    """jsonschema (an independent validator) on the published schema, against the parser."""
    validator = jsonschema.Draft202012Validator(json_schema())
    assert validator.is_valid(yaml.safe_load(text)) is valid
    if valid:
        parse_config(text)
    else:
        with pytest.raises(ConfigError):
            parse_config(text)


def test_evaluation_runs_in_a_worker_process_unless_asked() -> None:
    assert parse_config("").evaluation.worker == "process"
    assert parse_config("evaluation: {worker: inline}").evaluation.worker == "inline"


def test_long_windows_are_one_shot_unless_asked() -> None:
    assert parse_config("").long_windows == "oneshot"
    assert parse_config("evaluation: {long_windows: incremental}").long_windows == "incremental"


def test_canary_section_defaults_and_errors() -> None:
    canary = parse_config("").canary
    assert (canary.label, canary.window, canary.min_requests) == (
        "rollouts_pod_template_hash",
        600.0,
        500.0,
    )
    assert (canary.allowed_increase, canary.confidence) == (1.5, 0.95)
    given = parse_config("canary: {label: version, window: 20m, min_requests: 100}").canary
    assert (given.label, given.window, given.min_requests) == ("version", 1200.0, 100.0)
    for text, message in [
        ('canary: {label: "a-b"}', "slogate.yaml: canary.label: must be a Prometheus label name"),
        (
            "canary: {window: soon}",
            'slogate.yaml: canary.window: not a valid duration string: "soon"',
        ),
        (
            "canary: {confidence: 1}",
            "slogate.yaml: canary.confidence: must be at least 0.5 and below 1",
        ),
        (
            "canary: {allowed_increase: 0.5}",
            "slogate.yaml: canary.allowed_increase: must be at least 1",
        ),
        (
            "canary: {colour: red}",
            "slogate.yaml: canary.colour: unknown key (known: allowed_increase,",
        ),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_config(text)
        assert str(caught.value).startswith(message)
