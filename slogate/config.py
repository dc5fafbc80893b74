"""slogate's own config file (`slogate.yaml`): backend, evaluation, policy, server.

Strict where Sloth specs are lenient: an unknown key or a wrong type is an error naming the file
and the key, so a typo never silently changes what blocks a release. Pure: parse from text.

Each section is a msgspec Struct: the Structs are at once the file's schema (`json_schema()`,
published as `docs/slogate.schema.json` for editors), its checks (types, bounds, unknown keys)
and the values the rest of slogate reads. msgspec's errors are reworded into slogate's own
`file: key.path: reason` form.

    prometheus:   {url, timeout, connect_timeout, max_concurrency, headers, bearer_token_file,
                   flavor: prometheus|thanos|mimir|victoriametrics}
    evaluation:   {interval, mode: auto|rules|direct, batch_size, long_windows: oneshot|incremental,
                   worker: process|inline}
    specs:        {path, default_period, windows_path, watch_interval}
    server:       {listen, max_body_bytes, admin_token_file, request_timeout, idle_timeout,
                   max_connections, max_connections_per_peer, require_token_for: [gate, read],
                   rate_limit: {rate, burst}}
    store:        {path | url, password_file, timeout, pool_size, min_free_mb, prune_every,
                   retention: {decisions, notifications}}
    flagger:      {services: {"NAMESPACE/NAME": SERVICE}}
    github:       {api_url, webhook_secret_file, app_id, private_key_file, token_file,
                   services: {"OWNER/REPO[:ENV]": SERVICE}}
    notifications:
      base_url, ttl, retry_initial, retry_max
      sinks:      [{name, type: alertmanager|pagerduty|opsgenie|slack|webhook,
                    url | url_env | url_file, secret_env | secret_file}]
      routes:     [{match: {service: GLOB, slo: GLOB, severity: page|ticket}, sinks: [NAME]}]
    dora:         {failure_window, window, abandon_after, report_year: 2019|2021|2022}
    canary:       {label, window, min_requests, allowed_increase, confidence, min_samples,
                   step, sample_window}
    policy:
      default:    {deny, warn, budget_low_threshold, max_staleness, fail_mode,
                   exempt_change_types, recovery_threshold}
      overrides:  [{match: {service: GLOB, slo: GLOB}, <any default key>}]
"""

from __future__ import annotations

import fnmatch
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import msgspec
import yaml

from slogate.core.canary import CanarySettings
from slogate.core.dora import BANDS, DEFAULT_REPORT_YEAR
from slogate.core.durations import parse_duration
from slogate.core.policy import FailMode, Policy, PolicyConfig, PolicyRule, ReasonCode
from slogate.errors import ConfigError


class Seconds(float):
    """A duration in Prometheus' form (`30s`, `5m`, `1h30m`, `7d`), positive; as seconds."""


def seconds(value: float) -> Seconds:
    """A default duration (kept a plain float, as the JSON schema's default must be)."""
    return cast(Seconds, value)


