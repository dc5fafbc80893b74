"""Removing the tests' PostgreSQL cluster: a fast shutdown (SIGINT, a final checkpoint) against
the immediate one `tests.postgres.LocalPostgres.stop` sends (SIGQUIT, none), same run.

    python benchmarks/postgres_teardown.py [--databases 40]

Starts two throwaway clusters on loopback as the test session does, creates `--databases`
databases in each (the store tests make one per test), then times `remove()` of each: one with
the fast shutdown, one as the tests do it. Printed: both times and their ratio.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.postgres import LocalPostgres  # noqa: E402


class FastShutdown(LocalPostgres):
    """The cluster as it was stopped before: SIGINT, a checkpoint before exiting."""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(300)
        self.process = None


def removal(cluster: LocalPostgres, databases: int) -> float:
    """Seconds `remove()` took on a cluster holding `databases` fresh databases."""
    cluster.init()
    cluster.start()
    try:
        for _ in range(databases):
            cluster.fresh_database()
    finally:
        start = time.perf_counter()
        cluster.remove()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", type=int, default=40)
    args = parser.parse_args()
    fast = removal(FastShutdown(), args.databases)
    immediate = removal(LocalPostgres(), args.databases)
    print(f"{args.databases} databases: fast shutdown {fast:.2f} s, immediate {immediate:.2f} s")
    print(f"ratio fast/immediate: {fast / immediate:.1f}x")


if __name__ == "__main__":
    main()
