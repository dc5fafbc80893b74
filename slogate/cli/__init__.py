"""The `slogate` command: serve, validate, check, generate, status, demo."""

from __future__ import annotations

from slogate.cli.main import main

__all__ = ["main"]