Positive = Annotated[int, msgspec.Meta(gt=0)]
NotNegative = Annotated[int, msgspec.Meta(ge=0)]
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]
SinkType = Literal["alertmanager", "pagerduty", "opsgenie", "slack", "webhook"]
Severity = Literal["page", "ticket"]
SINK_TYPES: tuple[str, ...] = typing.get_args(SinkType)


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A mapping of the config file: unknown keys are errors."""


def _http_url(value: str) -> None:
    if value and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")


class PrometheusConfig(Section, frozen=True, kw_only=True):
    url: str = ""
    timeout: Seconds = seconds(10.0)
    connect_timeout: Seconds = seconds(3.0)
    max_concurrency: Positive = 16
    headers: dict[str, str] = {}
    bearer_token_file: str = ""
    flavor: Literal["prometheus", "thanos", "mimir", "victoriametrics"] = "prometheus"
    """Which server speaks the query API (what each needs: `evaluation.flavors.Flavor`)."""


class EvaluationConfig(Section, frozen=True, kw_only=True):
    interval: Seconds = seconds(30.0)
    mode: Literal["auto", "rules", "direct"] = "auto"
    """Where error ratios come from: Sloth's recording rules where loaded (auto), only them
    (rules), or one query per SLO (direct)."""
    batch_size: Positive = 10
    """SLOs evaluated directly in one query at most (fewer when that leaves the backend's
    concurrency unused)."""
    long_windows: Literal["oneshot", "incremental"] = "oneshot"
    """Direct mode's windows of a day and more: one query over the whole window each cycle
    (oneshot), or summed from hourly buckets fetched once (incremental)."""
    worker: Literal["process", "inline"] = "process"
    """Where cycles run: in a worker process `serve` starts and restarts (process), so gate
    calls never wait on decoding answers, or on the serving event loop (inline)."""


class SpecsConfig(Section, frozen=True, kw_only=True):
    path: str = ""
    default_period: Seconds = seconds(30 * 86_400.0)
    windows_path: str = ""
    watch_interval: Seconds = seconds(5.0)


DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long the store keeps what it no longer needs, and how it guards its disk."""

    decisions: float = 400 * DAY
    notifications: float = 30 * DAY
    """Delivered, failed and expired outbox entries (a resolved incident's only record)."""
    prune_every: float = 60.0
    min_free_bytes: int = 256 << 20
    """Below this much free space on the store's file system, no decision is made."""


class KeptFor(Section, frozen=True, kw_only=True):
    decisions: Seconds = seconds(400 * DAY)
    notifications: Seconds = seconds(30 * DAY)


class StoreConfig(Section, frozen=True, kw_only=True):
    """The SQLite file (one process), unless `url` names a PostgreSQL database (replicas)."""

    path: str = "slogate.db"
    url: str = ""
    """postgresql://user@host:port/db: no password in it; it comes from SLOGATE_STORE_PASSWORD,
    PGPASSWORD or `password_file`."""
    password_file: str = ""
    timeout: Seconds = seconds(5.0)
    """How long one store operation may take before the gate answers 503 store_unavailable."""
    pool_size: Positive = 8
    retention: KeptFor = KeptFor()
    prune_every: Seconds = seconds(60.0)
    min_free_mb: NotNegative = 256

    @property
    def retention_config(self) -> RetentionConfig:
        return RetentionConfig(
            decisions=self.retention.decisions,
            notifications=self.retention.notifications,
            prune_every=self.prune_every,
            min_free_bytes=self.min_free_mb << 20,
        )

    def __post_init__(self) -> None:
        if not self.url:
            return
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("url: must be a postgresql:// URL")
        if parts.password is not None:
            raise ValueError(
                "url: must not contain the password: set SLOGATE_STORE_PASSWORD or"
                " store.password_file"
            )


class FlaggerConfig(Section, frozen=True, kw_only=True):
    """Canary (`namespace/name` or `name`) → slogate service, where the names differ."""

    services: dict[str, str] = {}


_APP_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class GitHubConfig(Section, frozen=True, kw_only=True):
    api_url: str = "https://api.github.com"
    webhook_secret_file: str = ""
    app_id: str = ""
    """The GitHub App's id or client id: with its private key, slogate gets installation
    tokens itself. Without them, a token from `SLOGATE_GITHUB_TOKEN` or `token_file`."""
    private_key_file: str = ""
    token_file: str = ""
    services: dict[str, str] = {}

    def __post_init__(self) -> None:
        _http_url(self.api_url)
        if self.app_id and not _APP_ID.fullmatch(self.app_id):
            raise ValueError(f"app_id: not a GitHub App id or client id: {self.app_id[:64]!r}")


ROUTE_CLASSES = ("gate", "read")


@dataclass(frozen=True, slots=True)
class ServerLimitsConfig:
    """What one client may take: connections, time, requests, and which routes need a token."""

    request_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int = 0
    """0: the file-descriptor limit less a reserve."""
    max_connections_per_peer: int = 512
    rate: float = 200.0
    """Gate and canary requests per second per client (token name, else peer address); 0: off."""
    burst: int = 2000
    require_token_for: frozenset[str] = frozenset()


