"""slogate's PromQL parser against promql-parser (a Rust port of Prometheus' parser), as an oracle.

For every expression tried, both parsers must agree that it is valid, and promql-parser must
read slogate's rendering (`format_expr`) as the very expression it read from the original text
(compared through promql-parser's own printing). Only the places where promql-parser knowingly
differs from Prometheus 3.10's `parser.ParseExpr` (docs/promql.md) are kept out, each by name:

- it has no feature flags, so it accepts experimental functions, `limitk`/`limit_ratio` and
  `fill()` modifiers that `ParseExpr` rejects: the generator never writes them;
- it rejects `_` between digits (`1_000`) and `:` in label names of `by (...)`, both valid in
  Prometheus 3: the generator never writes them;
- it keeps an empty `by ()` apart from no grouping at all, which Prometheus' tree (and so
  slogate's) does not (both group by nothing): the generator writes `by` with a label.
"""

from __future__ import annotations

from pathlib import Path

import promql_parser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slogate.conventions import render_window
from slogate.errors import PromQLSyntaxError
from slogate.sloth.promql import FUNCTIONS, ValueType, format_expr, parse
from tests.sloth.test_promql import QUERY_KEYS, example_files, yaml_strings

# Queries of the Sloth fixtures that are not PromQL (MetricsQL, for vmalert).
NOT_PROMQL = {"victoria-metrics.yml"}


def oracle(text: str) -> str:
    """promql-parser's reading of `text`, printed by promql-parser."""
    return str(promql_parser.parse(text))


def assert_same_reading(text: str) -> None:
    parsed = parse(text)
    rendered = format_expr(parsed)
    assert oracle(rendered) == oracle(text), f"{text!r} rendered as {rendered!r}"
    assert parse(rendered) == parsed


# -- generated expressions, typed so that they are valid -------------------------------------

LEGACY_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda name: name.lower()
    not in {
        "and", "or", "unless", "atan2", "bool", "by", "without", "on", "ignoring", "offset",
        "group_left", "group_right", "inf", "nan", "start", "end", "step", "range", "anchored",
        "smoothed", "fill", "fill_left", "fill_right",
    }
    and name.lower() not in {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar",
                             "topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}
)  # fmt: skip
UTF8_NAMES = st.text(alphabet="ab.é-/ 😀_", min_size=1, max_size=8)
LABEL_VALUES = st.text(alphabet='ab0 ."\\é', max_size=6)
DURATIONS = st.sampled_from(["1s", "30s", "5m", "1h", "1h30m", "2d", "1w", "1y", "90", "1.5"])
FUNCTIONS_BY_TYPE: dict[ValueType, list[str]] = {
    kind: sorted(
        name
        for name, signature in FUNCTIONS.items()
        if not signature.experimental and signature.return_type == kind
        and all(arg in ("vector", "matrix", "scalar") for arg in signature.arg_types)
        and signature.variadic >= 0
    )
    for kind in ("vector", "scalar")
}  # fmt: skip


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def selectors(draw: st.DrawFn) -> str:
    matchers = draw(
        st.lists(
            st.tuples(
                st.one_of(LEGACY_NAMES, UTF8_NAMES.map(quoted)),
                st.sampled_from(["=", "!=", "=~", "!~"]),
                LABEL_VALUES.map(lambda v: quoted(v.replace("\\", "").replace('"', ""))),
            ).map("".join),
            max_size=3,
        )
    )
    if draw(st.booleans()):
        name = draw(LEGACY_NAMES)
        return name + (f"{{{', '.join(matchers)}}}" if matchers else "")
    return "{" + ", ".join([quoted(draw(UTF8_NAMES)), *matchers]) + "}"


def modifiers(draw: st.DrawFn) -> str:
    offset = f" offset {draw(st.sampled_from(['', '-']))}{draw(DURATIONS)}"
    return draw(st.sampled_from(["", offset, " @ 100", " @ start()"]))


@st.composite
def instants(draw: st.DrawFn) -> str:
    return draw(selectors()) + modifiers(draw)


@st.composite
def ranges(draw: st.DrawFn) -> str:
    return f"{draw(selectors())}[{draw(DURATIONS)}]{modifiers(draw)}"


