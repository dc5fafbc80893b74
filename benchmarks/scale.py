"""Evaluation cost at scale: slogate (direct and recording-rules modes) vs Google's slo-generator.

One real Prometheus (Debian's, on 127.0.0.1) holds 32 days of backfilled history for S services;
N SLOs (N = 10, 100, 500, 1000 by default) are spread over them. For each N this measures, in
separate processes so that peak RSS is each run's own:

- slogate direct mode: one query per batch of SLOs (up to 10) for their 8 windows, 16 queries
  at a time over a keep-alive pool;
- slogate direct mode with every window but 5m summed from 5-minute and hourly buckets fetched
  once and topped up (`evaluation.long_windows: incremental`), against the one-shot direct
  figures, with the raw samples Prometheus read for a steady cycle (`stats=all`) of each;
- slogate rules mode: one query per window over every SLO's `slo:sli_error:ratio_rate<window>`
  series. By default Prometheus scrapes those series as Sloth's rules would record them
  (`--rules-from recorded`), so the cycle measures the queries and not the rules' own
  evaluation, which at 10,000 SLOs needs far more than this machine's 2 cores;
  `--rules-from evaluated` loads Sloth's rules and prints what evaluating them costs;
- slo-generator 2.6.0 (its own venv) computing the same SLOs with a 4-step policy (1h, 6h, 1d, 3d),
  one query per SLO per step, a new connection each time.

Every SLO has an SLI expression of its own (`--shared-slis`: one per service), so slogate's
sharing of identical queries does not flatter the figures. It checks that slogate and
slo-generator report the same burn rates, and prints times as ratios against slo-generator
measured in the same run (absolute times drift on a shared machine), then the README's table:
each slogate run's cycle, its CPU against Prometheus' own evaluation time for its queries
(`stats=all`), the parts of slogate's share (decoding, building statuses, building the
snapshot) and the load average; and what loading and evaluating the recording rules cost.
One-shot direct cycles and slo-generator run up to `--one-shot-max` SLOs (1,000).

    python benchmarks/scale.py [--sizes 10,100,500,1000] [--services 10] [--cycles 3]

The slo-generator venv is created on first use in .bench/slogen (pip from PyPI).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import math
import os
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


def slo_spec(service_name: str, names: list[tuple[str, float]], shared: bool) -> str:
    """One service's SLOs. Each SLO's SLI is its own expression (a matcher on a label the series
    lack, `slo!="<name>"`, selects the same series), so that slogate cannot share one query
    between SLOs, as with real fleets whose SLIs differ; `shared`: one SLI per service."""
    lines = ['version: "prometheus/v1"', f'service: "{service_name}"', "slos:"]
    for name, objective in names:
        selector = f'job="slogate-demo",service="{service_name}"'
        if not shared:
            selector += f',slo!="{name}"'
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


def write_specs(directory: Path, table: list[tuple[str, str, float]], shared: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    by_service: dict[str, list[tuple[str, float]]] = {}
    for svc, name, objective in table:
        by_service.setdefault(svc, []).append((name, objective))
    for svc, names in by_service.items():
        (directory / f"{svc}.yml").write_text(slo_spec(svc, names, shared))


def start_exporter(anchor: float, services: int) -> int:
    """The traffic's counters, served live from a background thread (history keeps growing)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    future = asyncio.run_coroutine_threadsafe(demo.start_exporter(anchor, traffic(services)), loop)
    _runner, port = future.result(30)
    return port


def prepare(
    workdir: Path, services: int, largest: int, shared: bool = False
) -> tuple[LocalPrometheus, Path]:
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
    shutil.rmtree(specs, ignore_errors=True)
    write_specs(specs, slo_table(largest, services), shared)
    port = start_exporter(anchor, services)
    # Compacted, as a long-running Prometheus is: backfill leaves 2h blocks behind.
    prometheus = LocalPrometheus(
        workdir, scrape_interval="15s", compact=True, jobs={"slogate-demo": [f"127.0.0.1:{port}"]}
    )
    return prometheus, specs


def wait_for_compaction(prometheus: LocalPrometheus) -> None:
    """Until the block count stops falling (at most 5 minutes)."""
    last, stable, deadline = prometheus.blocks(), 0, time.monotonic() + 300
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


