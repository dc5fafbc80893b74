"""A real PostgreSQL (Debian's package) for the tests and benchmarks: `initdb` in a temp dir owned
by the `postgres` user, the server on a free 127.0.0.1 port, stopped by its PID.

The cluster's superuser `slogate` has a password (SCRAM): clients must send it, so the tests see
where it comes from. Each test gets a database of its own (`fresh_database`)."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from slogate.cli.localprom import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "slogate"
PASSWORD = "pg-test-secret-5f1c9a"  # a throwaway cluster's


class LocalPostgres:
    def __init__(self) -> None:
        if not (BIN / "postgres").exists():
            raise RuntimeError(f"PostgreSQL not installed at {BIN}: run scripts/setup")
        self.root = Path(tempfile.mkdtemp(prefix="slogate-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._databases = itertools.count(1)

    def url(self, database: str = "postgres", *, with_password: bool = False) -> str:
        secret = f":{PASSWORD}" if with_password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs: the password from the environment, as operators pass it."""
        return {**os.environ, "PGPASSWORD": PASSWORD}

    def _as_postgres(self, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / "postgres.log").open("ab") as log:
            return subprocess.Popen(args, user="postgres", stdout=log, stderr=subprocess.STDOUT)

    def init(self) -> None:
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        password_file = self.root / "pwfile"
        password_file.write_text(PASSWORD)
        shutil.chown(password_file, "postgres", "postgres")
        initdb = self._as_postgres(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--no-sync",
            "--encoding=UTF8",
        )
        if initdb.wait(120) != 0:
            raise RuntimeError(f"initdb failed: {self.log()}")
        self.sockets.mkdir()
        shutil.chown(self.sockets, "postgres", "postgres")

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        self.process = self._as_postgres(
            str(BIN / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.sockets),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log()}")
            try:
                psycopg.connect(self.url(), password=PASSWORD, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise TimeoutError(f"postgres not ready: {self.log()}")

    def kill(self) -> None:
        """SIGKILL the postmaster (its backends exit once they see it gone) and wait for it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self._backends_alive():
            time.sleep(0.1)

    def _backends_alive(self) -> bool:
        """Whether any process still has the data directory as its working directory."""
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "cwd").readlink() == self.data:
                    return True
            except OSError:
                continue
        return False

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT): no final checkpoint, since the cluster is removed
        next. A fast shutdown's checkpoint of the session's databases took 43 s at load ~13
        (`benchmarks/postgres_teardown.py` compares the two)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def fresh_database(self) -> str:
        """A new empty database; its URL (without the password)."""
        name = f"t{next(self._databases)}"
        with psycopg.connect(self.url(), password=PASSWORD, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def __enter__(self) -> LocalPostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
