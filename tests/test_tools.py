"""The tool helper: a missing program fails the test under CI and skips it elsewhere."""

from __future__ import annotations

import pytest

from .tools import require_tool

MISSING = "slogate-no-such-tool"


def test_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"{MISSING} is not installed.*CI is set"):
        require_tool(MISSING)


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{MISSING} is not installed"):
        require_tool(MISSING)


def test_first_installed_alternative_is_returned() -> None:
    assert require_tool(MISSING, "sh").endswith("/sh")