def grouping(draw: st.DrawFn, min_size: int = 0) -> str:
    label = st.one_of(LEGACY_NAMES, UTF8_NAMES.map(quoted))
    labels = draw(st.lists(label, min_size=min_size, max_size=3))
    return f"({', '.join(labels)})"


def expressions(kind: ValueType, depth: int) -> st.SearchStrategy[str]:
    if kind == "matrix":
        return ranges()
    if kind == "scalar":
        leaves: st.SearchStrategy[str] = st.one_of(
            st.integers(0, 1000).map(str), st.sampled_from(["0.5", "1e3", "Inf", "NaN", "5m"])
        )
    else:
        leaves = instants()
    if depth == 0:
        return leaves
    return st.one_of(leaves, compound(kind, depth - 1))


@st.composite
def compound(draw: st.DrawFn, kind: ValueType, depth: int) -> str:
    form = draw(st.sampled_from(["call", "binary", "paren"] + (["aggregate"] * (kind == "vector"))))
    if form == "call":
        name = draw(st.sampled_from(FUNCTIONS_BY_TYPE[kind]))
        signature = FUNCTIONS[name]
        count = len(signature.arg_types) - (1 if signature.variadic and draw(st.booleans()) else 0)
        args = [draw(expressions(t, depth)) for t in signature.arg_types[:count]]
        return f"{name}({', '.join(args)})"
    if form == "aggregate":
        op = draw(st.sampled_from(["sum", "avg", "max", "topk", "quantile", "count_values"]))
        param = {"topk": "3, ", "quantile": "0.9, ", "count_values": '"v", '}.get(op, "")
        modifier = draw(st.sampled_from(["", "by", "without"]))
        head = f"{op} {modifier} {grouping(draw, int(modifier == 'by'))}" if modifier else op
        return f"{head} ({param}{draw(expressions('vector', depth))})"
    if form == "paren":
        return f"({draw(expressions(kind, depth))})"
    rhs_kind: ValueType = draw(st.sampled_from(["vector", "scalar"])) if kind == "vector" else kind
    lhs, rhs = draw(expressions(kind, depth)), draw(expressions(rhs_kind, depth))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "^", "atan2", "== bool", "> bool"]))
    if rhs_kind == "vector" and draw(st.booleans()):
        op += f" {draw(st.sampled_from(['on', 'ignoring']))} {grouping(draw, 1)}"
    return f"{lhs} {op} {rhs}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(expressions("vector", 3), expressions("scalar", 3)))
def test_generated_expressions_read_alike(text: str) -> None:
    assert_same_reading(text)


# -- every query in Sloth's fixtures --------------------------------------------------------


def sloth_queries(directory: Path, keys: frozenset[str]) -> list[str]:
    return [
        render_window(query, "5m")
        for path in example_files(directory)
        if path.name not in NOT_PROMQL
        for query in yaml_strings(path, keys)
    ]


def test_every_sloth_example_query_reads_alike(sloth_compat: Path) -> None:
    queries = sloth_queries(sloth_compat / "examples", QUERY_KEYS)
    assert len(queries) >= 40
    for query in queries:
        assert_same_reading(query)


def test_every_sloth_generated_rule_reads_alike(sloth_compat: Path) -> None:
    queries = sloth_queries(sloth_compat / "examples" / "_gen", frozenset({"expr"}))
    assert len(queries) >= 400
    for query in queries:
        assert_same_reading(query)


# -- the known differences, pinned so that a fixed promql-parser shows up -------------------


@pytest.mark.parametrize(
    "text",
    ["limitk(2, x)", "double_exponential_smoothing(x[5m], 0.5, 0.5)", "a + fill(0) b"],
)
def test_oracle_accepts_what_only_a_feature_flag_allows(text: str) -> None:
    oracle(text)
    with pytest.raises(PromQLSyntaxError, match=r"not enabled|experimental"):
        parse(text)


@pytest.mark.parametrize("text", ["1_000", "sum by (a:b) (x)"])
def test_oracle_rejects_what_prometheus_3_accepts(text: str) -> None:
    parse(text)
    with pytest.raises(ValueError):
        oracle(text)
