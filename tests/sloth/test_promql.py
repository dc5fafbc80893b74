"""Tests of the PromQL parser, printer and helpers in `slogate.promql`.

Baseline: Prometheus 3.10's `parser.ParseExpr` (prometheus v0.310.0, as pinned by Sloth v0.16),
feature flags off. Messages unchanged since 2.x were checked against a running Prometheus
(Debian's 2.42, `/api/v1/query`); those of what 3.x added or changed (quoted names, duration
expressions, experimental functions and modifiers, `<op:@>`) are taken from v3.10.0's
generated_parser.y, lex.go and parse.go, since no Prometheus 3 binary runs here. Duration
errors use prometheus/common's `model.ParseDuration` wording.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from slogate.conventions import render_window
from slogate.errors import PromQLSyntaxError, SlogateError
from slogate.sloth.promql import (
    FUNCTIONS,
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    LabelMatcher,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    format_expr,
    parse,
    value_type,
)

if TYPE_CHECKING:
    from pathlib import Path

# --------------------------------------------------------------------------------------------
# helpers


def sel(name: str | None, *matchers: LabelMatcher, offset: float = 0.0) -> VectorSelector:
    return VectorSelector(name, matchers, offset_seconds=offset)


def eq(name: str, value: str) -> LabelMatcher:
    return LabelMatcher(name, "=", value)


def num(value: float) -> NumberLiteral:
    return NumberLiteral(value)


Tree = str | float | tuple[Any, ...]


def tree(spec: Tree) -> Expr:
    """A small AST from `("+", "a", ("*", 2, "b"))`; `("neg", x)` is unary minus, `("()", x)`
    parentheses; names are selectors, numbers literals."""
    if isinstance(spec, str):
        return sel(spec)
    if isinstance(spec, int | float):
        return num(float(spec))
    op, *args = spec
    if op == "neg":
        return UnaryExpr("-", tree(args[0]))
    if op == "()":
        return ParenExpr(tree(args[0]))
    lhs, rhs = tree(args[0]), tree(args[1])
    both_vectors = value_type(lhs) == value_type(rhs) == "vector"
    card: Cardinality = "many-to-many" if op in ("and", "or", "unless") else "one-to-one"
    return BinaryExpr(op, lhs, rhs, matching=VectorMatching(card) if both_vectors else None)


def error_of(text: str) -> str:
    with pytest.raises(PromQLSyntaxError) as info:
        parse(text)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# ASTs

ON_XY_GROUP_LEFT_Z = VectorMatching("many-to-one", True, ("x", "y"), ("z",))
RATE = Call("rate", (MatrixSelector(sel("http_requests_total", eq("job", "api")), 300.0),))

AST_CASES: list[tuple[str, Expr]] = [
    ("1", num(1.0)),
    ("-2.5", num(-2.5)),
    ("0x1F", num(31.0)),
    ("1e3", num(1000.0)),
    ('"a\\tb"', StringLiteral("a\tb")),
    ("`raw\\n`", StringLiteral("raw\\n")),
    ("foo", sel("foo")),
    ("foo:bar:rate5m", sel("foo:bar:rate5m")),
    (
        'foo{a="1", b!="2", c=~"3.*", d!~"4"}',
        sel(
            "foo",
            eq("a", "1"),
            LabelMatcher("b", "!=", "2"),
            LabelMatcher("c", "=~", "3.*"),
            LabelMatcher("d", "!~", "4"),
        ),
    ),
    ('{__name__="foo"}', sel(None, eq("__name__", "foo"))),
    ('rate(http_requests_total{job="api"}[5m])', RATE),
    ("foo offset -1h30m", sel("foo", offset=-5400.0)),
    ("foo @ 1609746000.5", VectorSelector("foo", at=1609746000.5)),
    ("foo @ start()", VectorSelector("foo", at="start")),
    (
        "foo[5m] @ end() offset 1m",
        MatrixSelector(VectorSelector("foo", offset_seconds=60.0, at="end"), 300.0),
    ),
    (
        "rate(foo[5m])[30m:1m] offset 1d",
        SubqueryExpr(
            Call("rate", (MatrixSelector(sel("foo"), 300.0),)), 1800.0, 60.0, offset_seconds=86400.0
        ),
    ),
    ("foo[1h:]", SubqueryExpr(sel("foo"), 3600.0)),
    (
        'sum by (job) (rate(http_requests_total{job="api"}[5m]))',
        AggregateExpr("sum", RATE, grouping=("job",)),
    ),
    (
        'SUM(rate(http_requests_total{job="api"}[5m])) WITHOUT (instance, code)',
        AggregateExpr("sum", RATE, grouping=("instance", "code"), without=True),
    ),
    ("topk(5, foo)", AggregateExpr("topk", sel("foo"), param=num(5.0))),
    ('count_values("v", foo)', AggregateExpr("count_values", sel("foo"), StringLiteral("v"))),
    ("-foo", UnaryExpr("-", sel("foo"))),
    ("(foo)", ParenExpr(sel("foo"))),
    ("1 > bool 2", BinaryExpr(">", num(1.0), num(2.0), return_bool=True)),
    (
        "a / on(x, y) group_left(z) b",
        BinaryExpr("/", sel("a"), sel("b"), matching=ON_XY_GROUP_LEFT_Z),
    ),
    (
        "a * ignoring(x) group_right b",
        BinaryExpr("*", sel("a"), sel("b"), matching=VectorMatching("one-to-many", False, ("x",))),
    ),
    (
        "a and on(x) b",
        BinaryExpr(
            "and", sel("a"), sel("b"), matching=VectorMatching("many-to-many", True, ("x",))
        ),
    ),
    ("a + 1", BinaryExpr("+", sel("a"), num(1.0))),
    ("time()", Call("time")),
    ("sum", sel("sum")),
    ("offset offset 5m", sel("offset", offset=300.0)),
]


@pytest.mark.parametrize(("text", "expected"), AST_CASES)
def test_parse_builds_the_expected_ast(text: str, expected: Expr) -> None:
    assert parse(text) == expected


PRECEDENCE_CASES: list[tuple[str, Tree]] = [
    ("a - b - c", ("-", ("-", "a", "b"), "c")),
    ("a / b * c", ("*", ("/", "a", "b"), "c")),
    ("a + b * c", ("+", "a", ("*", "b", "c"))),
    ("a * b + c", ("+", ("*", "a", "b"), "c")),
    ("a ^ b ^ c", ("^", "a", ("^", "b", "c"))),
    ("a * b ^ c", ("*", "a", ("^", "b", "c"))),
    ("a % b atan2 c", ("atan2", ("%", "a", "b"), "c")),
    ("-a ^ b", ("neg", ("^", "a", "b"))),
    ("-2 ^ 2", ("neg", ("^", 2, 2))),
    ("-a * b", ("*", ("neg", "a"), "b")),
    ("a * -b ^ c", ("*", "a", ("neg", ("^", "b", "c")))),
    ("a ^ -b * c", ("*", ("^", "a", ("neg", "b")), "c")),
    ("2 * -1", ("*", 2, -1)),
    ("a > b + c", (">", "a", ("+", "b", "c"))),
    ("a and b > c", ("and", "a", (">", "b", "c"))),
    ("a or b and c", ("or", "a", ("and", "b", "c"))),
    ("a unless b or c", ("or", ("unless", "a", "b"), "c")),
    ("a and b unless c", ("unless", ("and", "a", "b"), "c")),
    ("a or b or c", ("or", ("or", "a", "b"), "c")),
    ("(a + b) * c", ("*", ("()", ("+", "a", "b")), "c")),
    ("a == b != c", ("!=", ("==", "a", "b"), "c")),
    ("- - a", ("neg", ("neg", "a"))),
]


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE_CASES)
def test_operator_precedence_and_associativity(text: str, expected: Tree) -> None:
    assert parse(text) == tree(expected)


def test_postfix_modifiers_bind_tighter_than_operators() -> None:
    assert parse("a + b offset 5m") == BinaryExpr(
        "+", sel("a"), sel("b", offset=300.0), matching=VectorMatching()
    )
    assert parse("-foo offset 1m") == UnaryExpr("-", sel("foo", offset=60.0))
    assert parse("sum(rate(x[5m]))[1h:]") == SubqueryExpr(
        AggregateExpr("sum", Call("rate", (MatrixSelector(sel("x"), 300.0),))), 3600.0
    )


def test_vector_matching_is_normalised_like_prometheus() -> None:
    # Only between two instant vectors; set operators are many-to-many.
    assert parse("1 + on() group_left foo") == BinaryExpr("+", num(1.0), sel("foo"))
    scalar_vector = parse("scalar(a) * b")
    assert isinstance(scalar_vector, BinaryExpr)
    assert scalar_vector.matching is None
    or_expr = parse("a or b")
    assert isinstance(or_expr, BinaryExpr)
    assert or_expr.matching == VectorMatching("many-to-many")


# --------------------------------------------------------------------------------------------
# valid queries, round trip

VALID = [
    'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[1m]))',
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "sum_over_time((count(unifipoller_client_satisfaction_ratio < 0.75))[1m:]) OR on() vector(0)",
    'max(slo:sli_error:ratio_rate5m{sloth_id="a"} > (14.4 * 0.0009999999999999432)) '
    "without (sloth_window)",
    "slo:sli_error:ratio_rate30d / on(sloth_id, sloth_slo, sloth_service) group_left "
    "slo:error_budget:ratio",
    "count(sum by (a, b,) (c)) - min without () (d) - avg(e) by (f, g)",
    'label_replace(up, "a", "$1", "b", "(.*)") unless count_values("v", foo)',
    'label_join(up, "dst", ",")',
    "quantile_over_time(0.5, foo[1h30m]) < bool 3",
    '(1 + 2) * -{a!~"x", b!="y", __name__=~"z.*"} % 0x1F',
    'absent(nonexistent{job="myjob"}) # trailing comment\n + vector(time())',
    "foo\n  # a comment line\n  and on (instance)\n  bar",
    'min_over_time(rate(foo{bar="baz"}[2s])[5m:] @ 1603775091)[4m:3s]',
    "foo @ -5 offset -1w",
    "foo[5m] offset 1y @ end()",
    "topk(3, bar) atan2 - - 2 ^ -3",
    "round(foo, 5) + round(bar) + days_in_month() + hour(foo) + pi() + time()",
    "sort_desc(sum without (instance) (rate(x[1m]))) > bool on(job) group_right(team) y",
    "SUM BY (x) (foo) AND Bar",
    "sum(x) by (sum, by, on, bool, offset, start, end, group_left, atan2, and)",
    "by + and + or + unless + start + end + without + offset",
    "Inf + NaN + -Inf + .5 + 5. + 1e-7 + 0777 + 09",
    "vector(1) > bool 1",
    'foo{a=~"(?i)x|y", b!~"\\\\d+", c=~"[[:alpha:]]+"}',
    '{job="a"}',
    '{a=~".+"}',
    "foo{}",
    "1 == bool 1",
    "-(1)",
    "predict_linear(x[1h], 3600) + histogram_avg(x) + histogram_stddev(x) + histogram_stdvar(x)",
    # Prometheus 3: quoted UTF-8 names, numbers as ranges and offsets, durations as numbers
    '{"a.b"}',
    '{"a.b"="x"}',
    '{"a.b", "c.d"=~"x", e!="y"}',
    'foo{"job"="a", "\\u00e9t\\u00e9"="x"}',
    'sum(rate({"http.server.request.duration_count", "http.response.status_code"=~"5.."}[5m]))',
    'sum by ("a.b", job) (x) / on ("a.b") group_left ("c d") y',
    'label_replace({"a.b"}, "dst", "$1", "a.b", "(.*)")',
    "sum(foo) by (a:b)",
    "rate(foo[1]) + rate(foo[5m:1]) + foo offset 5 + foo offset 1.5 + 5m + 1_000 + 0x_1f",
    "limitk + limit_ratio + step + range + anchored + smoothed + fill + fill_left",
    "sum by (step, range, limitk, anchored, fill) (x)",
    "clamp(x, 0, 1) + clamp_min(x, 0) + clamp_max(x, 1)",
    "histogram_fraction(0, 0.2, rate(x[5m])) + histogram_count(x) + histogram_sum(x)",
    "absent_over_time(x[5m]) or present_over_time(x[5m]) or last_over_time(x[5m])",
    "group(x) + stddev(x) + stdvar(x) + bottomk(2, x) + quantile(0.9, x) + count(x)",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_queries_parse_and_round_trip(text: str) -> None:
    parsed = parse(text)
    assert parse(format_expr(parsed)) == parsed


FORMAT_CASES = [
    ("sum(rate(x[5m])) by (a,b)", "sum by (a, b) (rate(x[5m]))"),
    ("sum without() (x)", "sum without () (x)"),
    ("sum by () (x)", "sum(x)"),
    ("topk(3,x)", "topk(3, x)"),
    ('foo{b = "1" , a="2",}', 'foo{b="1",a="2"}'),
    ("foo{}", "foo"),
    ("a / on(x,y) group_left(z) b", "a / on (x, y) group_left (z) b"),
    ("a / ignoring() group_left b", "a / ignoring () group_left () b"),
    ("a/on()b", "a / on () b"),
    ("a + ignoring() b", "a + b"),
    ("1>bool 2", "1 > bool 2"),
    ("x[90s] offset 2w", "x[1m30s] offset 2w"),
    ("x[1h:] offset -1d", "x[1h:] offset -1d"),
    ("x[14d:1m]", "x[2w:1m]"),
    ("x[365d] @ 10", "x[1y] @ 10.000"),
    ("x @ start() offset 5m", "x @ start() offset 5m"),
    ("x offset 5m @ end()", "x @ end() offset 5m"),
    ("-(x)", "-(x)"),
    ("- 1", "-1"),
    ("0x10", "16"),
    ("1e6", "1e+06"),
    ("123456", "123456"),
    ("0.00001", "1e-05"),
    ("Inf ^ 2", "Inf ^ 2"),
    ("-Inf", "-Inf"),
    ("nan", "NaN"),
    ("'a\"b'", '"a\\"b"'),
    ("`\\d`", '"\\\\d"'),
    ('"\\x41\\u00e9\\n"', '"Aé\\n"'),
    ("OFFSET", "OFFSET"),
    ("AVG(x) BY (Job)", "avg by (Job) (x)"),
]


@pytest.mark.parametrize(("text", "expected"), FORMAT_CASES)
def test_format_expr(text: str, expected: str) -> None:
    assert format_expr(parse(text)) == expected
    assert parse(expected) == parse(text)


def test_equality_is_robust_to_formatting() -> None:
    compact = 'sum by (a, b) (rate(foo{a="1",b="2"}[5m]))/on(a)group_left bar'
    spaced = """
        SUM(
          rate(foo{ a = "1", b = '2' }[ 5m ])  # the errors
        ) BY (a, b)
        / ON (a) GROUP_LEFT ()
        bar
    """
    assert parse(compact) == parse(spaced)
    assert hash(parse(compact)) == hash(parse(spaced))
    assert parse('{a="1", b="2"}') == parse('{a="1",b="2",}')
    assert parse("x[60s]") == parse("x[1m]")
    assert parse("1") == parse("1.0") == parse("0x1") == parse("+1")


def test_equality_keeps_what_is_written() -> None:
    assert parse('{a="1",b="2"}') != parse('{b="2",a="1"}')
    assert parse("sum by (a, b) (x)") != parse("sum by (b, a) (x)")
    assert parse("(x)") != parse("x")
    assert parse("foo") != parse('{__name__="foo"}')


def test_nan_literals_are_equal() -> None:
    assert parse("NaN") == parse("nan") == NumberLiteral(math.nan)
    assert hash(parse("NaN")) == hash(NumberLiteral(float("nan")))
    assert parse("NaN") != parse("Inf")


# --------------------------------------------------------------------------------------------
# errors

ERROR_CASES = [
    # end of input and brackets
    ("", "1:1: parse error: no expression found in input"),
    ("   # just a comment\n", "1:1: parse error: no expression found in input"),
    ("foo +", "1:6: parse error: unexpected end of input"),
    ("sum(rate(foo[5m])", "1:18: parse error: unclosed left parenthesis"),
    ("sum(rate(foo[5m]))) ", "1:20: parse error: unexpected right parenthesis ')'"),
    ('foo{job="a"', "1:12: parse error: unexpected end of input inside braces"),
    ("foo[5m", "1:7: parse error: unclosed left bracket"),
    ("foo]", "1:4: parse error: unexpected right bracket ']'"),
    ("foo bar", '1:5: parse error: unexpected identifier "bar"'),
    ('foo{a="b"}{c="d"}', '1:11: parse error: unexpected "{"'),
    ("a = b", '1:3: parse error: unexpected "="'),
    ("a =~ b", "1:3: parse error: unexpected character after '=': '~'"),
    ("foo$", "1:4: parse error: unexpected character: '$'"),
    ("@", "1:1: parse error: unexpected <op:@>"),
    ("foo +\n  * bar", "2:3: parse error: unexpected <op:*>"),
    # functions
    ("foo(bar)", '1:1: parse error: unknown function with name "foo"'),
    ("histogram_share(0.2, x)", '1:1: parse error: unknown function with name "histogram_share"'),
    (
        "rate(foo)",
        '1:6: parse error: expected type range vector in call to function "rate", '
        "got instant vector",
    ),
    ("rate(foo[5m], 1)", '1:1: parse error: expected 1 argument(s) in call to "rate", got 2'),
    ("hour(foo, bar)", '1:1: parse error: expected at most 1 argument(s) in call to "hour", got 2'),
    (
        "label_join(foo)",
        '1:1: parse error: expected at least 3 argument(s) in call to "label_join", got 1',
    ),
    (
        "scalar(1)",
        '1:8: parse error: expected type instant vector in call to function "scalar", got scalar',
    ),
    ("rate(foo[5m],)", "1:13: parse error: trailing commas not allowed in function call args"),
    # ranges and subqueries
    ("vector(1)[1m]", "1:10: parse error: ranges only allowed for vector selectors"),
    ('sum(rate(foo{a="b"})[5m])', "1:21: parse error: ranges only allowed for vector selectors"),
    ("(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors"),
    ("foo offset 1m [5m]", "1:15: parse error: no offset modifiers allowed before range"),
    (
        "foo[5m] + 1",
        "1:1: parse error: binary expression must contain only scalar and instant vector types",
    ),
    ("1[5m:]", "1:1: parse error: subquery is only allowed on instant vector, got scalar instead"),
    (
        "foo[5m][1h:]",
        "1:1: parse error: subquery is only allowed on instant vector, got matrix instead",
    ),
    ("foo[0]", "1:5: parse error: duration must be greater than 0"),
    ("foo[-5m]", "1:5: parse error: duration must be greater than 0"),
    ("foo[5x]", '1:5: parse error: bad number or duration syntax: "5"'),
    ("foo[5m1h]", '1:5: parse error: not a valid duration string: "5m1h"'),
    ("foo[5y1hs]", '1:5: parse error: unknown unit "hs" in duration "5y1hs"'),
    ("foo[0s]", "1:5: parse error: duration must be greater than 0"),
    (
        "foo[5m 1m]",
        '1:8: parse error: unexpected duration "1m" in subquery or range, expected ":" or "]"',
    ),
    (
        "foo[5m:)",
        "1:9: parse error: unexpected right parenthesis ')'",  # reported after the token
    ),
    (
        "foo[5m:,]",
        '1:8: parse error: unexpected "," in subquery selector, expected number, duration, '
        'step(), range(), or "]"',
    ),
    ("foo[5m:1m:]", "1:10: parse error: unexpected colon ':'"),
    ("foo[5m:x]", "1:8: parse error: unexpected character: 'x', expected ':'"),
    ("foo[:5m]", "1:6: parse error: unexpected colon before duration in duration expression"),
    (
        "foo[]",
        '1:5: parse error: unexpected "]" in subquery or range selector, expected number, '
        "duration, step(), or range()",
    ),
    # Prometheus 3 features behind flags that parser.ParseExpr leaves off
    ("foo[5m+1m]", "1:5: parse error: experimental duration expression is not enabled"),
    ("foo[(5m)]", "1:6: parse error: experimental duration expression is not enabled"),
    ("foo[5m] anchored", "1:1: parse error: anchored modifier is experimental and not enabled"),
    ("foo[5m] smoothed", "1:1: parse error: smoothed modifier is experimental and not enabled"),
    ("a + fill(0) b", "1:1: parse error: binop fill modifiers are experimental and not enabled"),
    (
        "limitk(2, x)",
        "1:1: parse error: limitk() is experimental and must be enabled with "
        "--enable-feature=promql-experimental-functions",
    ),
    (
        "double_exponential_smoothing(x[5m], 0.5, 0.5)",
        '1:1: parse error: function "double_exponential_smoothing" is not enabled',
    ),
    ('sort_by_label(x, "a")', '1:1: parse error: function "sort_by_label" is not enabled'),
    ("mad_over_time(x[5m])", '1:1: parse error: function "mad_over_time" is not enabled'),
    ("info(x)", '1:1: parse error: function "info" is not enabled'),
    ("holt_winters(x[1m], 1, 1)", '1:1: parse error: unknown function with name "holt_winters"'),
    ('sum by ("") (x)', '1:9: parse error: invalid label name for grouping: ""'),
    ('sum by ("\\xff") (x)', '1:9: parse error: invalid label name for grouping: "\\xff"'),
    (
        '{"a.b" "c"}',
        '1:8: parse error: unexpected string "\\"c\\"" in label matching, expected "," or "}"',
    ),
    ('{"a.b"=}', '1:8: parse error: unexpected "}" in label matching, expected string'),
    ("1_", '1:1: parse error: bad number or duration syntax: "1_"'),
    # offset and @
    (
        'foo{job="a"}[5m] offset',
        "1:24: parse error: unexpected end of input in offset, expected number, duration, "
        "step(), or range()",
    ),
    ("foo offset 1m offset 2m", "1:1: parse error: offset may not be set multiple times"),
    (
        "1 offset 5m",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
        "vector selector or a subquery",
    ),
    ("foo @ bar", '1:7: parse error: unexpected identifier "bar" in @, expected timestamp'),
    ("foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"),
    ("foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"),
    ("foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"),
    # selectors
    ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
    (
        '{job=~".*"}',
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    ('foo{__name__="bar"}', '1:1: parse error: metric name must not be set twice: "foo" or "bar"'),
    (
        "foo{job=bar}",
        '1:9: parse error: unexpected identifier "bar" in label matching, expected string',
    ),
    (
        'foo{job="a" code="b"}',
        '1:13: parse error: unexpected identifier "code" in label matching, expected "," or "}"',
    ),
    (
        "foo{job}",
        '1:8: parse error: unexpected "}" in label matching, expected label matching operator',
    ),
    (
        'foo{job=~"(5..|429"}',
        "1:5: parse error: error parsing regexp: missing closing ): `^(?:(5..|429)$`",
    ),
    (
        'foo{job=~"5..|429)"}',
        "1:5: parse error: error parsing regexp: unexpected ): `^(?:5..|429))$`",
    ),
    (
        'foo{a=~"a**"}',
        "1:5: parse error: error parsing regexp: invalid nested repetition operator: `**`",
    ),
    (
        'foo{a=~"(?=x)"}',
        "1:5: parse error: error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
    ),
    ('foo{a=~"\\\\q"}', "1:5: parse error: error parsing regexp: invalid escape sequence: `\\q`"),
    # aggregations and grouping
    (
        "sum by job (foo)",
        '1:8: parse error: unexpected identifier "job" in grouping opts, expected "("',
    ),
    ("sum(foo) by (job,,)", '1:18: parse error: unexpected "," in grouping opts, expected label'),
    ("sum(foo bar)", '1:9: parse error: unexpected identifier "bar" in aggregation'),
    ("sum(foo) by (a) by (b)", "1:17: parse error: unexpected <by>"),
    ("sum()", "1:1: parse error: no arguments for aggregate expression provided"),
    (
        "topk(foo)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, expected "
        "2, got 1",
    ),
    (
        "topk(foo, 5)",
        "1:11: parse error: expected type instant vector in aggregation expression, got scalar",
    ),
    (
        "count_values(1, foo)",
        "1:14: parse error: expected type string in aggregation parameter, got scalar",
    ),
    # binary operators
    ("1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
    ("1 and 2", '1:1: parse error: set operator "and" not allowed in binary scalar expression'),
    ("foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"),
    ("foo and on(a) group_left bar", '1:1: parse error: no grouping allowed for "and" operation'),
    ("1 + on(a) foo", "1:1: parse error: vector matching only allowed between instant vectors"),
    (
        "foo + on(a) group_left(a) bar",
        '1:5: parse error: label "a" must not occur in ON and GROUP clause at once',
    ),
    ("foo + group_left bar", "1:7: parse error: unexpected <group_left>"),
    (
        "foo + on(a) group_left * bar",
        '1:24: parse error: unexpected <op:*> in grouping opts, expected "("',
    ),
    (
        '-"a"',
        '1:1: parse error: unary expression only allowed on expressions of type scalar or instant '
        'vector, got "string"',
    ),
    (
        "-foo[5m]",
        '1:1: parse error: unary expression only allowed on expressions of type scalar or instant '
        'vector, got "range vector"',
    ),
    # literals
    ("'abc", "1:1: parse error: unterminated quoted string"),
    ('"\\c"', "1:1: parse error: unknown escape sequence U+0063 'c'"),
    (
        "0x",
        '1:1: parse error: error parsing number: strconv.ParseFloat: parsing "0x": invalid syntax',
    ),
    (
        "1e400",
        '1:1: parse error: error parsing number: strconv.ParseFloat: parsing "1e400": value out '
        'of range',
    ),
    ("0deadbeef", '1:1: parse error: bad number or duration syntax: "0de"'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_invalid_queries_report_prometheus_errors(text: str, message: str) -> None:
    assert error_of(text) == message


def test_sloth_style_error_position() -> None:
    # Sloth SLI queries rendered with the 1m window, each with a typo.
    query = 'sum(rate(http_requests_total{code=~"5.."}[1m])) by (job'
    assert error_of(query) == "1:56: parse error: unclosed left parenthesis"
    query = 'sum(rate(http_requests_total{code=~"5.."}[1m]) by (job)'
    assert error_of(query) == "1:48: parse error: unexpected <by> in aggregation"
    query = 'sum(rate(http_requests_total{code=~"5.."}[1m] + ))'
    assert error_of(query) == '1:49: parse error: unexpected ")" in aggregation'


def test_error_positions_count_lines_and_bytes() -> None:
    assert error_of("foo +\n\nbar baz") == '3:5: parse error: unexpected identifier "baz"'
    assert error_of('{é="x"} ') == "1:2: parse error: unexpected character inside braces: 'é'"
    assert error_of('"é" $') == "1:6: parse error: unexpected character: '$'"


def test_syntax_error_is_a_slogate_error() -> None:
    with pytest.raises(SlogateError):
        parse("foo{")


# --------------------------------------------------------------------------------------------
# literals, durations, modifiers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),
        ("0x1f", 31.0),
        ("0X1F", 31.0),
        ("010", 8.0),  # Go's ParseInt with base 0: octal
        ("09", 9.0),  # not octal, so ParseFloat
        (".5", 0.5),
        ("5.", 5.0),
        ("1.5e3", 1500.0),
        ("1E-3", 0.001),
        ("Inf", math.inf),
        ("-inf", -math.inf),
        ("9223372036854775808", 9223372036854775808.0),
        ("1e-400", 0.0),
    ],
)
def test_number_literals(text: str, value: float) -> None:
    assert parse(text) == NumberLiteral(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"plain"', "plain"),
        ("'single \"quoted\"'", 'single "quoted"'),
        ('"esc \\" \\\\ \\a\\b\\f\\n\\r\\t\\v"', 'esc " \\ \x07\x08\x0c\n\r\t\x0b'),
        ('"\\x41\\101\\u00e9\\U0001F600"', "AAé😀"),
        ("'it\\'s'", "it's"),
        ("`no \\escapes\n here`", "no \\escapes\n here"),
    ],
)
def test_string_literals(text: str, value: str) -> None:
    assert parse(text) == StringLiteral(value)


@pytest.mark.parametrize(
    ("window", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("2w", 1209600.0),
        ("1y", 31536000.0),
        ("1y2w3d4h5m6s7ms", 31536000.0 + 1209600 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6.007),
    ],
)
def test_durations(window: str, seconds: float) -> None:
    assert parse(f"x[{window}]") == MatrixSelector(sel("x"), seconds)
    assert parse(f"x offset {window}") == sel("x", offset=seconds)


def test_at_modifier_rounds_to_milliseconds() -> None:
    assert parse("x @ 1.0006") == VectorSelector("x", at=1.001)
    assert parse("x @ -2") == VectorSelector("x", at=-2.0)
    assert parse("x[1m:] @ end()") == SubqueryExpr(sel("x"), 60.0, at="end")


def test_keywords_are_case_insensitive_and_may_name_metrics() -> None:
    assert parse("SUM BY (x) (foo)") == parse("sum by (x) (foo)")
    assert parse("foo AND ON (x) bar") == parse("foo and on (x) bar")
    assert parse("foo offset 5m") == parse("foo OFFSET 5m")
    assert parse("by") == sel("by")
    assert parse("sum{a='b'}") == sel("sum", eq("a", "b"))
    assert parse("avg (x)") == AggregateExpr("avg", sel("x"))


def test_regex_matchers_follow_go_syntax() -> None:
    for valid in ("5..", "(5..|429)", "(?i)GET|POST", "\\d+", "[[:alpha:]]", "\\pL", "a{2,3}"):
        parse(f"x{{a=~`{valid}`}}")
    # an empty-matching regex alone does not select anything
    for empty in (".*", "", "a?", "^$", "(x|)"):
        assert "non-empty matcher" in error_of(f"{{a=~`{empty}`}}")
    parse('{a!~".*"}')
    assert "invalid repeat count" in error_of("x{a=~`a{1001}`}")


# --------------------------------------------------------------------------------------------
# value_type, function table, render_window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "scalar"),
        ("1 + 2 * 3", "scalar"),
        ('"s"', "string"),
        ("foo", "vector"),
        ("foo + 1", "vector"),
        ("foo[5m]", "matrix"),
        ("foo[5m:]", "matrix"),
        ("rate(foo[5m])", "vector"),
        ("scalar(foo)", "scalar"),
        ("time()", "scalar"),
        ("sum(foo)", "vector"),
        ("-(1)", "scalar"),
    ],
)
def test_value_type(text: str, expected: str) -> None:
    assert value_type(parse(text)) == expected


def test_function_table() -> None:
    assert FUNCTIONS["rate"].arg_types == ("matrix",)
    assert FUNCTIONS["label_join"].variadic == -1
    assert FUNCTIONS["round"].variadic == 1
    assert FUNCTIONS["scalar"].return_type == "scalar"
    assert len(FUNCTIONS) == 82  # Prometheus 3.10
    assert "holt_winters" not in FUNCTIONS
    experimental = {name for name, signature in FUNCTIONS.items() if signature.experimental}
    assert experimental == {
        "double_exponential_smoothing", "first_over_time", "info", "mad_over_time",
        "sort_by_label", "sort_by_label_desc", "ts_of_first_over_time", "ts_of_last_over_time",
        "ts_of_max_over_time", "ts_of_min_over_time",
    }  # fmt: skip


def test_render_window() -> None:
    template = "sum(rate(x[{{.window}}])) / sum(rate(y[{{ .window }}])) + z[{{  .window}}]"
    assert render_window(template, "1m") == "sum(rate(x[1m])) / sum(rate(y[1m])) + z[1m]"
    assert render_window("x[{{.Window}}]", "1m") == "x[{{.Window}}]"
    assert render_window("x[{{.window}}]", "\\1") == "x[\\1]"


# --------------------------------------------------------------------------------------------
# Sloth fixtures

QUERY_KEYS = frozenset({
    "error_query", "total_query", "error_ratio_query",  # Sloth prometheus/v1 and Kubernetes CRD
    "errorQuery", "totalQuery", "errorRatioQuery",
    "query",  # OpenSLO
})  # fmt: skip


def strings_under(node: object, keys: frozenset[str]) -> list[str]:
    """Every string value stored under one of `keys`, anywhere in a YAML document."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                found.append(value)
            else:
                found.extend(strings_under(value, keys))
    elif isinstance(node, list):
        for item in node:
            found.extend(strings_under(item, keys))
    return found


