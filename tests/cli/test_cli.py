"""`slogate validate` and the CLI's argument handling (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slogate.cli.main import main, status_table
from tests.conftest import DEMO_SPECS, ROOT, SLOTH, SLOTH_TESTDATA


def test_validate_good_tree_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["validate", str(SLOTH_TESTDATA / "validate" / "good"), "--ignore-slo-duplicates"])
        == 0
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert "7 file(s)" in err and "0 problem(s)" in err


def test_validate_prints_one_line_per_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["validate", "-i", str(SLOTH_TESTDATA / "validate" / "bad"), "--ignore-slo-duplicates"]
        )
        == 1
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7
    assert any(
        line.startswith(str(SLOTH_TESTDATA / "validate" / "bad" / "bad-aa.yaml"))
        and 'slo "svc01-slo02"' in line
        and line.endswith("objective must >0 and <=100")
        for line in lines
    )


def test_validate_exclude_wins_over_include(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", str(SLOTH_TESTDATA / "validate"), "--ignore-slo-duplicates"]
    assert main([*args, "-e", "bad"]) == 0
    assert main([*args, "-e", "bad", "-n", ".*-aa.*"]) == 0
    assert main([*args, "-n", "bad"]) == 1


def test_validate_examples_report_only_sli_plugins(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["validate", str(SLOTH / "examples"), "-e", "_gen|windows", "--ignore-slo-duplicates"])
        == 1
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all("SLI plugin" in line and "not supported" in line for line in lines)


def test_validate_custom_period_windows(capsys: pytest.CaptureFixture[str]) -> None:
    windows = str(SLOTH / "examples" / "windows")
    spec = str(SLOTH_TESTDATA / "in-base.yaml")
    assert (
        main(["validate", spec, "--slo-period-windows-path", windows, "--default-slo-period", "7d"])
        == 0
    )
    assert (
        main(
            ["validate", spec, "--slo-period-windows-path", windows, "--default-slo-period", "28d"]
        )
        == 2
    )
    assert "invalid default slo period" in capsys.readouterr().err


def test_validate_demo_specs() -> None:
    assert main(["validate", str(DEMO_SPECS)]) == 0


def test_validate_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or directory" in capsys.readouterr().out


def test_serve_without_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--specs", str(DEMO_SPECS)]) == 2
    assert "no Prometheus URL" in capsys.readouterr().err


def test_serve_with_invalid_config_names_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "slogate.yaml"
    config.write_text("policy: {default: {fail_mode: maybe}}\n")
    args = [
        "serve",
        "--specs",
        str(DEMO_SPECS),
        "--prometheus-url",
        "http://127.0.0.1:1",
        "--config",
        str(config),
    ]
    assert main(args) == 2
    assert (
        f"{config}: policy.default.fail_mode: must be one of closed, open"
        in capsys.readouterr().err
    )


def test_status_table() -> None:
    row = {
        "service": "checkout",
        "slo": "availability",
        "objective": 99.9,
        "error_budget_remaining": 0.5,
        "burn_rates": {"1h": 2.0, "6h": None},
        "alerts": {"page": True, "ticket": False},
        "state": "ok",
    }
    lines = status_table([row]).splitlines()
    assert lines[0].split() == [
        "SERVICE",
        "SLO",
        "OBJECTIVE",
        "BUDGET",
        "LEFT",
        "BURN",
        "1h",
        "BURN",
        "6h",
        "PAGE",
        "TICKET",
        "STATE",
    ]
    assert lines[1].split() == [
        "checkout",
        "availability",
        "99.9%",
        "50.0%",
        "2.00",
        "n/a",
        "FIRING",
        "-",
        "ok",
    ]


OTEL_SPEC = ROOT / "tests" / "fixtures" / "specs" / "otel.yml"


def test_validate_accepts_quoted_utf8_names_as_prometheus_3_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(OTEL_SPEC)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "1 SLO(s), 0 problem(s)" in captured.err


@pytest.mark.parametrize(
    ("replacement", "reason"),
    [
        ("holt_winters(", 'unknown function with name "holt_winters"'),
        ("double_exponential_smoothing(", 'function "double_exponential_smoothing" is not enabled'),
    ],
)
def test_validate_still_rejects_what_prometheus_3_rejects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], replacement: str, reason: str
) -> None:
    query = 'sum(rate({"http.server.request.duration_count"}[{{.window}}]))'
    rejected = f'{replacement}{{"http.server.request.duration_count"}}[{{{{.window}}}}], 0.5, 0.5)'
    spec = tmp_path / "otel.yml"
    spec.write_text(OTEL_SPEC.read_text().replace(query, f"sum({rejected})"))
    assert main(["validate", str(spec)]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith(f'{spec}: slo "checkout-requests-availability": invalid SLI: sli total')
    assert line.endswith(f"1:5: parse error: {reason}")


def test_check_canary_needs_both_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--service", "shop", "--canary", "c1"]) == 2
    assert "--canary and --baseline go together" in capsys.readouterr().err


def test_check_canary_unreachable_gate_is_no_decision(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "--service", "shop", "--canary", "c", "--baseline", "b"]
    assert main([*args, "--url", "http://127.0.0.1:9", "--timeout", "2"]) == 3
    assert "no decision: cannot reach" in capsys.readouterr().err
