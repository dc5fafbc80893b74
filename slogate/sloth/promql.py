"""A pure-Python PromQL parser that accepts what Prometheus 3.10's `parser.ParseExpr` accepts.

`parse(text)` lexes and parses a PromQL expression, type-checks it the way Prometheus'
`promql/parser.ParseExpr` does and returns a typed, immutable AST. Invalid input raises
`PromQLSyntaxError` with Prometheus' own message: `"<line>:<col>: parse error: <reason>"`
(1-based line, byte column; the reason worded as Prometheus words it).

Layout of this module:

* the AST: frozen dataclasses compared by value (positions are not part of a node);
* the function table (`FUNCTIONS`, Prometheus 3.10, experimental ones marked);
* Go-compatible formatting helpers (`%q`, `%v` of floats, `model.Duration.String`);
* `_Lexer`, a port of Prometheus' state-machine lexer (lazy, one token at a time);
* `_RegexpSyntax`, a check of Go RE2 syntax for `=~` / `!~` matchers;
* `_Parser`, a precedence-climbing recursive-descent parser that mirrors the yacc grammar,
  including which error message its error productions produce;
* `_Checker`, the port of `checkAST` (type checks, vector-matching normalisation);
* `format_expr`, a single-line printer like Prometheus' `String()`.

What Prometheus 3 added is here: quoted UTF-8 metric and label names (`{"a.b"}`,
`{"a.b"=~"x"}`, `by ("a.b")`), numbers as ranges and offsets (`[5]`, `offset 30`), durations as
numbers (`5m` is 300), `_` between digits. Everything `parser.ParseExpr` rejects with its feature
flags off is rejected with Prometheus' message: experimental functions, `limitk`/`limit_ratio`,
duration arithmetic (`[5m+1m]`), `anchored`/`smoothed`, `fill()`. One difference is deliberate:
`step()`, `range()`, `min()` and `max()` inside `[...]` (accepted by Prometheus without a flag,
useless in a rule whose step is the evaluation interval) are rejected, so the tree needs no
duration-expression node.

Prometheus reports only the first error it records, so this parser raises at the first error,
taking care to record semantic errors (unknown function, bad offset, ...) at the same moment
the yacc parser does relative to reading the next token.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from dataclasses import dataclass
from enum import Enum, auto
from typing import TYPE_CHECKING, Literal, NamedTuple, NoReturn, TypeAlias

from slogate.core.durations import format_duration
from slogate.errors import PromQLSyntaxError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "FUNCTIONS",
    "METRIC_NAME",
    "AggregateExpr",
    "AtModifier",
    "BinaryExpr",
    "Call",
    "Cardinality",
    "Expr",
    "FunctionSignature",
    "LabelMatcher",
    "MatchOp",
    "MatrixSelector",
    "NumberLiteral",
    "ParenExpr",
    "StringLiteral",
    "SubqueryExpr",
    "UnaryExpr",
    "ValueType",
    "VectorMatching",
    "VectorSelector",
    "format_expr",
    "parse",
    "value_type",
]

ValueType = Literal["scalar", "vector", "matrix", "string"]
MatchOp = Literal["=", "!=", "=~", "!~"]
Cardinality = Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"]
METRIC_NAME = "__name__"
"""The label holding the metric name; `{"a.b"}` is `{__name__="a.b"}`."""
AtModifier: TypeAlias = float | Literal["start", "end"] | None
"""`@ <unix seconds>` (rounded to milliseconds), `@ start()`, `@ end()` or no `@` at all."""

# --------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class NumberLiteral:
    """A float literal; `-1` is folded into `NumberLiteral(-1.0)` as Prometheus does."""

    value: float

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumberLiteral):
            return NotImplemented
        both_nan = math.isnan(self.value) and math.isnan(other.value)
        return both_nan or self.value == other.value

    def __hash__(self) -> int:
        return hash(("NumberLiteral", "NaN" if math.isnan(self.value) else self.value))


@dataclass(frozen=True, slots=True)
class StringLiteral:
    """A string literal, unquoted (bytes that are not UTF-8 kept as surrogate escapes)."""

    value: str


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """`name op "value"` inside `{...}`."""

    name: str
    op: MatchOp
    value: str


@dataclass(frozen=True, slots=True)
class VectorSelector:
    """`name{matchers}`; `matchers` as written, without the implicit `__name__` matcher."""

    name: str | None
    matchers: tuple[LabelMatcher, ...] = ()
    offset_seconds: float = 0.0
    at: AtModifier = None


@dataclass(frozen=True, slots=True)
class MatrixSelector:
    """`selector[range]`; an `offset` or `@` written after the range lives in `vector`."""

    vector: VectorSelector
    range_seconds: float


@dataclass(frozen=True, slots=True)
class SubqueryExpr:
    """`expr[range:step]`; `step_seconds == 0` means the default evaluation interval."""

    expr: Expr
    range_seconds: float
    step_seconds: float = 0.0
    offset_seconds: float = 0.0
    at: AtModifier = None


@dataclass(frozen=True, slots=True)
class Call:
    """A function call, `func(args...)`."""

    func: str
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class AggregateExpr:
    """`op [by|without (grouping)] ([param, ] expr)`; `op` lower-case."""

    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False


@dataclass(frozen=True, slots=True)
class VectorMatching:
    """How the two instant vectors of a binary operation are matched.

    Present only when both operands are instant vectors (as in Prometheus after type checking);
    set operators are always many-to-many. `matching_labels` are the `on`/`ignoring` labels.
    """

    card: Cardinality = "one-to-one"
    on: bool = False
    matching_labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinaryExpr:
    """`lhs op [bool] [on|ignoring (...) [group_left|group_right (...)]] rhs`."""

    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None


@dataclass(frozen=True, slots=True)
class UnaryExpr:
    """`-expr` or `+expr` on anything but a number literal."""

    op: Literal["+", "-"]
    expr: Expr


@dataclass(frozen=True, slots=True)
class ParenExpr:
    """`(expr)`; kept in the tree like Prometheus does."""

    expr: Expr


Expr: TypeAlias = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | SubqueryExpr
    | Call
    | AggregateExpr
    | BinaryExpr
    | UnaryExpr
    | ParenExpr
)

# --------------------------------------------------------------------------------------------
# Functions (promql/parser/functions.go, Prometheus 3.10)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionSignature:
    """Argument types, variadic count (`-1`: unbounded) and return type of a function.

    `experimental` functions sit behind `--enable-feature=promql-experimental-functions`;
    `parser.ParseExpr`, which Sloth validates with, rejects them ("function ... is not enabled").
    """

    name: str
    arg_types: tuple[ValueType, ...]
    return_type: ValueType = "vector"
    variadic: int = 0
    experimental: bool = False


def _function_table() -> dict[str, FunctionSignature]:
    vec: tuple[ValueType, ...] = ("vector",)
    mat: tuple[ValueType, ...] = ("matrix",)
    table: dict[str, tuple[tuple[ValueType, ...], ValueType, int]] = {
        "clamp": (("vector", "scalar", "scalar"), "vector", 0),
        "clamp_max": (("vector", "scalar"), "vector", 0),
        "clamp_min": (("vector", "scalar"), "vector", 0),
        "double_exponential_smoothing": (("matrix", "scalar", "scalar"), "vector", 0),
        "histogram_fraction": (("scalar", "scalar", "vector"), "vector", 0),
        "histogram_quantile": (("scalar", "vector"), "vector", 0),
        "info": (("vector", "vector"), "vector", 1),
        "label_join": (("vector", "string", "string", "string"), "vector", -1),
        "label_replace": (("vector", "string", "string", "string", "string"), "vector", 0),
        "pi": ((), "scalar", 0),
        "predict_linear": (("matrix", "scalar"), "vector", 0),
        "quantile_over_time": (("scalar", "matrix"), "vector", 0),
        "round": (("vector", "scalar"), "vector", 1),
        "scalar": (vec, "scalar", 0),
        "sort_by_label": (("vector", "string"), "vector", -1),
        "sort_by_label_desc": (("vector", "string"), "vector", -1),
        "time": ((), "scalar", 0),
        "vector": (("scalar",), "vector", 0),
    }
    for name in (
        "abs", "absent", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh",
        "deg", "exp", "floor", "histogram_avg", "histogram_count", "histogram_stddev",
        "histogram_stdvar", "histogram_sum", "ln", "log10", "log2", "rad", "sgn", "sin", "sinh",
        "sort", "sort_desc", "sqrt", "tan", "tanh", "timestamp",
    ):  # fmt: skip
        table[name] = (vec, "vector", 0)
    for name in (
        "absent_over_time", "avg_over_time", "changes", "count_over_time", "delta", "deriv",
        "first_over_time", "idelta", "increase", "irate", "last_over_time", "mad_over_time",
        "max_over_time", "min_over_time", "present_over_time", "rate", "resets",
        "stddev_over_time", "stdvar_over_time", "sum_over_time", "ts_of_first_over_time",
        "ts_of_last_over_time", "ts_of_max_over_time", "ts_of_min_over_time",
    ):  # fmt: skip
        table[name] = (mat, "vector", 0)
    for name in (
        "days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute", "month",
        "year",
    ):  # fmt: skip
        table[name] = (vec, "vector", 1)
    return {
        name: FunctionSignature(name, args, ret, variadic, name in _EXPERIMENTAL_FUNCTIONS)
        for name, (args, ret, variadic) in sorted(table.items())
    }


_EXPERIMENTAL_FUNCTIONS = frozenset({
    "double_exponential_smoothing", "first_over_time", "info", "mad_over_time", "sort_by_label",
    "sort_by_label_desc", "ts_of_first_over_time", "ts_of_last_over_time", "ts_of_max_over_time",
    "ts_of_min_over_time",
})  # fmt: skip
FUNCTIONS: Mapping[str, FunctionSignature] = _function_table()

# --------------------------------------------------------------------------------------------
# Go formatting helpers
# --------------------------------------------------------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v"}  # fmt: skip


def go_quote(text: str, quote: str = '"') -> str:
    """Go's `strconv.Quote` (or `QuoteRune` with `quote="'"`)."""
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch in (quote, "\\"):
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a non-UTF-8 byte kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


def _go_rune(ch: str) -> str:
    """Go's `%q` of a rune; the empty string stands for end of input (Go's -1)."""
    return go_quote(ch or "\ufffd", "'")


def _go_unicode(ch: str) -> str:
    """Go's `%#U` of a rune, e.g. `U+0063 'c'`."""
    text = f"U+{ord(ch):04X}"
    return f"{text} '{ch}'" if ch.isprintable() else text


def go_float(value: float) -> str:
    """Go's `fmt.Sprint(float64)` (`%g`, shortest): exponent form below 1e-4 and from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    exp = int(exp_text or "0") + len(whole) - 1
    if not digits:
        return sign + "0"
    exp -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"


def _go_percent_f(value: float) -> str:
    """Go's `%f`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


