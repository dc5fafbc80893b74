"""slogate's exception tree.

SlogateError
├── SpecError            an SLO spec Sloth would reject (file, SLO and reason)
├── PromQLSyntaxError    a query that does not parse as PromQL
├── AlertWindowsError    an AlertWindows catalog that cannot be used
├── ConfigError          slogate's own config file is invalid (file and key)
├── BackendError         the metric backend could not answer a query
└── StoreError           the durable store could not read or write
    └── StoreFullError   its disk is below the free-space floor: no decision is made
"""

from __future__ import annotations


class SlogateError(Exception):
    """Base class of every error slogate raises on purpose."""


class SpecError(SlogateError):
    """An SLO spec that does not load or does not validate."""

    def __init__(self, reason: str, *, source: str = "", slo: str = "") -> None:
        self.reason = reason
        self.source = source
        self.slo = slo
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line form: `file: slo "id": reason`."""
        parts = [p for p in (self.source, f'slo "{self.slo}"' if self.slo else "") if p]
        return ": ".join([*parts, self.reason])


class PromQLSyntaxError(SlogateError):
    """A query that is not valid PromQL, in Prometheus' own `line:col: parse error: ...` form."""


class AlertWindowsError(SlogateError):
    """An AlertWindows catalog that is malformed or misses the requested period."""


class ConfigError(SlogateError):
    """slogate's config file is invalid."""


class BackendError(SlogateError):
    """The metric backend failed to answer a query."""


class QueryError(BackendError):
    """The backend answered, and its answer is that this query failed (bad data, a limit, its
    own timeout): another query may well succeed, unlike when the backend is unreachable."""


class StoreError(SlogateError):
    """The durable store failed to read or write."""


class StoreFullError(StoreError):
    """The store's file system is below its free-space floor; decisions are refused (503
    `store_full`) before SQLite itself fails for want of space."""
