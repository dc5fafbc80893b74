"""Evaluation cost at scale: slogate (direct and recording-rules modes) vs Google's slo-generator.

One real Prometheus (Debian's, on 127.0.0.1) holds 32 days of backfilled history for S services;
N SLOs (N = 10, 100, 500, 1000 by default) are spread over them. For each N this measures, in
separate processes so that peak RSS is each run's own:

- slogate direct mode: one query per batch of SLOs (up to 10) for their 8 windows, 16 queries
  at a time over a keep-alive pool;
- slogate rules mode: Sloth's recording rules loaded into that Prometheus, one query per window;
- slo-generator 2.6.0 (its own venv) computing the same SLOs with a 4-step policy (1h, 6h, 1d, 3d),
  one query per SLO per step, a new connection each time.

It checks that slogate and slo-generator report the same burn rates, and prints times as ratios
against slo-generator measured in the same run (absolute times drift on a shared machine).

    python benchmarks/scale.py [--sizes 10,100,500,1000] [--services 50] [--cycles 3]

The slo-generator venv is created on first use in .bench/slogen (pip from PyPI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from slogate.cli import demo  # noqa: E402
from slogate.cli.demo import HISTORY, TIERS  # noqa: E402
from slogate.cli.localprom import LocalPrometheus, backfill  # noqa: E402
from slogate.cli.traffic import Phase, Traffic, openmetrics  # noqa: E402

OBJECTIVES = (99.0, 99.5, 99.9, 99.95)
STEPS = {"1h": 3600, "6h": 21600, "1d": 86400, "3d": 259200}
BENCH = ROOT / ".bench"


def service(i: int) -> str:
    return f"svc{i:03d}"


def traffic(services: int) -> list[Traffic]:
    """Constant traffic per service, each with its own error ratio (0.05% to 0.35%)."""
    return [
        Traffic(service(i), 10.0, (Phase(-math.inf, 0.0005 * (1 + i % 7)),))
        for i in range(services)
    ]


def slo_spec(service_name: str, names: list[tuple[str, float]]) -> str:
    lines = ['version: "prometheus/v1"', f'service: "{service_name}"', "slos:"]
    selector = f'job="slogate-demo",service="{service_name}"'
    for name, objective in names:
        lines += [
            f'  - name: "{name}"',
            f"    objective: {objective}",
            "    sli:",
            "      events:",
            f'        error_query: sum(rate(http_requests_total{{{selector},code=~"5.."}}[{{{{.window}}}}]))',
            f"        total_query: sum(rate(http_requests_total{{{selector}}}[{{{{.window}}}}]))",
            "    alerting:",
            "      page_alert: {disable: true}",
            "      ticket_alert: {disable: true}",
        ]
    return "\n".join(lines) + "\n"


def slo_table(n: int, services: int) -> list[tuple[str, str, float]]:
    """(service, slo name, objective) of SLO 0..n-1, spread round-robin over the services."""
    return [
        (service(k % services), f"slo{k:04d}", OBJECTIVES[k % len(OBJECTIVES)]) for k in range(n)
    ]


def write_specs(directory: Path, table: list[tuple[str, str, float]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    by_service: dict[str, list[tuple[str, float]]] = {}
    for svc, name, objective in table:
        by_service.setdefault(svc, []).append((name, objective))
    for svc, names in by_service.items():
        (directory / f"{svc}.yml").write_text(slo_spec(svc, names))


def start_exporter(anchor: float, services: int) -> int:
    """The traffic's counters, served live from a background thread (history keeps growing)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    future = asyncio.run_coroutine_threadsafe(demo.start_exporter(anchor, traffic(services)), loop)
    _runner, port = future.result(30)
    return port


def prepare(workdir: Path, services: int, largest: int) -> tuple[LocalPrometheus, Path]:
    """Backfill history up to now, then keep it growing: an exporter continues the same counters
    and Prometheus scrapes it, so windows ending "now" always have data."""
    anchor = math.floor(time.time() / 60) * 60
    data = workdir / "data"
    shutil.rmtree(data, ignore_errors=True)
    print(f"backfilling {HISTORY / 86400:.0f} days for {services} services ...", flush=True)
    source = workdir / "history.om"
    source.write_text(
        openmetrics(traffic(services), anchor=anchor, start=-HISTORY, end=0, tiers=TIERS)
    )
    backfill(source, data, timeout=BACKFILL_TIMEOUT_S)
    source.unlink()
    specs = workdir / "specs"
    write_specs(specs, slo_table(largest, services))
    port = start_exporter(anchor, services)
    # Compacted, as a long-running Prometheus is: backfill leaves 2h blocks behind.
    prometheus = LocalPrometheus(
        workdir, scrape_interval="15s", compact=True, jobs={"slogate-demo": [f"127.0.0.1:{port}"]}
    )
    return prometheus, specs


