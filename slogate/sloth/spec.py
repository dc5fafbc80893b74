"""Sloth spec loading: YAML text in Sloth's three formats → validated `SLO`s.

Formats (detected as Sloth does, by regex on the document text):
`prometheus/v1`, Kubernetes `sloth.slok.dev/v1 PrometheusServiceLevel`, and `openslo/v1alpha SLO`.
Pure: callers hand in the text and the name of the file it came from.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from slogate.core.durations import format_duration
from slogate.core.model import (
    SLI,
    SLO,
    AlertMeta,
    EventsSLI,
    PluginChain,
    PluginRef,
    RawSLI,
    SpecOrigin,
    frozen_labels,
)
from slogate.core.windows import DAY, AlertWindowsCatalog
from slogate.errors import AlertWindowsError, SpecError
from slogate.sloth import validation

_PROM_V1 = re.compile(r"(?m)^version: +['\"]?prometheus/v1['\"]?\r?\n? *$")
_K8S_KIND = re.compile(r"(?m)^kind: +['\"]?PrometheusServiceLevel['\"]? *$")
_K8S_API = re.compile(r"(?m)^apiVersion: +['\"]?sloth.slok.dev/v1['\"]? *$")
_OPENSLO_KIND = re.compile(r"(?m)^kind: +['\"]?SLO['\"]? *$")
_OPENSLO_API = re.compile(r"(?m)^apiVersion: +['\"]?openslo/v1alpha['\"]? *$")
_ALERT_WINDOWS_KIND = re.compile(r"(?m)^kind: +['\"]?AlertWindows['\"]? *$")
_COMMENT_LINE = re.compile(r"(?m)^#.*$")
_DOC_SEPARATOR = re.compile(r"(?m)^---")

# libyaml's loader when PyYAML was built with it: the same safe constructor, 10x the speed on a
# repository of thousands of specs.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

OPENSLO_RAW_TEMPLATE = """
  1 - (
    (
      {good}
    )
    /
    (
      {total}
    )
  )
"""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What Sloth takes from its command line: the default SLO period and the windows catalog."""

    default_period: float = 30 * DAY
    catalog: AlertWindowsCatalog = field(default_factory=AlertWindowsCatalog.default)


def split_documents(text: str) -> list[str]:
    """Sloth's multi-document split: drop `#` comment lines, split on `---` lines, drop empties."""
    body = _COMMENT_LINE.sub("", text.strip())
    return [doc for doc in _DOC_SEPARATOR.split(body) if doc.strip()]


def load_text(text: str, source: str, options: LoadOptions | None = None) -> list[SLO]:
    """Every SLO in one file. Raises `SpecError` naming the file, the SLO and the reason.

    All problems of the file are collected; the first one is raised with the rest attached as
    `errors` (use `check_text` to get them all as a list).
    """
    slos, errors = check_text(text, source, options)
    if errors:
        raise errors[0]
    return slos


def check_text(
    text: str, source: str, options: LoadOptions | None = None
) -> tuple[list[SLO], list[SpecError]]:
    """Every SLO in one file, and every problem found (one `SpecError` per SLO or document)."""
    opts = options or LoadOptions()
    slos: list[SLO] = []
    errors: list[SpecError] = []
    documents = split_documents(text)
    if not documents:
        return [], [SpecError("spec is required (the file has no YAML document)", source=source)]
    for index, document in enumerate(documents):
        where = source if len(documents) == 1 else f"{source} (document {index + 1})"
        try:
            candidates = _load_document(document, source, where, index, opts)
        except SpecError as exc:
            errors.append(exc)
            continue
        for slo_or_error in candidates:
            if isinstance(slo_or_error, SpecError):
                errors.append(slo_or_error)
            else:
                slos.append(slo_or_error)
    seen: set[str] = set()
    for slo in slos:
        if slo.id in seen:
            errors.append(SpecError(f'SLO ID "{slo.id}" is repeated', source=source, slo=slo.id))
        seen.add(slo.id)
    return slos, errors


