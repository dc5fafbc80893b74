"""The canary's and the baseline's figures over one window, from the metric backend.

Events SLIs: one instant query at the window's end, pinned, holding the four counts (errors and
total of each version, `increase` over the window), each tagged with its part by
`label_replace` and joined with `or`: one round trip, all four counts taken at the same instant.
A version without any error series has no `errors` part: zero errors when it has a total.

Raw SLIs: one instant query for each version's error ratio over the window (its burn rate) and
one range query for the step samples Mann-Whitney compares (`step` apart, each over
`sample_window`); NaN steps (0/0, no traffic) are dropped as Kayenta's `remove` does.

Label values reach PromQL only as string literals of the syntax tree (`sloth.scoping`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping

from slogate.core.canary import CanarySettings, VersionFigures
from slogate.core.model import SLO, EventsSLI
from slogate.evaluation.backend import QueryBackend, Sample
from slogate.sloth.scoping import scoped_counts, scoped_query

PART_LABEL = "slogate_part"
SIDES = ("canary", "baseline")


def _tagged(parts: Iterable[tuple[str, str]]) -> str:
    return "\nor\n".join(
        f'label_replace({expr}, "{PART_LABEL}", "{name}", "", "")' for name, expr in parts
    )


def events_query(sli: EventsSLI, window: float, label: str, values: Mapping[str, str]) -> str:
    """Errors and total of each side (`values`: side → label value) in one query."""
    parts = []
    for side, value in values.items():
        counts = scoped_counts(sli, window, label, value)
        parts += [(f"{side}_errors", f"sum({counts.errors})")]
        parts += [(f"{side}_total", f"sum({counts.total})")]
    return _tagged(parts)


def raw_query(template: str, window: float, label: str, values: Mapping[str, str]) -> str:
    """Each side's raw error ratio over `window`, tagged by side."""
    return _tagged((side, scoped_query(template, window, label, v)) for side, v in values.items())


def _by_part(samples: Iterable[Sample]) -> dict[str, float]:
    """The worst finite value of each part (as the evaluator reads an SLI)."""
    found: dict[str, float] = {}
    for sample in samples:
        part = sample.labels.get(PART_LABEL, "")
        if math.isfinite(sample.value):
            found[part] = max(sample.value, found.get(part, -math.inf))
    return found


async def _events(
    backend: QueryBackend, sli: EventsSLI, values: Mapping[str, str], start: float, end: float,
    label: str,
) -> dict[str, VersionFigures]:  # fmt: skip
    parts = _by_part(await backend.query(events_query(sli, end - start, label, values), end))
    figures = {}
    for side in values:
        total = parts.get(f"{side}_total")
        errors = parts.get(f"{side}_errors", 0.0 if total is not None else None)
        figures[side] = VersionFigures(errors=errors, total=total or 0.0)
    return figures


async def _raw(
    backend: QueryBackend, template: str, values: Mapping[str, str], start: float, end: float,
    settings: CanarySettings,
) -> dict[str, VersionFigures]:  # fmt: skip
    label = settings.label
    ratios_query = raw_query(template, end - start, label, values)
    samples_query = raw_query(template, settings.sample_window, label, values)
    ratios, series = await asyncio.gather(
        backend.query(ratios_query, end),
        backend.query_range(samples_query, start + settings.step, end, settings.step),
    )
    by_side = _by_part(ratios)
    steps: dict[str, list[float]] = {side: [] for side in values}
    for one in series:
        side = one.labels.get(PART_LABEL, "")
        if side in steps:
            steps[side] += [v for _, v in one.points if math.isfinite(v)]
    return {
        side: VersionFigures(ratio=by_side.get(side), samples=tuple(steps[side])) for side in values
    }


async def fetch_figures(
    backend: QueryBackend,
    slo: SLO,
    settings: CanarySettings,
    canary: str,
    baseline: str,
    start: float,
    end: float,
) -> tuple[VersionFigures, VersionFigures]:
    """(canary, baseline) figures of `slo` over [start, end]; raises `BackendError`."""
    values = {"canary": canary, "baseline": baseline}
    if isinstance(slo.sli, EventsSLI):
        found = await _events(backend, slo.sli, values, start, end, settings.label)
    else:
        found = await _raw(backend, slo.sli.error_ratio_query, values, start, end, settings)
    return found["canary"], found["baseline"]
