"""Which store a configuration selects: SQLite (`store.path`) or PostgreSQL (`store.url`)."""

from __future__ import annotations

from pathlib import Path

from slogate.config import StoreConfig
from slogate.store.base import Store
from slogate.store.diskguard import DiskGuard
from slogate.store.postgresql import PostgreSQLStore
from slogate.store.sqlite import SQLiteStore

PASSWORD_ENV = "SLOGATE_STORE_PASSWORD"  # noqa: S105 (a variable's name)
"""Where the PostgreSQL password comes from (else `store.password_file`, else libpq's own
PGPASSWORD or ~/.pgpass)."""


def is_store_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def store_from_config(config: StoreConfig, password: str, guard: DiskGuard | None = None) -> Store:
    """The store `config` selects, not yet open; `password` is for PostgreSQL ("" for libpq's),
    `guard` the free-space floor of a SQLite file."""
    if config.url:
        return PostgreSQLStore(
            config.url, password=password, timeout=config.timeout, pool_size=config.pool_size
        )
    return SQLiteStore(Path(config.path), guard=guard)


def describe(config: StoreConfig) -> str:
    """The store for logs: a URL never carries a password (the config refuses one)."""
    return config.url or f"sqlite:///{Path(config.path).resolve()}"
