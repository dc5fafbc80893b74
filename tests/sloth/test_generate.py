"""`slogate generate` against Sloth's goldens, the SLO plugins and the CLI.

Every golden pair is generated and compared twice: byte for byte, and structurally (parsed YAML
equal, every `expr` compared after `promql.parse`), so a byte difference is reported per file
while equivalence is always asserted. The YAML writer's own tests: `sloth/test_rules_yaml.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from slogate import __version__
from slogate.cli.generate import NO_RULES, add_parser, cmd_generate, generate_text
from slogate.conventions import SLO_PLUGIN_IDS
from slogate.core.model import SLO, frozen_labels
from slogate.core.windows import DAY
from slogate.errors import PromQLSyntaxError, SpecError
from slogate.evaluation.specfiles import load_windows_catalog
from slogate.sloth import promql
from slogate.sloth.rules import (
    SLO_PLUGINS,
    GenerateOptions,
    SLORules,
    generate_slo_rules,
    go_format_f,
    label_filter,
    rule_groups,
)
from slogate.sloth.rules_yaml import dump
from slogate.sloth.spec import LoadOptions, check_text
from tests.conftest import SLOTH, SLOTH_TESTDATA

EXAMPLES = SLOTH / "examples"
SLOTH_WINDOWS = SLOTH_TESTDATA.parent / "windows"
SLI_PLUGIN_SPECS = (
    EXAMPLES / "plugin-getting-started.yml",
    EXAMPLES / "plugin-k8s-getting-started.yml",
    SLOTH_TESTDATA / "in-sli-plugin.yaml",
)
# Goldens that need a custom SLO plugin (Go code loaded by Sloth's test run with --plugins-path).
CUSTOM_SLO_PLUGIN_SPECS = (
    SLOTH_TESTDATA / "in-slo-plugin.yaml",
    SLOTH_TESTDATA / "in-slo-plugin-k8s.yaml",
)
# Goldens slogate matches only structurally, not byte for byte (none so far).
EQUIVALENT_ONLY: frozenset[str] = frozenset()
EXAMPLES_EXCLUDE = r"_gen|windows|(^|/)plugin-"


# --- Running the command ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run_generate(*argv: str | Path) -> Run:
    """`slogate generate ARGV` through a parser built with `add_parser`, output captured."""
    parser = argparse.ArgumentParser(prog="slogate")
    add_parser(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = parser.parse_args(["generate", *map(str, argv)])
            code = args.func(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


# --- The golden pairs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Golden:
    """A spec, the flags Sloth ran with, and the file it wrote."""

    id: str
    spec: Path
    golden: Path
    flags: tuple[str, ...] = ()

    def expected(self) -> str:
        text = self.golden.read_text()
        return render_go_template(text, "dev") if self.golden.suffix == ".tpl" else text

    def generate(self, *extra: str | Path) -> Run:
        return run_generate("-i", self.spec, "--sloth-version", "dev", *self.flags, *extra)


_TEMPLATE_ACTION = re.compile(r'\{\{(?: *\.version *|"((?:[^"\\]|\\.)*)")\}\}|\{\{')


def render_go_template(text: str, version: str) -> str:
    """Render the two actions Sloth's golden templates use: `{{ .version }}` and `{{"..."}}`."""

    def action(match: re.Match[str]) -> str:
        if match.group(0) == "{{":
            raise ValueError(f"unsupported template action at {match.start()}")
        literal = match.group(1)
        return version if literal is None else str(json.loads(f'"{literal}"'))

    return _TEMPLATE_ACTION.sub(action, text)


def _example(spec: Path) -> Golden:
    return Golden(spec.name, spec, EXAMPLES / "_gen" / spec.name, ("-l", "cmd=examplesgen.sh"))


def _testdata(out: str, spec: str, *flags: str) -> Golden:
    return Golden(out, SLOTH_TESTDATA / spec, SLOTH_TESTDATA / f"{out}.yaml.tpl", flags)


