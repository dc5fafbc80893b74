"""Gate throughput and latency under load, against a bare aiohttp JSON handler in the same run.

    python benchmarks/load.py [--duration 60] [--concurrency 16,64,256] [--with-evaluation]
                              [--only-evaluation] [--slos 1000] [--modes direct,incremental,rules]
                              [--workers inline,process] [--rules-from recorded|evaluated]

- slogate serves the demo (Prometheus with backfilled history on 127.0.0.1), the audit trail on:
  every gate call is written to SQLite (WAL, fsync on commit) before it is answered.
- The baseline is the smallest aiohttp app answering the same size of JSON, nothing else.
- Load comes from wrk (Debian's package) on loopback: requests/s, p50 and p99 latency,
  errors (non-2xx and socket errors), and slogate's RSS before and after each run.
- `--with-evaluation`: gate latency for a service of 20 SLOs while 1,000-SLO (`--slos`) evaluation
  cycles run back to back in the same process, in direct mode (100 queries of 10 SLOs a cycle),
  direct with long windows summed from hourly buckets (`long_windows: incremental`) and in rules mode
  (8 queries a cycle over every SLO's recorded SLI series: scraped as Sloth's rules would record
  them, or with `--rules-from evaluated` the rules themselves, evaluated by Prometheus on the same
  cores), each against the same slogate idle between cycles (for rules mode, idle with the
  series in Prometheus). Prometheus shares the 2 cores: in direct mode it is busy computing 1,000 SLOs' ratios
  over 30 days the whole time, which no gate design can hide on this machine.
  Each mode runs with evaluation on the serving loop (`evaluation.worker: inline`) and in the
  worker process (`process`, the default), each against an idle slogate of the same worker mode;
  `--modes`/`--workers` pick some (at `--slos 10000` a direct cycle takes minutes, and rules
  mode needs Prometheus to load and evaluate 80,000 recording rules first). The load average is
  printed: the 2 cores are shared with whatever else runs.

- `--ceiling N`: what several processes could give at most on this machine. N slogate
  processes share the port (SO_REUSEPORT, set by a launcher here: slogate has no such mode), each
  with its own store and state, coordinating nothing; a real multi-process gate would have to
  share freezes, exemptions and snapshots on top. Against one bare handler and N bare handlers.

- `--store postgresql`: the gate on the shared store. At c=64: one slogate on SQLite (the
  baseline), one on PostgreSQL (Debian's, started here on loopback), and three replicas on that
  PostgreSQL behind one port (SO_REUSEPORT, as above): throughput and p99 as ratios. All of
  them, PostgreSQL and wrk share the 2 cores.

Figures are printed as ratios to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slogate.cli.demo import start_exporter, write_history  # noqa: E402
from slogate.cli.localprom import LocalPrometheus, free_port  # noqa: E402

BARE_APP = r"""
import json, sys
from aiohttp import web
body = json.dumps({"decision": "allow", "allow": True, "service": "checkout", "reasons": [],
                   "slos": [{"burn_rates": {w: 0.2 for w in ("5m","30m","1h","2h","6h","1d","3d","30d")}}]})
async def handler(request):
    request.query.get("service")
    return web.Response(text=body, content_type="application/json")
app = web.Application()
app.router.add_get("/v1/gate", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
            reuse_port=True)