def _load_document(
    text: str, source: str, where: str, index: int, opts: LoadOptions
) -> list[SLO | SpecError]:
    if _PROM_V1.search(text):
        loader: Callable[[Mapping[str, Any], SpecOrigin, LoadOptions], Iterator[SLO | SpecError]]
        loader, kind = _prometheus_v1, "prometheus/v1"
    elif _K8S_KIND.search(text) and _K8S_API.search(text):
        loader, kind = _kubernetes, "sloth.slok.dev/v1"
    elif _OPENSLO_KIND.search(text) and _OPENSLO_API.search(text):
        loader, kind = _openslo, "openslo/v1alpha"
    elif _ALERT_WINDOWS_KIND.search(text):
        raise SpecError(
            "an AlertWindows catalog, not an SLO spec: pass it with --slo-period-windows-path",
            source=where,
        )
    else:
        raise SpecError(
            "invalid spec, could not load with any of the supported spec types"
            " (prometheus/v1, sloth.slok.dev/v1 PrometheusServiceLevel, openslo/v1alpha SLO)",
            source=where,
        )
    try:
        doc = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 (a safe loader, C when built)
    except yaml.YAMLError as exc:
        raise SpecError(
            f"could not unmarshal YAML spec: {_yaml_reason(exc)}", source=where
        ) from None
    if not isinstance(doc, Mapping):
        raise SpecError("spec must be a YAML mapping", source=where)
    origin = SpecOrigin(source=source, kind=kind, document=index)  # type: ignore[arg-type]
    return [
        SpecError(r.reason, source=where, slo=r.slo) if isinstance(r, SpecError) else r
        for r in _guarded(loader, doc, origin, opts, where)
    ]


def _guarded(
    loader: Callable[[Mapping[str, Any], SpecOrigin, LoadOptions], Iterator[SLO | SpecError]],
    doc: Mapping[str, Any],
    origin: SpecOrigin,
    opts: LoadOptions,
    where: str,
) -> Iterator[SLO | SpecError]:
    try:
        yield from loader(doc, origin, opts)
    except SpecError as exc:
        yield SpecError(exc.reason, source=where, slo=exc.slo)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


# --- Field access with Go-like decoding and readable errors -------------------------------------


class _Field:
    """Reads typed fields of a YAML mapping, naming the path in errors (`slos[1].sli`)."""

    def __init__(self, doc: Any, path: str, source: str, slo: str = "") -> None:
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise SpecError(f"{path or 'spec'}: expected a mapping", source=source, slo=slo)
        self.doc = doc
        self.path = path
        self.source = source
        self.slo = slo

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, reason: str) -> SpecError:
        return SpecError(f"{self._where(key)}: {reason}", source=self.source, slo=self.slo)

    def sub(self, key: str) -> _Field:
        return _Field(self.doc.get(key), self._where(key), self.source, self.slo)

    def has(self, key: str) -> bool:
        return self.doc.get(key) is not None

    def string(self, key: str) -> str:
        value = self.doc.get(key)
        if value is None:
            return ""
        if isinstance(value, Mapping | list):
            raise self.error(key, "expected a string")
        return go_string(value)

    def number(self, key: str) -> float:
        value = self.doc.get(key)
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        return float(value)

    def boolean(self, key: str) -> bool:
        value = self.doc.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def string_map(self, key: str) -> dict[str, str]:
        value = self.doc.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, "expected a mapping of strings")
        return {go_string(k): go_string(v) for k, v in value.items()}

    def items(self, key: str) -> list[_Field]:
        value = self.doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "expected a list")
        return [
            _Field(v, f"{self._where(key)}[{i}]", self.source, self.slo)
            for i, v in enumerate(value)
        ]