# The flags of Sloth's test/integration/prometheus/generate_test.go, per golden.
TESTDATA_GOLDENS = (
    _testdata("out-base", "in-base.yaml"),
    _testdata("out-base-k8s", "in-base-k8s.yaml"),
    _testdata("out-base-no-alerts", "in-base.yaml", "--disable-alerts"),
    _testdata("out-base-no-recordings", "in-base.yaml", "--disable-recordings"),
    _testdata("out-base-extra-labels", "in-base.yaml", "-l", "exk1=exv1", "-l", "exk2=exv2"),
    _testdata("out-multifile", "in-multifile.yaml"),
    _testdata("out-multifile-k8s", "in-multifile-k8s.yaml"),
    _testdata("out-openslo", "in-openslo.yaml"),
    _testdata("out-base-28d", "in-base.yaml", "--default-slo-period", "28d"),
    _testdata(
        "out-base-custom-windows-7d",
        "in-base.yaml",
        "--default-slo-period",
        "7d",
        "--slo-period-windows-path",
        str(SLOTH_WINDOWS),
    ),
)
EXAMPLE_GOLDENS = tuple(
    _example(p) for p in sorted(EXAMPLES.glob("*.y*ml")) if p not in SLI_PLUGIN_SPECS
)
GOLDENS = EXAMPLE_GOLDENS + TESTDATA_GOLDENS


def _ids(golden: Golden) -> str:
    return golden.id


# --- Structural equivalence -------------------------------------------------------------------


def _expr(text: str) -> object:
    try:
        return promql.parse(text)
    except PromQLSyntaxError:
        return ("not PromQL", text)  # MetricsQL (victoria-metrics.yml) is compared as text


