from __future__ import annotations

import hmac
import logging
from pathlib import Path

import pytest

from slogate.errors import ConfigError
from slogate.server.auth import AdminTokens

TOKEN = "s3cret-token-for-alice-0001"


def test_verify_returns_the_tokens_name() -> None:
    tokens = AdminTokens({"alice": TOKEN, "bob": "another-token-of-bob-0002"})
    assert tokens.verify(TOKEN) == "alice"
    assert tokens.verify("another-token-of-bob-0002") == "bob"
    assert tokens.verify(TOKEN[:-1]) is None
    assert tokens.verify(TOKEN + "x") is None
    assert tokens.verify("") is None


def test_compares_fixed_length_digests_of_every_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constant time: hmac.compare_digest over equal-length SHA-256 digests, for every token,
    # whether or not an earlier one matched — no early exit on a prefix or a match.
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    tokens = AdminTokens({"alice": TOKEN, "bob": "another-token-of-bob-0002"})
    for presented in (TOKEN, "x", TOKEN[:5], "y" * 500):
        calls.clear()
        tokens.verify(presented)
        assert calls == [(32, 32), (32, 32)]


def test_load_from_env_and_file(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("# admins\nci:ci-pipeline-token-00001\nbare-token-without-a-name-1\n\n")
    tokens = AdminTokens.load(str(file), {"SLOGATE_ADMIN_TOKEN": TOKEN})
    assert tokens.verify(TOKEN) == "admin"
    assert tokens.verify("ci-pipeline-token-00001") == "ci"
    assert tokens.verify("bare-token-without-a-name-1") == "token3"
    assert not AdminTokens.load("", {}).configured


def test_short_tokens_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as info:
        AdminTokens({"alice": "short"})
    assert "short" not in str(info.value).replace("shorter", "")


def test_tokens_never_appear_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    tokens = AdminTokens({"alice": TOKEN})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("tokens: %r %s", tokens, tokens)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(tokens)
