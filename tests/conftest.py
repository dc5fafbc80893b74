"""Shared fixtures: paths of the Sloth compatibility fixtures and the demo specs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLOTH = ROOT.parent / "shared" / "sloth-compat"
SLOTH_TESTDATA = SLOTH / "test" / "integration" / "prometheus" / "testdata"
DEMO_SPECS = ROOT / "slo_specs"


@pytest.fixture(scope="session")
def sloth_compat() -> Path:
    if not SLOTH.is_dir():
        pytest.fail(f"Sloth compatibility fixtures missing at {SLOTH}")
    return SLOTH