# --------------------------------------------------------------------------------------------
# Lexer (promql/parser/lex.go)
# --------------------------------------------------------------------------------------------


class _T(Enum):
    """Token kinds, named as in Prometheus' lexer."""

    EOF = auto()
    IDENTIFIER = auto()
    METRIC_IDENTIFIER = auto()
    NUMBER = auto()
    STRING = auto()
    DURATION = auto()
    LEFT_PAREN = auto()
    RIGHT_PAREN = auto()
    LEFT_BRACE = auto()
    RIGHT_BRACE = auto()
    LEFT_BRACKET = auto()
    RIGHT_BRACKET = auto()
    COMMA = auto()
    EQL = auto()
    COLON = auto()
    # operators
    ADD = auto()
    SUB = auto()
    MUL = auto()
    DIV = auto()
    MOD = auto()
    POW = auto()
    EQLC = auto()
    NEQ = auto()
    LTE = auto()
    LSS = auto()
    GTE = auto()
    GTR = auto()
    EQL_REGEX = auto()
    NEQ_REGEX = auto()
    LAND = auto()
    LOR = auto()
    LUNLESS = auto()
    ATAN2 = auto()
    AT = auto()
    # aggregators
    AVG = auto()
    BOTTOMK = auto()
    COUNT = auto()
    COUNT_VALUES = auto()
    GROUP = auto()
    MAX = auto()
    MIN = auto()
    QUANTILE = auto()
    STDDEV = auto()
    STDVAR = auto()
    SUM = auto()
    TOPK = auto()
    LIMITK = auto()
    LIMIT_RATIO = auto()
    # keywords
    BOOL = auto()
    BY = auto()
    GROUP_LEFT = auto()
    GROUP_RIGHT = auto()
    IGNORING = auto()
    OFFSET = auto()
    ON = auto()
    WITHOUT = auto()
    FILL = auto()
    FILL_LEFT = auto()
    FILL_RIGHT = auto()
    SMOOTHED = auto()
    ANCHORED = auto()
    # preprocessors (@ modifier, duration expressions)
    START = auto()
    END = auto()
    STEP = auto()
    RANGE = auto()


class _Token(NamedTuple):
    kind: _T
    pos: int  # index into the input string
    val: str