def cycle_costs(evaluator: Any, durations: list[float]) -> dict[str, Any]:
    """The first cycle's time (incremental long windows fetch their buckets in it) and where the
    last cycle's time went, Prometheus' own evaluation time (`stats=all`) first."""
    cost = evaluator.last_cost
    return {
        "first_cycle_s": durations[0],
        "prometheus_s": cost.backend,
        "decoding_s": cost.decoding,
        "building_s": cost.building,
        "snapshot_s": cost.snapshot,
        "samples": cost.samples,
    }


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
    incremental = mode == "incremental"
    async with PrometheusClient(url, timeout=120, max_concurrency=16, stats=True) as client:
        evaluator = Evaluator(
            client, mode=Mode.DIRECT if incremental else Mode(mode), long_windows=incremental
        )
        snapshot = None
        for _ in range(cycles):
            started, cpu_started = time.perf_counter(), time.process_time()
            snapshot = await evaluator.evaluate(slos, snapshot)
            durations.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    assert snapshot is not None
    burn = {
        s.slo.name: {w: s.burn_rates.get(sec) for w, sec in STEPS.items()}
        for s in snapshot.statuses.values()
    }
    return {
        "cycle_s": statistics.median(durations[1:] or durations),  # the first: first_cycle_s
        "queries": snapshot.queries,
        "failed": snapshot.failed_queries,
        "from_rules": snapshot.from_rules,
        "rss_mb": peak_rss_mb(),
        "cpu_s": statistics.median(cpu[1:] or cpu),
        "load": os.getloadavg()[0],
        "burn": burn,
        **cycle_costs(evaluator, durations),
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


def reload_rules(prometheus: LocalPrometheus, rule_file: Path) -> float:
    """Load `rule_file` into the running Prometheus, giving the reload the time it needs."""
    prometheus.rule_files = [rule_file]
    prometheus.prepare()
    started = time.monotonic()
    httpx.post(f"{prometheus.url}/-/reload", timeout=RELOAD_TIMEOUT_S).raise_for_status()
    elapsed = time.monotonic() - started
    print(f"rules reloaded in {elapsed:.1f} s", flush=True)
    return elapsed


RULES_DEADLINE_S = 900.0
"""How long the first evaluation of every SLO's recording rules may take."""

RULES_INTERVAL_S = 60.0
"""The rule groups' evaluation interval. At Prometheus' 15 s default, 10,000 SLOs' 80,000
rules keep both cores busy all the time, and the cycle measures that, not the queries."""


def wait_for_rules(prometheus: LocalPrometheus, expected: int) -> float:
    """Seconds until every SLO's rules have been evaluated once."""
    query = 'count(slo:sli_error:ratio_rate3d{sloth_id!=""})'
    started = time.monotonic()
    while time.monotonic() < started + RULES_DEADLINE_S:
        try:
            result = httpx.get(
                f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=30
            ).json()
        except httpx.TimeoutException:  # busy with the first evaluation: ask again
            continue
        found = result["data"]["result"]
        if found and int(float(found[0]["value"][1])) >= expected:
            return time.monotonic() - started
        time.sleep(2)
    raise TimeoutError("recording rules were not evaluated in time")


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def missed_iterations(prometheus: LocalPrometheus) -> float:
    """Rule group evaluations Prometheus skipped because the previous one ran late."""
    text = httpx.get(f"{prometheus.url}/metrics", timeout=60).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_rule_group_iterations_missed_total{")
    )


def rule_costs(prometheus: LocalPrometheus) -> dict[str, float]:
    """What evaluating the rules costs Prometheus over one rule interval: CPU seconds (all its
    work, the rules nearly all of it) and the group evaluations it missed meanwhile."""
    assert prometheus.process is not None
    pid = prometheus.process.pid
    cpu, missed = process_cpu_s(pid), missed_iterations(prometheus)
    time.sleep(RULES_INTERVAL_S)
    return {
        "rule_cpu_s": process_cpu_s(pid) - cpu,
        "rule_missed": missed_iterations(prometheus) - missed,
    }


def load_rules(
    prometheus: LocalPrometheus, workdir: Path, specs: Path, n: int, source: str
) -> dict[str, Any]:
    """Give Prometheus every SLO's `slo:sli_error:ratio_rate<window>` series, from `source`:
    Sloth's rules evaluated by Prometheus ('evaluated') or scraped as recorded ('recorded')."""
    started = time.monotonic()
    if source == "evaluated":
        reload_s = reload_rules(prometheus, write_rules(workdir, specs))
        print("recording rules loaded; waiting for their first evaluation ...", flush=True)
    else:
        serve_recorded(prometheus, specs)
        reload_s = time.monotonic() - started
        print("recorded series served; waiting for their first scrape ...", flush=True)
    return {
        "rules_from": source,
        "reload_s": reload_s,
        "first_evaluation_s": wait_for_rules(prometheus, n),
    }


RECORDED_JOB = "sloth-recorded"


def serve_recorded(prometheus: LocalPrometheus, specs: Path) -> None:
    """Serve, for Prometheus to scrape, the series Sloth's SLI recording rules would record for
    every SLO of `specs`, with their labels, and add that target to its scrape jobs. The values
    are each service's SLI over each window, asked of this Prometheus once: every SLO's SLI of
    a service selects the same series (`slo!="<name>"` matches them all), so a rule would record
    the same value. Prometheus then holds the series a rules-loaded Prometheus holds without
    spending its cores evaluating 8 rules per SLO."""
    from slogate.conventions import WINDOW_LABEL
    from slogate.evaluation.specfiles import load_specs
    from slogate.sloth.rules import sli_rules

    values: dict[tuple[str, str], float] = {}
    lines = []
    for slo in load_specs(specs).slos:
        for rule in sli_rules(slo, optimized=False):
            window = rule.labels[WINDOW_LABEL]
            key = (slo.service, window)
            if key not in values:
                values[key] = service_ratio(prometheus, slo.service, window)
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(rule.labels.items()))
            lines.append(f"{rule.record}{{{labels}}} {values[key]!r}")
    body = ("\n".join(lines) + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prometheus.jobs[RECORDED_JOB] = [f"127.0.0.1:{server.server_address[1]}"]
    prometheus.prepare()
    prometheus.reload()


def service_ratio(prometheus: LocalPrometheus, service_name: str, window: str) -> float:
    """The error ratio of `service_name`'s traffic over `window`, as its SLOs' SLIs select it."""
    selector = f'job="slogate-demo",service="{service_name}"'
    query = (
        f'sum(rate(http_requests_total{{{selector},code=~"5.."}}[{window}]))'
        f" / sum(rate(http_requests_total{{{selector}}}[{window}]))"
    )
    answer = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=300)
    (sample,) = answer.json()["data"]["result"]
    return float(sample["value"][1])


