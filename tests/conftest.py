"""Shared fixtures: paths of the Sloth fixtures (tests/fixtures/sloth) and the demo specs."""

from __future__ import annotations

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
