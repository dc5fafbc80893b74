"""GitHub App authentication: the JWT, the installation-token exchange (httpx.MockTransport
playing api.github.com), caching and refresh, and fixed tokens read again from their file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from slogate.config import GitHubConfig
from slogate.errors import ConfigError, GitHubAuthError
from slogate.server.github_auth import AppTokens, StaticToken, app_jwt, app_key, github_credentials

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
NOW = 1_800_000_000.0


def verified_claims(token: str, public: rsa.RSAPublicKey) -> dict[str, Any]:
    """The JWT's claims once PyJWT, an independent implementation, has verified its RS256
    signature, its issuer and that every claim GitHub requires is there. Times are checked by
    the callers against their own clock (PyJWT would use the wall clock)."""
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    claims: dict[str, Any] = jwt.decode(
        token,
        public,
        algorithms=["RS256"],
        issuer="123456",
        options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
    )
    return claims


def test_the_app_jwt_is_signed_with_the_app_key_and_short_lived() -> None:
    claims = verified_claims(app_jwt("123456", KEY, NOW), KEY.public_key())
    assert claims == {"iat": NOW - 60, "exp": NOW + 540, "iss": "123456"}
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):  # another app's key
        verified_claims(app_jwt("123456", KEY, NOW), other.public_key())
    with pytest.raises(jwt.InvalidIssuerError):  # another app's id
        verified_claims(app_jwt("654321", KEY, NOW), KEY.public_key())


class FakeGitHub:
    """`POST /app/installations/{id}/access_tokens` as GitHub answers it (201, token and expiry),
    checking the JWT against the app's public key."""

    def __init__(self, status: int = 201, lifetime: float = 3600) -> None:
        self.status, self.lifetime = status, lifetime
        self.requests: list[httpx.Request] = []
        self.clock = NOW

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.method == "POST"
        assert request.headers["Accept"] == "application/vnd.github+json"
        scheme, _, token = request.headers["Authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = verified_claims(token, KEY.public_key())
        assert claims["iss"] == "123456" and claims["iat"] <= self.clock < claims["exp"]
        if self.status != 201:
            return httpx.Response(self.status, json={"message": "Bad credentials"})
        installation = request.url.path.split("/")[3]
        expires = self.clock + self.lifetime
        stamp = f"{datetime.fromtimestamp(expires, UTC):%Y-%m-%dT%H:%M:%SZ}"
        return httpx.Response(
            201, json={"token": f"ghs_{installation}_{len(self.requests)}", "expires_at": stamp}
        )

    def tokens(self) -> AppTokens:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return AppTokens(
            "https://api.github.test", "123456", KEY, lambda: client, clock=lambda: self.clock
        )


async def test_an_installation_token_is_exchanged_once_and_kept_until_near_expiry() -> None:
    github = FakeGitHub()
    tokens = github.tokens()
    assert await tokens.token(99999) == "ghs_99999_1"
    assert github.requests[0].url == "https://api.github.test/app/installations/99999/access_tokens"
    github.clock += 3600 - 301  # still more than five minutes left
    assert await tokens.token(99999) == "ghs_99999_1"
    assert await tokens.token(42) == "ghs_42_2"  # each installation its own token
    github.clock += 2  # under five minutes left: replaced before it expires
    assert await tokens.token(99999) == "ghs_99999_3"
    assert len(github.requests) == 3


async def test_concurrent_calls_share_one_exchange() -> None:
    github = FakeGitHub()
    tokens = github.tokens()
    got = await asyncio.gather(*(tokens.token(7) for _ in range(20)))
    assert set(got) == {"ghs_7_1"} and len(github.requests) == 1


async def test_refused_exchange_is_an_error_without_the_jwt() -> None:
    github = FakeGitHub(status=401)
    tokens = github.tokens()
    with pytest.raises(GitHubAuthError, match="installation 5: GitHub answered HTTP 401") as error:
        await tokens.token(5)
    jwt = github.requests[0].headers["Authorization"].split()[1]
    assert jwt not in str(error.value) and "BEGIN" not in str(error.value)
    with pytest.raises(GitHubAuthError, match=r"no installation \(installation.id\)"):
        await tokens.token(None)


async def test_a_fixed_token_file_is_read_again_on_every_use(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("ghs_first\n")
    token = StaticToken("at-start", "SLOGATE_TEST_UNSET_TOKEN", str(path))
    assert await token.token(None) == "ghs_first"
    path.write_text("ghs_refreshed\n")  # a sidecar renewed it
    assert await token.token(None) == "ghs_refreshed"
    path.unlink()
    with pytest.raises(GitHubAuthError, match="cannot read"):
        await token.token(None)
    assert await StaticToken("at-start").token(None) == "at-start"


def test_an_app_needs_its_id_and_a_readable_rsa_key() -> None:
    assert app_key(GitHubConfig(), "") is None
    assert app_key(GitHubConfig(app_id="123456"), PEM) is not None
    with pytest.raises(ConfigError, match=r"needs both github\.app_id and its private key"):
        app_key(GitHubConfig(app_id="123456"), "")
    with pytest.raises(ConfigError, match="needs both"):
        app_key(GitHubConfig(), PEM)
    with pytest.raises(ConfigError, match=r"key\.pem: GitHub App private key is not a PEM") as bad:
        app_key(GitHubConfig(app_id="1", private_key_file="key.pem"), "-----BEGIN nonsense")
    assert "nonsense" not in str(bad.value)
    client = httpx.AsyncClient()
    chosen = github_credentials(GitHubConfig(app_id="1"), PEM, "", lambda: client)
    assert isinstance(chosen, AppTokens)
    assert isinstance(github_credentials(GitHubConfig(), "", "t", lambda: client), StaticToken)
