"""The container image's recipe (no Docker engine runs here: check what can be checked)."""

from __future__ import annotations

import re

from .conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")  # join continued lines


def instructions(name: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"^{name}\s+(.+)$", DOCKERFILE, re.M)]


def test_multi_stage_on_slim_python() -> None:
    stages = instructions("FROM")
    assert stages == ["${BASE} AS build", "${BASE}"]
    assert instructions("ARG")[0] == "BASE=python:3.11-slim"
    assert "COPY --from=build /opt/slogate /opt/slogate" in DOCKERFILE


def test_runs_as_non_root_with_healthcheck_and_volumes() -> None:
    [user] = instructions("USER")
    assert not user.startswith(("0", "root"))
    [health] = instructions("HEALTHCHECK")
    assert "/healthz" in health
    assert instructions("VOLUME") == ['["/specs", "/etc/slogate", "/var/lib/slogate"]']
    [entrypoint] = instructions("ENTRYPOINT")
    assert entrypoint.startswith('["slogate", "serve"')
    assert "/var/lib/slogate/slogate.db" in entrypoint


def test_installs_the_package_as_ci_does() -> None:
    assert "pip install --no-cache-dir '.[otlp]'" in DOCKERFILE
    for path in ("pyproject.toml", "slogate"):
        assert any(path in line for line in instructions("COPY"))
