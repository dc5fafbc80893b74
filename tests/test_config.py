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
        ("evaluation: {long_windows: summed}", r"evaluation.long_windows: .*incremental"),
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


def test_long_windows_are_one_shot_unless_asked() -> None:
    assert parse_config("").long_windows == "oneshot"
    assert parse_config("evaluation: {long_windows: incremental}").long_windows == "incremental"