def write_rules(workdir: Path, specs: Path) -> Path:
    from slogate.evaluation.specfiles import load_specs
    from slogate.sloth.rules import RuleGroup, sli_rules
    from slogate.sloth.rules_yaml import render_rule_file

    groups = [
        RuleGroup(f"sloth-slo-sli-recordings-{s.id}", sli_rules(s), RULES_INTERVAL_S)
        for s in load_specs(specs).slos
    ]
    path = workdir / "slo-rules.yml"
    path.write_text(render_rule_file(groups, "bench"))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10,100,500,1000")
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--skip-slo-generator", action="store_true")
    parser.add_argument(
        "--modes", default="direct,incremental,rules", help="slogate modes to measure"
    )
    parser.add_argument(
        "--one-shot-max",
        type=int,
        default=1000,
        help="largest N measured with one-shot long windows and with slo-generator (default"
        " 1000: at 10,000 a one-shot direct cycle alone takes many minutes)",
    )
    parser.add_argument(
        "--shared-slis", action="store_true", help="one SLI per service, shared by its SLOs"
    )
    parser.add_argument(
        "--rules-from",
        choices=("recorded", "evaluated"),
        default="recorded",
        help="where rules mode's series come from: 'recorded' (default), Prometheus scrapes"
        " every SLO's recorded SLI series as Sloth's rules would record them, so that the cycle"
        " measures the queries; 'evaluated', Prometheus evaluates Sloth's rules itself, on the"
        " same cores (at 10,000 SLOs, far more than 2 cores can)",
    )
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
        saved_rows = {int(n): runs for n, runs in saved.items()}
        return report(saved_rows) | report_costs(saved_rows)
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = set(args.modes.split(","))
    workdir = BENCH / f"scale-{args.services}"
    workdir.mkdir(parents=True, exist_ok=True)
    prometheus, specs = prepare(workdir, args.services, max(sizes), args.shared_slis)
    slogen = None if args.skip_slo_generator else slo_generator_python()
    rows: dict[int, dict[str, dict[str, Any]]] = {}
    prometheus.start()
    try:
        wait_for_compaction(prometheus)
        for n in sizes:
            rows[n] = {}
            if "direct" in modes and n <= args.one_shot_max:
                rows[n]["direct"] = slogate_run(prometheus.url, specs, n, "direct", args.cycles)
            if "direct" in modes and slogen is not None and n <= args.one_shot_max:
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
            if "incremental" in modes:
                rows[n]["incremental"] = slogate_run(
                    prometheus.url, specs, n, "incremental", args.cycles
                )
            save(rows, f"N={n}: direct, incremental and slo-generator measured")
        if "rules" in modes:
            loading = load_rules(prometheus, workdir, specs, max(sizes), args.rules_from)
            for n in sizes:
                rows[n]["rules"] = slogate_run(prometheus.url, specs, n, "auto", args.cycles)
                rows[n]["rules"].update(loading)
                if args.rules_from == "evaluated":
                    rows[n]["rules"].update(rule_costs(prometheus))
                save(rows, f"N={n}: rules measured")
    finally:
        prometheus.stop()
    return report(rows) | report_costs(rows)


