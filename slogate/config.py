"""slogate's own config file (`slogate.yaml`): backend, evaluation, policy, server.

Strict where Sloth specs are lenient: an unknown key or a wrong type is an error naming the file
and the key, so a typo never silently changes what blocks a release. Pure: parse from text.

    prometheus:   {url, timeout, connect_timeout, max_concurrency, headers, bearer_token_file}
    evaluation:   {interval, mode: auto|rules|direct, batch_size}
    specs:        {path, default_period, windows_path, watch_interval}
    server:       {listen, max_body_bytes, admin_token_file}
    store:        {path}
    flagger:      {services: {"NAMESPACE/NAME": SERVICE}}
    github:       {api_url, webhook_secret_file, app_id, private_key_file, token_file,
                   services: {"OWNER/REPO[:ENV]": SERVICE}}
    notifications:
      base_url, ttl, retry_initial, retry_max
      sinks:      [{name, type: alertmanager|pagerduty|opsgenie|slack|webhook,
                    url | url_env | url_file, secret_env | secret_file}]
      routes:     [{match: {service: GLOB, slo: GLOB, severity: page|ticket}, sinks: [NAME]}]
    policy:
      default:    {deny, warn, budget_low_threshold, max_staleness, fail_mode,
                   exempt_change_types, recovery_threshold}
      overrides:  [{match: {service: GLOB, slo: GLOB}, <any default key>}]
    dora:         {failure_window, window, abandon_after, report_year: 2019|2021|2022}
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import yaml

from slogate.core.dora import BANDS, DEFAULT_REPORT_YEAR
from slogate.core.durations import parse_duration
from slogate.core.policy import FailMode, Policy, PolicyConfig, PolicyRule, ReasonCode
from slogate.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PrometheusConfig:
    url: str = ""
    timeout: float = 10.0
    connect_timeout: float = 3.0
    max_concurrency: int = 16
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer_token_file: str = ""


@dataclass(frozen=True, slots=True)
class SpecsConfig:
    path: str = ""
    default_period: float = 30 * 86_400
    windows_path: str = ""
    watch_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class StoreConfig:
    path: str = "slogate.db"


@dataclass(frozen=True, slots=True)
class FlaggerConfig:
    """Canary (`namespace/name` or `name`) → slogate service, where the names differ."""

    services: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GitHubConfig:
    api_url: str = "https://api.github.com"
    webhook_secret_file: str = ""
    app_id: str = ""
    """The GitHub App's id or client id: with its private key, slogate gets installation
    tokens itself. Without them, a token from `SLOGATE_GITHUB_TOKEN` or `token_file`."""
    private_key_file: str = ""
    token_file: str = ""
    services: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str = "127.0.0.1:8080"
    max_body_bytes: int = 64 * 1024
    admin_token_file: str = ""


SINK_TYPES = ("alertmanager", "pagerduty", "opsgenie", "slack", "webhook")
# Which sink types need a secret (routing key, API key, HMAC secret) and which a URL.
_NEEDS_SECRET = {"pagerduty", "opsgenie", "webhook"}
_NEEDS_URL = {"alertmanager", "slack", "webhook"}


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """One notification sink. Secrets are named (env var or file), never written here."""

    name: str
    type: str
    url: str = ""
    url_env: str = ""
    url_file: str = ""
    secret_env: str = ""
    secret_file: str = ""


@dataclass(frozen=True, slots=True)
class RouteConfig:
    service: str = "*"
    slo: str = "*"
    severity: str = ""
    sinks: tuple[str, ...] = ()

    def matches(self, service: str, slo: str, severity: str) -> bool:
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(slo, self.slo)
            and self.severity in ("", severity)
        )


@dataclass(frozen=True, slots=True)
class NotificationsConfig:
    sinks: tuple[SinkConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    base_url: str = ""
    ttl: float = 86_400.0
    retry_initial: float = 1.0
    retry_max: float = 300.0

    def sinks_for(self, service: str, slo: str, severity: str) -> tuple[str, ...]:
        """Sink names an incident goes to: every matching route's, or all sinks without routes."""
        if not self.routes:
            return tuple(s.name for s in self.sinks)
        names: list[str] = []
        for route in self.routes:
            if route.matches(service, slo, severity):
                names += [n for n in route.sinks if n not in names]
        return tuple(names)


