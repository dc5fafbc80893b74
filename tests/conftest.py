"""Shared fixtures: paths of the Sloth fixtures (tests/fixtures/sloth) and the demo specs; slogate
compiled once for the processes the tests start."""

from __future__ import annotations

import compileall
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from slogate.telemetry import tracing
from tests.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parent.parent
SLOTH = ROOT / "tests" / "fixtures" / "sloth"
SLOTH_TESTDATA = SLOTH / "test" / "integration" / "prometheus" / "testdata"
DEMO_SPECS = ROOT / "slo_specs"
_PYCACHE = "PYTHONPYCACHEPREFIX"


def pytest_configure(config: pytest.Config) -> None:
    """With PYTHONDONTWRITEBYTECODE set, each of the ~250 Python processes the suite starts
    (`slogate serve`, its evaluation worker, the CLI) would compile slogate from source again:
    compile it once into a bytecode cache of the session's and point them at it."""
    if not sys.dont_write_bytecode or _PYCACHE in os.environ:
        return
    prefix = tempfile.mkdtemp(prefix="slogate-pycache-")
    sys.pycache_prefix = prefix
    compileall.compile_dir(ROOT / "slogate", quiet=1)
    os.environ[_PYCACHE] = prefix
    config.add_cleanup(lambda: shutil.rmtree(prefix, ignore_errors=True))


@pytest.fixture(scope="session")
def sloth_compat() -> Path:
    if not SLOTH.is_dir():
        pytest.fail(f"Sloth compatibility fixtures missing at {SLOTH}")
    return SLOTH


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Trace into memory for the test, then turn tracing off again."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider)
    yield exporter
    tracing.configure(None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL for the session (`tests.postgres`)."""
    with LocalPostgres() as server:
        yield server
