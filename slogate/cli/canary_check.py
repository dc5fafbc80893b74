"""`slogate check --canary V --baseline V [--window 10m] [--wait DURATION]`: ask the gate to
judge a canary (DESIGN §8). Exit 0 pass (promote), 1 fail (roll back), 4 inconclusive (hold),
2 usage error, 3 no decision (gate unreachable, unknown service, unexpected answer).

`--wait` asks again every `--poll` seconds while the answer is inconclusive (e.g. a canary
still short of `min_requests`), until it is conclusive or the wait is over.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from slogate.core.durations import parse_duration

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_NO_DECISION, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4
EXITS = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "inconclusive": EXIT_INCONCLUSIVE}


def add_options(check: argparse.ArgumentParser) -> None:
    check.add_argument("--canary", help="the canary's label value: judge it against --baseline")
    check.add_argument("--baseline", help="the baseline's label value")
    check.add_argument("--window", help="analysis window ending now (default: the config's)")
    check.add_argument("--wait", help="poll while inconclusive, up to this long (e.g. 15m)")
    check.add_argument("--poll", type=float, default=30.0, help="seconds between polls")


def wanted(args: argparse.Namespace) -> bool:
    return bool(args.canary or args.baseline or args.window or args.wait)


def _describe(body: dict[str, Any]) -> str:
    lines = [
        f"{body['verdict'].upper()} {body['service']}: canary {body['canary']} vs baseline"
        f" {body['baseline']}, {body['decision']} (score {body['score']},"
        f" decision {body['decision_id']})"
    ]
    lines += [f"  {r['code']} {r['slo']}: {r['message']}".rstrip() for r in body["reasons"]]
    for slo in body["slos"]:
        canary, baseline = slo["canary"], slo["baseline"]
        p_value = "n/a" if slo["p_value"] is None else f"{slo['p_value']:.2g}"
        lines.append(
            f"  {slo['slo']}: {slo['verdict']}; canary {canary['error_ratio']} of"
            f" {canary['total']}, baseline {baseline['error_ratio']} of {baseline['total']},"
            f" p {p_value}"
        )
    return "\n".join(lines)


def _ask(url: str, params: dict[str, str], timeout: float) -> dict[str, Any] | str:
    """The answer, or why there is none."""
    import httpx  # here, not at the top: only the commands that call the gate import it

    try:
        response = httpx.get(url, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"cannot reach {url}: {exc}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if (
        response.status_code != 200
        or not isinstance(body, dict)
        or body.get("verdict") not in EXITS
    ):
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        return f"HTTP {response.status_code}: {message or 'unexpected answer'}"
    return body


def run(args: argparse.Namespace) -> int:
    if not (args.canary and args.baseline):
        print("slogate check: --canary and --baseline go together", file=sys.stderr)
        return EXIT_USAGE
    try:
        wait = parse_duration(args.wait) if args.wait else 0.0
    except ValueError as exc:
        print(f"slogate check: --wait: {exc}", file=sys.stderr)
        return EXIT_USAGE
    params = {"service": args.service, "canary": args.canary, "baseline": args.baseline}
    for key in ("slo", "deploy_id", "step", "change_type", "window"):
        if value := getattr(args, key):
            params[key] = value
    url = args.url.rstrip("/") + "/v1/canary"
    deadline = time.monotonic() + wait
    while True:
        answer = _ask(url, params, args.timeout)
        if isinstance(answer, str):
            print(f"slogate check: no decision: {answer}", file=sys.stderr)
            return EXIT_NO_DECISION
        left = deadline - time.monotonic()
        if answer["verdict"] != "inconclusive" or left <= 0:
            break
        time.sleep(min(args.poll, left))
    print(json.dumps(answer, indent=2) if args.json else _describe(answer))
    return EXITS[answer["verdict"]]