"""
REUSE_PORT_SLOGATE = r"""
import functools, sys
from aiohttp import web
web.TCPSite.__init__ = functools.partialmethod(web.TCPSite.__init__, reuse_port=True)
from slogate.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def wrk(url: str, connections: int, duration: int) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def millis(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(non2xx.group(1)) if non2xx else 0
    timeouts = int(socket.group(4)) if socket else 0
    errors = failed + (sum(int(g) for g in socket.groups()) if socket else 0)
    assert rps, out
    return {
        "rps": float(rps.group(1)),
        "p50": millis("50%"),
        "p99": millis("99%"),
        "errors": errors,
        "non2xx": failed,
        "timeouts": timeouts,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def wait_ready(url: str, path: str = "/readyz", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready")


def start_slogate(
    prometheus: str,
    specs: Path,
    workdir: Path,
    interval: str,
    mode: str = "auto",
    *,
    port: int = 0,
    reuse_port: bool = False,
    long_windows: str = "oneshot",
    worker: str = "process",
    store: str = "",
    env: dict[str, str] | None = None,
    extra_config: str = "",
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    name = f"slogate-{port}-{len(list(workdir.glob('slogate-*.yaml')))}"
    config = workdir / f"{name}.yaml"
    config.write_text(
        f"evaluation: {{mode: {mode}, long_windows: {long_windows}, worker: {worker}}}\n"
        "prometheus: {timeout: 300s}\n"
        + (extra_config or "server: {rate_limit: {rate: 0}}\n")  # wrk is one client
    )
    launcher = ["-c", REUSE_PORT_SLOGATE] if reuse_port else ["-m", "slogate.cli"]
    process = subprocess.Popen(
        [
            sys.executable,
            *launcher,
            "--log-level",
            "warning",
            "serve",
            "--specs",
            str(specs),
            "--prometheus-url",
            prometheus,
            "--listen",
            f"127.0.0.1:{port}",
            "--interval",
            interval,
            "--store",
            store or str(workdir / f"{name}.db"),
            "--config",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, timeout=600)
    return process, url


def start_live_history(workdir: Path) -> LocalPrometheus:
    anchor = math.floor(time.time() / 60) * 60
    write_history(workdir, anchor)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    _runner, port = asyncio.run_coroutine_threadsafe(start_exporter(anchor), loop).result(30)
    prometheus = LocalPrometheus(workdir, jobs={"slogate-demo": [f"127.0.0.1:{port}"]})
    prometheus.start()
    return prometheus


def gate_vs_bare(workdir: Path, levels: list[int], duration: int) -> list[dict[str, Any]]:
    prometheus = start_live_history(workdir)
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)])
    slogate, url = start_slogate(prometheus.url, ROOT / "slo_specs", workdir, "30s")
    rows = []
    try:
        wait_ready(f"http://127.0.0.1:{bare_port}", "/v1/gate?service=checkout")
        for connections in levels:
            base = wrk(
                f"http://127.0.0.1:{bare_port}/v1/gate?service=checkout", connections, duration
            )
            before = rss_mb(slogate.pid)
            ours = wrk(f"{url}/v1/gate?service=checkout&deploy_id=load", connections, duration)
            rows.append(
                {
                    "c": connections,
                    "bare": base,
                    "slogate": ours,
                    "rss": (before, rss_mb(slogate.pid)),
                }
            )
            print(f"c={connections}: measured", flush=True)
        audited = httpx.get(f"{url}/v1/decisions", params={"limit": "1"}, timeout=10).json()[
            "decisions"
        ]
        assert audited and audited[0]["deploy_id"] == "load"
    finally:
        for process in (slogate, bare):
            process.terminate()
            process.wait(30)
        prometheus.stop()
    return rows


def ceiling(workdir: Path, processes: int, duration: int) -> dict[str, float]:
    """Requests/s at c=64 of one and of `processes` bare handlers and slogates on one port."""
    prometheus = start_live_history(workdir)
    started: list[subprocess.Popen[bytes]] = []
    rps: dict[str, float] = {}
    try:
        for count in (1, processes):
            bare_port, gate_port = free_port(), free_port()
            for _ in range(count):
                started.append(subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)]))
                wait_ready(f"http://127.0.0.1:{bare_port}", "/v1/gate?service=checkout")
                process, _ = start_slogate(
                    prometheus.url,
                    ROOT / "slo_specs",
                    workdir,
                    "30s",
                    port=gate_port,
                    reuse_port=True,
                )
                started.append(process)
            time.sleep(10)  # readiness answers come from whichever process listens first
            for kind, port in (("bare", bare_port), ("slogate", gate_port)):
                target = f"http://127.0.0.1:{port}/v1/gate?service=checkout"
                rps[f"{kind} x{count}"] = wrk(target, 64, duration)["rps"]
            print(f"{count} process(es): measured", flush=True)
    finally:
        for process in started:
            process.terminate()
            process.wait(30)
        prometheus.stop()
    return rps


