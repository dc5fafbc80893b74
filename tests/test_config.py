from __future__ import annotations

import pytest

from slogate.config import parse_config
from slogate.core.policy import FailMode, ReasonCode
from slogate.errors import ConfigError


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
