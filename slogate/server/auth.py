"""Admin tokens: named bearer tokens from the environment or a file, compared in constant time.

`SLOGATE_ADMIN_TOKEN` holds one token (named `admin`); a token file holds one token per line,
either bare or as `name:token`. Tokens never reach a log line; the name identifies the actor in
the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from slogate.errors import ConfigError
from slogate.telemetry.logs import register_secret

ENV_TOKEN = "SLOGATE_ADMIN_TOKEN"  # noqa: S105 (the variable's name)
MIN_TOKEN_LENGTH = 16


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class AdminTokens:
    """The set of admin tokens; `verify` spends the same time whatever the presented token."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        for name, token in tokens.items():
            register_secret(token)
            if len(token) < MIN_TOKEN_LENGTH:
                raise ConfigError(
                    f"admin token {name!r} is shorter than {MIN_TOKEN_LENGTH} characters"
                )
        # Compare fixed-length digests so neither length nor prefix of a token leaks by timing.
        self._digests = [(name, _digest(token)) for name, token in tokens.items()]

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def verify(self, presented: str) -> str | None:
        """The name of the matching token, or None. Every token is compared, always."""
        candidate = _digest(presented)
        found = None
        for name, digest in self._digests:
            if hmac.compare_digest(candidate, digest) and found is None:
                found = name
        return found

    def __repr__(self) -> str:
        return f"AdminTokens({len(self._digests)} configured)"

    @classmethod
    def load(cls, token_file: str = "", environ: Mapping[str, str] | None = None) -> AdminTokens:
        env = os.environ if environ is None else environ
        tokens: dict[str, str] = {}
        if token := env.get(ENV_TOKEN, "").strip():
            tokens["admin"] = token
        if token_file:
            try:
                lines = Path(token_file).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read admin token file {token_file}: {exc.strerror}"
                ) from None
            for number, raw in enumerate(lines, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                name, sep, token = line.partition(":")
                if not sep:
                    name, token = f"token{number}", line
                if name in tokens:
                    raise ConfigError(f"{token_file}:{number}: admin token name {name!r} repeated")
                tokens[name.strip()] = token.strip()
        return cls(tokens)


@dataclass(frozen=True, slots=True)
class Secrets:
    """Secrets of the integrations, read from env or files at start; never logged."""

    github_webhook_secret: str = ""
    github_token: str = ""
    github_private_key: str = ""
    """The GitHub App's private key (PEM)."""

    def __repr__(self) -> str:
        return "Secrets(***)"
