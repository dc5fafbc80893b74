"""Async client of the Prometheus HTTP query API (`/api/v1/query`, `/api/v1/query_range`).

Anything that speaks it works: Prometheus, Thanos Query, Mimir, VictoriaMetrics (what differs
between them: `flavors`). One keep-alive pool, connect and read timeouts, a bound on queries in
flight, no retries (the next cycle is the retry). An answer with warnings about its data (a
Thanos partial response) is `DegradedDataError`, not figures.

Answers are decoded by msgspec straight into typed structs, not generic JSON objects: a
10,000-series answer is decoded in one C call that also checks its shape, without a Python
loop over dicts (about a fifth of `json.loads` and the checks it needed, `benchmarks/cycle.py`).
With `stats=True` the backend is asked for its own evaluation time and the raw samples it read
(`stats=all`), which `costs.backend` and `costs.samples` add up, so a cycle's figures can say how
close slogate is to the backend's, and what a cycle costs the backend whatever its load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TypeVar

import httpx
import msgspec

from slogate.errors import BackendError, DegradedDataError, QueryError
from slogate.evaluation.backend import NO_LABELS, Sample, Series
from slogate.evaluation.costs import QueryCosts
from slogate.evaluation.flavors import degraded


class _Point(msgspec.Struct, array_like=True, gc=False):
    at: float
    value: str


class _Instant(msgspec.Struct, gc=False):
    metric: dict[str, str]
    value: _Point


class _FloatPoint(msgspec.Struct, array_like=True, gc=False):
    at: float
    value: float


class _FloatInstant(msgspec.Struct, gc=False):
    metric: dict[str, str]
    value: _FloatPoint


class _Range(msgspec.Struct, gc=False):
    metric: dict[str, str]
    values: list[_Point]


class _Timings(msgspec.Struct, rename="camel"):
    eval_total_time: float = 0.0


class _Samples(msgspec.Struct, rename="camel"):
    total_queryable_samples: int = 0


class _Stats(msgspec.Struct):
    timings: _Timings = msgspec.field(default_factory=_Timings)
    samples: _Samples = msgspec.field(default_factory=_Samples)


class _Data(msgspec.Struct, rename={"result_type": "resultType"}):
    result_type: str
    result: msgspec.Raw
    stats: _Stats | None = None


class _Answer(msgspec.Struct, rename={"error_type": "errorType"}):
    status: str
    data: _Data | None = None
    error_type: str = "error"
    error: str = "query failed"
    warnings: list[str] = []


_ANSWER = msgspec.json.Decoder(_Answer)
_SCALAR = msgspec.json.Decoder(_Point)
_VECTOR = msgspec.json.Decoder(list[_Instant])
_FLOAT_VECTOR = msgspec.json.Decoder(list[_FloatInstant], strict=False)
"""Values parsed to floats in C; it refuses Prometheus' "+Inf", which `_VECTOR` then reads."""
_MATRIX = msgspec.json.Decoder(list[_Range])
_T = TypeVar("_T")


def _value(point: _Point) -> float:
    try:
        return float(point.value)
    except ValueError:
        raise BackendError(f"invalid sample value in response: {point.value!r}") from None


def _answer(body: bytes, status_code: int, url: str) -> _Data:
    """The `data` of a successful answer; `QueryError` for the backend's own refusal."""
    try:
        answer = _ANSWER.decode(body)
    except msgspec.ValidationError as exc:
        if status_code >= 400:
            raise BackendError(f"HTTP {status_code} from {url}") from None
        raise BackendError(
            f"invalid response: not a JSON object of the API's shape ({exc})"
        ) from None
    except msgspec.DecodeError:
        raise BackendError(f"HTTP {status_code} with a body that is not JSON from {url}") from None
    if answer.status != "success":
        raise QueryError(f"{answer.error_type}: {answer.error}")
    if warnings := degraded(answer.warnings):
        raise DegradedDataError(f"degraded data: {'; '.join(warnings)}"[:500])
    if answer.data is None:
        raise BackendError("invalid response: no data")
    return answer.data


def _result(data: _Data, decoder: msgspec.json.Decoder[_T]) -> _T:
    try:
        return decoder.decode(data.result)
    except msgspec.DecodeError as exc:  # ValidationError is one
        raise BackendError(f"invalid response: malformed {data.result_type} ({exc})") from None


def instant_samples(data: _Data) -> list[Sample]:
    """Samples of an instant query's answer (vector or scalar result)."""
    if data.result_type == "scalar":
        return [Sample(NO_LABELS, _value(_result(data, _SCALAR)))]
    if data.result_type != "vector":
        raise BackendError(
            f"unexpected result type {data.result_type!r} (an instant vector was expected)"
        )
    try:
        return [Sample(item.metric, item.value.value) for item in _FLOAT_VECTOR.decode(data.result)]
    except msgspec.DecodeError:
        return [Sample(item.metric, _value(item.value)) for item in _result(data, _VECTOR)]


def range_series(data: _Data) -> list[Series]:
    """Series of a range query's answer (a matrix)."""
    if data.result_type != "matrix":
        raise BackendError(f"unexpected result type {data.result_type!r} (a matrix was expected)")
    return [
        Series(item.metric, [(p.at, _value(p)) for p in item.values])
        for item in _result(data, _MATRIX)
    ]


MAX_RANGE_POINTS = 11_000
"""Points of one range query at most: Prometheus' own limit per series."""


class PrometheusClient:
    """Queries at pinned timestamps over one keep-alive connection pool."""

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
        stats: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.params = dict(params or {})
        """Form fields sent with every query (a flavor's, e.g. Thanos' `partial_response`)."""
        self.stats = stats
        self.costs = QueryCosts()
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
        data = await self._post("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        started = time.perf_counter()
        try:
            return instant_samples(data)
        finally:
            self.costs.decoding += time.perf_counter() - started

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate `expr` at every `step` seconds from `start` to `end` (both included); a
        range of more than `MAX_RANGE_POINTS` points is refused here, before the backend."""
        if step <= 0 or end < start or (end - start) / step > MAX_RANGE_POINTS:
            raise BackendError(f"range of {(end - start) / max(step, 1e-9):.0f} points refused")
        form = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        data = await self._post("/api/v1/query_range", form)
        started = time.perf_counter()
        try:
            return range_series(data)
        finally:
            self.costs.decoding += time.perf_counter() - started

    async def _post(self, path: str, form: dict[str, str]) -> _Data:
        form.update(self.params)
        form["timeout"] = f"{self.timeout:g}s"
        if self.stats:
            form["stats"] = "all"
        async with self._slots:
            sent = time.perf_counter()
            try:
                response = await self._http.post(path, data=form)
            except httpx.TimeoutException:
                raise BackendError(f"query timed out after {self.timeout:g}s") from None
            except httpx.HTTPError as exc:
                raise BackendError(f"cannot reach {self.url}: {type(exc).__name__}") from None
            finally:
                self.costs.queries += 1
                self.costs.waiting += time.perf_counter() - sent
        started = time.perf_counter()
        try:
            data = _answer(response.content, response.status_code, self.url)
        finally:
            self.costs.decoding += time.perf_counter() - started
        if data.stats is not None:
            self.costs.backend += data.stats.timings.eval_total_time
            self.costs.samples += data.stats.samples.total_queryable_samples
        return data

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
