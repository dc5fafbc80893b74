"""The event-loop CPU of one evaluation cycle of 1,000 SLOs, backend I/O left out.

    python benchmarks/cycle.py [--slos 1000] [--repeat 5] [--modes rules,batched,single,incremental]

A MockTransport answers instantly with what Prometheus would send, so what is measured is
slogate's own share: building queries, httpx's client path, decoding, building statuses.
- rules mode: 8 answers (one per window) of one series per SLO;
- direct mode: one answer per batch of SLOs (8 tagged series per SLO), batches of 10 and of 1;
- direct with incremental windows (`long_windows: incremental`), batches of 10: per SLO the 5m
  ratio and the head's two counts, every other window summed from buckets (fetched at a first
  cycle left out of the figures; the measured cycles are at one time: no top-up).
The baseline is `json.loads` of the same answers' bytes, in the same process: the least any
client must do. Printed: CPU per cycle (best of `--repeat` runs of 10 cycles) and its ratio to
the baseline, and where a cycle's time went (the evaluator's own `last_cost`, averaged over the
best run): decoding answers, building statuses, building the snapshot; the rest of the CPU is
httpx's client path and query planning. The backend's own time is 0 here (it answers at once):
`benchmarks/scale.py` prints it against a real Prometheus. Long-lived objects are frozen out of
the garbage collector's sight first, as `slogate serve` does.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import parse_qs

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.core.model import SLO  # noqa: E402
from slogate.evaluation.costs import CycleCost  # noqa: E402
from slogate.evaluation.evaluator import Evaluator, Mode  # noqa: E402
from slogate.evaluation.prometheus import PrometheusClient  # noqa: E402
from tests.factories import make_slo  # noqa: E402

AT = 1_700_000_000.0
TAGS = re.compile(r'"slogate_window", "(\w+)", "", ""\)(?:, "slogate_slo", "(\d+)", "", ""\))?')


def vector(series: list[dict[str, str]]) -> bytes:
    result = [{"metric": m, "value": [AT, f"0.00{n % 7}"]} for n, m in enumerate(series)]
    return json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": result}}
    ).encode()


def matrix(form: dict[str, str]) -> bytes:
    """A range query's answer: each tagged series of the query at every step."""
    start, end, step = (float(form[k]) for k in ("start", "end", "step"))
    points = [[start + k * step, "0.01"] for k in range(round((end - start) / step) + 1)]
    result = [
        {"metric": {"slogate_window": w, **({"slogate_slo": i} if i else {})}, "values": points}
        for w, i in TAGS.findall(form["query"])
    ]
    return json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}}
    ).encode()


def answer(slos: Sequence[SLO]) -> Callable[[str], bytes]:
    """What Prometheus answers each query with: the recorded ratio of every SLO (rules), or
    each window of each SLO of the batch, tagged (direct)."""
    recorded = vector([{"sloth_id": slo.id} for slo in slos])
    cache: dict[str, bytes] = {}

    def respond(query: str) -> bytes:
        if query.startswith("max by (sloth_id)"):
            return recorded
        if query not in cache:
            series, pending = [], []
            for window, index in TAGS.findall(query):
                pending.append(window)
                if index or len(pending) == 8:
                    series += [
                        {"slogate_window": w, **({"slogate_slo": index} if index else {})}
                        for w in pending
                    ]
                    pending = []
            cache[query] = vector(series)
        return cache[query]

    return respond


