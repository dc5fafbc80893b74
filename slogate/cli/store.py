"""`slogate store migrate` and `slogate store copy`: the store's schema and history, for operators.

`migrate` brings the configured store (`--store`, or `store.*` of `--config`) to this version's
schema and exits: for deployments that run migrations as a job before the replicas (which
otherwise migrate on start, once, under a lock). `copy --from sqlite:///PATH --to
postgresql://…` moves a single node's history into the shared store; it can be run again and
prints per table what it read and what was new. Passwords come from SLOGATE_STORE_PASSWORD,
`--password-file` (or `store.password_file`) or PGPASSWORD, never from a URL.

The stores (and PostgreSQL's driver) are imported by the commands, not with the module: every
`slogate` command builds this parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from slogate.errors import ConfigError

if TYPE_CHECKING:
    from slogate.config import StoreConfig

EXIT_OK = 0
SQLITE_PREFIX = "sqlite://"


def store_override(value: str | None) -> dict[str, str | None]:
    """`--store` as config overrides: a postgresql:// URL sets `store.url`, else `store.path`."""
    from slogate.store.factory import is_store_url

    if value and is_store_url(value):
        return {"store.url": value}
    return {"store.path": value}


def _store_config(args: argparse.Namespace) -> StoreConfig:
    from slogate.config import parse_config

    text = Path(args.config).read_text(encoding="utf-8") if args.config else ""
    overrides = {k: v for k, v in store_override(args.store).items() if v is not None}
    return parse_config(text, args.config or "--store", overrides).store


def _password(password_file: str) -> str:
    from slogate.server.app import read_secret
    from slogate.store.factory import PASSWORD_ENV

    return read_secret(PASSWORD_ENV, password_file)


def cmd_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from slogate.store.factory import describe, store_from_config
    from slogate.store.postgresql import MIGRATIONS

    config = _store_config(args)
    store = store_from_config(config, _password(args.password_file or config.password_file))

    async def run() -> None:
        await store.open()  # migrates
        await store.close()

    asyncio.run(run())
    print(f"{describe(config)}: schema at version {len(MIGRATIONS)}")
    return EXIT_OK


def cmd_copy(args: argparse.Namespace) -> int:
    import asyncio

    from slogate.config import parse_config
    from slogate.store.copy import copy_store
    from slogate.store.postgresql import PostgreSQLStore
    from slogate.store.sqlite import SQLiteStore

    if not args.source.startswith(SQLITE_PREFIX):
        raise ConfigError(f"--from must be a sqlite:///PATH URL, got {args.source!r}")
    target = parse_config("", "--to", {"store.url": args.target}).store
    source = SQLiteStore(Path(args.source.removeprefix(SQLITE_PREFIX)))
    if not source.path.is_file():
        raise ConfigError(f"--from: no SQLite file at {source.path}")
    destination = PostgreSQLStore(
        target.url, password=_password(args.password_file), timeout=args.timeout
    )

    async def run() -> None:
        await source.open()
        try:
            await destination.open()
            try:
                for count in await copy_store(source, destination):
                    print(count.line())
            finally:
                await destination.close()
        finally:
            await source.close()

    asyncio.run(run())
    return EXIT_OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `store migrate` and `store copy`."""
    parser = subparsers.add_parser(
        "store", help="migrate the store, or copy SQLite into PostgreSQL"
    )
    commands = parser.add_subparsers(dest="store_command", required=True)
    migrate = commands.add_parser("migrate", help="bring the store's schema to this version")
    migrate.add_argument("--store", help="SQLite file or postgresql:// URL")
    migrate.add_argument("--config", help="slogate.yaml (its store section)")
    migrate.add_argument("--password-file", default="", help="PostgreSQL password file")
    migrate.set_defaults(func=cmd_migrate)
    copy = commands.add_parser("copy", help="copy a SQLite store into PostgreSQL (idempotent)")
    copy.add_argument("--from", dest="source", required=True, help="sqlite:///PATH")
    copy.add_argument("--to", dest="target", required=True, help="postgresql://USER@HOST/DB")
    copy.add_argument("--password-file", default="", help="PostgreSQL password file")
    copy.add_argument("--timeout", type=float, default=30.0, help="per batch, seconds")
    copy.set_defaults(func=cmd_copy)
