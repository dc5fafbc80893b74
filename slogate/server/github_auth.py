"""Credentials for GitHub's API: a GitHub App's installation tokens, or a token from env or file.

Custom deployment protection rules are GitHub Apps. To review a run, the app signs a JWT with its
private key (RS256, `iss` = the app's id or client id, valid for at most 10 minutes), exchanges it
at `POST /app/installations/{id}/access_tokens` for an installation token (valid for an hour),
and calls back with that. The installation comes from each webhook's `installation.id`. Tokens are
kept per installation until five minutes before they expire; one exchange at a time per
installation. Without an app, a fixed token from `SLOGATE_GITHUB_TOKEN`, or from a file read
again on every use (so a sidecar may refresh it).

No token, JWT or key ever reaches a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from slogate.config import GitHubConfig
from slogate.errors import ConfigError, GitHubAuthError

if TYPE_CHECKING:  # cryptography (~5 MB) is loaded only where an app key is configured
    from cryptography.hazmat.primitives.asymmetric import rsa

JWT_BACKDATE = 60
"""Seconds `iat` is set in the past, for clock drift (as GitHub advises)."""
JWT_LIFETIME = 540
"""Seconds a JWT is valid after now (GitHub accepts at most 600 after `iat`)."""
REFRESH_BEFORE = 300
"""An installation token is replaced this many seconds before it expires."""


class GitHubCredentials(Protocol):
    async def token(self, installation_id: int | None) -> str:
        """A token for calls on behalf of `installation_id` (from the webhook), or ""."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(pem: str, source: str) -> rsa.RSAPrivateKey:
    """The app's RSA private key from PEM text; errors name `source`, never the key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = "encrypted" if isinstance(exc, TypeError) else "not a PEM private key"
        raise ConfigError(f"{source}: GitHub App private key is {reason}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{source}: GitHub App private key must be RSA (RS256)")
    return key


def app_jwt(app_id: str, key: rsa.RSAPrivateKey, now: float) -> str:
    """The JWT that authenticates as the app itself."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = _b64(b'{"alg":"RS256","typ":"JWT"}')
    issued = int(now) - JWT_BACKDATE
    claims = {"iat": issued, "exp": int(now) + JWT_LIFETIME, "iss": app_id}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64(signature)}"


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


class AppTokens:
    """Installation tokens of a GitHub App."""

    def __init__(
        self,
        api_url: str,
        app_id: str,
        key: rsa.RSAPrivateKey,
        client: Callable[[], httpx.AsyncClient],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.app_id = app_id
        self._key = key
        self._client = client
        self._clock = clock
        self._tokens: dict[int, _Token] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"AppTokens(app_id={self.app_id!r})"

    async def token(self, installation_id: int | None) -> str:
        if installation_id is None:
            raise GitHubAuthError("the webhook names no installation (installation.id)")
        async with self._locks.setdefault(installation_id, asyncio.Lock()):
            known = self._tokens.get(installation_id)
            if known is None or self._clock() >= known.expires_at - REFRESH_BEFORE:
                known = self._tokens[installation_id] = await self._exchange(installation_id)
            return known.value

    async def _exchange(self, installation_id: int) -> _Token:
        url = f"{self.api_url}/app/installations/{installation_id}/access_tokens"
        jwt = app_jwt(self.app_id, self._key, self._clock())
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {jwt}",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        what = f"installation token for installation {installation_id}"
        try:
            response = await self._client().post(url, headers=headers)
        except httpx.HTTPError as exc:
            raise GitHubAuthError(f"{what}: {type(exc).__name__}") from None
        if response.status_code != 201:
            raise GitHubAuthError(f"{what}: GitHub answered HTTP {response.status_code}")
        try:
            payload = response.json()
            value, expires = payload["token"], payload["expires_at"]
            expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise GitHubAuthError(f"{what}: unexpected answer from GitHub") from None
        if not isinstance(value, str) or not value:
            raise GitHubAuthError(f"{what}: unexpected answer from GitHub")
        return _Token(value, expires_at)


class StaticToken:
    """A fixed token: the environment variable `env` if set, else the file `path` read again on
    every use (a sidecar may refresh it), else `token`."""

    def __init__(self, token: str, env: str = "", path: str = "") -> None:
        self._token, self.env, self.path = token, env, path

    def __repr__(self) -> str:
        return f"StaticToken(env={self.env!r}, path={self.path!r})"

    async def token(self, installation_id: int | None) -> str:
        if self.env and (value := os.environ.get(self.env, "").strip()):
            return value
        if not self.path:
            return self._token
        try:
            return (await asyncio.to_thread(Path(self.path).read_text, encoding="utf-8")).strip()
        except OSError as exc:
            raise GitHubAuthError(f"cannot read {self.path}: {exc.strerror}") from None


def app_key(config: GitHubConfig, private_key: str) -> rsa.RSAPrivateKey | None:
    """The GitHub App's key, when `config.app_id` and `private_key` are both set; a
    `ConfigError` when only one is."""
    if not (config.app_id or private_key):
        return None
    if not (config.app_id and private_key):
        raise ConfigError(
            "github: a GitHub App needs both github.app_id and its private key"
            " (github.private_key_file or SLOGATE_GITHUB_APP_PRIVATE_KEY)"
        )
    return load_private_key(
        private_key, config.private_key_file or "SLOGATE_GITHUB_APP_PRIVATE_KEY"
    )


def github_credentials(
    config: GitHubConfig, private_key: str, token: str, client: Callable[[], httpx.AsyncClient]
) -> GitHubCredentials:
    """The app's installation tokens when it is configured, else the fixed `token` (from env, or
    `config.token_file` read again on each use)."""
    key = app_key(config, private_key)
    if key is not None:
        return AppTokens(config.api_url, config.app_id, key, client)
    return StaticToken(token, "SLOGATE_GITHUB_TOKEN", config.token_file)
