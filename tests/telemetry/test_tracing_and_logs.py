"""Spans with the SDK's in-memory exporter, JSON log lines with trace ids, and redaction."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.evaluation.prometheus import PrometheusClient
from slogate.telemetry import tracing
from slogate.telemetry.logs import JsonFormatter, register_secret
from tests.factories import make_slo

SLO_ = make_slo(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")


def backend() -> PrometheusClient:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.content.decode())["query"][0]
        if "[30d]" in query:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.001"]}]},
            },
        )

    return PrometheusClient("http://prom.test", transport=httpx.MockTransport(handler))


async def test_a_span_per_cycle_with_a_child_per_query(spans: InMemorySpanExporter) -> None:
    async with backend() as client:
        await Evaluator(client, mode=Mode.DIRECT).evaluate([SLO_], at=1000.0)
    finished = spans.get_finished_spans()
    [cycle] = [s for s in finished if s.name == "slogate.evaluation"]
    [query] = [s for s in finished if s.name == "slogate.backend.query"]
    assert query.parent is not None and query.parent.span_id == cycle.context.span_id
    assert cycle.attributes is not None and cycle.attributes["slogate.queries"] == 1
    assert cycle.attributes["slogate.failed_queries"] == 1
    assert query.attributes is not None and query.attributes["slogate.slo"] == SLO_.id
    assert not query.status.is_ok and query.events[0].name == "exception"
    assert "sum(rate(e[30d]))" in str(query.attributes["db.query.text"])


async def test_tracing_off_records_nothing() -> None:
    assert not tracing.enabled()
    with tracing.span("anything", x=1) as current:
        assert current is None


def test_json_log_lines_carry_trace_ids(spans: InMemorySpanExporter) -> None:
    record = logging.LogRecord(
        "slogate.test", logging.INFO, __file__, 1, "decided %s", ("allow",), None
    )
    with tracing.span("slogate.gate.decision") as current:
        assert current is not None
        line = json.loads(JsonFormatter().format(record))
        assert line["trace_id"] == format(current.get_span_context().trace_id, "032x")
    assert (
        line["msg"] == "decided allow"
        and line["level"] == "info"
        and line["logger"] == "slogate.test"
    )
    outside = json.loads(JsonFormatter().format(record))
    assert "trace_id" not in outside


def test_registered_secrets_never_reach_a_log_line() -> None:
    secret = register_secret("hunter2-routing-key-0042")
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "POST https://events/%s failed", (secret,), None
    )
    assert secret not in JsonFormatter().format(record)
    assert "***" in JsonFormatter().format(record)
