"""What differs between the servers that speak the Prometheus query API.

- Prometheus: nothing extra.
- Thanos Query: `partial_response=false`, so that a store it cannot reach fails the query
  instead of silently leaving that store's series out of an error ratio.
- Mimir: nothing extra in the query; the tenant goes in an `X-Scope-OrgID` header
  (`prometheus.headers`) and the URL carries Mimir's `/prometheus` prefix.
- VictoriaMetrics: `nocache=1`. Without it, VictoriaMetrics evaluates a `time=` less than
  `-search.latencyOffset` (30 s) before its own clock at now − 30 s instead, while the answer
  still carries the requested timestamp: one cycle would not be one timestamp.

Whatever the flavor, an answer that carries `warnings` (Thanos' partial responses, a remote
store that failed) is degraded data: see `degraded`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Flavor(StrEnum):
    PROMETHEUS = "prometheus"
    THANOS = "thanos"
    MIMIR = "mimir"
    VICTORIAMETRICS = "victoriametrics"


QUERY_PARAMS: Mapping[Flavor, Mapping[str, str]] = MappingProxyType(
    {
        Flavor.THANOS: MappingProxyType({"partial_response": "false"}),
        Flavor.VICTORIAMETRICS: MappingProxyType({"nocache": "1"}),
    }
)

INFO_PREFIX = "PromQL info:"
"""Prometheus' informational annotations (about the query, not about missing data)."""


def query_params(flavor: Flavor) -> Mapping[str, str]:
    """The extra form fields every instant query sends to a backend of this flavor."""
    return QUERY_PARAMS.get(flavor, MappingProxyType({}))


def degraded(payload: Mapping[str, Any]) -> list[str]:
    """The warnings of a successful answer that say its data may be incomplete.

    Thanos answers `"status": "success"` with `warnings` when it left out a store (partial
    response) and Prometheus when a remote-read store failed: the figures may miss series, so
    an error ratio built on them could look healthier than it is. Only Prometheus' own
    `PromQL info:` notes are not about the data."""
    warnings = payload.get("warnings")
    if not isinstance(warnings, list):
        return []
    return [str(w) for w in warnings if not str(w).startswith(INFO_PREFIX)]