def on_stores(workdir: Path, duration: int) -> dict[str, dict[str, float]]:
    """c=64 against one slogate on SQLite, one on PostgreSQL, three on PostgreSQL on one port."""
    from tests.postgres import PASSWORD, LocalPostgres

    prometheus = start_live_history(workdir)
    specs = ROOT / "slo_specs"
    target = "/v1/gate?service=checkout&deploy_id=load"
    results: dict[str, dict[str, float]] = {}
    started: list[subprocess.Popen[bytes]] = []
    try:
        with LocalPostgres() as pg:
            env = {"SLOGATE_STORE_PASSWORD": PASSWORD}
            runs: list[tuple[str, str, int]] = [
                ("sqlite x1", "", 1),
                ("postgresql x1", pg.url(), 1),
                ("postgresql x3", pg.url(), 3),
            ]
            for label, store, count in runs:
                port = free_port()
                for _ in range(count):
                    process, url = start_slogate(
                        prometheus.url,
                        specs,
                        workdir,
                        "30s",
                        port=port,
                        reuse_port=count > 1,
                        store=store,
                        env=env,
                    )
                    started.append(process)
                results[label] = wrk(f"{url}{target}", 64, duration)
                for process in started:
                    process.terminate()
                    process.wait(30)
                started.clear()
                print(f"{label}: measured", flush=True)
    finally:
        for process in started:
            process.terminate()
            process.wait(30)
        prometheus.stop()
    return results


def loop_lag(before: str, after: str) -> dict[str, float]:
    """From slogate's `slogate_event_loop_lag_seconds` histogram (a timer every 100 ms), between
    two expositions: the share of timers run over 10 ms late, and the bucket bound under which
    the latest one ran."""

    def buckets(exposition: str) -> dict[float, float]:
        return {
            float(le): float(count)
            for le, count in re.findall(
                r'^slogate_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', exposition, re.M
            )
        }

    start, end = buckets(before), buckets(after)
    counts = {le: count - start.get(le, 0.0) for le, count in end.items()}
    total = counts.get(math.inf, 0.0)
    if not total:
        return {"late": math.nan, "max_lag": math.nan}
    latest = min(le for le, count in counts.items() if count == total)
    return {"late": 1 - counts[0.01] / total, "max_lag": latest}


def cycles_done(exposition: str) -> float:
    found = re.search(r"^slogate_evaluation_duration_seconds_count (\S+)$", exposition, re.M)
    return float(found.group(1)) if found else 0.0


def warmed_up(url: str) -> str:
    """Once the first cycle is in and its halts and pages are done (one 5 s wrk run, not
    counted: a fresh store's first cycle halts and pages for every SLO out of budget at once),
    the exposition to measure from."""
    deadline = time.monotonic() + 600
    while cycles_done(httpx.get(f"{url}/metrics", timeout=30).text) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("no evaluation cycle in 10 minutes")
        time.sleep(0.5)
    wrk(f"{url}/v1/gate?service=svc001", 64, 5)
    return httpx.get(f"{url}/metrics", timeout=30).text


EVALUATION_CONFIG = """server: {rate_limit: {rate: 0}}
policy: {default: {max_staleness: 90s}}
"""
"""wrk is one client; and the staleness limit of the default 30 s interval, not of the 1 s one
that runs cycles back to back (3 s, shorter than a 10,000-SLO cycle: every answer would be
"stale")."""


def pin(pid: int, cpu: int) -> None:
    """Every thread of `pid` (Go's too) on `cpu` only."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), {cpu})


def worker_of(pid: int) -> int | None:
    """serve's evaluation worker, once started."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(found[0]) if found else None