async def cycle_cpu(
    slos: Sequence[SLO], mode: Mode, batch_size: int, incremental: bool, repeat: int
) -> tuple[float, list[bytes], CycleCost]:
    """Best CPU seconds per cycle, the bytes of one cycle's answers, and the mean cost of a cycle
    of the best run."""
    respond = answer(slos)
    sent: list[bytes] = []

    by_form: dict[bytes, bytes] = {}  # the measured cycles send the same forms again

    def handler(request: httpx.Request) -> httpx.Response:
        body = by_form.get(request.content)
        if body is None:
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if request.url.path.endswith("query_range"):
                body = matrix(form)
            else:
                body = respond(form["query"])
            by_form[request.content] = body
        sent.append(body)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    async with PrometheusClient(
        "http://prom.test", transport=httpx.MockTransport(handler)
    ) as client:
        evaluator = Evaluator(client, mode=mode, batch_size=batch_size, long_windows=incremental)
        snapshot = await evaluator.evaluate(slos, at=AT)  # incremental: fetches the buckets
        sent.clear()
        snapshot = await evaluator.evaluate(slos, snapshot, at=AT)
        assert all(s.error is None for s in snapshot.statuses.values())
        one_cycle = list(sent)
        best, best_costs = float("inf"), [CycleCost()]
        for _ in range(repeat):
            started, costs = time.process_time(), []
            for _ in range(10):
                snapshot = await evaluator.evaluate(slos, snapshot, at=AT)
                costs.append(evaluator.last_cost)
            cpu = (time.process_time() - started) / 10
            if cpu < best:
                best, best_costs = cpu, costs
    return best, one_cycle, mean_cost(best_costs)


def mean_cost(costs: Sequence[CycleCost]) -> CycleCost:
    def mean(name: str) -> float:
        return float(sum(getattr(c, name) for c in costs)) / len(costs)

    return CycleCost(
        total=mean("total"),
        queries=costs[0].queries,
        decoding=mean("decoding"),
        building=mean("building"),
        snapshot=mean("snapshot"),
    )


def decode_cpu(answers: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(10):
            for body in answers:
                json.loads(body)
        best = min(best, (time.process_time() - started) / 10)
    return best


MODES = {
    "rules": ("rules", Mode.RULES, 10, False),
    "batched": ("direct, batches of 10", Mode.DIRECT, 10, False),
    "single": ("direct, one SLO a query", Mode.DIRECT, 1, False),
    "incremental": ("direct, incremental", Mode.DIRECT, 10, True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"some of {', '.join(MODES)} (default: all)"
    )
    args = parser.parse_args()
    slos = [  # each its own SLI: identical ones would share one query
        make_slo(f"svc{n // 20:03d}", f"slo{n % 20:02d}", errors=f"e{n}[{{{{.window}}}}]")
        for n in range(args.slos)
    ]
    additive = [  # summed from buckets: sums of rate()s over the window
        make_slo(
            slo.service,
            slo.name,
            errors=f"sum(rate(e{n}[{{{{.window}}}}]))",
            total="sum(rate(t[{{.window}}]))",
        )
        for n, slo in enumerate(slos)
    ]
    gc.collect()
    gc.freeze()
    print(
        f"{'cycle of ' + str(args.slos) + ' SLOs':<28} {'queries':>8} {'CPU ms':>8} {'json.loads ms':>14} {'ratio':>6}"
        f" | {'wall ms':>8} {'decoding':>9} {'building':>9} {'snapshot':>9}"
    )
    for name in args.modes.split(","):
        label, mode, batch, incremental = MODES[name]
        measured = additive if incremental else slos
        cpu, answers, cost = asyncio.run(cycle_cpu(measured, mode, batch, incremental, args.repeat))
        floor = decode_cpu(answers, args.repeat)
        print(
            f"{label:<28} {len(answers):>8} {cpu * 1000:>8.1f} {floor * 1000:>14.1f} {cpu / floor:>6.1f}"
            f" | {cost.total * 1000:>8.1f} {cost.decoding * 1000:>9.1f} {cost.building * 1000:>9.1f}"
            f" {cost.snapshot * 1000:>9.1f}"
        )
    print("(ratio: the cycle's CPU over json.loads of the same answers; then the cycle's wall time")
    print(" and its parts in ms: decoding answers, building statuses, building the snapshot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
