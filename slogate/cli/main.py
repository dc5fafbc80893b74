"""The `slogate` command line (DESIGN §5).

Each command imports what it runs when it runs (the spec loader, the config, the serving
stack, httpx): `slogate --help` and `check` start without the rest.

Exit codes of `check`: 0 allow or warn, 1 deny, 2 usage or config error, 3 no decision (gate
unreachable, unknown service, unexpected answer) — never 0 when it could not decide. With
`--canary`/`--baseline` (`canary_check`): 0 pass, 1 fail, 4 inconclusive, 2 and 3 as above.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slogate import __version__
from slogate.cli import canary_check, generate
from slogate.cli import store as store_commands
from slogate.cli.options import add_spec_options, load_options
from slogate.cli.store import store_override
from slogate.errors import AlertWindowsError, ConfigError, StoreError
from slogate.telemetry.logs import setup_logging

if TYPE_CHECKING:
    from slogate.config import Config

EXIT_OK, EXIT_DENY, EXIT_USAGE, EXIT_NO_DECISION = 0, 1, 2, 3
EXIT_STORE = 5  # the store could not be opened (serve, store migrate, store copy)
DEFAULT_URL = "http://127.0.0.1:8080"


# --- validate -------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from slogate.evaluation.specfiles import load_specs

    options = load_options(args.slo_period_windows_path, args.default_slo_period)
    found = load_specs(
        Path(args.path),
        options,
        include=args.fs_include,
        exclude=args.fs_exclude,
        check_duplicates=not args.ignore_slo_duplicates,
    )
    for error in found.errors:
        print(error.line())
    summary = f"{found.files} file(s), {len(found.slos)} SLO(s), {len(found.errors)} problem(s)"
    print(summary, file=sys.stderr)
    return EXIT_OK if found.ok else 1


# --- serve ----------------------------------------------------------------------------------------


def with_alertmanager(config: Config, url: str) -> Config:
    """`--alertmanager-url`: one more sink, named `alertmanager`, getting every incident."""
    from dataclasses import replace

    import msgspec

    from slogate.config import RouteConfig, SinkConfig

    notifications = config.notifications
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--alertmanager-url must be an http(s) URL, got {url!r}")
    sink = SinkConfig(name="alertmanager", type="alertmanager", url=url)
    routes = notifications.routes
    if routes:
        routes = (*routes, RouteConfig(sinks=("alertmanager",)))
    sinks = (*(s for s in notifications.sinks if s.name != "alertmanager"), sink)
    notifications = msgspec.structs.replace(notifications, sinks=sinks, routes=routes)
    return replace(config, notifications=notifications)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from slogate.evaluation.engine import ConfigSource, SpecSource
    from slogate.server.app import serve

    source = ConfigSource(
        Path(args.config) if args.config else None,
        {
            "prometheus.url": args.prometheus_url,
            "server.listen": args.listen,
            "evaluation.interval": args.interval,
            "specs.path": args.specs,
            **store_override(args.store),
        },
    )
    config = source.load()
    if args.alertmanager_url:
        config = with_alertmanager(config, args.alertmanager_url)
    if not config.specs.path:
        raise ConfigError("no specs: pass --specs DIR or set specs.path")
    options = load_options(args.slo_period_windows_path, args.default_slo_period, config)
    specs = SpecSource(Path(config.specs.path), options)
    asyncio.run(serve(config, specs, config_source=source))
    return EXIT_OK


# --- check and status (clients of a running gate) -------------------------------------------------


RATE_LIMIT_WAITS = 5
RATE_LIMIT_LONGEST_WAIT = 60.0


def _get_json(url: str, params: dict[str, str], timeout: float) -> tuple[int, Any] | str:
    """GET with the token of `SLOGATE_TOKEN` if set; a 429 is waited out as its Retry-After
    says (a few times, a minute at most each), since a pipeline would rather wait than fail.
    A string says why there is no answer (the gate could not be reached)."""
    import httpx

    token = os.environ.get("SLOGATE_TOKEN", "").strip()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(RATE_LIMIT_WAITS):
        try:
            response = httpx.get(url, params=params, timeout=timeout, headers=headers)
        except httpx.HTTPError as exc:
            return str(exc)
        if response.status_code != 429:
            break
        wait = _retry_after(response.headers.get("Retry-After", ""))
        print(f"slogate: rate limited, retrying in {wait:g} s", file=sys.stderr)
        time.sleep(wait)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def _retry_after(value: str) -> float:
    seconds = float(value) if value.strip().isdigit() else 1.0
    return min(max(seconds, 0.1), RATE_LIMIT_LONGEST_WAIT)


def _describe(body: dict[str, Any]) -> str:
    lines = [f"{body['decision'].upper()} {body['service']} (decision {body['decision_id']})"]
    for reason in body.get("reasons", []):
        slo = f" {reason['slo']}" if reason.get("slo") else ""
        lines.append(f"  {reason['code']}{slo}: {reason['message']}")
    for slo in body.get("slos", []):
        remaining = slo.get("error_budget_remaining")
        left = "n/a" if remaining is None else f"{remaining * 100:.1f}%"
        lines.append(f"  {slo['slo']}: budget left {left}, state {slo['state']}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    if canary_check.wanted(args):
        return canary_check.run(args)
    params = {"service": args.service}
    for key in ("slo", "deploy_id", "step", "change_type"):
        if value := getattr(args, key):
            params[key] = value
    answer = _get_json(args.url.rstrip("/") + "/v1/gate", params, args.timeout)
    if isinstance(answer, str):
        print(f"slogate check: no decision: cannot reach {args.url}: {answer}", file=sys.stderr)
        return EXIT_NO_DECISION
    status, body = answer
    if (
        status != 200
        or not isinstance(body, dict)
        or body.get("decision") not in ("allow", "warn", "deny")
    ):
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        print(
            f"slogate check: no decision: HTTP {status}: {message or 'unexpected answer'}",
            file=sys.stderr,
        )
        return EXIT_NO_DECISION
    print(json.dumps(body, indent=2) if args.json else _describe(body))
    if body["decision"] == "deny" or (body["decision"] == "warn" and args.fail_on_warn):
        return EXIT_DENY
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    answer = _get_json(args.url.rstrip("/") + "/v1/slos", {}, args.timeout)
    if isinstance(answer, str):
        print(f"slogate status: cannot reach {args.url}: {answer}", file=sys.stderr)
        return EXIT_NO_DECISION
    status, body = answer
    if status != 200 or not isinstance(body, dict):
        print(f"slogate status: HTTP {status}", file=sys.stderr)
        return EXIT_NO_DECISION
    print(status_table(body["slos"]))
    return EXIT_OK


def status_table(slos: Sequence[dict[str, Any]]) -> str:
    header = (
        "SERVICE",
        "SLO",
        "OBJECTIVE",
        "BUDGET LEFT",
        "BURN 1h",
        "BURN 6h",
        "PAGE",
        "TICKET",
        "STATE",
    )
    rows = [header]
    for s in slos:
        remaining = s["error_budget_remaining"]
        burn = s["burn_rates"]
        rows.append(
            (
                s["service"],
                s["slo"],
                f"{s['objective']:g}%",
                "n/a" if remaining is None else f"{remaining * 100:.1f}%",
                _fmt(burn.get("1h")),
                _fmt(burn.get("6h")),
                "FIRING" if s["alerts"]["page"] else "-",
                "FIRING" if s["alerts"]["ticket"] else "-",
                s["state"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


# --- schema ---------------------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    """The JSON Schema of slogate.yaml, for editors (`docs/slogate.schema.json` holds it)."""
    from slogate.config import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


# --- demo -----------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from slogate.cli.demo import run_demo

    return run_demo(
        specs=Path(args.specs),
        listen=args.listen,
        prometheus_port=args.prometheus_port,
        alertmanager_port=args.alertmanager_port,
        workdir=Path(args.workdir) if args.workdir else None,
        interval=args.interval,
    )


# --- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slogate", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"slogate {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("SLOGATE_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=os.environ.get("SLOGATE_LOG_FORMAT", "json"),
        help="json (one object per line, with trace ids) or text",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gate daemon")
    serve.add_argument("--specs", help="SLO spec file or directory (Sloth formats)")
    serve.add_argument("--prometheus-url", help="Prometheus-compatible query API base URL")
    serve.add_argument("--listen", help="HOST:PORT to serve on (default 127.0.0.1:8080)")
    serve.add_argument("--config", help="slogate.yaml (policy, backend, server)")
    serve.add_argument("--interval", help="evaluation interval (default 30s)")
    serve.add_argument(
        "--alertmanager-url", help="page through this Alertmanager (API v2), for every service"
    )
    serve.add_argument(
        "--store",
        help="SQLite file for the audit trail and freezes (default slogate.db), or a"
        " postgresql:// URL that replicas share",
    )
    add_spec_options(serve)
    serve.set_defaults(func=cmd_serve)

    validate = sub.add_parser("validate", help="check specs; one line per problem")
    validate.add_argument("path", nargs="?", help="spec file or directory (recursive)")
    validate.add_argument("-i", "--input", dest="input", help="same as PATH (Sloth's flag)")
    validate.add_argument("--ignore-slo-duplicates", action="store_true")
    add_spec_options(validate, filters=True)
    validate.set_defaults(func=cmd_validate)

    check = sub.add_parser("check", help="ask the gate; exit 0 allow/warn, 1 deny, 3 no decision")
    check.add_argument("--service", required=True)
    check.add_argument("--slo")
    check.add_argument("--deploy-id")
    check.add_argument("--step")
    check.add_argument("--change-type")
    check.add_argument("--fail-on-warn", action="store_true", help="exit 1 on warn too")
    check.add_argument("--json", action="store_true", help="print the full JSON answer")
    check.add_argument("--url", default=os.environ.get("SLOGATE_URL", DEFAULT_URL))
    check.add_argument("--timeout", type=float, default=10.0)
    canary_check.add_options(check)
    check.set_defaults(func=cmd_check)

    status = sub.add_parser("status", help="table of every SLO's status")
    status.add_argument("--url", default=os.environ.get("SLOGATE_URL", DEFAULT_URL))
    status.add_argument("--timeout", type=float, default=10.0)
    status.set_defaults(func=cmd_status)

    generate.add_parser(sub)
    store_commands.add_parser(sub)

    schema = sub.add_parser("schema", help="print the JSON Schema of slogate.yaml")
    schema.set_defaults(func=cmd_schema)

    demo = sub.add_parser("demo", help="run slogate on a local Prometheus with generated history")
    demo.add_argument("--specs", default="slo_specs")
    demo.add_argument("--listen", default="127.0.0.1:8080")
    demo.add_argument("--prometheus-port", type=int, default=9090)
    demo.add_argument("--alertmanager-port", type=int, default=9093)
    demo.add_argument("--interval", default="15s")
    demo.add_argument(
        "--workdir", help="where the demo keeps Prometheus' data (default: a temp dir)"
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if args.command == "validate":
        args.path = args.path or args.input
        if not args.path:
            parser.error("validate: a PATH (or -i PATH) is required")
    try:
        code: int = args.func(args)
    except (ConfigError, AlertWindowsError) as exc:
        print(f"slogate {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"slogate {args.command}: store: {exc}", file=sys.stderr)
        return EXIT_STORE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
