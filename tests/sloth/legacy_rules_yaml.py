"""The hand-written yaml.v2 emitter slogate shipped before PyYAML's, kept as a test oracle.

Not shipped: the differential tests in `test_rules_yaml.py` compare its output with the PyYAML
path on every Sloth golden and on generated rule groups, until it is deleted. It re-implements
the parts of yaml.v2's libyaml-derived emitter that rule files use: block mappings and sequences
(sequences not indented under their key, 2-space indent), the scalar style ladder (plain →
single-quoted → double-quoted, literal `|` blocks for multi-line strings, double quotes for
strings that would read back as another type), and folding of long scalars at a space once past
column 80. Go's scalar resolution (`needs_double_quotes`) is the shipped module's.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from slogate.sloth.rules_yaml import YAMLNode, needs_double_quotes

# --- Scalar analysis (libyaml's yaml_emitter_analyze_scalar) --------------------------------------

_BREAKS = frozenset("\r\n\x85\u2028\u2029")
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (
        ch == "\n"
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
    )


@dataclass(frozen=True, slots=True)
class ScalarAnalysis:
    multiline: bool
    plain_allowed: bool
    single_quoted_allowed: bool
    block_allowed: bool


def _indicators(text: str) -> bool:
    """Does `text` hold a block indicator that forbids the plain style?"""
    if text.startswith(("---", "...")):
        return True
    preceded_by_space = True
    for i, ch in enumerate(text):
        followed_by_space = i + 1 >= len(text) or text[i + 1] in " \t"
        if i == 0 and (ch in _FIRST_INDICATORS or (ch in "?:-" and followed_by_space)):
            return True
        if i > 0 and ((ch == ":" and followed_by_space) or (ch == "#" and preceded_by_space)):
            return True
        preceded_by_space = ch in " \t\0" or ch in _BREAKS
    return False


def analyze_scalar(text: str) -> ScalarAnalysis:
    """Which styles can write `text` (block context, yaml.v2 with unicode output)."""
    if not text:
        return ScalarAnalysis(False, True, True, False)
    line_breaks = any(ch in _BREAKS for ch in text)
    special = any(not _printable(ch) for ch in text)
    space_break = any(a == " " and b in _BREAKS for a, b in itertools.pairwise(text))
    break_space = any(a in _BREAKS and b == " " for a, b in itertools.pairwise(text))
    edge_space = text[0] == " " or text[-1] == " "
    edge_break = text[0] in _BREAKS or text[-1] in _BREAKS
    unsafe_quotes = space_break or special
    return ScalarAnalysis(
        multiline=line_breaks,
        plain_allowed=not (edge_space or edge_break or break_space or unsafe_quotes or line_breaks)
        and not _indicators(text),
        single_quoted_allowed=not (break_space or unsafe_quotes),
        block_allowed=not (text[-1] == " " or unsafe_quotes),
    )


# --- The emitter ----------------------------------------------------------------------------------

BEST_WIDTH: Final = 80
INDENT: Final = 2
_ESCAPES: Final[Mapping[str, str]] = {
    "\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}  # fmt: skip


class _Emitter:
    """Writes block-style YAML with libyaml's column and whitespace bookkeeping."""

    def __init__(self) -> None:
        self._out: list[str] = []
        self._column = 0
        self._whitespace = True
        self._indention = True

    def text(self) -> str:
        return "".join(self._out)

    # Low-level writes.

    def _put(self, text: str) -> None:
        self._out.append(text)
        self._column += len(text)

    def _put_break(self) -> None:
        self._out.append("\n")
        self._column = 0

    def _write_break(self, ch: str) -> None:
        """A line break of the value itself; any break character starts a new line."""
        self._out.append("\n" if ch == "\n" else ch)
        self._column = 0
        self._indention = True

    def _write_indent(self, indent: int) -> None:
        if (
            not self._indention
            or self._column > indent
            or (self._column == indent and not self._whitespace)
        ):
            self._put_break()
        if self._column < indent:
            self._put(" " * (indent - self._column))
        self._whitespace = True
        self._indention = True

    def _indicator(self, text: str, *, need_space: bool, is_space: bool = False) -> None:
        if need_space and not self._whitespace:
            self._put(" ")
        self._put(text)
        self._whitespace = is_space
        self._indention = False

    # Structure.

    def document(self, node: YAMLNode) -> None:
        self._node(node, indent=-INDENT, in_mapping=False)
        self._write_indent(0)

    def _node(self, node: YAMLNode, indent: int, *, in_mapping: bool) -> None:
        if isinstance(node, str):
            self._scalar(node, indent + INDENT, simple_key=False)
        elif isinstance(node, Mapping):
            self._mapping(node, indent + INDENT)
        else:
            self._sequence(node, indent if in_mapping and indent >= 0 else indent + INDENT)

    def _mapping(self, node: Mapping[str, YAMLNode], indent: int) -> None:
        if not node:
            self._indicator("{}", need_space=True)
            return
        for key, value in node.items():
            self._write_indent(indent)
            self._scalar(key, indent + INDENT, simple_key=True)
            self._indicator(":", need_space=False)
            self._node(value, indent, in_mapping=True)

    def _sequence(self, node: Sequence[YAMLNode], indent: int) -> None:
        if not node:
            self._indicator("[]", need_space=True)
            return
        for item in node:
            self._write_indent(indent)
            self._indicator("-", need_space=True)
            self._indention = True
            self._node(item, indent, in_mapping=False)

    # Scalars.

    def _scalar(self, text: str, indent: int, *, simple_key: bool) -> None:
        analysis = analyze_scalar(text)
        style = _requested_style(text)
        if simple_key and analysis.multiline:
            style = '"'
        if style == "" and not analysis.plain_allowed:
            style = "'"
        if style == "'" and not analysis.single_quoted_allowed:
            style = '"'
        if style == "|" and (not analysis.block_allowed or simple_key):
            style = '"'
        folding = not simple_key
        if style == "":
            self._plain(text, indent, folding)
        elif style == "'":
            self._single_quoted(text, indent, folding)
        elif style == '"':
            self._double_quoted(text, indent, folding)
        else:
            self._literal(text, indent)

    def _fold_here(self, text: str, i: int, spaces: bool, folding: bool) -> bool:
        return (
            folding
            and not spaces
            and self._column > BEST_WIDTH
            and 0 < i < len(text) - 1
            and text[i + 1] != " "
        )

    def _plain(self, text: str, indent: int, folding: bool) -> None:
        if not self._whitespace:
            self._put(" ")
        spaces = False
        for i, ch in enumerate(text):
            if ch == " " and self._fold_here(text, i, spaces, folding):
                self._write_indent(indent)
            else:
                self._put(ch)
            spaces = ch == " "
        self._whitespace = False
        self._indention = False

    def _single_quoted(self, text: str, indent: int, folding: bool) -> None:
        self._indicator("'", need_space=True)
        spaces = breaks = False
        for i, ch in enumerate(text):
            if ch in _BREAKS:  # only U+2028/U+2029 get here: the others need double quotes
                self._write_break(ch)
                breaks = True
                continue
            if breaks:
                self._write_indent(indent)
            if ch == " " and self._fold_here(text, i, spaces, folding):
                self._write_indent(indent)
            else:
                self._put("''" if ch == "'" else ch)
            spaces, breaks = ch == " ", False
        self._indicator("'", need_space=False)

    def _double_quoted(self, text: str, indent: int, folding: bool) -> None:
        self._indicator('"', need_space=True)
        spaces = False
        for i, ch in enumerate(text):
            if not _printable(ch) or ch in _BREAKS or ch in '"\\\ufeff':
                self._put("\\" + _escape(ch))
                spaces = False
                continue
            folds = ch == " " and folding and not spaces and self._column > BEST_WIDTH
            if folds and 0 < i < len(text) - 1:
                self._write_indent(indent)
                if text[i + 1] == " ":
                    self._put("\\")
            else:
                self._put(ch)
            spaces = ch == " "
        self._indicator('"', need_space=False)

    def _literal(self, text: str, indent: int) -> None:
        self._indicator("|" + _block_hints(text), need_space=True)
        self._put_break()
        self._indention = True
        self._whitespace = True
        breaks = True
        for ch in text:
            if ch in _BREAKS:
                self._write_break(ch)
                breaks = True
            else:
                if breaks:
                    self._write_indent(indent)
                self._put(ch)
                self._indention = False
                breaks = False


def _requested_style(text: str) -> str:
    """yaml.v2 `stringv`: `|` if multi-line, `"` if the plain form reads back as another type."""
    if "\n" in text:
        return "|"
    return '"' if needs_double_quotes(text) else ""


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"x{code:02X}"
    if code <= 0xFFFF:
        return f"u{code:04X}"
    return f"U{code:08X}"


def _block_hints(text: str) -> str:
    """Indentation and chomping indicators of a literal block (`|2-`, `|-`, `|+`)."""
    hints = str(INDENT) if text[:1] == " " or text[:1] in _BREAKS else ""
    if not text or text[-1] not in _BREAKS:
        return hints + "-"
    if len(text) == 1 or text[-2] in _BREAKS:
        return hints + "+"
    return hints


def dump(node: YAMLNode) -> str:
    """`node` as yaml.v2's `Marshal` writes it (mappings in the order given)."""
    emitter = _Emitter()
    emitter.document(node)
    return emitter.text()
