"""Spec loading against Sloth's own fixtures and the mapping rules of each format."""

from __future__ import annotations

from pathlib import Path

import pytest

from slogate.core.model import EventsSLI, RawSLI
from slogate.core.windows import DAY
from slogate.errors import SpecError
from slogate.evaluation.specfiles import load_specs, load_windows_catalog
from slogate.sloth.spec import LoadOptions, check_text, go_string, load_text, split_documents
from tests.conftest import DEMO_SPECS, SLOTH, SLOTH_TESTDATA

VALIDATE = SLOTH_TESTDATA / "validate"
EXAMPLES = sorted(p for p in (SLOTH / "examples").glob("*.y*ml"))
SLI_PLUGIN_EXAMPLES = {"plugin-getting-started.yml", "plugin-k8s-getting-started.yml"}


@pytest.mark.parametrize("path", sorted((VALIDATE / "good").iterdir()), ids=lambda p: p.name)
def test_sloth_good_fixtures_load(path: Path) -> None:
    slos, errors = check_text(path.read_text(), str(path))
    assert errors == []
    assert slos


# What makes each "bad" fixture bad, in Sloth's words.
BAD = {
    "bad-aa.yaml": ('slo "svc01-slo02"', "objective must >0 and <=100"),
    "bad-ab.yaml": ('slo "svc01-slo02"', "objective must >0 and <=100"),
    "bad-ba.yaml": ('slo "svc01-slo02"', "objective must >0 and <=100"),
    "bad-k8s.yaml": ('slo "-slo1"', "invalid SLO ID: name must start and end with an alphanumeric"),
    "bad-multi-k8s.yaml": ('slo "svc01-slo1"', "invalid alert: page alert: alert name is required"),
    "bad-multi.yaml": ('slo "svc02-slo02"', "invalid SLI: at least one SLI type is required"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_sloth_bad_fixtures_are_rejected_with_the_reason(name: str) -> None:
    path = VALIDATE / "bad" / name
    slo, reason = BAD[name]
    _slos, errors = check_text(path.read_text(), str(path))
    # bad-k8s.yaml's empty service breaks both of its SLOs; the others break one.
    assert len(errors) == (2 if name == "bad-k8s.yaml" else 1)
    line = errors[0].line()
    assert line.startswith(str(path))
    assert slo in line and reason in line
    assert all(reason in e.reason for e in errors)


def test_bad_openslo_fixture_uses_a_28d_window_that_sloth_accepts() -> None:
    # The fixture marks `count: 28` as BAD, but Sloth v0.16 loads it: 28d is in its built-in
    # catalog and only non-day units are rejected. slogate follows Sloth's behaviour.
    path = VALIDATE / "bad" / "bad-openslo.yaml"
    [slo] = load_text(path.read_text(), str(path))
    assert slo.period == 28 * DAY
    assert slo.windows.page_quick.burn_factor == 13.44
    weeks = path.read_text().replace("unit: Day", "unit: Week")
    with pytest.raises(SpecError, match="only days based time windows are supported"):
        load_text(weeks, "weeks.yaml")


def test_sloth_bad_directory_fails_as_a_whole() -> None:
    found = load_specs(VALIDATE / "bad", check_duplicates=False)
    assert not found.ok
    assert len(found.errors) == len(BAD) + 1


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_sloth_examples_load_except_sli_plugins(path: Path) -> None:
    slos, errors = check_text(path.read_text(), str(path))
    if path.name in SLI_PLUGIN_EXAMPLES:
        assert len(errors) == 1
        assert 'SLI plugin "' in errors[0].reason and "is not supported" in errors[0].reason
        assert errors[0].slo == "myservice-requests-availability"
    else:
        assert errors == []
        assert slos


def test_duplicates_across_files_are_rejected_as_sloth_does() -> None:
    for sub in ("prom", "k8s", "openslo"):
        found = load_specs(SLOTH_TESTDATA / "validate_with_duplicates" / sub)
        assert found.errors, sub
        assert {e.reason.split(".")[0] for e in found.errors} == {"SLO duplicated"}, sub
        assert "already exists in a file" in found.errors[0].reason
        ignored = load_specs(
            SLOTH_TESTDATA / "validate_with_duplicates" / sub, check_duplicates=False
        )
        assert ignored.ok


def test_duplicates_in_one_multidocument_file() -> None:
    path = SLOTH_TESTDATA / "validate_with_duplicates" / "bad-prom-multi-duplicates.yaml"
    found = load_specs(path)
    assert found.errors
    assert all("is repeated" in e.reason for e in found.errors)


def test_prometheus_v1_mapping() -> None:
    [events, raw] = load_text((SLOTH_TESTDATA / "in-base.yaml").read_text(), "in-base.yaml")
    assert events.id == "svc01-slo1" and events.service == "svc01" and events.name == "slo1"
    assert events.objective == 99.9
    assert isinstance(events.sli, EventsSLI) and "{{.window}}" in events.sli.error_query
    assert dict(events.labels) == {"global01k1": "global01v1", "global02k1": "global02v1"}
    assert dict(events.page_alert.labels) == {"alert01k1": "alert01v1", "alert03k1": "alert03v1"}
    assert not events.page_alert.disable
    assert isinstance(raw.sli, RawSLI)
    assert raw.page_alert.disable and raw.ticket_alert.disable
    assert events.period == 30 * DAY


def test_camel_case_alert_keys_are_ignored_in_prometheus_v1_like_sloth() -> None:
    # good-aa.yaml writes `pageAlert:` in a prometheus/v1 file: Sloth ignores the unknown key,
    # so the page alert is enabled with only the alerting-level labels.
    [slo, _] = load_text((VALIDATE / "good" / "good-aa.yaml").read_text(), "good-aa.yaml")
    assert not slo.page_alert.disable
    assert dict(slo.page_alert.labels) == {"alert01k1": "alert01v1"}


def test_kubernetes_mapping_keeps_object_metadata() -> None:
    [slo, _] = load_text((SLOTH_TESTDATA / "in-base-k8s.yaml").read_text(), "in-base-k8s.yaml")
    assert slo.origin.kind == "sloth.slok.dev/v1"
    assert (slo.origin.k8s_name, slo.origin.k8s_namespace) == ("svc", "test-ns")
    assert dict(slo.page_alert.labels) == {"alert01k1": "alert01v1", "alert03k1": "alert03v1"}


def test_openslo_objectives_become_raw_slos() -> None:
    slos = load_text((SLOTH / "examples" / "openslo-kubernetes-apiserver.yml").read_text(), "x.yml")
    assert [s.id for s in slos] == [
        "k8s-apiserver-requests-availability-openslo-0",
        "k8s-apiserver-requests-latency-openslo-0",
        "k8s-apiserver-requests-latency-openslo-1",
    ]
    assert [s.objective for s in slos] == pytest.approx([99.9, 99.0, 99.9])
    sli = slos[0].sli
    assert isinstance(sli, RawSLI)
    assert sli.error_ratio_query.startswith(
        "\n  1 - (\n    (\n      sum(rate(apiserver_request_total{code!~"
    )
    assert all(s.page_alert.disable and s.ticket_alert.disable for s in slos)


def test_non_string_label_values_are_coerced_like_sloth() -> None:
    slos = load_text((SLOTH / "examples" / "victoria-metrics.yml").read_text(), "vm.yml")
    assert slos[0].labels["generated"] == "true"
    assert slos[0].labels["actual_le"] == "0.2"
    assert go_string(0.4) == "0.4" and go_string(90) == "90" and go_string(False) == "false"


def test_split_documents_like_sloth() -> None:
    text = "# head\n---\na: 1\n---\n\n---\n# comment\nb: 2\n"
    assert [d.strip() for d in split_documents(text)] == ["a: 1", "b: 2"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "version: prometheus/v2\nservice: a\n",
            "could not load with any of the supported spec types",
        ),
        ('version: "prometheus/v1"\nservice: svc\nslos: []\n', "at least one SLO is required"),
        (
            'version: "prometheus/v1"\nservice: svc\nslos: [{name: s1, objective: "high"}]\n',
            "slos[0].objective: expected a number",
        ),
        (
            'version: "prometheus/v1"\nservice: svc\n'
            "slos: [{name: s1, objective: 99, sli: {plugin: {id: x}}}]\n",
            'SLI plugin "x" is not supported',
        ),
        ("version: prometheus/v1\nservice: [svc\n", "could not unmarshal YAML spec"),
    ],
)
def test_structural_errors_are_clear(text: str, reason: str) -> None:
    _, errors = check_text(text, "f.yml")
    assert errors and reason in errors[0].line()
    assert errors[0].line().startswith("f.yml")