RESULTS = BENCH / "scale-results.json"


def save(rows: dict[int, dict[str, dict[str, Any]]], what: str) -> None:
    """Write every result so far (a later size failing loses nothing: `--report-only`)."""
    partial = RESULTS.with_suffix(".tmp")
    partial.write_text(json.dumps(rows))
    partial.replace(RESULTS)
    print(f"{what} (saved to {RESULTS.relative_to(ROOT)})", flush=True)


def report(rows: dict[int, dict[str, dict[str, Any]]]) -> int:
    """Print the table; non-zero when the numbers disagree or a mode fell short."""
    problems: list[str] = []
    print()
    print(
        f"{'N':>6} {'mode':<14} {'cycle s':>9} {'queries':>8} {'peak RSS MB':>12} {'vs slo-generator':>17}"
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
            )
        if base and "direct" in runs:
            disagree = burn_disagreements(runs["direct"]["burn"], base["burn"])
            checked = sum(len(steps) for steps in base["burn"].values())
            print(
                f"{'':>6} burn rates 1h/6h/1d/3d, {checked} SLO steps: {len(disagree)} differ from slo-generator's"
            )
            problems += disagree[:5]
        if "rules" in runs and runs["rules"]["from_rules"] != n:
            problems.append(f"N={n}: only {runs['rules']['from_rules']} SLOs read from rules")
        for mode in ("direct", "incremental"):
            if runs.get(mode, {}).get("failed"):
                problems.append(f"N={n}: {runs[mode]['failed']} {mode} queries failed")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


MODES = {"direct": "direct", "incremental": "direct, incremental", "rules": "rules"}


def samples_read(run: dict[str, Any], direct: dict[str, Any] | None) -> str:
    """Raw samples Prometheus read for the cycle (`stats=all`), and that as a fraction of a
    one-shot direct cycle's: what a cycle costs Prometheus, whatever the machine's load."""
    samples = run.get("samples", 0)
    if not samples:
        return "- | -"
    ratio = f"1/{direct['samples'] / samples:.1f}" if direct and direct.get("samples") else "-"
    return f"{samples:,} | {ratio}"


def fewer(direct: dict[str, Any], incremental: dict[str, Any]) -> str:
    """How many times fewer samples a steady incremental cycle reads than a one-shot one."""
    if not direct.get("samples") or not incremental.get("samples"):
        return "not reported"
    return f"{direct['samples'] / incremental['samples']:.1f}x fewer"


