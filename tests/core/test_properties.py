"""Property tests: the spec loader and PromQL parser only ever raise their own errors, and no
figure that reaches a client is NaN or infinite."""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import replace
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slogate.core.durations import format_duration
from slogate.core.model import SLO
from slogate.core.policy import Policy
from slogate.core.snapshot import Snapshot
from slogate.core.views import status_view
from slogate.errors import PromQLSyntaxError
from slogate.evaluation.evaluator import Evaluator, Mode
from slogate.sloth import promql
from slogate.sloth.spec import check_text
from slogate.telemetry.slo_metrics import value_text
from tests.evaluation.test_evaluator import backend, vector
from tests.factories import make_slo

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
HEADERS = (
    'version: "prometheus/v1"\n',
    "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n",
    "apiVersion: openslo/v1alpha\nkind: SLO\n",
    "",
)
KEYS = ("service", "slos", "spec", "metadata", "name", "objective", "sli", "alerting", "labels")


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from(HEADERS))
    body: dict[str, Any] = draw(st.dictionaries(st.sampled_from(KEYS), documents, max_size=5))
    if draw(st.booleans()):
        body["slos"] = draw(
            st.lists(st.dictionaries(st.sampled_from(KEYS), documents, max_size=5), max_size=3)
        )
    try:
        text = yaml.safe_dump(body)
    except yaml.YAMLError:
        text = "{}"
    garbage = draw(st.text(max_size=20))
    return header + text + (garbage if draw(st.booleans()) else "")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(spec_texts())
def test_spec_loader_only_raises_spec_errors(text: str) -> None:
    _slos, errors = check_text(text, "fuzz.yml")  # never raises
    for error in errors:
        assert error.line().startswith("fuzz.yml") and error.reason


@settings(max_examples=500)
@given(
    st.text(
        alphabet=st.sampled_from(
            list('sum(rate x{a="b"}[5m]) by /*+-<>=!~ 0.5e3 offset @ and or \'ü')
        ),
        max_size=60,
    )
)
def test_promql_parser_only_raises_its_own_error(text: str) -> None:
    try:
        promql.parse(text)
    except PromQLSyntaxError as exc:
        assert str(exc).count(":") >= 2  # "line:col: parse error: ..."


SLO_ = make_slo(
    "api",
    "a",
    errors="sum(rate(errors_total[{{.window}}]))",
    total="sum(rate(requests_total[{{.window}}]))",
)
# What Prometheus answers, raw: NaN (0/0), ±Inf (x/0), any float, or no series at all.
answers = st.one_of(
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
)


def snapshot_for(slo: SLO, raw: dict[str, float | None], traffic: float | None) -> Snapshot:
    """Evaluate `slo` against a Prometheus that answers `raw[window]` for each window's errors
    and `traffic` for the traffic query of an empty window."""
    windows = re.compile(r"\[(\w+)\]")

    def answer(query: str) -> dict[str, Any]:
        found = windows.search(query)
        value = traffic if "errors_total" not in query else raw[found[1] if found else ""]
        return vector() if value is None else vector(value_text(value))  # as Prometheus writes

    async def run() -> Snapshot:
        async with backend(answer, []) as client:
            return await Evaluator(client, mode=Mode.DIRECT).evaluate([slo], at=1000.0)

    return asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(answers, min_size=8, max_size=8),
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    st.floats(0, 100, exclude_min=True),
)
def test_no_nan_or_infinity_reaches_a_client(
    values: list[float | None], traffic: float | None, objective: float
) -> None:
    """Raw NaN and ±Inf from Prometheus come out as no data (null), never as NaN or Infinity."""
    slo = replace(SLO_, objective=objective)
    raw = {format_duration(w): v for w, v in zip(slo.windows.windows, values, strict=True)}
    status = snapshot_for(slo, raw, traffic).statuses[slo.id]
    assert status.error is None
    for window, value in zip(slo.windows.windows, values, strict=True):
        if value is not None and not math.isfinite(value):
            assert status.error_ratios[window] is None
    json.dumps(status_view(status, Policy(), 2.0), allow_nan=False)  # raises on NaN or Infinity