@dataclass(frozen=True, slots=True)
class DoraConfig:
    """Delivery figures (DESIGN §9)."""

    failure_window: float = 3600.0
    """A page incident opened this long after a deployment finished marks it failed."""
    window: float = 30 * 86_400.0
    """The figures' window when a request names none (and the one `/metrics` reports)."""
    abandon_after: float = 86_400.0
    """An in-progress deployment with no news for this long is closed as abandoned."""
    report_year: int = DEFAULT_REPORT_YEAR


@dataclass(frozen=True, slots=True)
class Config:
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    interval: float = 30.0
    mode: str = "auto"
    """Where error ratios come from: Sloth's recording rules where loaded (auto), only them
    (rules), or one query per SLO (direct)."""
    batch_size: int = 10
    """SLOs evaluated directly in one query at most (fewer when that leaves the backend's
    concurrency unused)."""
    specs: SpecsConfig = field(default_factory=SpecsConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    flagger: FlaggerConfig = field(default_factory=FlaggerConfig)
    github: GitHubConfig = field(default_factory=GitHubConfig)
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    dora: DoraConfig = field(default_factory=DoraConfig)
    source: str = ""


class _Section:
    """Strict typed access to one mapping of the config, naming `file: key.path` in errors."""

    def __init__(self, doc: Any, path: str, source: str, allowed: frozenset[str]) -> None:
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise ConfigError(f"{source}: {path or 'config'}: expected a mapping")
        self.doc, self.path, self.source = doc, path, source
        for key in doc:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.error(str(key), f"unknown key (known: {known})")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.key(name)}: {reason}")

    def section(self, name: str, allowed: frozenset[str]) -> _Section:
        return _Section(self.doc.get(name), self.key(name), self.source, allowed)

    def get(
        self, name: str, kind: type[T], default: T, check: Callable[[T], str | None] | None = None
    ) -> T:
        if name not in self.doc or self.doc[name] is None:
            return default
        value = self.doc[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(name, f"expected {kind.__name__}, got {value!r}")
        if check is not None and (problem := check(value)):
            raise self.error(name, problem)
        return value

    def duration(self, name: str, default: float) -> float:
        raw = self.doc.get(name)
        if raw is None:
            return default
        try:
            seconds = parse_duration(str(raw))
        except ValueError as exc:
            raise self.error(name, str(exc)) from None
        if seconds <= 0:
            raise self.error(name, "must be positive")
        return seconds

    def string_map(self, name: str) -> dict[str, str]:
        raw = self.get(name, dict, {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            raise self.error(name, "expected a mapping of strings")
        return raw

    def strings(self, name: str, default: frozenset[str]) -> frozenset[str]:
        raw = self.doc.get(name)
        if raw is None:
            return default
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise self.error(name, "expected a list of strings")
        return frozenset(raw)


_POLICY_KEYS = frozenset(
    {
        "deny",
        "warn",
        "budget_low_threshold",
        "max_staleness",
        "fail_mode",
        "exempt_change_types",
        "recovery_threshold",
    }
)


def _ratio(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def _codes(section: _Section, name: str, default: frozenset[ReasonCode]) -> frozenset[ReasonCode]:
    raw = section.strings(name, frozenset(default))
    known = {c.value for c in ReasonCode}
    for code in raw:
        if code not in known:
            raise section.error(
                name, f"unknown reason code {code!r} (known: {', '.join(sorted(known))})"
            )
    return frozenset(ReasonCode(c) for c in raw)


def _policy(section: _Section, base: Policy) -> Policy:
    fail_mode = section.get("fail_mode", str, base.fail_mode.value, _one_of(FailMode))
    return replace(
        base,
        deny=_codes(section, "deny", base.deny),
        warn=_codes(section, "warn", base.warn),
        budget_low_threshold=section.get(
            "budget_low_threshold", float, base.budget_low_threshold, _ratio
        ),
        max_staleness=section.duration("max_staleness", base.max_staleness),
        fail_mode=FailMode(fail_mode),
        exempt_change_types=section.strings("exempt_change_types", base.exempt_change_types),
        recovery_threshold=section.get(
            "recovery_threshold", float, base.recovery_threshold, _ratio
        ),
    )


def _one_of(enum: Any) -> Callable[[str], str | None]:
    return _one_of_values([e.value for e in enum])


def _one_of_values(values: Any) -> Callable[[str], str | None]:
    return lambda v: None if v in values else f"must be one of {', '.join(values)}"


def _http_url(value: str) -> str | None:
    return None if value.startswith(("https://", "http://")) else "must be an http(s) URL"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


def _policy_config(root: _Section, interval: float) -> PolicyConfig:
    section = root.section("policy", frozenset({"default", "overrides"}))
    default = _policy(section.section("default", _POLICY_KEYS), Policy(max_staleness=3 * interval))
    raw_rules = section.doc.get("overrides") or []
    if not isinstance(raw_rules, list):
        raise section.error("overrides", "expected a list")
    rules = []
    for index, raw in enumerate(raw_rules):
        rule = _Section(raw, f"policy.overrides[{index}]", root.source, _POLICY_KEYS | {"match"})
        match = rule.section("match", frozenset({"service", "slo"}))
        service = match.get("service", str, "")
        if not service:
            raise match.error("service", "is required (a service name or glob)")
        parsed = _policy(rule, default)
        changes = {k: getattr(parsed, k) for k in rule.doc if k != "match"}
        rules.append(PolicyRule(service, match.get("slo", str, "*"), changes))
    return PolicyConfig(default, tuple(rules))


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
    for dotted, value in (overrides or {}).items():
        if value is None or not isinstance(doc, dict):
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
    root = _Section(
        doc,
        "",
        source,
        frozenset(
            {
                "prometheus",
                "evaluation",
                "specs",
                "server",
                "policy",
                "store",
                "flagger",
                "github",
                "notifications",
                "dora",
            }
        ),
    )
    prom = root.section(
        "prometheus",
        frozenset(
            {"url", "timeout", "connect_timeout", "max_concurrency", "headers", "bearer_token_file"}
        ),
    )
    headers = prom.string_map("headers")
    evaluation = root.section("evaluation", frozenset({"interval", "mode", "batch_size"}))
    interval = evaluation.duration("interval", 30.0)
    specs = root.section(
        "specs", frozenset({"path", "default_period", "windows_path", "watch_interval"})
    )
    store = root.section("store", frozenset({"path"}))
    flagger = root.section("flagger", frozenset({"services"}))
    github = root.section(
        "github",
        frozenset(
            {"api_url", "webhook_secret_file", "app_id", "private_key_file", "token_file"}
            | {"services"}
        ),
    )
    server = root.section("server", frozenset({"listen", "max_body_bytes", "admin_token_file"}))
    return Config(
        prometheus=PrometheusConfig(
            url=prom.get("url", str, ""),
            timeout=prom.duration("timeout", 10.0),
            connect_timeout=prom.duration("connect_timeout", 3.0),
            max_concurrency=prom.get("max_concurrency", int, 16, _positive),
            headers=headers,
            bearer_token_file=prom.get("bearer_token_file", str, ""),
        ),
        interval=interval,
        mode=evaluation.get("mode", str, "auto", _one_of_values(("auto", "rules", "direct"))),
        batch_size=evaluation.get("batch_size", int, 10, _positive),
        specs=SpecsConfig(
            path=specs.get("path", str, ""),
            default_period=specs.duration("default_period", 30 * 86_400),
            windows_path=specs.get("windows_path", str, ""),
            watch_interval=specs.duration("watch_interval", 5.0),
        ),
        server=ServerConfig(
            listen=server.get("listen", str, "127.0.0.1:8080"),
            max_body_bytes=server.get("max_body_bytes", int, 64 * 1024, _positive),
            admin_token_file=server.get("admin_token_file", str, ""),
        ),
        policy=_policy_config(root, interval),
        store=StoreConfig(path=store.get("path", str, "slogate.db")),
        flagger=FlaggerConfig(services=flagger.string_map("services")),
        github=GitHubConfig(
            api_url=github.get("api_url", str, "https://api.github.com", _http_url),
            webhook_secret_file=github.get("webhook_secret_file", str, ""),
            app_id=_app_id(github),
            private_key_file=github.get("private_key_file", str, ""),
            token_file=github.get("token_file", str, ""),
            services=github.string_map("services"),
        ),
        notifications=_notifications(root),
        dora=_dora(root),
        source=source,
    )


def _dora(root: _Section) -> DoraConfig:
    dora = root.section(
        "dora", frozenset({"failure_window", "window", "abandon_after", "report_year"})
    )
    years = ", ".join(str(y) for y in BANDS)
    return DoraConfig(
        failure_window=dora.duration("failure_window", 3600.0),
        window=dora.duration("window", 30 * 86_400.0),
        abandon_after=dora.duration("abandon_after", 86_400.0),
        report_year=dora.get(
            "report_year",
            int,
            DEFAULT_REPORT_YEAR,
            lambda y: None if y in BANDS else f"bands are known for {years}",
        ),
    )


def _app_id(github: _Section) -> str:
    """A GitHub App's numeric id (YAML reads it as an int) or its client id."""
    value = github.doc.get("app_id")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise github.error("app_id", f"expected an app id or client id, got {value!r}")
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text):
        raise github.error("app_id", f"not a GitHub App id or client id: {text[:64]!r}")
    return text


_SINK_KEYS = frozenset({"name", "type", "url", "url_env", "url_file", "secret_env", "secret_file"})


def _sink(section: _Section) -> SinkConfig:
    name = section.get("name", str, "")
    if not name:
        raise section.error("name", "is required")
    kind = section.get("type", str, "", _one_of_values(SINK_TYPES))
    if not kind:
        raise section.error("type", f"is required (one of {', '.join(SINK_TYPES)})")
    sink = SinkConfig(
        name=name,
        type=kind,
        url=section.get("url", str, "", _http_url),
        url_env=section.get("url_env", str, ""),
        url_file=section.get("url_file", str, ""),
        secret_env=section.get("secret_env", str, ""),
        secret_file=section.get("secret_file", str, ""),
    )
    if kind in _NEEDS_URL and not (sink.url or sink.url_env or sink.url_file):
        raise section.error("url", f"a {kind} sink needs url, url_env or url_file")
    if kind in _NEEDS_SECRET and not (sink.secret_env or sink.secret_file):
        raise section.error("secret_env", f"a {kind} sink needs secret_env or secret_file")
    return sink


def _notifications(root: _Section) -> NotificationsConfig:
    section = root.section(
        "notifications",
        frozenset({"sinks", "routes", "base_url", "ttl", "retry_initial", "retry_max"}),
    )
    sinks: list[SinkConfig] = []
    for index, raw in enumerate(section.get("sinks", list, [])):
        sink = _sink(_Section(raw, f"notifications.sinks[{index}]", root.source, _SINK_KEYS))
        if sink.name in {s.name for s in sinks}:
            raise ConfigError(
                f"{root.source}: notifications.sinks[{index}].name: {sink.name!r} repeated"
            )
        sinks.append(sink)
    names = {s.name for s in sinks}
    routes = []
    for index, raw in enumerate(section.get("routes", list, [])):
        route = _Section(
            raw, f"notifications.routes[{index}]", root.source, frozenset({"match", "sinks"})
        )
        match = route.section("match", frozenset({"service", "slo", "severity"}))
        targets = sorted(route.strings("sinks", frozenset()))
        for target in targets:
            if target not in names:
                raise route.error("sinks", f"unknown sink {target!r}")
        routes.append(
            RouteConfig(
                service=match.get("service", str, "*"),
                slo=match.get("slo", str, "*"),
                severity=match.get("severity", str, "", _one_of_values(("page", "ticket"))),
                sinks=tuple(targets),
            )
        )
    return NotificationsConfig(
        sinks=tuple(sinks),
        routes=tuple(routes),
        base_url=section.get("base_url", str, "", _http_url),
        ttl=section.duration("ttl", 86_400.0),
        retry_initial=section.duration("retry_initial", 1.0),
        retry_max=section.duration("retry_max", 300.0),
    )