_OPERATORS = frozenset({
    _T.ADD, _T.SUB, _T.MUL, _T.DIV, _T.MOD, _T.POW, _T.EQLC, _T.NEQ, _T.LTE, _T.LSS, _T.GTE,
    _T.GTR, _T.EQL_REGEX, _T.NEQ_REGEX, _T.LAND, _T.LOR, _T.LUNLESS, _T.ATAN2, _T.AT,
})  # fmt: skip
_AGGREGATORS = frozenset({
    _T.AVG, _T.BOTTOMK, _T.COUNT, _T.COUNT_VALUES, _T.GROUP, _T.MAX, _T.MIN, _T.QUANTILE,
    _T.STDDEV, _T.STDVAR, _T.SUM, _T.TOPK, _T.LIMITK, _T.LIMIT_RATIO,
})  # fmt: skip
_PARAM_AGGREGATORS = frozenset(
    {"topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}
)
# Aggregators behind `--enable-feature=promql-experimental-functions` (off in `parser.ParseExpr`).
_EXPERIMENTAL_AGGREGATORS = frozenset({"limitk", "limit_ratio"})
_KEYWORDS = frozenset({
    _T.BOOL, _T.BY, _T.GROUP_LEFT, _T.GROUP_RIGHT, _T.IGNORING, _T.OFFSET, _T.ON, _T.WITHOUT,
    _T.FILL, _T.FILL_LEFT, _T.FILL_RIGHT, _T.SMOOTHED, _T.ANCHORED,
})  # fmt: skip
_FILLS = frozenset({_T.FILL, _T.FILL_LEFT, _T.FILL_RIGHT})
_PUNCTUATION = frozenset({
    _T.LEFT_PAREN, _T.RIGHT_PAREN, _T.LEFT_BRACE, _T.RIGHT_BRACE, _T.LEFT_BRACKET,
    _T.RIGHT_BRACKET, _T.COMMA, _T.EQL, _T.COLON, _T.START, _T.END, _T.STEP, _T.RANGE,
})  # fmt: skip
_WORDS: dict[str, _T] = {
    "and": _T.LAND, "or": _T.LOR, "unless": _T.LUNLESS, "atan2": _T.ATAN2,
    "sum": _T.SUM, "avg": _T.AVG, "count": _T.COUNT, "min": _T.MIN, "max": _T.MAX,
    "group": _T.GROUP, "stddev": _T.STDDEV, "stdvar": _T.STDVAR, "topk": _T.TOPK,
    "bottomk": _T.BOTTOMK, "count_values": _T.COUNT_VALUES, "quantile": _T.QUANTILE,
    "offset": _T.OFFSET, "by": _T.BY, "without": _T.WITHOUT, "on": _T.ON,
    "ignoring": _T.IGNORING, "group_left": _T.GROUP_LEFT, "group_right": _T.GROUP_RIGHT,
    "bool": _T.BOOL, "start": _T.START, "end": _T.END, "inf": _T.NUMBER, "nan": _T.NUMBER,
    "limitk": _T.LIMITK, "limit_ratio": _T.LIMIT_RATIO, "smoothed": _T.SMOOTHED,
    "anchored": _T.ANCHORED, "fill": _T.FILL, "fill_left": _T.FILL_LEFT,
    "fill_right": _T.FILL_RIGHT, "step": _T.STEP, "range": _T.RANGE,
}  # fmt: skip
# Words `scanDurationKeyword` recognises inside `[...]` (case-insensitively).
_DURATION_WORDS = {"step": _T.STEP, "range": _T.RANGE, "min": _T.MIN, "max": _T.MAX}
_KIND_DESC = {
    _T.IDENTIFIER: "identifier",
    _T.METRIC_IDENTIFIER: "metric identifier",
    _T.STRING: "string",
    _T.NUMBER: "number",
    _T.DURATION: "duration",
}
_DIGITS = "0123456789"
_HEX_DIGITS = "0123456789abcdefABCDEF"
_SPACE = " \t\n\r"


def _is_alpha(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_alnum(ch: str) -> bool:
    return _is_alpha(ch) or ("0" <= ch <= "9")


def _is_legacy_label(text: str) -> bool:
    """A label name that needs no quotes: `[a-zA-Z_][a-zA-Z0-9_]*`."""
    return bool(text) and _is_alpha(text[0]) and all(_is_alnum(ch) for ch in text[1:])


def _is_legacy_metric(text: str) -> bool:
    """A metric name that needs no quotes: `[a-zA-Z_:][a-zA-Z0-9_:]*`."""
    return _is_legacy_label(text.replace(":", "_"))


def _is_utf8_label(text: str) -> bool:
    """`model.UTF8Validation.IsValidLabelName`: non-empty, valid UTF-8 (no kept raw bytes)."""
    return bool(text) and not any("\ud800" <= ch <= "\udfff" for ch in text)


def _describe(tok: _Token) -> str:
    """`Item.desc()`: how an unexpected token is named in an error message."""
    kind, val = tok.kind, tok.val
    if kind is _T.EOF:
        return "end of input"
    if kind in _KEYWORDS:
        return f"<{val}>"
    if kind in _OPERATORS:
        return f"<op:{val}>"
    if kind in _AGGREGATORS:
        return f"<aggr:{val}>"
    if kind in (_T.IDENTIFIER, _T.METRIC_IDENTIFIER) or _byte_len(val) <= 10:
        text = go_quote(val)
    else:
        text = go_quote(val[:10]) + "..."
    return text if kind in _PUNCTUATION else f"{_KIND_DESC[kind]} {text}"


class _LexError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


class _Lexer:
    """Prometheus' lexer, producing one token per `next_token()` call; comments are skipped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.width = 0
        self.paren_depth = 0
        self.brace_open = False
        self.bracket_open = False
        self.got_colon = False
        self.got_duration = False  # never reset, as in Prometheus
        self.in_duration_expr = False  # lexDurationExpr, from `[` to the first number or `]`
        self.string_open = ""

    # -- rune primitives -----------------------------------------------------------------------

    def _next(self) -> str:
        if self.pos >= len(self.text):
            self.width = 0
            return ""
        self.width = 1
        self.pos += 1
        return self.text[self.pos - 1]

    def _backup(self) -> None:
        self.pos -= self.width

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _accept(self, valid: str) -> bool:
        ch = self._next()
        if ch and ch in valid:
            return True
        self._backup()
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _emit(self, kind: _T) -> _Token:
        tok = _Token(kind, self.start, self.text[self.start : self.pos])
        self.start = self.pos
        return tok

    def _error(self, message: str) -> _LexError:
        return _LexError(self.start, message)

    def _skip_while(self, valid: str) -> None:
        while self._peek() and self._peek() in valid:
            self.pos += 1
        self.start = self.pos

    def _skip_comment(self) -> None:
        end = self.pos
        while end < len(self.text) and self.text[end] not in "\r\n":
            end += 1
        self.pos = end
        self.start = self.pos

    # -- states --------------------------------------------------------------------------------

    def next_token(self) -> _Token:
        while True:
            if self.in_duration_expr:
                tok = self._duration_expr()
            elif self.brace_open:
                tok = self._inside_braces()
            else:
                tok = self._statements()
            if tok is not None:
                return tok

    def _statements(self) -> _Token | None:
        if self.text.startswith("#", self.pos):
            self._skip_comment()
            return None
        ch = self._next()
        if not ch:
            if self.paren_depth:
                raise self._error("unclosed left parenthesis")
            if self.bracket_open:
                raise self._error("unclosed left bracket")
            return self._emit(_T.EOF)
        if ch in _SPACE:
            self._skip_while(_SPACE)
            return None
        simple = _SIMPLE_TOKENS.get(ch)
        if simple is not None:
            return self._emit(simple)
        if ch in "=!<>":
            return self._comparison(ch)
        if ch in _DIGITS or (ch == "." and self._peek() and self._peek() in _DIGITS):
            self._backup()
            return self._number_or_duration()
        if ch in "\"'":
            self.string_open = ch
            return self._string()
        if ch == "`":
            return self._raw_string()
        if _is_alpha(ch) or ch == ":":
            if not self.bracket_open:
                self._backup()
                return self._keyword_or_identifier()
            return self._inside_brackets(ch)
        return self._bracket_or_paren(ch)

    def _inside_brackets(self, ch: str) -> _Token:
        """A letter or `:` after the range of `[...]`: the subquery colon or `step`/`min`/..."""
        if ch == ":":
            if self.got_colon:
                raise self._error(f"unexpected colon {_go_rune(ch)}")
            self.got_colon = True
            return self._emit(_T.COLON)
        if ch in "sSmM" and (tok := self._duration_keyword()) is not None:
            return tok
        raise self._error(f"unexpected character: {_go_rune(ch)}, expected {_go_rune(':')}")

    def _duration_keyword(self) -> _Token | None:
        while _is_alpha(self._peek()):
            self.pos += 1
        kind = _DURATION_WORDS.get(self.text[self.start : self.pos].lower())
        return None if kind is None else self._emit(kind)

    def _duration_expr(self) -> _Token | None:
        """lexDurationExpr: the tokens of a duration expression right after `[`."""
        ch = self._next()
        if not ch:
            raise self._error("unexpected end of input in duration expression")
        if ch in _SPACE:
            self._skip_while(_SPACE)
            return None
        if ch == "]":
            self.in_duration_expr = self.bracket_open = self.got_colon = False
            return self._emit(_T.RIGHT_BRACKET)
        if ch == ":":
            tok = self._emit(_T.COLON)
            if not self.got_duration:
                raise self._error("unexpected colon before duration in duration expression")
            if self.got_colon:
                raise self._error("unexpected repeated colon in duration expression")
            self.got_colon = True
            return tok
        if ch in "()":
            tok = self._emit(_T.LEFT_PAREN if ch == "(" else _T.RIGHT_PAREN)
            self.paren_depth += 1 if ch == "(" else -1
            if self.paren_depth < 0:
                raise self._error(f"unexpected right parenthesis {_go_rune(ch)}")
            return tok
        if ch in _DURATION_OPERATORS:
            return self._emit(_DURATION_OPERATORS[ch])
        if ch in "sSmMrR":
            if (keyword := self._duration_keyword()) is not None:
                return keyword
        elif ch in _DIGITS or (ch == "." and self._peek() and self._peek() in _DIGITS):
            self._backup()
            self.got_duration = True
            self.in_duration_expr = False
            return self._number_or_duration()
        raise self._error(f"unexpected character in duration expression: {_go_rune(ch)}")

    def _comparison(self, ch: str) -> _Token:
        nxt = self._peek()
        if ch == "=":
            if nxt == "~":
                raise self._error(f"unexpected character after '=': {_go_rune(nxt)}")
            if nxt == "=":
                self.pos += 1
                return self._emit(_T.EQLC)
            return self._emit(_T.EQL)
        if ch == "!":
            nxt = self._next()
            if nxt != "=":
                raise self._error(f"unexpected character after '!': {_go_rune(nxt)}")
            return self._emit(_T.NEQ)
        if nxt == "=":
            self.pos += 1
            return self._emit(_T.LTE if ch == "<" else _T.GTE)
        return self._emit(_T.LSS if ch == "<" else _T.GTR)

    def _bracket_or_paren(self, ch: str) -> _Token:
        if ch == "(":
            self.paren_depth += 1
            return self._emit(_T.LEFT_PAREN)
        if ch == ")":
            tok = self._emit(_T.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                raise self._error(f"unexpected right parenthesis {_go_rune(ch)}")
            return tok
        if ch == "{":
            self.brace_open = True
            return self._emit(_T.LEFT_BRACE)
        if ch == "[":
            if self.bracket_open:
                raise self._error(f"unexpected left bracket {_go_rune(ch)}")
            self.got_colon = False
            tok = self._emit(_T.LEFT_BRACKET)
            self._skip_while(_SPACE)
            self.bracket_open = True
            self.in_duration_expr = True
            return tok
        if ch == "]":
            if not self.bracket_open:
                raise self._error(f"unexpected right bracket {_go_rune(ch)}")
            self.bracket_open = False
            return self._emit(_T.RIGHT_BRACKET)
        if ch == "@":
            return self._emit(_T.AT)
        raise self._error(f"unexpected character: {_go_rune(ch)}")

    def _inside_braces(self) -> _Token | None:
        if self.text.startswith("#", self.pos):
            self._skip_comment()
            return None
        ch = self._next()
        if not ch:
            raise self._error("unexpected end of input inside braces")
        if ch in _SPACE:
            self._skip_while(_SPACE)
            return None
        if _is_alpha(ch):
            while _is_alnum(self._peek()):
                self.pos += 1
            return self._emit(_T.IDENTIFIER)
        if ch == ",":
            return self._emit(_T.COMMA)
        if ch in "\"'":
            self.string_open = ch
            return self._string()
        if ch == "`":
            return self._raw_string()
        if ch == "=":
            return self._emit(_T.EQL_REGEX if self._accept("~") else _T.EQL)
        if ch == "!":
            nxt = self._next()
            if nxt not in ("~", "="):
                raise self._error(f"unexpected character after '!' inside braces: {_go_rune(nxt)}")
            return self._emit(_T.NEQ_REGEX if nxt == "~" else _T.NEQ)
        if ch == "{":
            raise self._error(f"unexpected left brace {_go_rune(ch)}")
        if ch == "}":
            self.brace_open = False
            return self._emit(_T.RIGHT_BRACE)
        raise self._error(f"unexpected character inside braces: {_go_rune(ch)}")

    def _string(self) -> _Token:
        while True:
            ch = self._next()
            if ch == "\\":
                self._escape()
            elif ch == "\ufffd" or "\ud800" <= ch <= "\udfff":
                raise self._error("invalid UTF-8 rune")
            elif not ch or ch == "\n":
                raise self._error("unterminated quoted string")
            elif ch == self.string_open:
                return self._emit(_T.STRING)

    def _raw_string(self) -> _Token:
        while True:
            ch = self._next()
            if ch == "\ufffd" or "\ud800" <= ch <= "\udfff":
                raise self._error("invalid UTF-8 rune")
            if not ch:
                raise self._error("unterminated raw string")
            if ch == "`":
                return self._emit(_T.STRING)

    def _escape(self) -> None:
        """lexEscape: validate the escape sequence after a backslash."""
        ch = self._next()
        if ch and (ch in "abfnrtv\\" or ch == self.string_open):
            return
        if not ch:
            raise self._error("escape sequence not terminated")
        if ch in "01234567":
            count, base, limit = 3, 8, 255
        elif ch in "xuU":
            count, base, limit = _ESCAPE_DIGITS[ch]
            ch = self._next()
        else:
            raise self._error(f"unknown escape sequence {_go_unicode(ch)}")
        value = 0
        while count > 0:
            digit = int(ch, 16) if ch and ch in _HEX_DIGITS else 16
            if digit >= base:
                if not ch:
                    raise self._error("escape sequence not terminated")
                raise self._error(f"illegal character {_go_unicode(ch)} in escape sequence")
            value = value * base + digit
            count -= 1
            if count > 0:
                ch = self._next()
        if value > limit or 0xD800 <= value < 0xE000:
            raise self._error("escape sequence is an invalid Unicode code point")

    def _scan_number(self) -> bool:
        """scanNumber (3.x): decimal, hex, float, with `_` between digits; not checked further."""
        initial = self.pos
        digits = _DIGITS
        if self._accept("0") and self._accept("xX"):
            self._accept("_")
            digits = _HEX_DIGITS
        self._accept(".")
        self._accept(digits)
        dot = exponent = False
        while (ch := self._peek()) and ch in digits + "._eE":
            if (ch == "." and dot) or (ch in "eE" and exponent):
                self.pos += 1
                return False
            if self._accept("."):
                dot = True
                if self._accept("_.") or digits is _HEX_DIGITS:  # no fractional hex literals
                    return False
            elif self._accept("eE"):  # even after 0x, as Prometheus does
                exponent = True
                self._accept("+-")
                if self._accept("._eE") or not self._peek():
                    return False
            elif self._accept("_"):
                if self._accept("._eE") or not self._peek():
                    return False
            else:
                self._accept_run(digits)
        return self.pos != initial and not _is_alnum(self._peek())

    def _accept_remaining_duration(self) -> bool:
        if not self._accept("smhdwy"):
            return False
        self._accept("s")
        while self._accept(_DIGITS):
            self._accept_run(_DIGITS)
            if not self._accept("smhdw"):
                return False
            self._accept("s")
        ch = self._next()
        return not (ch and _is_alnum(ch))

    def _number_or_duration(self) -> _Token:
        if self._scan_number():
            return self._emit(_T.NUMBER)
        if self._accept_remaining_duration():
            self._backup()
            return self._emit(_T.DURATION)
        text = go_quote(self.text[self.start : self.pos])
        raise self._error(f"bad number or duration syntax: {text}")

    def _keyword_or_identifier(self) -> _Token:
        while (ch := self._peek()) and (_is_alnum(ch) or ch == ":"):
            self.pos += 1
        word = self.text[self.start : self.pos]
        kind = _WORDS.get(word.lower())
        if kind in _FILLS and not self.text[self.pos :].lstrip(_SPACE).startswith("("):
            kind = _T.IDENTIFIER  # fill, fill_left, fill_right are keywords only before `(`
        if kind is not None:
            return self._emit(kind)
        return self._emit(_T.METRIC_IDENTIFIER if ":" in word else _T.IDENTIFIER)


_ESCAPE_DIGITS = {"x": (2, 16, 255), "u": (4, 16, 0x10FFFF), "U": (8, 16, 0x10FFFF)}
_DURATION_OPERATORS = {
    "+": _T.ADD, "-": _T.SUB, "*": _T.MUL, "/": _T.DIV, "%": _T.MOD, "^": _T.POW, ",": _T.COMMA,
}  # fmt: skip
_SIMPLE_TOKENS = {
    ",": _T.COMMA, "*": _T.MUL, "/": _T.DIV, "%": _T.MOD, "+": _T.ADD, "-": _T.SUB, "^": _T.POW,
}  # fmt: skip

# --------------------------------------------------------------------------------------------
# Literal values: numbers, durations, strings
# --------------------------------------------------------------------------------------------

_GO_FLOAT = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64_MAX = 2**63 - 1


def _go_parse_int(text: str) -> int | None:
    """`strconv.ParseInt(text, 0, 64)` for what the lexer produces; None on error."""
    if text[:2] in ("0x", "0X"):
        digits, base = text[2:], 16
    elif len(text) > 1 and text[0] == "0":
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    valid = _HEX_DIGITS if base == 16 else _DIGITS[:base]
    if not digits or any(ch not in valid for ch in digits):
        return None
    value = int(digits, base)
    return value if value <= _INT64_MAX else None


def _underscores_ok(text: str) -> bool:
    """strconv's `underscoreOK`: each `_` between digits (or after a base prefix and before one)."""
    hexadecimal = text[:2].lower() == "0x"
    digits = _HEX_DIGITS if hexadecimal else _DIGITS
    saw = "0" if hexadecimal else "^"
    for ch in text[2:] if hexadecimal else text:
        if ch in digits:
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _parse_number(text: str) -> float:
    """The parser's `number()`: ParseInt (base 0) first, then ParseFloat; `_` separates digits."""
    written = text
    if "_" in text:
        if not _underscores_ok(text):
            quoted = go_quote(text)
            raise ValueError(
                f"error parsing number: strconv.ParseFloat: parsing {quoted}: invalid syntax"
            )
        text = text.replace("_", "")
    as_int = _go_parse_int(text)
    if as_int is not None:
        return float(as_int)
    lowered = text.lower()
    if lowered in ("inf", "nan"):
        return math.inf if lowered == "inf" else math.nan
    reason = "invalid syntax"
    if _GO_FLOAT.fullmatch(text):
        value = float(text)
        if not math.isinf(value):
            return value
        reason = "value out of range"
    quoted = go_quote(written)
    raise ValueError(f"error parsing number: strconv.ParseFloat: parsing {quoted}: {reason}")


_DURATION_UNIT = {  # unit: (order, milliseconds)
    "ms": (7, 1), "s": (6, 1000), "m": (5, 60_000), "h": (4, 3_600_000), "d": (3, 86_400_000),
    "w": (2, 604_800_000), "y": (1, 31_536_000_000),
}  # fmt: skip
_DURATION_PART = re.compile(r"([0-9]*)([^0-9]*)")


def _parse_duration(text: str) -> float:
    """`model.ParseDuration` (prometheus/common), in seconds."""
    if text == "0":
        return 0.0
    invalid = f"not a valid duration string: {go_quote(text)}"
    millis, last_unit, pos = 0, 0, 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        assert match is not None  # the pattern matches the empty string
        number, unit = match.groups()
        if not number or not unit or int(number) >= 2**64:  # strconv.ParseUint fails
            raise ValueError(invalid)
        if unit not in _DURATION_UNIT:
            raise ValueError(f"unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        order, mult = _DURATION_UNIT[unit]
        if order <= last_unit:
            raise ValueError(invalid)
        last_unit = order
        millis += int(number) * mult
        if millis * 1_000_000 > _INT64_MAX:
            raise ValueError("duration out of range")
        pos = match.end()
    return millis / 1000


_UNQUOTE_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
                   "'": 39, '"': 34}  # fmt: skip


def _unquote(token: str) -> str:
    """`strutil.Unquote` for a string token the lexer already validated."""
    body = token[1:-1]
    if token[0] == "`" or "\\" not in body:
        return body
    out = bytearray()
    pos = 0
    while pos < len(body):
        ch = body[pos]
        if ch != "\\":
            out += ch.encode("utf-8", "surrogateescape")
            pos += 1
            continue
        esc = body[pos + 1]
        if esc in _UNQUOTE_SIMPLE:
            out.append(_UNQUOTE_SIMPLE[esc])
            pos += 2
        elif esc in "01234567":
            out.append(int(body[pos + 1 : pos + 4], 8))
            pos += 4
        elif esc == "x":
            out.append(int(body[pos + 2 : pos + 4], 16))
            pos += 4
        else:
            width = 4 if esc == "u" else 8
            out += chr(int(body[pos + 2 : pos + 2 + width], 16)).encode("utf-8")
            pos += 2 + width
    return out.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# Go regular expression syntax (regexp/syntax.Parse with the Perl flags, Go 1.20)
# --------------------------------------------------------------------------------------------

_POSIX_GROUPS = frozenset(
    f"[:{neg}{name}:]"
    for neg in ("", "^")
    for name in (
        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
        "space", "upper", "word", "xdigit",
    )
)  # fmt: skip
_PERL_GROUPS = frozenset({"\\d", "\\D", "\\s", "\\S", "\\w", "\\W"})
_UNICODE_CATEGORIES = frozenset({
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
})  # fmt: skip
_UNICODE_SCRIPTS = frozenset({  # Go 1.20 unicode.Scripts (Unicode 13)
    "Adlam", "Ahom", "Anatolian_Hieroglyphs", "Arabic", "Armenian", "Avestan", "Balinese", "Bamum",
    "Bassa_Vah", "Batak", "Bengali", "Bhaiksuki", "Bopomofo", "Brahmi", "Braille", "Buginese",
    "Buhid", "Canadian_Aboriginal", "Carian", "Caucasian_Albanian", "Chakma", "Cham", "Cherokee",
    "Chorasmian", "Common", "Coptic", "Cuneiform", "Cypriot", "Cyrillic", "Deseret", "Devanagari",
    "Dives_Akuru", "Dogra", "Duployan", "Egyptian_Hieroglyphs", "Elbasan", "Elymaic", "Ethiopic",
    "Georgian", "Glagolitic", "Gothic", "Grantha", "Greek", "Gujarati", "Gunjala_Gondi",
    "Gurmukhi", "Han", "Hangul", "Hanifi_Rohingya", "Hanunoo", "Hatran", "Hebrew", "Hiragana",
    "Imperial_Aramaic", "Inherited", "Inscriptional_Pahlavi", "Inscriptional_Parthian", "Javanese",
    "Kaithi", "Kannada", "Katakana", "Kayah_Li", "Kharoshthi", "Khitan_Small_Script", "Khmer",
    "Khojki", "Khudawadi", "Lao", "Latin", "Lepcha", "Limbu", "Linear_A", "Linear_B", "Lisu",
    "Lycian", "Lydian", "Mahajani", "Makasar", "Malayalam", "Mandaic", "Manichaean", "Marchen",
    "Masaram_Gondi", "Medefaidrin", "Meetei_Mayek", "Mende_Kikakui", "Meroitic_Cursive",
    "Meroitic_Hieroglyphs", "Miao", "Modi", "Mongolian", "Mro", "Multani", "Myanmar", "Nabataean",
    "Nandinagari", "New_Tai_Lue", "Newa", "Nko", "Nushu", "Nyiakeng_Puachue_Hmong", "Ogham",
    "Ol_Chiki", "Old_Hungarian", "Old_Italic", "Old_North_Arabian", "Old_Permic", "Old_Persian",
    "Old_Sogdian", "Old_South_Arabian", "Old_Turkic", "Oriya", "Osage", "Osmanya", "Pahawh_Hmong",
    "Palmyrene", "Pau_Cin_Hau", "Phags_Pa", "Phoenician", "Psalter_Pahlavi", "Rejang", "Runic",
    "Samaritan", "Saurashtra", "Sharada", "Shavian", "Siddham", "SignWriting", "Sinhala",
    "Sogdian", "Sora_Sompeng", "Soyombo", "Sundanese", "Syloti_Nagri", "Syriac", "Tagalog",
    "Tagbanwa", "Tai_Le", "Tai_Tham", "Tai_Viet", "Takri", "Tamil", "Tangut", "Telugu", "Thaana",
    "Thai", "Tibetan", "Tifinagh", "Tirhuta", "Ugaritic", "Vai", "Wancho", "Warang_Citi", "Yezidi",
    "Yi", "Zanabazar_Square",
})  # fmt: skip
_MAX_REPEAT = 1000


class _RegexpError(Exception):
    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


@dataclass(slots=True)
class _RNode:
    """What the check needs of a regexp node: can it match "", and its counted repetitions."""

    nullable: bool
    repeat: tuple[int, int] | None = None
    subs: tuple[_RNode, ...] = ()


def _repeat_is_valid(node: _RNode, limit: int) -> bool:
    if node.repeat is not None:
        low, high = node.repeat
        if high == 0:
            return True
        count = low if high < 0 else high
        if count > limit:
            return False
        if count > 0:
            limit //= count
    return all(_repeat_is_valid(sub, limit) for sub in node.subs)


def _unhex(ch: str) -> int:
    return int(ch, 16) if ch and ch in _HEX_DIGITS else -1


class _RegexpSyntax:
    """A port of the error paths of Go's `regexp/syntax` parser, computing nullability too."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        # Each open group: its alternatives, each a concatenation of nodes.
        self.groups: list[list[list[_RNode]]] = [[[]]]

    def _push(self, nullable: bool) -> None:
        self.groups[-1][-1].append(_RNode(nullable))

    @staticmethod
    def _close(alternatives: list[list[_RNode]]) -> _RNode:
        nullable = any(all(node.nullable for node in concat) for concat in alternatives)
        return _RNode(nullable, None, tuple(node for concat in alternatives for node in concat))

    def parse(self) -> bool:
        """Raise `_RegexpError` like Go would; return whether the regexp matches ""."""
        pos, last_repeat = 0, -1
        while pos < self.n:
            repeat, ch = -1, self.s[pos]
            if ch == "(":
                pos = self._open_group(pos)
            elif ch == "|":
                self.groups[-1].append([])
                pos += 1
            elif ch == ")":
                if len(self.groups) == 1:
                    raise _RegexpError("unexpected )", self.s)
                node = self._close(self.groups.pop())
                self.groups[-1][-1].append(node)
                pos += 1
            elif ch in "^$.":
                self._push(ch != ".")
                pos += 1
            elif ch == "[":
                pos = self._char_class(pos)
                self._push(False)
            elif ch in "*+?{":
                new_pos = self._repetition(pos, last_repeat)
                if new_pos < 0:  # `{` that is not a repetition is a literal
                    self._push(False)
                    pos += 1
                else:
                    repeat, pos = pos, new_pos
            elif ch == "\\":
                pos = self._escape_atom(pos)
            else:
                self._push(False)
                pos += 1
            last_repeat = repeat
        if len(self.groups) != 1:
            raise _RegexpError("missing closing )", self.s)
        return self._close(self.groups[0]).nullable

    def _open_group(self, pos: int) -> int:
        s = self.s
        if not s.startswith("(?", pos):
            self.groups.append([[]])
            return pos + 1
        if self.n - pos > 4 and s.startswith("(?P<", pos):
            end = s.find(">", pos)
            if end < 0:
                raise _RegexpError("invalid named capture", s[pos:])
            name = s[pos + 4 : end]
            if not name or not all(_is_alnum(ch) for ch in name):
                raise _RegexpError("invalid named capture", s[pos : end + 1])
            self.groups.append([[]])
            return end + 1
        i, negated, saw_flag = pos + 2, False, False
        while i < self.n:
            ch = s[i]
            i += 1
            if ch in "imsU":
                saw_flag = True
            elif ch == "-" and not negated:
                negated, saw_flag = True, False
            elif ch in ":)" and (saw_flag or not negated):
                if ch == ":":
                    self.groups.append([[]])
                return i
            else:
                break
        raise _RegexpError("invalid or unsupported Perl syntax", s[pos:i])

    def _parse_int(self, pos: int) -> tuple[int, int] | None:
        s, n = self.s, self.n
        if pos >= n or s[pos] not in _DIGITS:
            return None
        if pos + 1 < n and s[pos] == "0" and s[pos + 1] in _DIGITS:
            return None
        end, value = pos, 0
        while end < n and s[end] in _DIGITS:
            if value >= 100_000_000:
                value = -1
            elif value >= 0:
                value = value * 10 + int(s[end])
            end += 1
        return value, end

    def _parse_braces(self, pos: int) -> tuple[int, int, int] | None:
        """`{min}`, `{min,}` or `{min,max}` at pos: (min, max or -1, end) or None."""
        parsed = self._parse_int(pos + 1)
        if parsed is None or parsed[1] >= self.n:
            return None
        low, pos = parsed
        high = low
        if self.s[pos] == ",":
            pos += 1
            if pos >= self.n:
                return None
            if self.s[pos] == "}":
                high = -1
            else:
                parsed = self._parse_int(pos)
                if parsed is None:
                    return None
                high, pos = parsed
                if high < 0:
                    low = -1
        if pos >= self.n or self.s[pos] != "}":
            return None
        return low, high, pos + 1

    def _repetition(self, pos: int, last_repeat: int) -> int:
        """Apply `* + ? {n,m}` at pos to the previous node; the end, or -1 for a literal `{`."""
        s, op = self.s, self.s[pos]
        low, high, after = 0, 0, pos + 1
        if op == "{":
            braces = self._parse_braces(pos)
            if braces is None:
                return -1
            low, high, after = braces
            if low < 0 or low > _MAX_REPEAT or high > _MAX_REPEAT or 0 <= high < low:
                raise _RegexpError("invalid repeat count", s[pos:after])
        if after < self.n and s[after] == "?":
            after += 1
        if last_repeat >= 0:
            raise _RegexpError("invalid nested repetition operator", s[last_repeat:after])
        concat = self.groups[-1][-1]
        if not concat:
            raise _RegexpError("missing argument to repetition operator", s[pos:after])
        sub = concat[-1]
        if op == "{":
            node = _RNode(low == 0 or sub.nullable, (low, high), (sub,))
            if (low >= 2 or high >= 2) and not _repeat_is_valid(node, _MAX_REPEAT):
                raise _RegexpError("invalid repeat count", s[pos:after])
        else:
            node = _RNode(op != "+" or sub.nullable, None, (sub,))
        concat[-1] = node
        return after

    def _escape_atom(self, pos: int) -> int:
        s = self.s
        two = s[pos : pos + 2]
        if len(two) == 2:
            if two[1] in "AzbB":
                self._push(two[1] != "b")  # assertions; only \b fails on ""
                return pos + 2
            if two[1] == "C":
                raise _RegexpError("invalid escape sequence", two)
            if two[1] == "Q":
                end = s.find("\\E", pos + 2)
                literal_end, after = (self.n, self.n) if end < 0 else (end, end + 2)
                self.groups[-1][-1].extend(_RNode(False) for _ in range(pos + 2, literal_end))
                return after
            if two[1] in "pP":
                pos = self._unicode_class(pos)
                self._push(False)
                return pos
            if two in _PERL_GROUPS:
                self._push(False)
                return pos + 2
        _, pos = self._escape(pos)
        self._push(False)
        return pos

    def _escape(self, pos: int) -> tuple[int, int]:
        """An escape at pos: (its rune, the end)."""
        s, n, start = self.s, self.n, pos
        pos += 1
        if pos >= n:
            raise _RegexpError("trailing backslash at end of expression", "")
        ch = s[pos]
        pos += 1
        if ch.isascii() and not ch.isalnum():  # `\_` included
            return ord(ch), pos
        if ch in "01234567" and (ch == "0" or (pos < n and s[pos] in "01234567")):
            value = int(ch)
            for _ in range(2):
                if pos >= n or s[pos] not in "01234567":
                    break
                value = value * 8 + int(s[pos])
                pos += 1
            return value, pos
        if ch == "x" and pos < n:
            return self._hex_escape(start, pos)
        simple = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}.get(ch)
        if simple is not None:
            return simple, pos
        raise _RegexpError("invalid escape sequence", s[start:pos])

    def _hex_escape(self, start: int, pos: int) -> tuple[int, int]:
        s, n = self.s, self.n
        ch = s[pos]
        pos += 1
        if ch == "{":
            value, count = 0, 0
            while True:
                if pos >= n:
                    raise _RegexpError("invalid escape sequence", s[start:pos])
                ch = s[pos]
                pos += 1
                if ch == "}":
                    break
                digit = _unhex(ch)
                if digit < 0 or value * 16 + digit > 0x10FFFF:
                    raise _RegexpError("invalid escape sequence", s[start:pos])
                value, count = value * 16 + digit, count + 1
            if count == 0:
                raise _RegexpError("invalid escape sequence", s[start:pos])
            return value, pos
        high = _unhex(ch)
        low = _unhex(s[pos] if pos < n else "")
        pos = min(pos + 1, n)
        if high < 0 or low < 0:
            raise _RegexpError("invalid escape sequence", s[start:pos])
        return high * 16 + low, pos

    def _unicode_class(self, pos: int) -> int:
        """`\\pL`, `\\p{Greek}`, `\\P{^Lu}` at pos; the end."""
        s = self.s
        if pos + 2 >= self.n:
            seq, name, end = s[pos : pos + 2], "", pos + 2
        elif s[pos + 2] != "{":
            seq, name, end = s[pos : pos + 3], s[pos + 2], pos + 3
        else:
            close = s.find("}", pos)
            if close < 0:
                raise _RegexpError("invalid character class range", s[pos:])
            seq, name, end = s[pos : close + 1], s[pos + 3 : close], close + 1
        name = name.removeprefix("^")
        if name != "Any" and name not in _UNICODE_CATEGORIES and name not in _UNICODE_SCRIPTS:
            raise _RegexpError("invalid character class range", seq)
        return end

    def _char_class(self, start: int) -> int:
        """A `[...]` class at start; the end."""
        s, n = self.s, self.n
        pos = start + 1
        if pos < n and s[pos] == "^":
            pos += 1
        first = True
        while pos >= n or s[pos] != "]" or first:
            first = False
            if n - pos > 2 and s.startswith("[:", pos):
                close = s.find(":]", pos + 2)
                if close >= 0:
                    name = s[pos : close + 2]
                    if name not in _POSIX_GROUPS:
                        raise _RegexpError("invalid character class range", name)
                    pos = close + 2
                    continue
            if s.startswith(("\\p", "\\P"), pos):
                pos = self._unicode_class(pos)
                continue
            if s[pos : pos + 2] in _PERL_GROUPS:
                pos += 2
                continue
            range_start = pos
            low, pos = self._class_char(pos, start)
            if n - pos >= 2 and s[pos] == "-" and s[pos + 1] != "]":
                high, pos = self._class_char(pos + 1, start)
                if high < low:
                    raise _RegexpError("invalid character class range", s[range_start:pos])
        return pos + 1

    def _class_char(self, pos: int, class_start: int) -> tuple[int, int]:
        if pos >= self.n:
            raise _RegexpError("missing closing ]", self.s[class_start:])
        if self.s[pos] == "\\":
            return self._escape(pos)
        return ord(self.s[pos]), pos + 1


@functools.lru_cache(maxsize=2048)
def _check_regexp(value: str) -> tuple[str | None, bool]:
    """labels.NewMatcher for `=~`: (Go's compile error or None, whether it matches "")."""
    try:
        _RegexpSyntax("^(?:" + value + ")$").parse()
        return None, _RegexpSyntax(value).parse()
    except _RegexpError as err:
        return str(err), False


# --------------------------------------------------------------------------------------------
# Parser (promql/parser/generated_parser.y and parse.go)
# --------------------------------------------------------------------------------------------

_BINARY_OPS: dict[_T, tuple[str, int]] = {
    _T.LOR: ("or", 1),
    _T.LAND: ("and", 2),
    _T.LUNLESS: ("unless", 2),
    _T.EQLC: ("==", 3),
    _T.NEQ: ("!=", 3),
    _T.LTE: ("<=", 3),
    _T.LSS: ("<", 3),
    _T.GTE: (">=", 3),
    _T.GTR: (">", 3),
    _T.ADD: ("+", 4),
    _T.SUB: ("-", 4),
    _T.MUL: ("*", 5),
    _T.DIV: ("/", 5),
    _T.MOD: ("%", 5),
    _T.ATAN2: ("atan2", 5),
    _T.POW: ("^", 6),
}
_POW_PRECEDENCE = 6  # unary +/- bind like `*`: only `^` (right-associative) binds tighter
_COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
_SET_OPERATORS = frozenset({"and", "or", "unless"})
# Tokens that may name a metric (grammar rule `metric_identifier`).
_METRIC_NAMES = _AGGREGATORS | _FILLS | {
    _T.IDENTIFIER, _T.METRIC_IDENTIFIER, _T.BY, _T.LAND, _T.LOR, _T.LUNLESS, _T.OFFSET,
    _T.WITHOUT, _T.START, _T.END, _T.STEP, _T.RANGE, _T.ANCHORED, _T.SMOOTHED,
}  # fmt: skip
# FIRST(expr): what may start an expression.
_EXPR_START = _METRIC_NAMES | {
    _T.NUMBER, _T.DURATION, _T.STRING, _T.LEFT_PAREN, _T.LEFT_BRACE, _T.ADD, _T.SUB,
}  # fmt: skip
# FIRST(duration_expr) inside `[...]`.
_DURATION_START = frozenset({
    _T.NUMBER, _T.DURATION, _T.ADD, _T.SUB, _T.LEFT_PAREN, _T.STEP, _T.RANGE, _T.MIN, _T.MAX,
})  # fmt: skip
_DURATION_OPS: dict[_T, int] = {
    _T.ADD: 4, _T.SUB: 4, _T.MUL: 5, _T.DIV: 5, _T.MOD: 5, _T.POW: 6,
}  # fmt: skip
# Duration bounds: a time.Duration is int64 nanoseconds.
_MAX_DURATION_SECONDS = 2**63 / 1e9
# Tokens accepted as a label name in `by (...)`, `on (...)`, ... (grammar rule `maybe_label`).
_MAYBE_LABEL = _AGGREGATORS | _FILLS | {
    _T.BOOL, _T.BY, _T.GROUP_LEFT, _T.GROUP_RIGHT, _T.IDENTIFIER, _T.IGNORING, _T.LAND, _T.LOR,
    _T.LUNLESS, _T.METRIC_IDENTIFIER, _T.OFFSET, _T.ON, _T.START, _T.END, _T.ATAN2, _T.STEP,
    _T.RANGE, _T.ANCHORED, _T.SMOOTHED,
}  # fmt: skip
_MATCH_OPS: dict[_T, MatchOp] = {_T.EQL: "=", _T.NEQ: "!=", _T.EQL_REGEX: "=~", _T.NEQ_REGEX: "!~"}
_DURATION_EXPECTED = "number, duration, step(), or range()"
_NOT_ENABLED_DURATION = "experimental duration expression is not enabled"
_NOT_ENABLED_FILL = "binop fill modifiers are experimental and not enabled"
_UNSUPPORTED_DURATION = (
    "step(), range(), min() and max() in durations are not supported by slogate's parser"
)
_MUST_PRECEDE = (
    "must be preceded by an instant vector selector or range vector selector or a subquery"
)


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _position(text: str, pos: int) -> str:
    """Go's `ParseErr` prefix: 1-based line and byte column of `pos`."""
    prefix = text[:pos]
    line_start = prefix.rfind("\n") + 1
    return f"{prefix.count(chr(10)) + 1}:{_byte_len(prefix[line_start:]) + 1}:"


def _go_round(value: float) -> int:
    """Go's `math.Round` (half away from zero)."""
    whole = math.trunc(value)
    if abs(value - whole) >= 0.5:
        whole += 1 if value > 0 else -1
    return whole


class _Parser:
    """Recursive descent over the lazily lexed tokens, with one token of lookahead."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lexer = _Lexer(text)
        self.lookahead: _Token | None = None
        self.aggregations = 0  # how many aggregations enclose the current position
        self.last_end = 0  # end offset of the last token consumed
        # (node, start, end) offsets of every node, by node id; the node keeps the id in use.
        self.spans: dict[int, tuple[object, int, int]] = {}

    # -- tokens and errors -----------------------------------------------------------------------

    def error(self, pos: int, message: str) -> PromQLSyntaxError:
        return PromQLSyntaxError(f"{_position(self.text, pos)} parse error: {message}")

    def fail(self, pos: int, message: str) -> NoReturn:
        raise self.error(pos, message)

    def peek(self) -> _Token:
        if self.lookahead is None:
            try:
                self.lookahead = self.lexer.next_token()
            except _LexError as err:
                self.fail(err.pos, err.message)
        return self.lookahead

    def advance(self) -> _Token:
        tok = self.peek()
        self.lookahead = None
        self.last_end = tok.pos + len(tok.val)
        return tok

    def unexpected(self, tok: _Token, context: str = "", expected: str = "") -> NoReturn:
        message = "unexpected " + _describe(tok)
        if context:
            message += " in " + context
        if expected:
            message += ", expected " + expected
        self.fail(tok.pos, message)

    def unexpected_in_expr(self, tok: _Token) -> NoReturn:
        """A token fitting no expression: yacc falls back to the innermost `aggregate_op error`."""
        self.unexpected(tok, "aggregation" if self.aggregations else "")

    def node(self, expr: Expr, pos: int) -> Expr:
        """Record where `expr` starts; it ends with the last token consumed."""
        self.spans[id(expr)] = (expr, pos, self.last_end)
        return expr

    def start_of(self, expr: Expr) -> int:
        return self.spans[id(expr)][1]

    def operator_of(self, binary: BinaryExpr) -> int:
        """Where Prometheus reports an operator error: the first non-space after the LHS."""
        pos = self.spans[id(binary.lhs)][2]
        while pos < len(self.text) and self.text[pos] in _SPACE:
            pos += 1
        return pos

    # -- expressions -----------------------------------------------------------------------------

    def parse(self) -> Expr:
        if self.peek().kind is _T.EOF:
            self.fail(0, "no expression found in input")
        expr = self.expr(0)
        tok = self.peek()
        if tok.kind is not _T.EOF:
            self.unexpected(tok)
        return _Checker(self).check(expr)[0]

    def expr(self, min_precedence: int) -> Expr:
        """Precedence climbing over binary operators; `^` is right-associative."""
        lhs = self.unary()
        while True:
            tok = self.peek()
            op = _BINARY_OPS.get(tok.kind)
            if op is None or op[1] < min_precedence:
                return lhs
            self.advance()
            return_bool, matching = self.bin_modifiers()
            filled = self.fill_modifiers()
            rhs = self.expr(op[1] if tok.kind is _T.POW else op[1] + 1)
            if filled:
                self.fail(self.start_of(lhs), _NOT_ENABLED_FILL)
            lhs = self.node(BinaryExpr(op[0], lhs, rhs, return_bool, matching), self.start_of(lhs))

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind not in (_T.ADD, _T.SUB):
            return self.postfix(self.primary())
        self.advance()
        operand = self.expr(_POW_PRECEDENCE)
        if isinstance(operand, NumberLiteral):
            value = -operand.value if tok.kind is _T.SUB else operand.value
            return self.node(NumberLiteral(value), tok.pos)
        return self.node(UnaryExpr("-" if tok.kind is _T.SUB else "+", operand), tok.pos)

    def primary(self) -> Expr:
        tok = self.peek()
        kind = tok.kind
        if kind in (_T.NUMBER, _T.DURATION):
            self.advance()
            return self.node(NumberLiteral(self.literal_seconds(tok)), tok.pos)
        if kind is _T.STRING:
            self.advance()
            return self.node(StringLiteral(_unquote(tok.val)), tok.pos)
        if kind is _T.LEFT_PAREN:
            self.advance()
            inner = self.expr(0)
            if self.peek().kind is not _T.RIGHT_PAREN:
                self.unexpected_in_expr(self.peek())
            self.advance()
            return self.node(ParenExpr(inner), tok.pos)
        if kind is _T.LEFT_BRACE:
            return self.vector_selector(None, tok.pos)
        if kind not in _METRIC_NAMES:
            self.unexpected_in_expr(tok)
        self.advance()
        following = self.peek().kind
        if kind in _AGGREGATORS and following in (_T.LEFT_PAREN, _T.BY, _T.WITHOUT):
            return self.aggregate(tok)
        if kind is _T.IDENTIFIER and following is _T.LEFT_PAREN:
            return self.call(tok)
        return self.vector_selector(tok.val, tok.pos)

    def number(self, tok: _Token) -> float:
        try:
            return _parse_number(tok.val)
        except ValueError as err:
            self.fail(tok.pos, str(err))

    def duration(self, tok: _Token) -> float:
        try:
            return _parse_duration(tok.val)
        except ValueError as err:
            self.fail(tok.pos, str(err))

    def literal_seconds(self, tok: _Token) -> float:
        """`number_duration_literal`: a number, or a duration as its seconds."""
        return self.number(tok) if tok.kind is _T.NUMBER else self.duration(tok)

    # -- selectors -------------------------------------------------------------------------------

    def vector_selector(self, name: str | None, pos: int) -> Expr:
        matchers: tuple[LabelMatcher, ...] = ()
        if self.peek().kind is _T.LEFT_BRACE:
            matchers = self.label_matchers()
        return self.node(VectorSelector(name, matchers), pos)

    def label_matchers(self) -> tuple[LabelMatcher, ...]:
        self.advance()  # {
        matchers: list[LabelMatcher] = []
        while self.peek().kind is not _T.RIGHT_BRACE:
            matchers.append(self.one_label_matcher())
            sep = self.peek()
            if sep.kind is _T.COMMA:
                self.advance()
            elif sep.kind is not _T.RIGHT_BRACE:
                self.unexpected(sep, "label matching", '"," or "}"')
        self.advance()  # }
        return tuple(matchers)

    def one_label_matcher(self) -> LabelMatcher:
        """`name op "value"`, `"quoted name" op "value"`, or a quoted metric name alone."""
        name = self.peek()
        if name.kind not in (_T.IDENTIFIER, _T.STRING):
            self.unexpected(name, "label matching", 'identifier or "}"')
        self.advance()
        op = self.peek()
        if op.kind not in _MATCH_OPS:
            if name.kind is _T.STRING:  # string_identifier: `{"metric.name"}`
                return LabelMatcher(METRIC_NAME, "=", _unquote(name.val))
            self.unexpected(op, "label matching", "label matching operator")
        self.advance()
        value = self.peek()
        if value.kind is not _T.STRING:
            self.unexpected(value, "label matching", "string")
        self.advance()
        return self.label_matcher(name, _MATCH_OPS[op.kind], value)

    def label_matcher(self, name: _Token, op: MatchOp, value: _Token) -> LabelMatcher:
        text = _unquote(value.val)
        if op in ("=~", "!~"):
            error, _ = _check_regexp(text)
            if error is not None:
                self.fail(name.pos, error)
        label = _unquote(name.val) if name.kind is _T.STRING else name.val
        return LabelMatcher(label, op, text)

    def postfix(self, expr: Expr) -> Expr:
        """Range, subquery, `offset` and `@` bind tighter than any operator."""
        while True:
            kind = self.peek().kind
            if kind is _T.LEFT_BRACKET:
                expr = self.range_or_subquery(expr)
            elif kind is _T.OFFSET:
                expr = self.offset(expr)
            elif kind is _T.AT:
                expr = self.at(expr)
            elif kind in (_T.ANCHORED, _T.SMOOTHED):
                word = self.advance().val.lower()
                self.fail(self.start_of(expr), f"{word} modifier is experimental and not enabled")
            else:
                return expr

    def range_or_subquery(self, expr: Expr) -> Expr:
        bracket = self.advance()
        if self.peek().kind not in _DURATION_START:
            self.unexpected(self.peek(), "subquery or range selector", _DURATION_EXPECTED)
        range_seconds = self.positive_duration()
        tok = self.peek()
        if tok.kind is _T.RIGHT_BRACKET:
            self.advance()
            if not isinstance(expr, VectorSelector):
                self.fail(bracket.pos, "ranges only allowed for vector selectors")
            if expr.offset_seconds:
                self.fail(bracket.pos, "no offset modifiers allowed before range")
            if expr.at is not None:
                self.fail(bracket.pos, "no @ modifiers allowed before range")
            return self.node(MatrixSelector(expr, range_seconds), self.start_of(expr))
        if tok.kind is not _T.COLON:
            self.unexpected(tok, "subquery or range", '":" or "]"')
        self.advance()
        step = 0.0
        tok = self.peek()
        if tok.kind in _DURATION_START:
            step = self.positive_duration()
            if self.peek().kind is not _T.RIGHT_BRACKET:
                self.unexpected(self.peek(), "subquery selector", '"]"')
        elif tok.kind is not _T.RIGHT_BRACKET:
            self.unexpected(tok, "subquery selector", 'number, duration, step(), range(), or "]"')
        self.advance()
        return self.node(SubqueryExpr(expr, range_seconds, step), self.start_of(expr))

    def positive_duration(self) -> float:
        """`positive_duration_expr`: a range or step, in seconds."""
        start = self.peek().pos
        seconds = self.duration_expr(0)
        if seconds <= 0:
            self.fail(start, "duration must be greater than 0")
        return seconds

    def duration_expr(self, min_precedence: int) -> float:
        """`duration_expr` with the experimental arithmetic off: a signed literal, in seconds."""
        start = self.peek().pos
        seconds = self.duration_operand()
        while (precedence := _DURATION_OPS.get(self.peek().kind)) is not None:
            if precedence < min_precedence:
                break
            self.advance()
            self.duration_expr(precedence if precedence == _POW_PRECEDENCE else precedence + 1)
            self.fail(start, _NOT_ENABLED_DURATION)
        return seconds

    def duration_operand(self) -> float:
        tok = self.advance()
        if tok.kind in (_T.NUMBER, _T.DURATION):
            return self.bounded_literal(tok)
        if tok.kind not in (_T.ADD, _T.SUB, _T.LEFT_PAREN):
            self.fail(tok.pos, _UNSUPPORTED_DURATION)
        operand = self.peek()
        if operand.kind not in _DURATION_START:
            self.unexpected(operand)
        if tok.kind is _T.LEFT_PAREN:
            self.duration_expr(0)
            self.fail(operand.pos, _NOT_ENABLED_DURATION)
        seconds = self.duration_expr(_POW_PRECEDENCE)
        seconds = -seconds if tok.kind is _T.SUB else seconds
        if abs(seconds) > _MAX_DURATION_SECONDS:
            self.fail(tok.pos, "duration out of range")
        return seconds

    def bounded_literal(self, tok: _Token) -> float:
        seconds = self.literal_seconds(tok)
        if abs(seconds) > _MAX_DURATION_SECONDS:
            self.fail(tok.pos, "duration out of range")
        return seconds

    def offset(self, expr: Expr) -> Expr:
        self.advance()  # offset
        sign = tok = self.peek()
        if sign.kind in (_T.ADD, _T.SUB):
            self.advance()
            tok = self.peek()
        if tok.kind in (_T.STEP, _T.RANGE):
            self.fail(tok.pos, _UNSUPPORTED_DURATION)
        if tok.kind not in (_T.NUMBER, _T.DURATION):
            self.unexpected(tok, "offset", _DURATION_EXPECTED)
        self.advance()
        seconds = self.literal_seconds(tok)
        negative = sign.kind is _T.SUB
        if abs(seconds) > _MAX_DURATION_SECONDS:
            self.fail(sign.pos, "duration out of range")
        start = self.start_of(expr)
        target = self.modifier_target(expr, "offset modifier")
        if target.offset_seconds:
            self.fail(start, "offset may not be set multiple times")
        changed = dataclasses.replace(target, offset_seconds=-seconds if negative else seconds)
        return self.node(self.retarget(expr, changed), start)

    def at(self, expr: Expr) -> Expr:
        self.advance()  # @
        tok = self.peek()
        if tok.kind in (_T.START, _T.END):
            self.advance()
            for closing in (_T.LEFT_PAREN, _T.RIGHT_PAREN):
                if self.peek().kind is not closing:
                    self.unexpected(self.peek(), "@", "timestamp")
                self.advance()
            return self.set_at(expr, "start" if tok.kind is _T.START else "end")
        sign = 1.0
        if tok.kind in (_T.ADD, _T.SUB):
            sign = -1.0 if tok.kind is _T.SUB else 1.0
            self.advance()
            tok = self.peek()
        if tok.kind is not _T.NUMBER:
            self.unexpected(tok, "@", "timestamp")
        self.advance()
        value = sign * self.number(tok)
        if not math.isfinite(value) or abs(value) >= 2.0**63:
            bounds = f"timestamp out of bounds for @ modifier: {_go_percent_f(value)}"
            self.fail(self.start_of(expr), bounds)
        millis = _go_round(value * 1000)
        if not -(2**63) <= millis < 2**63:
            millis = -(2**63)  # Go's int64() of an out-of-range float (on amd64)
        return self.set_at(expr, millis / 1000)

    def set_at(self, expr: Expr, at: AtModifier) -> Expr:
        start = self.start_of(expr)
        target = self.modifier_target(expr, "@ modifier")
        if target.at is not None:
            self.fail(start, "@ <timestamp> may not be set multiple times")
        return self.node(self.retarget(expr, dataclasses.replace(target, at=at)), start)

    def modifier_target(self, expr: Expr, what: str) -> VectorSelector | SubqueryExpr:
        """The node an `offset` or `@` written after `expr` applies to."""
        if isinstance(expr, MatrixSelector):
            return expr.vector
        if isinstance(expr, VectorSelector | SubqueryExpr):
            return expr
        raise self.error(self.start_of(expr), f"{what} {_MUST_PRECEDE}")

    def retarget(self, expr: Expr, changed: VectorSelector | SubqueryExpr) -> Expr:
        """`expr` with its modifier target replaced by `changed`."""
        if isinstance(expr, MatrixSelector) and isinstance(changed, VectorSelector):
            self.node(changed, self.start_of(expr))  # the selector starts where the range does
            return dataclasses.replace(expr, vector=changed)
        return changed

    # -- calls and aggregations ------------------------------------------------------------------

    def call(self, name: _Token) -> Expr:
        self.advance()  # (
        args = self.call_args()
        signature = FUNCTIONS.get(name.val)
        if signature is None:
            self.fail(name.pos, f"unknown function with name {go_quote(name.val)}")
        if signature.experimental:
            self.fail(name.pos, f"function {go_quote(name.val)} is not enabled")
        return self.node(Call(name.val, args), name.pos)

    def call_args(self) -> tuple[Expr, ...]:
        """The arguments after `(`, up to and including `)`."""
        if self.peek().kind is _T.RIGHT_PAREN:
            self.advance()
            return ()
        args = [self.expr(0)]
        while True:
            tok = self.peek()
            if tok.kind is _T.RIGHT_PAREN:
                self.advance()
                return tuple(args)
            if tok.kind is not _T.COMMA:
                self.unexpected_in_expr(tok)
            self.advance()
            if self.peek().kind not in _EXPR_START:
                self.fail(tok.pos, "trailing commas not allowed in function call args")
            args.append(self.expr(0))

    def aggregate(self, op: _Token) -> Expr:
        self.aggregations += 1
        grouping: tuple[str, ...] = ()
        modifier = self.peek().kind
        without = modifier is _T.WITHOUT
        if modifier is not _T.LEFT_PAREN:
            self.advance()
            grouping = self.grouping()
            if self.peek().kind is not _T.LEFT_PAREN:
                self.unexpected(self.peek(), "aggregation")
        self.advance()  # (
        args = self.call_args()
        if modifier is _T.LEFT_PAREN and self.peek().kind in (_T.BY, _T.WITHOUT):
            without = self.advance().kind is _T.WITHOUT
            grouping = self.grouping()
        self.aggregations -= 1
        name = op.val.lower()
        if not args:
            self.fail(op.pos, "no arguments for aggregate expression provided")
        if name in _EXPERIMENTAL_AGGREGATORS:
            self.fail(
                op.pos,
                f"{name}() is experimental and must be enabled with "
                "--enable-feature=promql-experimental-functions",
            )
        wanted = 2 if name in _PARAM_AGGREGATORS else 1
        if len(args) != wanted:
            self.fail(
                op.pos,
                "wrong number of arguments for aggregate expression provided, "
                f"expected {wanted}, got {len(args)}",
            )
        param = args[0] if wanted == 2 else None
        return self.node(AggregateExpr(name, args[-1], param, grouping, without), op.pos)

    def grouping(self) -> tuple[str, ...]:
        """`(label, ...)` after by, without, on, ignoring, group_left or group_right."""
        if self.peek().kind is not _T.LEFT_PAREN:
            self.unexpected(self.peek(), "grouping opts", '"("')
        self.advance()
        labels: list[str] = []
        while self.peek().kind is not _T.RIGHT_PAREN:
            tok = self.peek()
            if tok.kind not in _MAYBE_LABEL and tok.kind is not _T.STRING:
                self.unexpected(tok, "grouping opts", "label")
            self.advance()
            label = _unquote(tok.val) if tok.kind is _T.STRING else tok.val
            if not _is_utf8_label(label):
                self.fail(tok.pos, f"invalid label name for grouping: {go_quote(label)}")
            labels.append(label)
            sep = self.peek()
            if sep.kind is _T.COMMA:
                self.advance()
            elif sep.kind is not _T.RIGHT_PAREN:
                self.unexpected(sep, "grouping opts", '"," or ")"')
        self.advance()  # )
        return tuple(labels)

    def bin_modifiers(self) -> tuple[bool, VectorMatching]:
        """`[bool] [on|ignoring (...) [group_left|group_right [(...)]]]` after an operator."""
        return_bool = self.peek().kind is _T.BOOL
        if return_bool:
            self.advance()
        if self.peek().kind not in (_T.ON, _T.IGNORING):
            return return_bool, VectorMatching()
        on = self.advance().kind is _T.ON
        labels = self.grouping()
        card: Cardinality = "one-to-one"
        include: tuple[str, ...] = ()
        if self.peek().kind in (_T.GROUP_LEFT, _T.GROUP_RIGHT):
            card = "many-to-one" if self.advance().kind is _T.GROUP_LEFT else "one-to-many"
            following = self.peek()
            if following.kind is _T.LEFT_PAREN:
                include = self.grouping()
            elif following.kind not in _EXPR_START:
                self.unexpected(following, "grouping opts", '"("')
        return return_bool, VectorMatching(card, on, labels, include)

    def fill_modifiers(self) -> bool:
        """`fill(v)`, `fill_left(v) [fill_right(v)]`, ...: whether any was written."""
        sides: list[_T] = []
        while (kind := self.peek().kind) in _FILLS and _T.FILL not in sides and kind not in sides:
            if sides and kind is _T.FILL:
                break
            sides.append(self.advance().kind)
            for expected in (_T.LEFT_PAREN, None, _T.RIGHT_PAREN):
                tok = self.peek()
                if expected is None:
                    if tok.kind in (_T.ADD, _T.SUB):
                        self.advance()
                        tok = self.peek()
                    if tok.kind not in (_T.NUMBER, _T.DURATION):
                        self.unexpected(tok)
                    self.literal_seconds(tok)
                elif tok.kind is not expected:
                    self.unexpected(tok)
                self.advance()
        return bool(sides)


# --------------------------------------------------------------------------------------------
# Type checking (parse.go checkAST)
# --------------------------------------------------------------------------------------------


def _documented(value: ValueType) -> str:
    return {"vector": "instant vector", "matrix": "range vector"}.get(value, value)


def _matches_empty(matcher: LabelMatcher) -> bool:
    if matcher.op in ("=", "!="):
        return (matcher.value == "") == (matcher.op == "=")
    nullable = _check_regexp(matcher.value)[1]
    return nullable == (matcher.op == "=~")


class _Checker:
    """Checks types in the order Prometheus does; returns the tree with vector matching
    normalised (None unless both operands are instant vectors, set operators many-to-many)."""

    def __init__(self, parser: _Parser) -> None:
        self.parser = parser

    def fail_at(self, node: Expr, message: str) -> NoReturn:
        self.parser.fail(self.parser.start_of(node), message)

    def expect(self, node: Expr, want: ValueType, context: str) -> Expr:
        checked, got = self.check(node)
        if got != want:
            wanted, actual = _documented(want), _documented(got)
            self.fail_at(node, f"expected type {wanted} in {context}, got {actual}")
        return checked

    def check(self, node: Expr) -> tuple[Expr, ValueType]:
        handler: Callable[[_Checker, Expr], tuple[Expr, ValueType]] | None = _CHECKS.get(type(node))
        if handler is None:  # literals
            return node, "scalar" if isinstance(node, NumberLiteral) else "string"
        return handler(self, node)

    def aggregate(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, AggregateExpr)
        expr = self.expect(node.expr, "vector", "aggregation expression")
        param = node.param
        if node.op in ("topk", "bottomk", "quantile") and param is not None:
            param = self.expect(param, "scalar", "aggregation parameter")
        elif node.op == "count_values" and param is not None:
            param = self.expect(param, "string", "aggregation parameter")
        return dataclasses.replace(node, expr=expr, param=param), "vector"

    def binary(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, BinaryExpr)
        lhs, ltype = self.check(node.lhs)
        rhs, rtype = self.check(node.rhs)
        op_pos = self.parser.operator_of(node)
        matching = node.matching or VectorMatching()
        is_set = node.op in _SET_OPERATORS
        if node.return_bool and node.op not in _COMPARISONS:
            self.parser.fail(op_pos, "bool modifier can only be used on comparison operators")
        if node.op in _COMPARISONS and not node.return_bool and ltype == rtype == "scalar":
            self.parser.fail(op_pos, "comparisons between scalars must use BOOL modifier")
        if is_set and matching.card == "one-to-one":
            matching = dataclasses.replace(matching, card="many-to-many")
        if matching.on and set(matching.matching_labels) & set(matching.include):
            label = next(x for x in matching.matching_labels if x in matching.include)
            message = f"label {go_quote(label)} must not occur in ON and GROUP clause at once"
            self.parser.fail(op_pos, message)
        for side, side_type in ((node.lhs, ltype), (node.rhs, rtype)):
            if side_type not in ("scalar", "vector"):
                message = "binary expression must contain only scalar and instant vector types"
                self.fail_at(side, message)
        result: VectorMatching | None = matching
        if ltype != "vector" or rtype != "vector":
            if matching.matching_labels:
                self.fail_at(node, "vector matching only allowed between instant vectors")
            result = None
        elif is_set and matching.card in ("one-to-many", "many-to-one"):
            self.fail_at(node, f'no grouping allowed for "{node.op}" operation')
        if is_set and "scalar" in (ltype, rtype):
            self.fail_at(node, f'set operator "{node.op}" not allowed in binary scalar expression')
        checked = dataclasses.replace(node, lhs=lhs, rhs=rhs, matching=result)
        return checked, "scalar" if ltype == rtype == "scalar" else "vector"

    def call(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, Call)
        sig = FUNCTIONS[node.func]
        wanted, got, name = len(sig.arg_types), len(node.args), go_quote(node.func)
        if sig.variadic == 0 and wanted != got:
            self.fail_at(node, f"expected {wanted} argument(s) in call to {name}, got {got}")
        if sig.variadic and wanted - 1 > got:
            least = f"expected at least {wanted - 1} argument(s)"
            self.fail_at(node, f"{least} in call to {name}, got {got}")
        if sig.variadic > 0 and wanted - 1 + sig.variadic < got:
            most = wanted - 1 + sig.variadic
            self.fail_at(node, f"expected at most {most} argument(s) in call to {name}, got {got}")
        args = tuple(
            self.expect(arg, sig.arg_types[min(i, wanted - 1)], f"call to function {name}")
            for i, arg in enumerate(node.args)
        )
        return dataclasses.replace(node, args=args), sig.return_type

    def paren(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, ParenExpr)
        inner, inner_type = self.check(node.expr)
        return ParenExpr(inner), inner_type

    def unary(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, UnaryExpr)
        inner, inner_type = self.check(node.expr)
        if inner_type not in ("scalar", "vector"):
            self.fail_at(
                node,
                "unary expression only allowed on expressions of type scalar or instant vector, "
                f'got "{_documented(inner_type)}"',
            )
        return UnaryExpr(node.op, inner), inner_type

    def subquery(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, SubqueryExpr)
        inner, inner_type = self.check(node.expr)
        if inner_type != "vector":
            message = f"subquery is only allowed on instant vector, got {inner_type} instead"
            self.fail_at(node, message)
        return dataclasses.replace(node, expr=inner), "matrix"

    def matrix(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, MatrixSelector)
        self.check(node.vector)
        return node, "matrix"

    def vector(self, node: Expr) -> tuple[Expr, ValueType]:
        assert isinstance(node, VectorSelector)
        if node.name:
            for matcher in node.matchers:
                if matcher.name == METRIC_NAME:
                    self.fail_at(
                        node,
                        f"metric name must not be set twice: {go_quote(node.name)} "
                        f"or {go_quote(matcher.value)}",
                    )
        elif all(_matches_empty(matcher) for matcher in node.matchers):
            self.fail_at(node, "vector selector must contain at least one non-empty matcher")
        return node, "vector"


_CHECKS: dict[type, Callable[[_Checker, Expr], tuple[Expr, ValueType]]] = {
    AggregateExpr: _Checker.aggregate,
    BinaryExpr: _Checker.binary,
    Call: _Checker.call,
    ParenExpr: _Checker.paren,
    UnaryExpr: _Checker.unary,
    SubqueryExpr: _Checker.subquery,
    MatrixSelector: _Checker.matrix,
    VectorSelector: _Checker.vector,
}

# --------------------------------------------------------------------------------------------
# Printer (printer.go String())
# --------------------------------------------------------------------------------------------


def _modifiers(offset_seconds: float, at: AtModifier) -> str:
    text = ""
    if at in ("start", "end"):
        text = f" @ {at}()"
    elif isinstance(at, float | int):
        text = f" @ {at:.3f}"
    if offset_seconds > 0:
        text += f" offset {format_duration(offset_seconds)}"
    elif offset_seconds < 0:
        text += f" offset -{format_duration(-offset_seconds)}"
    return text


def _format_label(name: str) -> str:
    """A label name as PromQL 3 writes it: bare when it can be, else quoted."""
    return name if _is_legacy_label(name) else go_quote(name)


def _format_labels(names: tuple[str, ...]) -> str:
    return ", ".join(map(_format_label, names))


def _format_matcher(matcher: LabelMatcher) -> str:
    if matcher.name == METRIC_NAME and matcher.op == "=" and not _is_legacy_metric(matcher.value):
        return go_quote(matcher.value)  # `{"http.requests"}`
    return f"{_format_label(matcher.name)}{matcher.op}{go_quote(matcher.value)}"


def _format_selector(node: VectorSelector) -> str:
    name = node.name or ""
    if not node.matchers:
        return name or "{}"
    return f"{name}{{{','.join(map(_format_matcher, node.matchers))}}}"


def _format_matching(node: BinaryExpr) -> str:
    matching = node.matching
    if matching is None:
        return ""
    grouped = matching.card in ("many-to-one", "one-to-many")
    if not (matching.matching_labels or matching.on or grouped):
        return ""
    text = f" {'on' if matching.on else 'ignoring'} ({_format_labels(matching.matching_labels)})"
    if grouped:
        side = "left" if matching.card == "many-to-one" else "right"
        text += f" group_{side} ({_format_labels(matching.include)})"
    return text


def format_expr(expr: Expr) -> str:
    """A canonical single-line form, like Prometheus' `Expr.String()`.

    Differences from Prometheus, all so that `parse(format_expr(e)) == e` for any parsed `e`:
    label matchers keep their written order (Prometheus sorts them), `{__name__=""}` and
    `ignoring() group_left` are kept, and +Inf is printed `Inf`. Names that are not plain
    identifiers are quoted as Prometheus 3 prints them: `{"a.b", "c.d"="x"}`, `by ("a.b")`.
    """
    match expr:
        case NumberLiteral(value=value):
            # Go prints "+Inf", which would re-parse as a unary plus (wrong in front of `^`).
            return "Inf" if value == math.inf else go_float(value)
        case StringLiteral(value=value):
            return go_quote(value)
        case VectorSelector():
            return _format_selector(expr) + _modifiers(expr.offset_seconds, expr.at)
        case MatrixSelector(vector=vector, range_seconds=range_seconds):
            modifiers = _modifiers(vector.offset_seconds, vector.at)
            return f"{_format_selector(vector)}[{format_duration(range_seconds)}]{modifiers}"
        case SubqueryExpr():
            step = format_duration(expr.step_seconds) if expr.step_seconds else ""
            window = f"[{format_duration(expr.range_seconds)}:{step}]"
            return format_expr(expr.expr) + window + _modifiers(expr.offset_seconds, expr.at)
        case Call(func=func, args=args):
            return f"{func}({', '.join(format_expr(arg) for arg in args)})"
        case AggregateExpr():
            head = expr.op
            if expr.without or expr.grouping:
                keyword = "without" if expr.without else "by"
                head += f" {keyword} ({_format_labels(expr.grouping)}) "
            param = "" if expr.param is None else format_expr(expr.param) + ", "
            return f"{head}({param}{format_expr(expr.expr)})"
        case BinaryExpr():
            bool_text = " bool" if expr.return_bool else ""
            return (
                f"{format_expr(expr.lhs)} {expr.op}{bool_text}{_format_matching(expr)} "
                f"{format_expr(expr.rhs)}"
            )
        case UnaryExpr(op=op, expr=inner):
            return op + format_expr(inner)
        case ParenExpr(expr=inner):
            return f"({format_expr(inner)})"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Expr:
    try:
        return _Parser(text).parse()
    except RecursionError:
        raise PromQLSyntaxError("1:1: parse error: expression nests too deeply") from None


def parse(expr: str) -> Expr:
    """Parse and type-check a PromQL expression like Prometheus 3.10's `parser.ParseExpr`.

    Raises `PromQLSyntaxError` with Prometheus' message, e.g.
    `1:45: parse error: unexpected end of input`.
    """
    return _parse_cached(expr)


def value_type(expr: Expr) -> ValueType:
    """The type `expr` evaluates to."""
    match expr:
        case NumberLiteral():
            return "scalar"
        case StringLiteral():
            return "string"
        case VectorSelector() | AggregateExpr():
            return "vector"
        case MatrixSelector() | SubqueryExpr():
            return "matrix"
        case Call(func=func):
            signature = FUNCTIONS.get(func)
            return signature.return_type if signature else "vector"
        case BinaryExpr(lhs=lhs, rhs=rhs):
            both_scalar = value_type(lhs) == value_type(rhs) == "scalar"
            return "scalar" if both_scalar else "vector"
        case UnaryExpr(expr=inner) | ParenExpr(expr=inner):
            return value_type(inner)