def yaml_strings(path: Path, keys: frozenset[str]) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [s for doc in yaml.safe_load_all(handle) for s in strings_under(doc, keys)]


def example_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])


def test_sloth_example_sli_queries_parse(sloth_compat: Path) -> None:
    failures, count = [], 0
    for path in example_files(sloth_compat / "examples"):
        if path.name == "victoria-metrics.yml":
            continue
        for query in yaml_strings(path, QUERY_KEYS):
            count += 1
            try:
                parse(render_window(query, "1m"))
            except PromQLSyntaxError as err:
                failures.append(f"{path.name}: {err}")
    assert count >= 40
    assert failures == []


def test_victoria_metrics_example_queries_are_not_promql(sloth_compat: Path) -> None:
    queries = yaml_strings(sloth_compat / "examples" / "victoria-metrics.yml", QUERY_KEYS)
    assert len(queries) == 4
    errors = {error_of(render_window(query, "1m")) for query in queries}
    assert errors == {
        '1:5: parse error: unknown function with name "histogram_share"',
        "1:10: parse error: ranges only allowed for vector selectors",
    }


def test_sloth_generated_rule_expressions_parse(sloth_compat: Path) -> None:
    failures, count = [], 0
    for path in example_files(sloth_compat / "examples" / "_gen"):
        if path.name == "victoria-metrics.yml":
            continue
        for expr in yaml_strings(path, frozenset({"expr"})):
            count += 1
            try:
                parsed = parse(expr)
            except PromQLSyntaxError as err:
                failures.append(f"{path.name}: {err}")
                continue
            if parse(format_expr(parsed)) != parsed:
                failures.append(f"{path.name}: round trip changed {expr!r}")
    assert count >= 400
    assert failures == []


def test_generated_expressions_compare_equal_after_parsing(sloth_compat: Path) -> None:
    golden = sloth_compat / "examples" / "_gen" / "getting-started.yml"
    exprs = yaml_strings(golden, frozenset({"expr"}))
    alert = next(e for e in exprs if "sloth_window" in e and "without" in e)
    reformatted = format_expr(parse(alert))
    assert reformatted != alert
    assert parse(reformatted) == parse(alert)
