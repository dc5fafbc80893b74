"""Token buckets (exact arithmetic on a given clock) and scoped tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from slogate.core.ratelimit import RateLimiter
from slogate.server.access import route_class
from slogate.server.auth import AdminTokens


def test_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("a", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 100.0) == pytest.approx(0.5)  # one token more in 1/2 s
    assert limiter.take("a", 100.25) == pytest.approx(0.25)
    assert limiter.take("a", 100.5) == 0.0
    assert limiter.take("b", 100.5) == 0.0  # each client its own bucket
    assert limiter.take("a", 110.0) == 0.0  # refilled, never past the burst
    assert [limiter.take("a", 110.0) for _ in range(3)][-1] == pytest.approx(0.5)


def test_buckets_are_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=3)
    for n in range(10):
        limiter.take(f"peer{n}", 0.0)
    assert len(limiter) == 3
    assert limiter.take("peer9", 0.0) == pytest.approx(1.0)  # the most recent are the kept


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/v1/gate", "gate"),
        ("POST", "/v1/gate/flagger/rollback", "gate"),
        ("POST", "/v1/canary", "gate"),
        ("POST", "/v1/deployments", "gate"),
        ("GET", "/v1/deployments", "read"),
        ("POST", "/v1/gate/github", None),
        ("GET", "/v1/slos/checkout/availability", "read"),
        ("GET", "/v1/decisions", "read"),
        ("GET", "/", "read"),
        ("GET", "/healthz", None),
        ("GET", "/metrics", None),
        ("POST", "/v1/freezes", None),
    ],
)
def test_route_classes(method: str, path: str, kind: str | None) -> None:
    assert route_class(method, path) == kind


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("HEAD", "/v1/gate", "gate"),  # aiohttp serves HEAD with the GET route
        ("GET", "/canary/some-execution", "gate"),
        ("GET", "/canaryConfig", "gate"),
        ("GET", "/v1/deployments/checkout/github:org/repo@abc", "read"),  # {deploy_id:.+}
        ("GET", "/v1/slos/check%2Fout/availability", "read"),  # aiohttp's path_safe
        ("GET", "/slos/checkout/availability", "read"),
        ("GET", "/v1/incidents/history", "read"),
        ("POST", "/v1/webhooks/flagger/event", None),
        ("DELETE", "/v1/freezes/f1", None),
        ("GET", "/v1/gate/nope", None),  # no route: aiohttp's 404, open as /healthz
        ("DELETE", "/v1/gate", None),  # no route for the method: 405
    ],
)
def test_route_classes_come_from_the_route_table(method: str, path: str, kind: str | None) -> None:
    assert route_class(method, path) == kind


def test_token_file_scopes_and_the_old_format(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(
        "ci:pipeline:ci-token-0123456789abcdef\n"
        "grafana:read,pipeline:read-token-0123456789ab\n"
        "ops:ops-token-0123456789abcdef\n"  # name:token, as before scopes: admin
        "odd:nope:colon-token-0123456789\n"  # not a scope: the token holds a colon
    )
    tokens = AdminTokens.load(str(tokens_file), environ={})
    assert tokens.verify("ci-token-0123456789abcdef", "pipeline") == "ci"
    assert tokens.verify("ci-token-0123456789abcdef", "read") is None
    assert tokens.verify("ci-token-0123456789abcdef") is None  # not an admin
    assert tokens.verify("read-token-0123456789ab", "read") == "grafana"
    assert tokens.verify("ops-token-0123456789abcdef", "read") == "ops"  # admin: every scope
    assert tokens.verify("ops-token-0123456789abcdef") == "ops"
    assert tokens.verify("nope:colon-token-0123456789") == "odd"
