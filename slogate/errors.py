"""slogate's exception tree: every error slogate raises on purpose, in one place.

SlogateError
├── SpecError                an SLO spec Sloth would reject (file, SLO and reason)
│   └── PluginError          an SLO plugin that cannot be configured or cannot process an SLO
├── PromQLSyntaxError        a query that does not parse as PromQL
├── AlertWindowsError        an AlertWindows catalog that cannot be used
├── ConfigError              slogate's own config file is invalid (file and key)
├── UsageError               a command line that cannot run (exit 2)
├── BackendError             the metric backend could not answer a query
│   ├── QueryError           it answered: this query failed (another may succeed)
│   └── DegradedDataError    it answered with warnings: the data may be incomplete
├── WorkerError              the evaluation worker process died, hung or spoke out of turn
├── StoreError               the durable store could not read or write
│   ├── StaleOverridesError  a decision made on overrides another replica has since changed
│   └── StoreFullError       its disk is below the free-space floor: no decision is made
├── DeliveryError            a notification sink did not take a notification
├── GitHubAuthError          no token could be had for a call to GitHub
└── RequestError             an HTTP request slogate will not act on (its status and code)
    ├── BadRequestError      400, naming the field
    ├── UnauthorizedError    401 without an admin token, 403 with a refused one
    └── UnknownServiceError  404: the service (or SLO of it) is not in the loaded specs
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


class PluginError(SpecError):
    """An SLO plugin that cannot be configured or cannot process an SLO."""


class PromQLSyntaxError(SlogateError):
    """A query that is not valid PromQL, in Prometheus' own `line:col: parse error: ...` form."""


class AlertWindowsError(SlogateError):
    """An AlertWindows catalog that is malformed or misses the requested period."""


class ConfigError(SlogateError):
    """slogate's config file is invalid."""


class UsageError(SlogateError):
    """A command line that cannot run (exit 2)."""


class BackendError(SlogateError):
    """The metric backend failed to answer a query."""


class QueryError(BackendError):
    """The backend answered, and its answer is that this query failed (bad data, a limit, its
    own timeout): another query may well succeed, unlike when the backend is unreachable."""


class DegradedDataError(BackendError):
    """The backend answered with warnings that its data may be incomplete (a Thanos partial
    response, a failed remote store): the figures are not used, as if it had not answered."""


class WorkerError(SlogateError):
    """The evaluation worker process (`slogate.evaluation.worker`) failed a cycle: it exited,
    was killed after the cycle timeout, or sent something out of protocol."""


class StoreError(SlogateError):
    """The durable store failed to read or write."""


class DeliveryError(SlogateError):
    """A sink refused or did not acknowledge a notification; `retryable` says whether to try
    again, `retry_after` when the sink asked for a delay."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class GitHubAuthError(SlogateError):
    """No token could be had for a call to GitHub."""


class RequestError(SlogateError):
    """An HTTP request slogate will not act on, answered with `status` and the error `code`."""

    status = 400
    code = "bad_request"


class BadRequestError(RequestError):
    """A request that slogate will not act on; answered 400 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class UnauthorizedError(RequestError):
    """No (401) or a refused (403) admin token."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = "unauthorized" if status == 401 else "forbidden"


class UnknownServiceError(RequestError, LookupError):
    """The requested service (or SLO of it) is not in the loaded specs."""

    status = 404
    code = "not_found"


class StaleOverridesError(StoreError):
    """A decision made on freezes and exemptions older than the store's (another replica changed
    them): not recorded; decide again on the current ones."""


class StoreFullError(StoreError):
    """The store's file system is below its free-space floor; decisions are refused (503
    `store_full`) before SQLite itself fails for want of space."""
