"""HMAC-SHA256 body signatures in GitHub's `sha256=<hex>` form: what slogate's webhook sink
sends (`X-Slogate-Signature-256`) and what GitHub's webhooks carry (`X-Hub-Signature-256`)."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `body` under `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is `body`'s signature under `secret`, compared in constant time."""
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
