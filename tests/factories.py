"""Small builders shared by the unit tests."""

from __future__ import annotations

from typing import Any

from slogate.core.model import SLO, EventsSLI, SpecOrigin
from slogate.core.windows import DAY, google_windows


def make_slo(
    service: str = "api",
    name: str = "availability",
    *,
    errors: str = "e[{{.window}}]",
    total: str = "t[{{.window}}]",
    **changes: Any,
) -> SLO:
    """A 99.9% / 30d events SLO named `service`-`name`; `changes` override any field."""
    fields: dict[str, Any] = {
        "id": f"{service}-{name}",
        "service": service,
        "name": name,
        "objective": 99.9,
        "sli": EventsSLI(errors, total),
        "windows": google_windows(30 * DAY),
        "origin": SpecOrigin("t.yml", "prometheus/v1"),
        **changes,
    }
    return SLO(**fields)