class RateLimit(Section, frozen=True, kw_only=True):
    rate: Annotated[float, msgspec.Meta(ge=0)] = 200.0
    burst: Positive = 2000


class ServerConfig(Section, frozen=True, kw_only=True):
    listen: str = "127.0.0.1:8080"
    max_body_bytes: Positive = 64 * 1024
    admin_token_file: str = ""
    request_timeout: Seconds = seconds(10.0)
    idle_timeout: Seconds = seconds(60.0)
    max_connections: NotNegative = 0
    max_connections_per_peer: Positive = 512
    rate_limit: RateLimit = RateLimit()
    require_token_for: frozenset[Literal["gate", "read"]] = frozenset()

    @property
    def limits(self) -> ServerLimitsConfig:
        return ServerLimitsConfig(
            request_timeout=self.request_timeout,
            idle_timeout=self.idle_timeout,
            max_connections=self.max_connections,
            max_connections_per_peer=self.max_connections_per_peer,
            rate=self.rate_limit.rate,
            burst=self.rate_limit.burst,
            require_token_for=frozenset(self.require_token_for),
        )


_NEEDS_SECRET = {"pagerduty", "opsgenie", "webhook"}
_NEEDS_URL = {"alertmanager", "slack", "webhook"}


class SinkConfig(Section, frozen=True, kw_only=True):
    """One notification sink. Secrets are named (env var or file), never written here."""

    name: str
    type: SinkType
    url: str = ""
    url_env: str = ""
    url_file: str = ""
    secret_env: str = ""
    secret_file: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name: is required")
        try:
            _http_url(self.url)
        except ValueError as exc:
            raise ValueError(f"url: {exc}") from None
        if self.type in _NEEDS_URL and not (self.url or self.url_env or self.url_file):
            raise ValueError(f"url: a {self.type} sink needs url, url_env or url_file")
        if self.type in _NEEDS_SECRET and not (self.secret_env or self.secret_file):
            raise ValueError(f"secret_env: a {self.type} sink needs secret_env or secret_file")


class RouteMatch(Section, frozen=True, kw_only=True):
    service: str = "*"
    slo: str = "*"
    severity: Severity | Literal[""] = ""


class RouteConfig(Section, frozen=True, kw_only=True):
    match: RouteMatch = RouteMatch()
    sinks: tuple[str, ...] = ()

    def matches(self, service: str, slo: str, severity: str) -> bool:
        return (
            fnmatch.fnmatchcase(service, self.match.service)
            and fnmatch.fnmatchcase(slo, self.match.slo)
            and self.match.severity in ("", severity)
        )


