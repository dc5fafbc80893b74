"""The cost of checking a gate request: the msgspec model against the hand-written checks it
replaced.

    python benchmarks/gate_parsing.py [--calls 200000] [--repeat 5]

The baseline is the hand-written check of the gate's fields as it was before `server/bodies.py`
(commit dd41f0a: `json.loads` of a POST body, then `web.check_field` of each field, kept below); the
new path is what `api.gate` runs now: `msgspec.json.decode` (`web.json_object`), `present`,
`decoded(GateBody, ...)` and `GateBody.request()`. The query-string and repeat checks that both
share (`web.request_fields`) are left out: they did not change. Both are first checked to give
the same `GateRequest` for every sample, and the same field for every bad one. Printed: the
time per call of each (best of `--repeat` runs, taking turns) and the new one's as a multiple of the baseline's,
for a GET (fields already strings), a POST body, and a bad request (a 400).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.conventions import NAME  # noqa: E402
from slogate.core.policy import GateRequest  # noqa: E402
from slogate.errors import BadRequestError  # noqa: E402
from slogate.server.bodies import GateBody, decoded, present  # noqa: E402
from slogate.server.web import check_field  # noqa: E402  (unchanged, still used elsewhere)

# --- the baseline: the checks of dd41f0a ------------------------------------------------------

GATE_FIELDS = ("service", "slo", "deploy_id", "step", "change_type")


def old_gate(fields: dict[str, Any]) -> GateRequest:
    for key in fields:
        if key not in GATE_FIELDS:
            raise BadRequestError(key, f"unknown field {key!r} (known: {', '.join(GATE_FIELDS)})")
    if not fields.get("service"):
        raise BadRequestError("service", "service is required")
    checked = {
        k: check_field(k, v, NAME) if k in ("service", "slo") else check_field(k, v)
        for k, v in fields.items()
        if v not in (None, "")
    }
    return GateRequest(**checked)


def old_body(body: bytes) -> dict[str, Any]:
    payload = json.loads(body)
    assert isinstance(payload, dict)
    return payload


# --- the new path -----------------------------------------------------------------------------


def new_gate(fields: dict[str, Any]) -> GateRequest:
    return decoded(GateBody, present(fields)).request()


def new_body(body: bytes) -> dict[str, Any]:
    payload = msgspec.json.decode(body)
    assert isinstance(payload, dict)
    return payload


QUERY = {"service": "checkout", "slo": "availability", "deploy_id": "d-1234", "step": "canary-50"}
BODY = json.dumps({**QUERY, "change_type": "feature"}).encode()
BAD = {"service": "checkout", "deploy_id": "x" * 300}
SAMPLES: list[dict[str, Any]] = [
    QUERY,
    {"service": "checkout"},
    {"service": "checkout", "slo": "", "step": None},
    {"service": "check out"},
    {"service": 5},
    {"slo": "availability"},
    {"service": "checkout", "colour": "red"},
    BAD,
]


def outcome(parse: Callable[[dict[str, Any]], GateRequest], fields: dict[str, Any]) -> object:
    try:
        return parse(fields)
    except BadRequestError as exc:
        return ("400", exc.field)


def timed(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def compare(
    old: Callable[[], object], new: Callable[[], object], calls: int, repeat: int
) -> tuple[float, float]:
    """Seconds per call of each, the best of `repeat` runs, the two taking turns (so that a
    shared machine's load weighs on both alike)."""
    runs = [(timed(old, calls), timed(new, calls)) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for sample in SAMPLES:
        assert outcome(old_gate, sample) == outcome(new_gate, sample), sample
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "GET (query string)": (lambda: old_gate(QUERY), lambda: new_gate(QUERY)),
        "POST (JSON body)": (
            lambda: old_gate(old_body(BODY)),
            lambda: new_gate(new_body(BODY)),
        ),
        "bad request (400)": (lambda: outcome(old_gate, BAD), lambda: outcome(new_gate, BAD)),
    }
    print(f"{'case':<20} {'hand-written':>14} {'msgspec':>10} {'ratio':>7}")
    for name, (old, new) in cases.items():
        before, after = compare(old, new, args.calls, args.repeat)
        print(f"{name:<20} {before * 1e9:>11.0f} ns {after * 1e9:>7.0f} ns {after / before:>7.2f}")


if __name__ == "__main__":
    main()