def normalize(node: Any) -> Any:
    """Parsed YAML with every `expr` replaced by its PromQL syntax tree."""
    if isinstance(node, dict):
        return {
            k: _expr(v) if k == "expr" and isinstance(v, str) else normalize(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [normalize(v) for v in node]
    return node


def documents(text: str) -> list[Any]:
    return list(yaml.safe_load_all(text))


def equivalent(actual: str, expected: str) -> bool:
    return bool(normalize(documents(actual)) == normalize(documents(expected)))


def unparsed_exprs(node: Any) -> list[str]:
    if isinstance(node, tuple) and node[:1] == ("not PromQL",):
        return [node[1]]
    if isinstance(node, dict):
        return [e for v in node.values() for e in unparsed_exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in unparsed_exprs(v)]
    return []


@pytest.mark.parametrize("golden", GOLDENS, ids=_ids)
def test_golden_is_equivalent(golden: Golden, record_property: Any) -> None:
    run = golden.generate()
    assert run.code == 0, run.stderr
    expected = golden.expected()
    record_property("byte_identical", run.stdout == expected)
    assert equivalent(run.stdout, expected)
    metricsql = golden.id == "victoria-metrics.yml"
    assert bool(unparsed_exprs(normalize(documents(run.stdout)))) == metricsql


@pytest.mark.parametrize("golden", [g for g in GOLDENS if g.id not in EQUIVALENT_ONLY], ids=_ids)
def test_golden_is_byte_identical(golden: Golden) -> None:
    run = golden.generate()
    assert run.code == 0, run.stderr
    assert run.stdout == golden.expected()


def test_equivalence_sees_a_changed_expression_or_label() -> None:
    golden = _example(EXAMPLES / "getting-started.yml")
    expected = golden.expected()
    assert equivalent(expected.replace("sum(rate(", "sum(  rate( "), expected)
    assert not equivalent(expected.replace("(14.4 *", "(14.5 *", 1), expected)
    assert not equivalent(expected.replace('tier: "2"', 'tier: "3"', 1), expected)


def test_directory_input_mirrors_the_tree(tmp_path: Path) -> None:
    run = run_generate(
        "-i", EXAMPLES, "-o", tmp_path, "-e", EXAMPLES_EXCLUDE, "-l", "cmd=examplesgen.sh",
        "--sloth-version", "dev",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(g.id for g in EXAMPLE_GOLDENS)
    for golden in EXAMPLE_GOLDENS:
        assert (tmp_path / golden.id).read_text() == golden.expected(), golden.id


def test_directory_input_keeps_subdirectories(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    (specs / "team-a").mkdir(parents=True)
    (specs / "team-a" / "svc.yaml").write_text((EXAMPLES / "getting-started.yml").read_text())
    (specs / "notes.txt").write_text("not a spec")
    run = run_generate("-i", specs, "-o", tmp_path / "out")
    assert run.code == 0, run.stderr
    assert [p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.yaml")] == [
        Path("team-a/svc.yaml")
    ]


# --- Specs that cannot be generated -----------------------------------------------------------


@pytest.mark.parametrize("spec", SLI_PLUGIN_SPECS, ids=lambda p: p.name)
def test_sli_plugin_specs_fail_clearly(spec: Path) -> None:
    run = run_generate("-i", spec)
    assert run.code == 1
    assert run.stdout == ""
    assert re.search(r'SLI plugin "[^"]+" is not supported', run.stderr)
    assert str(spec) in run.stderr


@pytest.mark.parametrize("spec", CUSTOM_SLO_PLUGIN_SPECS, ids=lambda p: p.name)
def test_custom_slo_plugin_specs_fail_clearly(spec: Path) -> None:
    run = run_generate("-i", spec)
    assert run.code == 1
    assert 'SLO plugin "integration-tests/plugin1" is not supported' in run.stderr


def test_invalid_version_fails_clearly() -> None:
    run = run_generate("-i", SLOTH_TESTDATA / "in-invalid-version.yaml")
    assert run.code == 1
    assert run.stdout == ""
    assert "invalid spec, could not load with any of the supported spec types" in run.stderr


def test_disabling_everything_generates_nothing() -> None:
    run = run_generate(
        "-i", EXAMPLES / "getting-started.yml", "--disable-recordings", "--disable-alerts"
    )
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr.strip().endswith(NO_RULES)


def test_every_problem_is_reported_and_nothing_written(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text((SLOTH_TESTDATA / "in-invalid-version.yaml").read_text())
    (specs / "b.yaml").write_text((SLOTH_TESTDATA / "in-sli-plugin.yaml").read_text())
    (specs / "c.yaml").write_text((EXAMPLES / "getting-started.yml").read_text())
    run = run_generate("-i", specs, "-o", tmp_path / "out")
    assert run.code == 1
    lines = run.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(specs / "a.yaml"), str(specs / "b.yaml")]
    assert not (tmp_path / "out").exists()


# --- Command line -----------------------------------------------------------------------------


def test_add_parser_registers_generate() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", "-i", "x"])
    assert args.func is cmd_generate
    assert (args.out, args.extra_labels, args.format) == ("-", [], None)
    assert args.default_slo_period is None  # Sloth's 30d, applied when the options load
    assert args.sloth_version == f"slogate-{__version__}"


def test_out_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    golden = _example(EXAMPLES / "getting-started.yml")
    run = golden.generate("-o", out)
    assert (run.code, run.stdout) == (0, "")
    assert out.read_text() == golden.expected()


def test_default_version_labels_the_rules() -> None:
    run = run_generate("-i", EXAMPLES / "getting-started.yml")
    assert run.code == 0
    assert f"# Code generated by Sloth (slogate-{__version__})" in run.stdout
    assert f"sloth_version: slogate-{__version__}\n" in run.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-i", "/nonexistent/spec.yml"], "no such file or directory"),
        (["-i", EXAMPLES], "is not a directory, however input is a directory"),
        (["-i", EXAMPLES, "-o", EXAMPLES], "input and output can't be the same directory"),
        (["-i", EXAMPLES / "getting-started.yml", "-o", EXAMPLES], "is a directory"),
        (["-i", "x", "-l", "novalue"], "expected KEY=VALUE"),
        (["-i", "x", "-l", "k="], "the label value is required"),
        (["-i", "x", "-l", "__name__=x"], "is not valid"),
        (["-i", "x", "-e", "("], "invalid regex"),
        (["-i", "x", "--default-slo-period", "30x"], "not a valid duration"),
        (["-i", "x", "--format", "json"], "invalid choice"),
        (
            ["-i", EXAMPLES / "getting-started.yml", "--default-slo-period", "7d"],
            "invalid default slo period: window period 1w missing",
        ),
        (
            ["-i", EXAMPLES / "getting-started.yml", "--slo-period-windows-path", EXAMPLES],
            "could not load SLO period windows",
        ),
    ],
)
def test_usage_errors_exit_2(argv: list[str | Path], message: str) -> None:
    run = run_generate(*argv)
    assert run.code == 2
    assert message in run.stderr
    assert run.stdout == ""


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    run = run_generate("-i", tmp_path, "-o", tmp_path / "out")
    assert run.code == 1
    assert "0 slo specs have been discovered" in run.stderr


def test_include_filter_selects_files(tmp_path: Path) -> None:
    run = run_generate("-i", EXAMPLES, "-o", tmp_path, "-n", "home-wifi", "-e", "_gen")
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "home-wifi.yml",
        "k8s-home-wifi.yml",
        "raw-home-wifi.yml",
    ]


def test_format_prometheus_for_a_kubernetes_spec() -> None:
    k8s = _example(EXAMPLES / "k8s-getting-started.yml")
    run = k8s.generate("--format", "prometheus")
    assert run.code == 0
    (rule_file,) = documents(run.stdout)
    (prometheus_rule,) = documents(k8s.expected())
    assert normalize(rule_file["groups"]) == normalize(prometheus_rule["spec"]["groups"])


def test_format_prometheus_operator_for_a_prometheus_spec() -> None:
    plain = _example(EXAMPLES / "getting-started.yml")
    run = plain.generate("--format", "prometheus-operator")
    assert run.code == 0
    (prometheus_rule,) = documents(run.stdout)
    assert prometheus_rule["kind"] == "PrometheusRule"
    assert prometheus_rule["metadata"] == {
        "name": "sloth-slo-myservice",
        "labels": {"app.kubernetes.io/component": "SLO", "app.kubernetes.io/managed-by": "sloth"},
    }
    (rule_file,) = documents(plain.expected())
    assert normalize(prometheus_rule["spec"]["groups"]) == normalize(rule_file["groups"])


# --- Rule generation and SLO plugins ----------------------------------------------------------

SPEC = """
version: "prometheus/v1"
service: "svc"
labels: {owner: team}
slos:
  - name: "slo"
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: SvcBurn
      page_alert: {for: 5m, labels: {severity: critical}}
      ticket_alert: {for: 10m}
"""


def load_slo(spec: str = SPEC, plugins: str = "", period: float = 30 * DAY) -> SLO:
    text = spec + (f"    plugins:\n      chain:\n{plugins}" if plugins else "")
    slos, errors = check_text(text, "spec.yml", LoadOptions(default_period=period))
    assert errors == []
    (slo,) = slos
    return slo


def generate(
    plugins: str = "", spec: str = SPEC, period: float = 30 * DAY, **options: Any
) -> SLORules:
    return generate_slo_rules(
        load_slo(spec, plugins, period),
        GenerateOptions(version="test", **options),
        spec_document=yaml.safe_load(spec),
    )


def records(rules: SLORules) -> list[str]:
    return [r.record or r.alert for g in rules.groups for r in g.rules]


def test_default_chain_groups_and_names() -> None:
    rules = generate()
    assert [g.name for g in rules.groups] == [
        "sloth-slo-sli-recordings-svc-slo",
        "sloth-slo-meta-recordings-svc-slo",
        "sloth-slo-alerts-svc-slo",
    ]
    assert [r.record for r in rules.sli.rules] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ]
    page, ticket = rules.alerts.rules
    assert (page.labels["sloth_severity"], page.labels["severity"]) == ("page", "critical")
    assert ticket.labels == {"sloth_severity": "ticket"}
    assert "(14.4 * 0.005)" in page.expr and "(6 * 0.005)" in page.expr
    assert page.for_seconds == 0  # Sloth's core alerts have no `for:`