def rules_loading(rules: dict[str, Any]) -> str:
    """How rules mode's series got into Prometheus, and what evaluating them cost it."""
    if rules.get("rules_from", "evaluated") == "recorded":
        return (
            f"recorded series scraped (no rule evaluation), first scrape after"
            f" {rules['first_evaluation_s']:.1f} s"
        )
    text = (
        f"Sloth's rules evaluated by Prometheus: reload {rules['reload_s']:.1f} s, first"
        f" evaluation {rules['first_evaluation_s']:.1f} s"
    )
    if "rule_cpu_s" in rules:
        text += (
            f"; Prometheus used {rules['rule_cpu_s']:.1f} CPU s over one {RULES_INTERVAL_S:.0f} s"
            f" rule interval ({rules['rule_cpu_s'] / RULES_INTERVAL_S:.2f} cores) and missed"
            f" {rules['rule_missed']:.0f} group evaluations"
        )
    return text


def report_costs(rows: dict[int, dict[str, dict[str, Any]]]) -> int:
    """The README's figures table: per N and mode, the cycle (median, and the first one, where
    incremental long windows fetch their buckets), slogate's own CPU a cycle against
    Prometheus' own evaluation time for the same queries (`stats=all` `evalTotalTime`, summed
    over the cycle's queries, up to 16 of which overlap), the parts of slogate's share and the
    load average; then incremental against one-shot long windows (burn rates within 1%) and
    what the recording rules cost Prometheus. Non-zero when the incremental figures stray
    from the one-shot ones by more than 1%."""
    print()
    print(
        "| N SLOs | mode | cycle s | first cycle s | queries | peak RSS MB | slogate CPU s"
        " | Prometheus s | CPU / Prometheus | decode / build / snapshot s | load"
        " | samples read | samples vs direct |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    problems = []
    for n, runs in rows.items():
        for mode, label in MODES.items():
            run = runs.get(mode)
            if run is None:
                continue
            prom = run["prometheus_s"]
            ratio = f"{run['cpu_s'] / prom:.2f}" if prom > 0 else "-"
            print(
                f"| {n:,} | {label} | {run['cycle_s']:.2f} | {run['first_cycle_s']:.2f}"
                f" | {run['queries']:,} | {run['rss_mb']:.0f} | {run['cpu_s']:.2f} | {prom:.2f}"
                f" | {ratio} | {run['decoding_s']:.2f} / {run['building_s']:.2f} /"
                f" {run['snapshot_s']:.3f} | {run.get('load', math.nan):.1f} |"
                f" {samples_read(run, runs.get('direct'))} |"
            )
    for n, runs in rows.items():
        if "rules" in runs and "reload_s" in runs["rules"]:
            print(f"N={n:,} rules: {rules_loading(runs['rules'])}")
        if "incremental" in runs and "direct" in runs:
            ours, theirs = runs["incremental"]["burn"], runs["direct"]["burn"]
            far = [
                f"N={n} {name} {step}: incremental {ours[name][step]}, one-shot {value}"
                for name, steps in theirs.items()
                for step, value in steps.items()
                if value and abs(ours[name][step] / value - 1) > 0.01
            ]
            speedup = runs["direct"]["cycle_s"] / runs["incremental"]["cycle_s"]
            print(
                f"N={n:,} incremental vs one-shot: {speedup:.1f}x faster a cycle;"
                f" {len(far)} of {sum(map(len, theirs.values()))} burn rates 1h/6h/1d/3d off by >1%;"
                f" slogate CPU {runs['incremental']['cpu_s'] / runs['direct']['cpu_s']:.2f}x one-shot's,"
                f" samples read {fewer(runs['direct'], runs['incremental'])}"
            )
            if "slo-generator" in runs:
                base = runs["slo-generator"]["cycle_s"]
                print(
                    f"N={n:,} vs slo-generator (4 windows): direct {base / runs['direct']['cycle_s']:.1f}x,"
                    f" incremental {base / runs['incremental']['cycle_s']:.1f}x faster"
                )
            problems += far[:5]
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