def events_spec(error: str, total: str) -> str:
    return f"""version: "prometheus/v1"
service: svc
slos:
  - name: s1
    objective: 99
    sli: {{events: {{error_query: '{error}', total_query: '{total}'}}}}
    alerting: {{page_alert: {{disable: true}}, ticket_alert: {{disable: true}}}}
"""


@pytest.mark.parametrize(
    ("error", "total", "reason"),
    [
        (
            "rate(x[5m])",
            "rate(y[{{.window}}])",
            "sli error query template: template must contain the {{ .window }} variable",
        ),
        (
            "rate(x[{{.window}}])",
            "rate(x[{{.window}}])",
            "both error and total queries can't be the same",
        ),
        (
            "sum(rate(x[{{.window}}])",
            "rate(y[{{.window}}])",
            "invalid SLI: sli error query expression: 1:",
        ),
        ("rate(x[{{ .window }}])", "foo(y[{{.window}}])", 'unknown function with name "foo"'),
    ],
)
def test_sli_query_validation(error: str, total: str, reason: str) -> None:
    _, errors = check_text(events_spec(error, total), "q.yml")
    assert len(errors) == 1 and reason in errors[0].reason


def test_windows_catalog_from_directory_and_custom_period(sloth_compat: Path) -> None:
    catalog = load_windows_catalog(sloth_compat / "examples" / "windows")
    assert catalog.periods == (7 * DAY, 30 * DAY)
    text = (SLOTH_TESTDATA / "in-base.yaml").read_text()
    [slo, _] = load_text(text, "in-base.yaml", LoadOptions(default_period=7 * DAY, catalog=catalog))
    assert slo.windows.page_quick.burn_factor == 13.44
    _, errors = check_text(text, "in-base.yaml", LoadOptions(default_period=14 * DAY))
    assert "no alert windows for a 2w SLO period" in errors[0].reason


def test_demo_specs_cover_all_three_formats() -> None:
    found = load_specs(DEMO_SPECS)
    assert found.ok, [e.line() for e in found.errors]
    assert {s.origin.kind for s in found.slos} == {
        "prometheus/v1",
        "sloth.slok.dev/v1",
        "openslo/v1alpha",
    }
    assert {s.service for s in found.slos} == {
        "checkout",
        "payments",
        "search",
        "catalog",
        "recommendations",
        "notifications",
    }