def wait_for_compaction(prometheus: LocalPrometheus) -> None:
    """Until the block count stops falling (at most 15 minutes)."""
    last, stable, deadline = prometheus.blocks(), 0, time.monotonic() + 900
    while stable < 4 and time.monotonic() < deadline:
        time.sleep(15)
        current = prometheus.blocks()
        stable = stable + 1 if current == last else 0
        last = current
    print(f"{last} TSDB blocks after compaction", flush=True)


# --- workers (run in their own processes) ---------------------------------------------------------


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def slogate_worker(url: str, specs: Path, n: int, mode: str, cycles: int) -> dict[str, Any]:
    from slogate.evaluation.evaluator import Evaluator, Mode
    from slogate.evaluation.prometheus import PrometheusClient
    from slogate.evaluation.specfiles import load_specs

    found = load_specs(specs)
    assert found.ok, found.errors[:3]
    wanted = {f"slo{k:04d}" for k in range(n)}
    slos = tuple(s for s in found.slos if s.name in wanted)
    assert len(slos) == n
    durations, cpu = [], []
    async with PrometheusClient(url, timeout=60, max_concurrency=16) as client:
        evaluator = Evaluator(client, mode=Mode(mode))
        snapshot = None
        for _ in range(cycles):
            started, cpu_started = time.perf_counter(), time.process_time()
            snapshot = await evaluator.evaluate(slos, snapshot)
            durations.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    assert snapshot is not None
    prometheus = await prometheus_cycle_time(url, slos, mode)
    burn = {
        s.slo.name: {w: s.burn_rates.get(sec) for w, sec in STEPS.items()}
        for s in snapshot.statuses.values()
    }
    return {
        "cycle_s": statistics.median(durations),
        "queries": snapshot.queries,
        "failed": snapshot.failed_queries,
        "from_rules": snapshot.from_rules,
        "rss_mb": peak_rss_mb(),
        "cpu_s": statistics.median(cpu),
        **prometheus,
        "burn": burn,
    }


class StatsTransport(httpx.AsyncHTTPTransport):
    """Adds `stats=all` to every query and keeps the timings Prometheus reports for it."""

    def __init__(self) -> None:
        super().__init__()
        self.exec_s: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content + b"&stats=all"
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        asked = httpx.Request(request.method, request.url, headers=headers, content=body)
        response = await super().handle_async_request(asked)
        content = await response.aread()
        stats = json.loads(content).get("data", {}).get("stats", {}).get("timings", {})
        self.exec_s.append(float(stats.get("execTotalTime", "nan")))
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length")  # content is decoded
        }
        return httpx.Response(response.status_code, headers=kept, content=content)


async def prometheus_cycle_time(url: str, slos: Any, mode: str) -> dict[str, float]:
    """One more cycle of the same SLOs with `stats=all`: Prometheus' own execution time, summed
    over the cycle's queries (`execTotalTime`: queue, preparation, evaluation, sorting). Kept out
    of the measured cycles: reading the stats costs slogate a JSON decode per answer."""
    from slogate.evaluation.evaluator import Evaluator, Mode
    from slogate.evaluation.prometheus import PrometheusClient

    transport = StatsTransport()
    started = time.perf_counter()
    async with PrometheusClient(url, timeout=60, max_concurrency=16, transport=transport) as client:
        await Evaluator(client, mode=Mode(mode)).evaluate(slos)
    return {
        "stats_cycle_s": time.perf_counter() - started,
        "prometheus_s": sum(transport.exec_s),
        "prometheus_max_s": max(transport.exec_s, default=0.0),
    }


SLO_GENERATOR_WORKER = r"""
import json, sys, time, logging
logging.disable(logging.CRITICAL)
from slo_generator.compute import compute
url, table, steps = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
config = {
    "backends": {"prometheus": {"url": url}},
    "error_budget_policies": {"default": {"steps": [
        {"name": name, "window": seconds, "burn_rate_threshold": 1, "alert": False,
         "message_alert": "burning", "message_ok": "ok"} for name, seconds in steps.items()]}},
    "exporters": {},
}
burn = {}
started = time.perf_counter()
for svc, name, objective in table:
    selector = f'job="slogate-demo",service="{svc}"'
    slo = {
        "apiVersion": "sre.google.com/v2", "kind": "ServiceLevelObjective",
        "metadata": {"name": f"{svc}-{name}", "labels": {"service_name": svc, "feature_name": "f", "slo_name": name}},
        "spec": {"description": "bench", "backend": "prometheus", "method": "query_sli", "exporters": [],
                 "service_level_indicator": {"expression":
                     f'sum(rate(http_requests_total{{{selector},code!~"5.."}}[window])) / sum(rate(http_requests_total{{{selector}}}[window]))'},
                 "goal": objective / 100, "error_budget_policy": "default"},
    }
    reports = compute(slo, config, timestamp=time.time())
    burn[name] = {r["error_budget_policy_step_name"]: r.get("error_budget_burn_rate") for r in reports}
elapsed = time.perf_counter() - started
with open("/proc/self/status") as f:
    rss = next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))
print(json.dumps({"cycle_s": elapsed, "queries": len(table) * len(steps), "rss_mb": rss, "burn": burn}))
"""


