"""The rule-file YAML writer: yaml.v2's choices, and PyYAML's emitters against the old one.

`legacy_rules_yaml` is the hand-written yaml.v2 emitter slogate shipped before it used PyYAML's;
it is the oracle of the differential tests here (every Sloth golden, generated rule groups with
the strings that pick a scalar style: line breaks of every kind, block chomping, edge spaces,
indicators, quotes, numbers and booleans as strings, long lines) until it is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slogate.sloth import rules_yaml
from slogate.sloth.rules import Rule, RuleGroup
from slogate.sloth.rules_yaml import (
    GoYAMLDumper,
    K8sMeta,
    PythonGoYAMLDumper,
    YAMLNode,
    dump,
    go_key_less,
    needs_double_quotes,
    prometheus_rule_node,
    rule_file_node,
)
from tests.sloth.test_generate import GOLDENS, Golden

from . import legacy_rules_yaml as legacy

Emitter = Callable[[YAMLNode], str]


def _libyaml(node: YAMLNode) -> str:
    return dump(node, dumper=GoYAMLDumper)


def _python(node: YAMLNode) -> str:
    return dump(node, dumper=PythonGoYAMLDumper)


EMITTERS: Final[dict[str, Emitter]] = {
    "libyaml": _libyaml,
    "python": _python,
    "legacy": legacy.dump,
}


@pytest.fixture(params=sorted(EMITTERS))
def emit(request: pytest.FixtureRequest) -> Emitter:
    return EMITTERS[request.param]


def test_libyaml_is_the_default() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: rule files use the Python emitter"
    assert issubclass(GoYAMLDumper, yaml.CSafeDumper)


# --- yaml.v2's choices, written by every emitter ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("2", True), ("0.2", True), ("true", True), ("Yes", True), ("off", True), ("~", True),
        ("", True), ("0x1F", True), ("1_000", True), ("017", True), ("1e3", True), (".5", True),
        ("2024-01-02", True), ("2024-1-2T10:00:00Z", True), ("1:20", True), ("-.inf", True),
        ("y", True), ("null", True),
        ("myteam", False), ("1e999", False), ("2024-13-01", False), ("v1.2", False),
        ("+", False), ("abc123", False), ("<<", False), ("=", False), ("0x_", False),
    ],
)  # fmt: skip
def test_double_quotes_for_other_types(value: str, quoted: bool) -> None:
    assert needs_double_quotes(value) is quoted


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("#alerts-myteam", "k: '#alerts-myteam'\n"),
        ("a: b", "k: 'a: b'\n"),
        ("it's", "k: it's\n"),
        ("'q'", "k: '''q'''\n"),
        ("{{$labels.x}} y", "k: '{{$labels.x}} y'\n"),
        ("- x", "k: '- x'\n"),
        ("line1\nline2\n", "k: |\n  line1\n  line2\n"),
        ("no newline\nend", "k: |-\n  no newline\n  end\n"),
        (" lead\n", "k: |2\n   lead\n"),
        ("two\n\n", "k: |+\n  two\n\n"),
        ("trail \nx\n", 'k: "trail \\nx\\n"\n'),
        ("tab\there", 'k: "tab\\there"\n'),
        ("émoji 😀", 'k: "émoji \\U0001F600"\n'),
        ("héllo", "k: héllo\n"),
        ("<<", "k: <<\n"),  # PyYAML's resolver would single-quote it (a merge key), yaml.v2 not
        ("2024-13-01", "k: 2024-13-01\n"),  # not a date for Go, a timestamp for PyYAML
        ("y", 'k: "y"\n'),  # a boolean for yaml.v2 (YAML 1.1), a string for PyYAML
        ("a\u2028b", "k: 'a\u2028  b'\n"),
        ("a\u2029", "k: 'a\u2029'\n"),  # libyaml would indent the closing quote
        ("a\u2028'", "k: 'a\u2028  '''\n"),
        ("a\u2028'\n", "k: |\n  a\u2028  '\n"),  # the same bytes in a block are content
        ("\x85", 'k: "\\N"\n'),
    ],
)
def test_scalar_styles(emit: Emitter, value: str, written: str) -> None:
    assert emit({"k": value}) == written


def test_long_plain_scalars_fold_after_column_80(emit: Emitter) -> None:
    value = "1 - slo:period_burn_rate:ratio{" + ", ".join(f'l{i}="v{i}"' for i in range(12)) + "}"
    written = emit({"rules": [{"expr": value}]})
    lines = written.splitlines()
    assert len(lines) > 2
    assert all(line.startswith("    ") for line in lines[2:])
    assert all(len(line) <= 90 for line in lines)
    assert yaml.safe_load(written) == {"rules": [{"expr": value}]}


def test_structure_layout(emit: Emitter) -> None:
    node: YAMLNode = {
        "groups": [{"name": "g", "rules": [{"record": "r", "labels": {"a": "1"}}]}],
        "e": [],
        "m": {},
    }
    assert emit(node) == (
        'groups:\n- name: g\n  rules:\n  - record: r\n    labels:\n      a: "1"\ne: []\nm: {}\n'
    )


def test_no_document_end_marker_after_a_keep_block(emit: Emitter) -> None:
    assert emit({"a": "x", "b": ["two\n\n"]}) == "a: x\nb:\n- |+\n  two\n\n"


def test_shared_values_are_written_out_not_aliased(emit: Emitter) -> None:
    labels: YAMLNode = {"a": "b"}
    assert emit({"p": labels, "q": labels}) == "p:\n  a: b\nq:\n  a: b\n"


def test_key_order_is_yaml_v2_natural_order() -> None:
    assert go_key_less("a2", "a10")
    assert go_key_less("_x", "a")  # non-letters before letters
    assert go_key_less("app.kubernetes.io/component", "app.kubernetes.io/managed-by")
    assert not go_key_less("b", "a")
    assert go_key_less("a", "ab")


def test_oracle_analysis_of_multiline_values() -> None:
    assert legacy.analyze_scalar("a\nb").multiline
    assert not legacy.analyze_scalar("a \nb").block_allowed
    assert not legacy.analyze_scalar("a\n b").single_quoted_allowed


_SCALAR_TEXT = st.text(
    alphabet=st.sampled_from([*"ab1:#-'\"{}[] ,?|>&*!%@`.\n\t\\é", "😀", "\x85", "\x00"]),
    max_size=40,
)


@given(_SCALAR_TEXT)
def test_written_scalars_read_back(value: str) -> None:
    assume(value not in ("=", "<<"))  # PyYAML-only tags (YAML 1.1 value/merge)
    assert yaml.safe_load(dump({"k": value, "l": [value]})) == {"k": value, "l": [value]}


# --- Every Sloth golden, through each emitter -------------------------------------------------


@pytest.fixture(params=["python", "legacy"])
def patched_emitter(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setattr(rules_yaml, "dump", EMITTERS[request.param])
    yield request.param


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda g: g.id)
def test_golden_is_byte_identical_through_the_other_emitters(
    golden: Golden, patched_emitter: str
) -> None:
    run = golden.generate()
    assert run.code == 0, run.stderr
    assert run.stdout == golden.expected()


# --- Differential: generated rule groups --------------------------------------------------------

# Pieces that decide a scalar's style in yaml.v2: every line break libyaml knows, block chomping
# (`|-`, `|`, `|+`), edge spaces, indicators, quotes, escapes, scalars that resolve to another
# type, unicode in and past the BMP, and runs long enough to fold at column 80.
_PIECES: Final = (
    *"ab1. :#-?'\"{}[],|>&*!%@`\\~=<",
    "\n", "\n\n", "\r", "\r\n", "\t", "\x85", "\u2028", "\u2029", "\x00", "\x1b", "\ufeff", "\xa0",
    ": ", " #", "- ", "? ", "---", "...", "  ", " \n", "\n ",
    "1", "true", "null", "0x1", "y", "No", "~", "1e3", ".5", "1:20", "2024-01-02", "<<", "0o7",
    "é", "日本", "😀", "\U0010fffd",
    "sum(rate(http_requests_total{code=~\"5..\"}[5m]))", "x" * 40, " or " * 3,
)  # fmt: skip
_TEXT: Final = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=24).map("".join),
    st.sampled_from(_PIECES),
    st.text(max_size=20),
)
_KEY: Final = st.one_of(
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True),
    st.sampled_from(["y", "n", "on", "true", "null", "a10", "a2", "app.kubernetes.io/team"]),
)
_LABELS: Final = st.dictionaries(_KEY, _TEXT, max_size=4)
_SECONDS: Final = st.sampled_from([0.0, 30.0, 60.0, 300.0, 5400.0, 86400.0])
_RULE: Final = st.builds(
    Rule,
    expr=_TEXT,
    record=_TEXT,
    alert=_TEXT,
    for_seconds=_SECONDS,
    labels=_LABELS,
    annotations=_LABELS,
)
_GROUPS: Final = st.lists(
    st.builds(
        RuleGroup,
        name=_TEXT,
        rules=st.lists(_RULE, max_size=3).map(tuple),
        interval=_SECONDS,
    ),
    max_size=3,
)
_META: Final = st.builds(K8sMeta, name=_TEXT, namespace=_TEXT, labels=_LABELS, annotations=_LABELS)


@settings(max_examples=100, deadline=None)
@given(_GROUPS)
def test_rule_files_match_the_old_emitter(groups: list[RuleGroup]) -> None:
    node = rule_file_node(groups)
    assert dump(node) == legacy.dump(node)


@settings(max_examples=60, deadline=None)
@given(_META, _GROUPS)
def test_prometheus_rules_match_the_old_emitter(meta: K8sMeta, groups: list[RuleGroup]) -> None:
    node = prometheus_rule_node(meta, groups)
    assert dump(node) == legacy.dump(node)


def _strings(text: str) -> object:
    return yaml.load(text, Loader=yaml.BaseLoader)  # every scalar a string, as written


@settings(max_examples=60, deadline=None)
@given(_META, _GROUPS)
def test_python_emitter_matches_until_a_line_folds(meta: K8sMeta, groups: list[RuleGroup]) -> None:
    """PyYAML's Python emitter folds scalars past column 80 elsewhere than libyaml."""
    for node in (rule_file_node(groups), prometheus_rule_node(meta, groups)):
        written, expected = _python(node), legacy.dump(node)
        if max(map(len, expected.splitlines()), default=0) <= legacy.BEST_WIDTH:
            assert written == expected
        else:
            assert _strings(written) == _strings(expected)
