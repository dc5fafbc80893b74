"""Async client of the Prometheus HTTP query API (`/api/v1/query`).

Anything that speaks it works: Prometheus, Thanos Query, Mimir, VictoriaMetrics (what differs
between them: `flavors`). One keep-alive pool, connect and read timeouts, a bound on queries in
flight, no retries (the next cycle is the retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from slogate.errors import BackendError, DegradedDataError, QueryError
from slogate.evaluation.backend import NO_LABELS, Sample
from slogate.evaluation.flavors import degraded


def _value(raw: Any) -> float:
    try:
        return float(raw[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise BackendError(f"invalid sample value in response: {raw!r}") from exc


def parse_response(payload: Any) -> list[Sample]:
    """Samples of an instant query's JSON answer (vector or scalar result)."""
    if not isinstance(payload, dict):
        raise BackendError("invalid response: not a JSON object")
    if payload.get("status") != "success":
        kind = payload.get("errorType", "error")
        raise QueryError(f"{kind}: {payload.get('error', 'query failed')}")
    if warnings := degraded(payload):
        raise DegradedDataError(f"degraded data: {'; '.join(warnings)}"[:500])
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BackendError("invalid response: no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Sample(NO_LABELS, _value(result))]
    if kind != "vector" or not isinstance(result, list):
        raise BackendError(f"unexpected result type {kind!r} (an instant vector was expected)")
    samples = []
    for item in result:  # JSON objects are dicts: no need for the slower Mapping checks
        metric = item.get("metric") if isinstance(item, dict) else None
        if not isinstance(metric, dict):
            raise BackendError("invalid response: malformed vector sample")
        samples.append(Sample(metric, _value(item.get("value"))))
    return samples


class PrometheusClient:
    """Instant queries at a pinned timestamp over one keep-alive connection pool."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        max_concurrency: int = 16,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.params = dict(params or {})
        """Form fields sent with every query (a flavor's, e.g. Thanos' `partial_response`)."""
        self._slots = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            transport=transport,
        )

    async def query(self, expr: str, at: float) -> list[Sample]:
        """Evaluate `expr` at unix time `at`; raise `BackendError` on any failure."""
        form = {
            **self.params,
            "query": expr,
            "time": f"{at:.3f}",
            "timeout": f"{self.timeout:g}s",
        }
        async with self._slots:
            try:
                response = await self._http.post("/api/v1/query", data=form)
            except httpx.TimeoutException:
                raise BackendError(f"query timed out after {self.timeout:g}s") from None
            except httpx.HTTPError as exc:
                raise BackendError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        try:
            payload = response.json()
        except ValueError:
            raise BackendError(
                f"HTTP {response.status_code} with a body that is not JSON from {self.url}"
            ) from None
        if response.status_code >= 400 and not isinstance(payload, Mapping):
            raise BackendError(f"HTTP {response.status_code} from {self.url}")
        return parse_response(payload)

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