def slo_generator_python() -> Path:
    venv = BENCH / "slogen"
    python = venv / "bin" / "python"
    if not python.exists():
        print("creating the slo-generator 2.6.0 venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "slo-generator[prometheus]==2.6.0",
                "setuptools<81",
            ],
            check=True,
        )
    return python


def run_json(command: list[str]) -> dict[str, Any]:
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def slogate_run(url: str, specs: Path, n: int, mode: str, cycles: int) -> dict[str, Any]:
    return run_json(
        [
            sys.executable,
            __file__,
            "--worker",
            "--url",
            url,
            "--specs",
            str(specs),
            "--n",
            str(n),
            "--mode",
            mode,
            "--cycles",
            str(cycles),
        ]
    )


def burn_disagreements(
    ours: dict[str, dict[str, float | None]], theirs: dict[str, dict[str, float | None]]
) -> list[str]:
    """Steps where slogate and slo-generator disagree. slo-generator rounds burn rates to one
    decimal: they agree when slogate's value is within 0.05 of it, plus 0.001 for the moment
    each evaluates at (slo-generator queries "now", without a pinned time)."""
    found = []
    for name, steps in theirs.items():
        for step, their in steps.items():
            our = ours[name][step]
            if our is None or their is None or abs(our - their) > 0.051:
                found.append(f"{name} {step}: slogate {our}, slo-generator {their}")
    return found


BACKFILL_TIMEOUT_S = 3600.0
"""promtool writing 32 days of 50 services' history: minutes idle, far more on a busy machine."""

RELOAD_TIMEOUT_S = 1800.0
"""Prometheus parses and starts every rule group before `/-/reload` answers: 10,000 SLOs'
groups take minutes on a busy 2-core machine."""


def reload_rules(prometheus: LocalPrometheus, rule_file: Path) -> None:
    """Load `rule_file` into the running Prometheus, giving the reload the time it needs."""
    prometheus.rule_files = [rule_file]
    prometheus.prepare()
    started = time.monotonic()
    httpx.post(f"{prometheus.url}/-/reload", timeout=RELOAD_TIMEOUT_S).raise_for_status()
    print(f"rules reloaded in {time.monotonic() - started:.1f} s", flush=True)


def rules_deadline_s(expected: int) -> float:
    """How long the first evaluation of `expected` SLOs' recording rules may take: 10 minutes,
    plus 0.3 s per SLO (8 rules each, some over 30 days)."""
    return 600 + 0.3 * expected


def wait_for_rules(prometheus: LocalPrometheus, expected: int) -> None:
    query = 'count(slo:sli_error:ratio_rate3d{sloth_id!=""})'
    deadline = time.monotonic() + rules_deadline_s(expected)
    while time.monotonic() < deadline:
        result = httpx.get(
            f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=30
        ).json()
        found = result["data"]["result"]
        if found and int(float(found[0]["value"][1])) >= expected:
            return
        time.sleep(2)
    raise TimeoutError("recording rules were not evaluated in time")