def test_28d_period_is_named_4w() -> None:
    rules = generate(period=28 * DAY)
    period_rule = rules.sli.rules[-1]
    assert period_rule.record == "slo:sli_error:ratio_rate4w"
    assert period_rule.labels["sloth_window"] == "4w"
    assert "[4w]" in period_rule.expr
    assert {r.record: r.expr for r in rules.metadata.rules}["slo:time_period:days"] == "vector(28)"


def test_custom_catalog_drives_windows_and_factors() -> None:
    options = LoadOptions(7 * DAY, catalog=load_windows_catalog(SLOTH_WINDOWS))
    slos, errors = check_text(SPEC, "spec.yml", options)
    assert errors == []
    rules = generate_slo_rules(slos[0], GenerateOptions(version="test"))
    assert rules.sli.rules[-1].record == "slo:sli_error:ratio_rate1w"
    assert "(13.44 * 0.005)" in rules.alerts.rules[0].expr
    assert "(1.4000000000000001 * 0.005)" in rules.alerts.rules[1].expr


def test_extra_labels_override_slo_labels_but_not_filters() -> None:
    rules = generate(extra_labels=frozen_labels({"owner": "ops", "sloth_id": "x"}))
    sli = rules.sli.rules[0]
    assert (sli.labels["owner"], sli.labels["sloth_id"]) == ("ops", "x")
    assert 'sloth_id="svc-slo"' in rules.sli.rules[-1].expr  # issue #513: filters keep the ID
    assert "owner" not in rules.alerts.rules[0].labels  # alerts inherit labels from the series


