"""OpenTelemetry traces: a span per evaluation cycle (a child per backend query) and a span per
gate decision. Off by default and then free: `span()` is a null context until a provider is
configured (OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the `otlp` extra is
installed, or any provider in tests). OpenTelemetry itself is imported only once tracing is on:
off, neither the serving process nor the evaluation worker pays for loading it."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from slogate import __version__

if TYPE_CHECKING:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)

_provider: TracerProvider | None = None


def configure(provider: TracerProvider | None) -> None:
    """Trace with `provider` (None turns tracing off)."""
    global _provider
    _provider = provider


def enabled() -> bool:
    return _provider is not None


def setup_from_env() -> None:
    """OTLP/HTTP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (needs slogate[otlp])."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but slogate[otlp] is not installed: no traces"
        )
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": "slogate", "service.version": __version__})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    configure(provider)


_OFF = contextlib.nullcontext(None)


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[trace.Span | None]:
    """A span named `name` with `attributes` (None values dropped), or, when tracing is off, a
    shared null context (nothing allocated). Exceptions are recorded on the span and re-raised."""
    if _provider is None:
        return _OFF
    return _span(name, attributes)


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, Any]) -> Iterator[trace.Span | None]:
    from opentelemetry import trace

    tracer = trace.get_tracer("slogate", __version__, tracer_provider=_provider)
    clean = {k: v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


def set_attributes(current: trace.Span | None, **attributes: Any) -> None:
    if current is not None:
        current.set_attributes({k: v for k, v in attributes.items() if v is not None})