def write_rules(workdir: Path, specs: Path) -> Path:
    from slogate.evaluation.specfiles import load_specs
    from slogate.sloth.rules import RuleGroup, sli_rules
    from slogate.sloth.rules_yaml import render_rule_file

    groups = [
        RuleGroup(f"sloth-slo-sli-recordings-{s.id}", sli_rules(s)) for s in load_specs(specs).slos
    ]
    path = workdir / "slo-rules.yml"
    path.write_text(render_rule_file(groups, "bench"))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10,100,500,1000")
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--skip-slo-generator", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="print the last results again")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--specs", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(
            json.dumps(
                asyncio.run(
                    slogate_worker(args.url, Path(args.specs), args.n, args.mode, args.cycles)
                )
            )
        )
        return 0

    if args.report_only:
        saved = json.loads(RESULTS.read_text())
        return report({int(n): runs for n, runs in saved.items()})
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = BENCH / f"scale-{args.services}"
    workdir.mkdir(parents=True, exist_ok=True)
    prometheus, specs = prepare(workdir, args.services, max(sizes))
    slogen = None if args.skip_slo_generator else slo_generator_python()
    rows: dict[int, dict[str, dict[str, Any]]] = {}
    prometheus.start()
    try:
        wait_for_compaction(prometheus)
        for n in sizes:
            rows[n] = {"direct": slogate_run(prometheus.url, specs, n, "direct", args.cycles)}
            if slogen is not None:
                table = slo_table(n, args.services)
                rows[n]["slo-generator"] = run_json(
                    [
                        str(slogen),
                        "-c",
                        SLO_GENERATOR_WORKER,
                        prometheus.url,
                        json.dumps(table),
                        json.dumps(STEPS),
                    ]
                )
            save(rows, f"N={n}: direct and slo-generator measured")
        reload_rules(prometheus, write_rules(workdir, specs))
        print("recording rules loaded; waiting for their first evaluation ...", flush=True)
        wait_for_rules(prometheus, max(sizes))
        for n in sizes:
            rows[n]["rules"] = slogate_run(prometheus.url, specs, n, "auto", args.cycles)
            save(rows, f"N={n}: rules measured")
    finally:
        prometheus.stop()
    return report(rows)


RESULTS = BENCH / "scale-results.json"


def save(rows: dict[int, dict[str, dict[str, Any]]], what: str) -> None:
    """Write every result so far (a later size failing loses nothing: `--report-only`)."""
    partial = RESULTS.with_suffix(".tmp")
    partial.write_text(json.dumps(rows))
    partial.replace(RESULTS)
    print(f"{what} (saved to {RESULTS.relative_to(ROOT)})", flush=True)


IN_FLIGHT = 16
"""Queries the workers keep in flight (`max_concurrency` above)."""


def prometheus_header() -> str:
    return f"{'CPU s':>7} {'Prom sum s':>11} {'Prom max s':>11} {'cycle/limit':>12}"


def prometheus_columns(run: dict[str, Any]) -> str:
    """slogate's own CPU per cycle; Prometheus' execution times for a cycle of the same queries
    (summed, and the longest); and the cycle's wall time over the least Prometheus would allow
    with that many queries in flight (the longest query, or the sum spread over the slots):
    near 1, the cycle is as fast as Prometheus computes it; above, the rest is slogate's."""
    if "prometheus_s" not in run:
        return ""
    slots = min(IN_FLIGHT, max(1, run["queries"]))
    limit = max(run["prometheus_max_s"], run["prometheus_s"] / slots)
    ratio = run["cycle_s"] / limit if limit else math.nan
    return (
        f"{run['cpu_s']:>7.3f} {run['prometheus_s']:>11.3f} {run['prometheus_max_s']:>11.3f}"
        f" {ratio:>12.2f}"
    )


def report(rows: dict[int, dict[str, dict[str, Any]]]) -> int:
    """Print the table; non-zero when the numbers disagree or a mode fell short."""
    problems: list[str] = []
    print()
    print(
        f"{'N':>6} {'mode':<14} {'cycle s':>9} {'queries':>8} {'peak RSS MB':>12} {'vs slo-generator':>17}"
        f" {prometheus_header()}"
    )
    for n, runs in rows.items():
        base = runs.get("slo-generator")
        for mode in ("slo-generator", "direct", "rules"):
            run = runs.get(mode)
            if run is None:
                continue
            ratio = (
                f"{base['cycle_s'] / run['cycle_s']:.1f}x faster"
                if base and mode != "slo-generator"
                else ""
            )
            print(
                f"{n:>6} {mode:<14} {run['cycle_s']:>9.3f} {run['queries']:>8} {run['rss_mb']:>12.1f} {ratio:>17}"
                f" {prometheus_columns(run)}"
            )
        if base:
            disagree = burn_disagreements(runs["direct"]["burn"], base["burn"])
            checked = sum(len(steps) for steps in base["burn"].values())
            print(
                f"{'':>6} burn rates 1h/6h/1d/3d, {checked} SLO steps: {len(disagree)} differ from slo-generator's"
            )
            problems += disagree[:5]
        if "rules" not in runs:
            problems.append(f"N={n}: rules mode not measured")
        elif runs["rules"]["from_rules"] != n:
            problems.append(f"N={n}: only {runs['rules']['from_rules']} SLOs read from rules")
        if runs["direct"]["failed"]:
            problems.append(f"N={n}: {runs['direct']['failed']} direct queries failed")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
