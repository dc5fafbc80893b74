"""Generated rules in Prometheus' own tool: every golden's output passes `promtool check rules`,
and `promtool test rules` shows the page alert firing on a fast burn and quiet when healthy."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sloth.test_generate import GOLDENS, Golden, documents, run_generate

from ..tools import require_tool

# Goldens Prometheus 2.42 rejects, as it rejects Sloth's own output, and the only reason allowed:
# - MetricsQL SLI queries (`histogram_share`, `vector(1)[5m]`) are for vmalert, not Prometheus;
# - `plug-l1` info labels are valid only under Prometheus 3's UTF-8 label names.
KNOWN_REJECTIONS = {
    "victoria-metrics.yml": re.compile(r'group "sloth-slo-sli-recordings-.*could not parse'),
    "contrib-slo-plugins.yml": re.compile(r'"sloth_slo_info": invalid label name: plug-l\d$'),
}


def promtool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def rule_files(output: str, directory: Path) -> list[tuple[Path, int]]:
    """One Prometheus rule file per generated document, and how many rules it holds.

    Documents are checked one by one: Prometheus reads only the first YAML document of a rule
    file. A plain document is written back byte for byte; a PrometheusRule's `spec` is written
    as a rule file, as prometheus-operator does.
    """
    files = []
    chunks = output.split("\n---\n")[1:]
    for index, (chunk, document) in enumerate(zip(chunks, documents(output), strict=True)):
        path = directory / f"rules-{index}.yml"
        if document.get("kind") == "PrometheusRule":
            groups = document["spec"]["groups"]
            path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        else:
            groups = document["groups"]
            path.write_text(chunk)
        files.append((path, sum(len(g["rules"]) for g in groups)))
    return files


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda g: g.id)
def test_promtool_checks_generated_rules(golden: Golden, tmp_path: Path) -> None:
    run = golden.generate()
    assert run.code == 0, run.stderr
    rejection = KNOWN_REJECTIONS.get(golden.id)
    for path, count in rule_files(run.stdout, tmp_path):
        result = promtool("check", "rules", path, cwd=tmp_path)
        report = result.stdout + result.stderr
        if rejection is None:
            assert result.returncode == 0, report
            assert f"SUCCESS: {count} rules found" in result.stdout
            continue
        problems = [line for line in report.splitlines() if ": group " in line]
        assert result.returncode != 0
        assert problems
        assert all(rejection.search(line) for line in problems), report


SPEC = """\
version: "prometheus/v1"
service: "checkout"
labels:
  team: payments
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
    alerting:
      name: CheckoutHighErrorRate
      page_alert:
        labels:
          severity: critical
      ticket_alert:
        disable: true
"""
ALERT = "CheckoutHighErrorRate"
PAGE_LABELS = {
    "severity": "critical",
    "sloth_severity": "page",
    "sloth_id": "checkout-requests-availability",
    "sloth_service": "checkout",
    "sloth_slo": "requests-availability",
    "team": "payments",
}
PAGE_ANNOTATIONS = {
    "title": "(page) checkout requests-availability SLO error budget burn rate is too fast.",
    "summary": "checkout requests-availability SLO error budget burn rate is over expected.",
}


def _traffic_test(errors_per_minute: float, expect_page: bool) -> dict[str, Any]:
    """Two hours of 60 requests a minute, `errors_per_minute` of them failing."""
    expected = [{"exp_labels": PAGE_LABELS, "exp_annotations": PAGE_ANNOTATIONS}]
    return {
        "interval": "1m",
        "input_series": [
            {
                "series": 'http_requests_total{job="checkout",code="200"}',
                "values": f"0+{60 - errors_per_minute}x120",
            },
            {
                "series": 'http_requests_total{job="checkout",code="500"}',
                "values": f"0+{errors_per_minute}x120",
            },
        ],
        "alert_rule_test": [
            {"eval_time": "70m", "alertname": ALERT, "exp_alerts": expected if expect_page else []}
        ],
    }


def _run_unit_tests(
    tmp_path: Path, tests: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "checkout.yml"
    spec.write_text(SPEC)
    run = run_generate("-i", spec, "-o", tmp_path / "rules.yml")
    assert run.code == 0, run.stderr
    unit = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "unit.yml").write_text(yaml.safe_dump(unit, sort_keys=False))
    return promtool("test", "rules", "unit.yml", cwd=tmp_path)


def test_page_alert_fires_on_fast_burn_only(tmp_path: Path) -> None:
    fast_burn = _traffic_test(6, expect_page=True)  # 10% errors: 100x the 0.1% budget
    healthy = _traffic_test(0.006, expect_page=False)  # 0.01% errors
    result = _run_unit_tests(tmp_path, [fast_burn, healthy])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_test_fails_when_expectation_is_wrong(tmp_path: Path) -> None:
    """The unit test has teeth: claiming silence during a fast burn fails."""
    result = _run_unit_tests(tmp_path, [_traffic_test(6, expect_page=False)])
    assert result.returncode != 0
    assert ALERT in result.stdout + result.stderr