def under_evaluation(
    duration: int,
    slos: int,
    modes: list[str],
    workers: list[str],
    rules_from: str,
    pinned: bool = False,
) -> dict[str, dict[str, float]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import scale

    workdir = scale.BENCH / "load-eval"
    workdir.mkdir(parents=True, exist_ok=True)
    prometheus, specs = scale.prepare(workdir, 50, slos)
    prometheus.start()
    results = {}

    def measure(label: str, interval: str, mode: str, long_windows: str = "oneshot") -> None:
        for worker in workers:
            # Not in the cached work dir: each run's audit trail is gigabytes.
            own = Path(tempfile.mkdtemp(prefix="slogate-load-"))
            slogate, url = start_slogate(
                prometheus.url,
                specs,
                own,
                interval,
                mode,
                long_windows=long_windows,
                worker=worker,
                extra_config=EVALUATION_CONFIG,
            )
            try:
                if pinned:
                    pin(slogate.pid, 0)
                    assert prometheus.process is not None
                    pin(prometheus.process.pid, 1)
                before = warmed_up(url)
                child = worker_of(slogate.pid) if pinned else None
                if child is not None:
                    pin(child, 1)
                run = results[f"{label}/{worker}"] = wrk(
                    f"{url}/v1/gate?service=svc001", 64, duration
                )
                after = httpx.get(f"{url}/metrics", timeout=30).text
                run["cycles"] = cycles_done(after) - cycles_done(before)
                run.update(loop_lag(before, after))
                run["load"] = os.getloadavg()[0]
            finally:
                slogate.terminate()
                slogate.wait(60)
                shutil.rmtree(own, ignore_errors=True)
            print(f"{label}/{worker}: measured", flush=True)

    try:
        if {"direct", "incremental"} & set(modes):
            measure("idle", "1h", "direct")
        if "direct" in modes:
            measure("direct", "1s", "direct")
        if "incremental" in modes:
            measure("incremental", "1s", "direct", "incremental")
        if "rules" in modes:
            # The rules-mode baseline is an idle slogate with the series in Prometheus (whose
            # own evaluation of 8 rules per SLO, with --rules-from evaluated, takes CPU).
            scale.load_rules(prometheus, workdir, specs, slos, rules_from)
            measure("idle-rules", "1h", "rules")
            measure("rules", "1s", "rules")
    finally:
        prometheus.stop()
    return results


EVALUATION_ROWS = (
    ("idle", "none (idle)", "idle"),
    ("direct", "direct, back to back", "idle"),
    ("incremental", "direct, long incremental", "idle"),
    ("idle-rules", "none, rules loaded", "idle-rules"),
    ("rules", "rules, back to back", "idle-rules"),
)


def report_evaluation(results: dict[str, dict[str, float]], slos: int, duration: int) -> None:
    print(
        f"\ngate at c=64, {slos:,} SLOs loaded, for a service of {slos // 50} SLOs"
        f" ({duration} s each; p99 / idle: against the idle run of the same worker mode):"
    )
    print(
        f"{'cycles':<25} {'worker':<8} {'rps':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99 / idle':>11}"
        f" {'errors':>7} {'non-2xx':>7} {'timeouts':>8} {'loop lag >10ms':>15}"
        f" {'max lag <=':>11} {'load':>5}"
    )
    for label, title, baseline in EVALUATION_ROWS:
        for key in sorted(k for k in results if k.split("/")[0] == label):
            worker = key.split("/")[1]
            r, idle = results[key], results[f"{baseline}/{worker}"]
            print(
                f"{title:<25} {worker:<8} {r['rps']:>7.0f} {r['p50']:>8.2f} {r['p99']:>8.2f}"
                f" {r['p99'] / idle['p99']:>11.2f} {r['errors']:>7.0f}"
                f" {r['non2xx']:>7.0f} {r['timeouts']:>8.0f}"
                f" {r['late'] * 100:>14.1f}% {r['max_lag'] * 1000:>8.1f} ms {r['load']:>5.1f}"
                + (f"   ({r['cycles']:.0f} cycles)" if label != baseline else "")
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--concurrency", default="16,64,256")
    parser.add_argument("--with-evaluation", action="store_true")
    parser.add_argument("--slos", type=int, default=1000, help="SLOs loaded for --*-evaluation")
    parser.add_argument(
        "--only-evaluation", action="store_true", help="skip the gate vs bare handler runs"
    )
    parser.add_argument("--modes", default="direct,incremental,rules", help="for --*-evaluation")
    parser.add_argument("--workers", default="inline,process", help="for --*-evaluation")
    parser.add_argument(
        "--rules-from",
        choices=("recorded", "evaluated"),
        default="recorded",
        help="rules mode's series: scraped as recorded (default) or Sloth's rules evaluated by"
        " Prometheus on the same cores (benchmarks/scale.py --rules-from)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="for --*-evaluation: Prometheus and the evaluation worker on CPU 1, serve and wrk"
        " on CPU 0, so that what the gate feels of evaluation is its serving loop's own share",
    )
    parser.add_argument(
        "--ceiling", type=int, metavar="N", help="only: N processes on one port, no coordination"
    )
    parser.add_argument(
        "--store", choices=("postgresql",), help="only: SQLite vs PostgreSQL vs 3 replicas"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    if args.store:
        with tempfile.TemporaryDirectory(prefix="slogate-load-") as tmp:
            results = on_stores(Path(tmp), args.duration)
        base = results["sqlite x1"]
        print(f"\nc=64, {args.duration} s each, ratios to one slogate on SQLite:")
        print(f"{'store':<15} {'rps':>7} {'ratio':>6} {'p99 ms':>8} {'p99 ratio':>9} {'errors':>7}")
        for label, r in results.items():
            print(
                f"{label:<15} {r['rps']:>7.0f} {r['rps'] / base['rps']:>6.2f} {r['p99']:>8.2f}"
                f" {r['p99'] / base['p99']:>9.2f} {r['errors']:>7.0f}"
            )
        return 0
    if args.ceiling:
        with tempfile.TemporaryDirectory(prefix="slogate-load-") as tmp:
            rps = ceiling(Path(tmp), args.ceiling, args.duration)
        print(f"\nc=64, {args.duration} s each, ratios to one bare handler:")
        for label, value in rps.items():
            print(f"{label:<12} {value:>8.0f} rps {value / rps['bare x1']:>6.2f}")
        return 0
    levels = [] if args.only_evaluation else [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="slogate-load-") as tmp:
        rows = gate_vs_bare(Path(tmp), levels, args.duration) if levels else []
    if rows:
        print()
        print(
            f"{'conc':>5} {'bare rps':>10} {'slogate rps':>12} {'ratio':>6} {'p50 ms':>14} {'p99 ms':>14} {'errors':>7} {'RSS MB':>14}"
        )
        for row in rows:
            b, s = row["bare"], row["slogate"]
            print(
                f"{row['c']:>5} {b['rps']:>10.0f} {s['rps']:>12.0f} {s['rps'] / b['rps']:>6.2f}"
                f" {b['p50']:>6.2f}/{s['p50']:<7.2f} {b['p99']:>6.2f}/{s['p99']:<7.2f} {s['errors']:>7.0f}"
                f" {row['rss'][0]:>6.1f}→{row['rss'][1]:<6.1f}"
            )
        print("(p50/p99 columns: bare/slogate)")
    if args.with_evaluation or args.only_evaluation:
        if args.pin:
            os.sched_setaffinity(0, {0})  # wrk's CPU, and serve's (Prometheus is moved to 1)
        modes, workers = args.modes.split(","), args.workers.split(",")
        results = under_evaluation(
            args.duration, args.slos, modes, workers, args.rules_from, args.pin
        )
        report_evaluation(results, args.slos, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