def go_string(value: Any) -> str:
    """A YAML scalar as Sloth's decoder turns it into a string field.

    Booleans become `true`/`false`, integers their decimal form, floats their shortest float32
    form (sigs.k8s.io/yaml formats them with `strconv.FormatFloat(f, 'g', -1, 32)`).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float32_shortest(value)
    return str(value)


def _float32_shortest(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return {True: "+Inf", False: "-Inf"}[value > 0] if value == value else "NaN"
    as32 = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        text = f"{as32:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == as32:
            return text.replace("e+0", "e+").replace("e-0", "e-")
    return repr(as32)


# --- The three formats ----------------------------------------------------------------------------


def _plugin_chain(field: _Field, chain_key: str = "chain") -> PluginChain:
    refs = []
    for item in field.items(chain_key):
        priority = item.number("priority")
        refs.append(
            PluginRef(id=item.string("id"), config=item.doc.get("config"), priority=int(priority))
        )
    return PluginChain(override_previous=field.boolean("overridePrevious"), chain=tuple(refs))


def _alert_meta(alerting: _Field, key: str) -> AlertMeta:
    meta = alerting.sub(key)
    return AlertMeta(
        disable=meta.boolean("disable"),
        labels=frozen_labels({**alerting.string_map("labels"), **meta.string_map("labels")}),
        annotations=frozen_labels(
            {**alerting.string_map("annotations"), **meta.string_map("annotations")}
        ),
    )


def _sli(sli: _Field, events_keys: tuple[str, str], raw_key: str, slo: str) -> SLI:
    events, raw, plugin = sli.sub("events"), sli.sub("raw"), sli.sub("plugin")
    kinds = [k for k in ("events", "raw", "plugin") if sli.has(k)]
    if len(kinds) > 1:
        raise SpecError("invalid SLI: only one SLI type is allowed", source=sli.source, slo=slo)
    if sli.has("plugin"):
        plugin_id = plugin.string("id")
        raise SpecError(
            f'SLI plugin "{plugin_id}" is not supported: SLI plugins are Go code that Sloth runs'
            " at generation time; write the query as an events or raw SLI instead",
            source=sli.source,
            slo=slo,
        )
    if sli.has("events"):
        return EventsSLI(events.string(events_keys[0]), events.string(events_keys[1]))
    if sli.has("raw"):
        return RawSLI(raw.string(raw_key))
    raise SpecError("invalid SLI: at least one SLI type is required", source=sli.source, slo=slo)


def _slos_of_service(
    spec: _Field, origin: SpecOrigin, opts: LoadOptions, *, camel: bool
) -> Iterator[SLO | SpecError]:
    service = spec.string("service")
    spec_labels = spec.string_map("labels")
    group_plugins = _plugin_chain(spec.sub("sloPlugins" if camel else "slo_plugins"))
    items = spec.items("slos")
    if not items:
        raise SpecError("at least one SLO is required", source=origin.source)
    events_keys = ("errorQuery", "totalQuery") if camel else ("error_query", "total_query")
    raw_key = "errorRatioQuery" if camel else "error_ratio_query"
    for item in items:
        name = item.string("name")
        slo_id = f"{service}-{name}"
        item.slo = slo_id
        try:
            alerting = item.sub("alerting")
            slo = SLO(
                id=slo_id,
                service=service,
                name=name,
                objective=item.number("objective"),
                sli=_sli(item.sub("sli"), events_keys, raw_key, slo_id),
                windows=_windows(opts.default_period, opts, origin.source, slo_id),
                origin=origin,
                description=item.string("description"),
                labels=frozen_labels({**spec_labels, **item.string_map("labels")}),
                alert_name=alerting.string("name"),
                page_alert=_alert_meta(alerting, "pageAlert" if camel else "page_alert"),
                ticket_alert=_alert_meta(alerting, "ticketAlert" if camel else "ticket_alert"),
                plugins=_plugin_chain(item.sub("plugins")),
                group_plugins=group_plugins,
            )
            validation.validate_slo(slo)
        except SpecError as exc:
            exc.slo = exc.slo or slo_id
            yield SpecError(exc.reason, source=origin.source, slo=exc.slo)
            continue
        yield slo


def _windows(period: float, opts: LoadOptions, source: str, slo: str) -> Any:
    if period <= 0:
        raise SpecError("time window is required", source=source, slo=slo)
    try:
        return opts.catalog.get(period)
    except AlertWindowsError as exc:
        raise SpecError(
            f"no alert windows for a {format_duration(period)} SLO period: {exc}",
            source=source,
            slo=slo,
        ) from None


def _prometheus_v1(
    doc: Mapping[str, Any], origin: SpecOrigin, opts: LoadOptions
) -> Iterator[SLO | SpecError]:
    spec = _Field(doc, "", origin.source)
    if spec.string("version") != "prometheus/v1":
        raise SpecError('invalid spec version, should be "prometheus/v1"', source=origin.source)
    yield from _slos_of_service(spec, origin, opts, camel=False)


def _kubernetes(
    doc: Mapping[str, Any], origin: SpecOrigin, opts: LoadOptions
) -> Iterator[SLO | SpecError]:
    root = _Field(doc, "", origin.source)
    meta = root.sub("metadata")
    origin = SpecOrigin(
        source=origin.source,
        kind=origin.kind,
        document=origin.document,
        k8s_name=meta.string("name"),
        k8s_namespace=meta.string("namespace"),
        k8s_labels=frozen_labels(meta.string_map("labels")),
        k8s_annotations=frozen_labels(meta.string_map("annotations")),
    )
    yield from _slos_of_service(root.sub("spec"), origin, opts, camel=True)


def _openslo(
    doc: Mapping[str, Any], origin: SpecOrigin, opts: LoadOptions
) -> Iterator[SLO | SpecError]:
    root = _Field(doc, "", origin.source)
    spec = root.sub("spec")
    objectives = spec.items("objectives")
    if not objectives:
        raise SpecError("at least one SLO is required", source=origin.source)
    period = _openslo_period(spec, opts, origin.source)
    service, name = spec.string("service"), root.sub("metadata").string("name")
    for index, objective in enumerate(objectives):
        slo_id = f"{service}-{name}-{index}"
        objective.slo = slo_id
        try:
            slo = SLO(
                id=slo_id,
                service=service,
                name=f"{name}-{index}",
                objective=objective.number("target") * 100,
                sli=_openslo_sli(objective),
                windows=_windows(period, opts, origin.source, slo_id),
                origin=origin,
                description=spec.string("description"),
            )
            validation.validate_slo(slo)
        except SpecError as exc:
            yield SpecError(exc.reason, source=origin.source, slo=slo_id)
            continue
        yield slo


def _openslo_period(spec: _Field, opts: LoadOptions, source: str) -> float:
    windows = spec.items("timeWindows")
    if not windows:
        return opts.default_period
    if len(windows) > 1:
        raise SpecError("invalid SLO time windows: only 1 time window is supported", source=source)
    if windows[0].string("unit").lower() != "day":
        raise SpecError(
            "invalid SLO time windows: only days based time windows are supported", source=source
        )
    return windows[0].number("count") * DAY


def _openslo_sli(objective: _Field) -> RawSLI:
    ratio = objective.sub("ratioMetrics")
    if not objective.has("ratioMetrics"):
        raise objective.error("ratioMetrics", "missing ratioMetrics")
    queries = {}
    for part in ("good", "total"):
        metric = ratio.sub(part)
        if metric.string("source") not in ("prometheus", "sloth"):
            raise metric.error(
                "source", f"prometheus or sloth query ratio '{part}' source is required"
            )
        if metric.string("queryType") != "promql":
            raise metric.error(
                "queryType",
                f"unsupported '{part}' indicator query type: {metric.string('queryType')}",
            )
        queries[part] = metric.string("query")
    return RawSLI(OPENSLO_RAW_TEMPLATE.format(**queries))


def duplicate_errors(slos: Sequence[SLO]) -> list[SpecError]:
    """Sloth's cross-file check: the same SLO ID defined in two files."""
    first: dict[str, SLO] = {}
    errors = []
    for slo in slos:
        if (known := first.get(slo.id)) is None:
            first[slo.id] = slo
        elif known.origin.source != slo.origin.source:
            errors.append(
                SpecError(
                    f"SLO duplicated. SLO{{service={slo.service}, name={slo.name}}}, ID={slo.id}"
                    f" already exists in a file: {known.origin.source}",
                    source=slo.origin.source,
                    slo=slo.id,
                )
            )
    return errors