def test_disable_optimized_sli_rules() -> None:
    rules = generate(
        '        - id: "sloth.dev/core/sli_rules/v1"\n          config: {disableOptimized: true}\n'
    )
    period_rules = [r for r in rules.sli.rules if r.record.endswith("30d")]
    assert len(period_rules) == 1  # the plugin replaced the default chain's SLI rules
    assert period_rules[0].expr == (
        '(sum(rate(http_requests_total{code=~"5.."}[30d])))\n/\n'
        "(sum(rate(http_requests_total[30d])))\n"
    )


def test_error_budget_exhausted_alert() -> None:
    rules = generate(
        '        - id: "sloth.dev/contrib/error_budget_exhausted_alert/v1"\n'
        "          config:\n"
        "            threshold: 0.05\n"
        "            alert_name: ErrorBudgetLow\n"
        "            alert_labels: {severity: info}\n"
        "            selector_labels: {datacenter: us-east}\n"
        "            annotations: {summary: budget low}\n"
    )
    alert = rules.alerts.rules[-1]
    assert alert.alert == "ErrorBudgetLow"
    assert alert.expr == (
        'slo:period_error_budget_remaining:ratio{datacenter="us-east", owner="team",'
        ' sloth_id="svc-slo", sloth_service="svc", sloth_slo="slo"} <= 0.05'
    )
    assert (alert.for_seconds, dict(alert.labels)) == (300, {"severity": "info"})
    assert dict(alert.annotations) == {"summary": "budget low"}
    written = dump({"groups": [{"rules": [{"alert": "x", "expr": "up", "for": "5m"}]}]})
    assert "    for: 5m\n" in written


def test_error_budget_exhausted_alert_defaults() -> None:
    rules = generate('        - id: "sloth.dev/contrib/error_budget_exhausted_alert/v1"\n')
    alert = rules.alerts.rules[-1]
    assert (alert.alert, alert.for_seconds) == ("ErrorBudgetExhausted", 300)
    assert alert.expr.endswith("} <= 0")


def test_alert_for_reads_the_spec() -> None:
    rules = generate('        - id: "sloth.dev/contrib/alert_for/v1"\n')
    assert [r.for_seconds for r in rules.alerts.rules] == [300, 600]


def test_remove_labels_keeps_ids_window_and_info() -> None:
    rules = generate(
        '        - id: "sloth.dev/contrib/remove_labels/v1"\n'
        "          config: {preserveLabels: [keep]}\n",
        extra_labels=frozen_labels({"keep": "yes", "drop": "no"}),
    )
    assert set(rules.sli.rules[0].labels) == {
        "sloth_id", "sloth_service", "sloth_slo", "sloth_window", "keep",
    }  # fmt: skip
    objective = rules.metadata.rules[0]
    assert set(objective.labels) == {"sloth_id", "sloth_service", "sloth_slo", "keep"}
    info = rules.metadata.rules[-1]
    assert info.record == "sloth_slo_info" and {"owner", "drop"} <= set(info.labels)


