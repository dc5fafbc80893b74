"""The one SQL text per statement, as each driver takes it (no I/O: the store suites run them)."""

from __future__ import annotations

import re

import pytest

from slogate.store import statements
from slogate.store.statements import POSTGRESQL, SQLITE, render


def test_postgresql_gets_percent_placeholders_and_its_row_locks() -> None:
    text = "SELECT a FROM t WHERE b = ? AND c LIKE 'x%' LIMIT ? [[FOR UPDATE SKIP LOCKED]]"
    assert render(POSTGRESQL, text) == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' LIMIT %s FOR UPDATE SKIP LOCKED"
    )
    assert render(SQLITE, text) == "SELECT a FROM t WHERE b = ? AND c LIKE 'x%' LIMIT ?"


def test_a_question_mark_in_a_literal_is_refused() -> None:
    with pytest.raises(ValueError, match="string literal"):
        render(POSTGRESQL, "SELECT 1 FROM t WHERE a = 'why?' AND b = ?")


def test_every_shared_text_has_as_many_placeholders_in_both_dialects() -> None:
    texts = [v for k, v in vars(statements).items() if k.isupper() and isinstance(v, str)]
    texts += list(statements.PRUNE.values())
    assert len(texts) > 40
    for text in texts:
        sqlite, postgresql = render(SQLITE, text), render(POSTGRESQL, text)
        assert "[[" not in sqlite + postgresql and "FOR UPDATE" not in sqlite
        assert sqlite.count("?") == postgresql.count("%s") == text.count("?")
        assert (
            re.sub(r"\s*FOR (UPDATE|SHARE)( OF o)?( SKIP LOCKED)?", "", postgresql).replace(
                "%s", "?"
            )
            == sqlite
        ), text


def test_the_migrations_differ_only_in_column_types() -> None:
    sqlite, postgresql = statements.migrations(SQLITE), statements.migrations(POSTGRESQL)
    assert len(sqlite) == len(postgresql) == 4
    assert "AUTOINCREMENT" in sqlite[0] and "IDENTITY" in postgresql[0]
    for mine, theirs in zip(sqlite, postgresql, strict=True):
        swapped = (
            theirs.replace(POSTGRESQL.serial, SQLITE.serial)
            .replace(POSTGRESQL.real, SQLITE.real)
            .replace(POSTGRESQL.bigint, SQLITE.bigint)
        )
        assert swapped == mine