class NotificationsConfig(Section, frozen=True, kw_only=True):
    sinks: tuple[SinkConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    base_url: str = ""
    ttl: Seconds = seconds(86_400.0)
    retry_initial: Seconds = seconds(1.0)
    retry_max: Seconds = seconds(300.0)

    def __post_init__(self) -> None:
        _http_url(self.base_url)
        names: set[str] = set()
        for index, sink in enumerate(self.sinks):
            if sink.name in names:
                raise ValueError(f"sinks[{index}].name: {sink.name!r} repeated")
            names.add(sink.name)
        for index, route in enumerate(self.routes):
            for target in sorted(route.sinks):
                if target not in names:
                    raise ValueError(f"routes[{index}].sinks: unknown sink {target!r}")

    def sinks_for(self, service: str, slo: str, severity: str) -> tuple[str, ...]:
        """Sink names an incident goes to: every matching route's, or all sinks without routes."""
        if not self.routes:
            return tuple(s.name for s in self.sinks)
        names: list[str] = []
        for route in self.routes:
            if route.matches(service, slo, severity):
                names += [n for n in route.sinks if n not in names]
        return tuple(names)


# --- delivery figures (DESIGN §9) -----------------------------------------------------------


class DoraConfig(Section, frozen=True, kw_only=True):
    """Delivery figures (DESIGN §9)."""

    failure_window: Seconds = seconds(3600.0)
    """A page incident opened this long after a deployment finished marks it failed."""
    window: Seconds = seconds(30 * 86_400.0)
    """The figures' window when a request names none (and the one `/metrics` reports)."""
    abandon_after: Seconds = seconds(86_400.0)
    """An in-progress deployment with no news for this long is closed as abandoned."""
    report_year: int = DEFAULT_REPORT_YEAR

    def __post_init__(self) -> None:
        if self.report_year not in BANDS:
            years = ", ".join(str(y) for y in BANDS)
            raise ValueError(f"report_year: bands are known for {years}")


# --- canary analysis (DESIGN §8) ------------------------------------------------------------

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CanaryConfig(Section, frozen=True, kw_only=True):
    """The file's `canary:` section; the judge reads it as `core.canary.CanarySettings`."""

    label: str = "rollouts_pod_template_hash"
    """The label whose value tells canary series from baseline series."""
    window: Seconds = seconds(600.0)
    min_requests: Annotated[float, msgspec.Meta(gt=0)] = 500.0
    allowed_increase: float = 1.5
    confidence: float = 0.95
    min_samples: Positive = 5
    step: Seconds = seconds(60.0)
    sample_window: Seconds = seconds(300.0)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.match(self.label):
            raise ValueError("label: must be a Prometheus label name")
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence: must be at least 0.5 and below 1")
        if self.allowed_increase < 1:
            raise ValueError("allowed_increase: must be at least 1")

    def settings(self) -> CanarySettings:
        return CanarySettings(**msgspec.structs.asdict(self))


# --- policy: the file's form, then the core's PolicyConfig ------------------------------------


class PolicyFields(Section, frozen=True, kw_only=True):
    """Policy keys; those left out keep the default's (or, in an override, the rule's base)."""

    deny: list[str] | msgspec.UnsetType = msgspec.UNSET
    warn: list[str] | msgspec.UnsetType = msgspec.UNSET
    budget_low_threshold: Ratio | msgspec.UnsetType = msgspec.UNSET
    max_staleness: Seconds | msgspec.UnsetType = msgspec.UNSET
    fail_mode: Literal["closed", "open"] | msgspec.UnsetType = msgspec.UNSET
    exempt_change_types: list[str] | msgspec.UnsetType = msgspec.UNSET
    recovery_threshold: Ratio | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        """The keys given, as `Policy` fields."""
        given = {
            name: value
            for name in PolicyFields.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }
        for name in ("deny", "warn"):
            if name in given:
                given[name] = frozenset(ReasonCode(c) for c in given[name])
        if "exempt_change_types" in given:
            given["exempt_change_types"] = frozenset(given["exempt_change_types"])
        if "fail_mode" in given:
            given["fail_mode"] = FailMode(given["fail_mode"])
        return given

    def __post_init__(self) -> None:
        known = {c.value for c in ReasonCode}
        for name in ("deny", "warn"):
            for code in cast(list[str], getattr(self, name) or []):
                if code not in known:
                    raise ValueError(
                        f"{name}: unknown reason code {code!r} (known: {', '.join(sorted(known))})"
                    )


class PolicyMatch(Section, frozen=True, kw_only=True):
    service: str = ""
    slo: str = "*"


class PolicyOverride(PolicyFields, frozen=True, kw_only=True):
    match: PolicyMatch = PolicyMatch()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.match.service:
            raise ValueError("match.service: is required (a service name or glob)")


class PolicySection(Section, frozen=True, kw_only=True):
    default: PolicyFields = PolicyFields()
    overrides: tuple[PolicyOverride, ...] = ()

    def resolve(self, interval: float) -> PolicyConfig:
        """The core's policy configuration; `max_staleness` defaults to three intervals."""
        default = replace(Policy(max_staleness=3 * interval), **self.default.changes())
        rules = []
        for override in self.overrides:
            changes = override.changes()
            rules.append(PolicyRule(override.match.service, override.match.slo, changes))
        return PolicyConfig(default, tuple(rules))


class ConfigFile(Section, frozen=True, kw_only=True):
    """The whole `slogate.yaml`."""

    prometheus: PrometheusConfig = PrometheusConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    specs: SpecsConfig = SpecsConfig()
    server: ServerConfig = ServerConfig()
    policy: PolicySection = PolicySection()
    store: StoreConfig = StoreConfig()
    flagger: FlaggerConfig = FlaggerConfig()
    github: GitHubConfig = GitHubConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    canary: CanaryConfig = CanaryConfig()
    dora: DoraConfig = DoraConfig()


@dataclass(frozen=True, slots=True)
class Config:
    """A checked config file as slogate runs it (the policy resolved for the core)."""

    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    specs: SpecsConfig = field(default_factory=SpecsConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    flagger: FlaggerConfig = field(default_factory=FlaggerConfig)
    github: GitHubConfig = field(default_factory=GitHubConfig)
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    canary: CanarySettings = field(default_factory=CanarySettings)
    dora: DoraConfig = field(default_factory=DoraConfig)
    source: str = ""

    @property
    def interval(self) -> float:
        return self.evaluation.interval

    @property
    def mode(self) -> str:
        return self.evaluation.mode

    @property
    def batch_size(self) -> int:
        return self.evaluation.batch_size

    @property
    def long_windows(self) -> str:
        return self.evaluation.long_windows


# --- parsing ----------------------------------------------------------------------------------


def parse_config(
    text: str, source: str = "slogate.yaml", overrides: Mapping[str, Any] | None = None
) -> Config:
    """Parse and check a whole config file; raises `ConfigError` naming the file and key.

    `overrides` maps dotted keys (`evaluation.interval`) to values that replace the file's, as
    command-line flags do; they are checked like the file itself.
    """
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: config: expected a mapping")
    _apply(doc, overrides or {})
    doc = _without_nulls(doc)
    if isinstance(app_id := doc.get("github", {}).get("app_id"), int):
        doc["github"]["app_id"] = str(app_id)  # YAML reads a numeric app id as an int
    try:
        parsed = msgspec.convert(doc, ConfigFile, strict=True, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_reworded(str(exc), doc)}") from None
    return Config(
        prometheus=parsed.prometheus,
        evaluation=parsed.evaluation,
        specs=parsed.specs,
        server=parsed.server,
        policy=parsed.policy.resolve(parsed.evaluation.interval),
        store=parsed.store,
        flagger=parsed.flagger,
        github=parsed.github,
        notifications=parsed.notifications,
        canary=parsed.canary.settings(),
        dora=parsed.dora,
        source=source,
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `slogate.yaml` (what `docs/slogate.schema.json` holds)."""
    schema: dict[str, Any] = msgspec.json.schema(ConfigFile, schema_hook=_schema)
    schema["title"] = "slogate.yaml"
    return schema


def _schema(kind: type) -> dict[str, Any]:
    if kind is Seconds:
        return {
            "type": "string",
            "pattern": r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$",  # parse_duration's
            "minLength": 2,
            "description": "A duration in Prometheus' form: 30s, 5m, 1h30m, 7d.",
        }
    raise NotImplementedError


def _decode(kind: type, value: Any) -> Any:
    if kind is Seconds:
        parsed = parse_duration(str(value))
        if parsed <= 0:
            raise ValueError("must be positive")
        return Seconds(parsed)
    raise NotImplementedError


def _apply(doc: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for dotted, value in overrides.items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = value


def _without_nulls(value: Any) -> Any:
    """`key:` with no value means the default, as if the key were absent."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# --- msgspec's errors in slogate's words -------------------------------------------------------

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[['\"]([^'\"]*)['\"]\]")
_HEAD = re.compile(r"^(?P<key>[a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (?P<rest>.*)$", re.S)


def _reworded(message: str, doc: Any) -> str:
    """`Expected `int`, got `str` - at `$.prometheus.max_concurrency`` →
    `prometheus.max_concurrency: expected int, got 'many'`, and the like."""
    match = _AT.match(message)
    assert match is not None  # the pattern matches any text
    reason, path = match["reason"], match["path"] or ""
    parts = [m[1] or (int(m[2]) if m[2] else m[3]) for m in _PATH_PART.finditer(path)]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    kind = _type_at(ConfigFile, parts)
    if unknown := re.fullmatch(r"Object contains unknown field `(.*)`", reason):
        known = ", ".join(sorted(getattr(kind, "__struct_fields__", ())))
        return f"{_join(key, unknown[1])}: unknown key (known: {known})"
    if missing := re.fullmatch(r"Object missing required field `(.*)`", reason):
        field_type = _type_at(kind, [missing[1]])
        options = typing.get_args(field_type) if typing.get_origin(field_type) is Literal else ()
        suffix = f" (one of {', '.join(options)})" if options else ""
        return f"{_join(key, missing[1])}: is required{suffix}"
    if wrong := re.fullmatch(r"Expected `(\w+)`, got `\w+`", reason):
        return f"{key}: expected {wrong[1]}, got {_value_at(doc, parts)!r}"
    if re.fullmatch(r"Expected `(int|float)` [<>]=? [0-9.]+", reason):
        return f"{key}: {_bounds(_meta_at(ConfigFile, parts))}"
    if re.fullmatch(r"Invalid enum value .*", reason):
        return f"{key}: must be one of {', '.join(a for a in _literals(kind) if a)}"
    if head := _HEAD.match(reason):  # a check of a section naming its own key
        return f"{_join(key, head['key'])}: {head['rest']}"
    return f"{key or 'config'}: {reason[:1].lower()}{reason[1:]}"


def _join(key: str, child: str) -> str:
    return f"{key}.{child}" if key else child


def _value_at(doc: Any, parts: list[str | int]) -> Any:
    for part in parts:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _type_at(kind: Any, parts: list[str | int]) -> Any:
    """The annotated type at `parts` below the Struct `kind` (Unset and Annotated unwrapped)."""
    hints: dict[str, Any] = {}
    for part in parts:
        kind = _unwrapped(kind)
        if isinstance(part, int) or typing.get_origin(kind) in (tuple, list, dict):
            args = typing.get_args(kind)
            kind = args[-1] if typing.get_origin(kind) is dict else (args[0] if args else Any)
            continue
        if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
            return Any
        hints = typing.get_type_hints(kind, include_extras=True)
        kind = hints.get(part, Any)
    return _unwrapped(kind)


def _meta_at(kind: Any, parts: list[str | int]) -> msgspec.Meta | None:
    """The bounds declared on the field at `parts` (`Positive`, `Ratio`, ...)."""
    parent = _type_at(kind, parts[:-1])
    if not (parts and isinstance(parent, type) and issubclass(parent, msgspec.Struct)):
        return None
    annotated = typing.get_type_hints(parent, include_extras=True).get(str(parts[-1]))
    for arg in typing.get_args(annotated):
        for meta in [arg, *typing.get_args(arg)]:
            if isinstance(meta, msgspec.Meta):
                return meta
    return None


def _bounds(meta: msgspec.Meta | None) -> str:
    if meta is not None and meta.ge == 0 and meta.le == 1:
        return "must be between 0 and 1"
    if meta is not None and meta.gt == 0:
        return "must be positive"
    return "must not be negative"


def _unwrapped(kind: Any) -> Any:
    if typing.get_origin(kind) is Annotated:
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) in (typing.Union, type(int | str)):
        args = [a for a in typing.get_args(kind) if a is not msgspec.UnsetType]
        if len(args) == 1:
            return _unwrapped(args[0])
    return kind


def _literals(kind: Any) -> list[str]:
    if typing.get_origin(kind) is Literal:
        return [str(a) for a in typing.get_args(kind)]
    return [v for arg in typing.get_args(kind) for v in _literals(arg)]