def test_info_labels_and_rule_intervals() -> None:
    rules = generate(
        '        - id: "sloth.dev/contrib/info_labels/v1"\n'
        "          config: {labels: {team: a}}\n"
        '        - id: "sloth.dev/contrib/rule_intervals/v1"\n'
        "          config: {interval: {default: 1m, alert: 30s}}\n"
    )
    assert rules.metadata.rules[-1].labels["team"] == "a"
    assert (rules.sli.interval, rules.metadata.interval, rules.alerts.interval) == (60, 60, 30)


def test_sli_total_amount_rules_add_a_group() -> None:
    rules = generate('        - id: "sloth.dev/contrib/sli_total_amount_rules/v1"\n')
    extra = rules.groups[-1]
    assert extra.name == "sloth-slo-sli-total-amount-svc-slo"
    assert extra.rules[0].record == "slo:sli_total:amount5m"
    assert extra.rules[0].expr == "sum(rate(http_requests_total[5m]))"
    assert extra.rules[-1].record == "slo:sli_total:amount30d"


def test_debug_plugin_logs_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="slogate.sloth.rules"):
        rules = generate('        - id: "sloth.dev/core/debug/v1"\n          config: {msg: hi}\n')
    assert rules.groups == generate().groups
    assert "svc-slo: hi" in caplog.text


@pytest.mark.parametrize(
    ("plugins", "reason"),
    [
        (
            '        - id: "sloth.dev/contrib/info_labels/v1"\n',
            'SLO plugin "sloth.dev/contrib/info_labels/v1": at least one label is required',
        ),
        (
            '        - id: "sloth.dev/contrib/rule_intervals/v1"\n          config: {}\n',
            "at least default interval is required",
        ),
        (
            '        - id: "sloth.dev/contrib/info_labels/v1"\n          config: {labels: [a]}\n',
            "invalid config: labels: expected an object",
        ),
        (
            '        - id: "sloth.dev/contrib/error_budget_exhausted_alert/v1"\n'
            "          config: {for: soon}\n",
            'invalid config: for: not a valid duration string: "soon"',
        ),
    ],
)
def test_bad_plugin_config_is_a_spec_error(plugins: str, reason: str) -> None:
    with pytest.raises(SpecError) as info:
        generate(plugins)
    assert info.value.slo == "svc-slo"
    assert info.value.source == "spec.yml"
    assert reason in info.value.line()


def test_denominator_corrected_needs_events() -> None:
    raw = SPEC.replace(
        """      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))""",
        "      raw: {error_ratio_query: 'sum(rate(errors[{{.window}}]))'}",
    )
    with pytest.raises(SpecError, match="denominator corrected SLI requires SLI event type"):
        generate('        - id: "sloth.dev/contrib/denominator_corrected_rules/v1"\n', spec=raw)


def test_override_with_noop_generates_no_rules() -> None:
    noop_only = "      overridePrevious: true\n      chain: [{id: sloth.dev/core/noop/v1}]\n"
    spec = f"{SPEC}    plugins:\n{noop_only}"
    output, errors = generate_text(spec, "spec.yml")
    assert output == ""
    assert [e.line() for e in errors] == [f"spec.yml: {NO_RULES}"]


def test_every_known_slo_plugin_is_implemented() -> None:
    assert set(SLO_PLUGINS) == SLO_PLUGIN_IDS


def test_rule_groups_flatten_in_order() -> None:
    rules = generate()
    assert rule_groups([rules, rules]) == rules.groups * 2


@pytest.mark.parametrize(
    ("value", "text"),
    [(99.9, "99.9"), (95.0, "95"), (1e-7, "0.0000001"), (1e21, "1000000000000000000000")],
)
def test_go_format_f(value: float, text: str) -> None:
    assert go_format_f(value) == text


def test_label_filter_sorts_and_quotes() -> None:
    assert label_filter({"b": 'say "hi"\n', "a": "x\\y"}) == '{a="x\\\\y", b="say \\"hi\\"\\n"}'


def test_every_generated_expression_parses() -> None:
    rules = generate(
        '        - id: "sloth.dev/contrib/denominator_corrected_rules/v1"\n'
        '        - id: "sloth.dev/contrib/error_budget_exhausted_alert/v1"\n'
        '        - id: "sloth.dev/contrib/sli_total_amount_rules/v1"\n'
    )
    for group in rules.groups:
        for rule in group.rules:
            promql.parse(rule.expr)
