"""The Grafana dashboards in `grafana/`: well-formed, current with `grafana/build.py`, every
variable defined and every panel on the datasource variable; and every panel's PromQL returns
data from a real Prometheus that has scraped a running slogate."""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from slogate.cli.localprom import LocalPrometheus
from slogate.notify.sinks import Notification
from slogate.store.base import IncidentChange, OpenIncident

from .conftest import History
from .helpers import Running, running_slogate

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
BUILD = GRAFANA / "build.py"
DASHBOARDS = {
    "slogate-overview": "slogate-overview.json",
    "slogate-slo-detail": "slogate-slo-detail.json",
    "slogate-delivery": "slogate-delivery.json",
}
DATASOURCE_REF = "${datasource}"
VARIABLE_QUERIES = {
    "service": "label_values(slogate_slo_objective_ratio, service)",
    "slo": 'label_values(slogate_slo_objective_ratio{service=~"$service"}, slo)',
}
# Grafana's global variables (https://grafana.com/docs/grafana/latest/dashboards/variables/).
BUILTINS = frozenset(
    {
        "__all_variables",
        "__dashboard",
        "__data",
        "__field",
        "__from",
        "__interval",
        "__interval_ms",
        "__org",
        "__range",
        "__range_ms",
        "__range_s",
        "__rate_interval",
        "__rate_interval_ms",
        "__series",
        "__timezone",
        "__to",
        "__url_time_range",
        "__user",
        "__value",
    }
)
# `$name`, `${name}`, `${name:format}`, `${__data.fields.x}`, `[[name]]`.
VARIABLE = re.compile(r"\$\{([\w.]+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")

# What a panel's variables are replaced with: one SLO of the demo, then every SLO (overview's
# "All"); Grafana's interval variables as Grafana would set them for a 1h range.
INTERVALS = {
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
}
ONE_SLO = {**INTERVALS, "service": "payments", "slo": "requests-availability"}
ALL_SLOS = {**INTERVALS, "service": ".*", "slo": ".*"}
VALUES = {
    "slogate-overview": (ONE_SLO, ALL_SLOS),
    "slogate-slo-detail": (ONE_SLO,),
    "slogate-delivery": (ONE_SLO, ALL_SLOS),
}

# Panels allowed to have no data here, and why. Each must really be empty: remove the entry once
# the metric has samples in this test.
NO_DATA_YET = {
    ("slogate-overview", "Last reload", "A"): (
        "slogate_reload_success is set by `serve`'s reloader (SIGHUP or a changed file), which"
        " running_slogate does not wire; test_hot_reload covers the metric itself"
    ),
}

POLL_LIMIT = 30.0  # seconds, for each wait on slogate or Prometheus

SINK_CONFIG = """\
notifications:
  sinks:
    - {name: capture, type: alertmanager, url: "http://127.0.0.1:9/"}
"""


def load(uid: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GRAFANA / DASHBOARDS[uid]).read_text(encoding="utf-8"))
    return doc


def panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in doc["panels"]:
        yield panel
        yield from panel.get("panels", [])


def custom_annotations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in doc["annotations"]["list"] if not a.get("builtIn")]


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str
    time_series: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dashboard, self.panel, self.ref)


def queries(uid: str) -> list[Query]:
    doc = load(uid)
    out = [
        Query(uid, p["title"], t["refId"], t["expr"], p["type"] == "timeseries")
        for p in panels(doc)
        for t in p.get("targets", [])
    ]
    out += [
        Query(uid, f"annotation: {a['name']}", "Anno", a["target"]["expr"], True)
        for a in custom_annotations(doc)
    ]
    return out


def substitute(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return values[name]

    return VARIABLE.sub(value, expr)


def references(node: Any) -> Iterator[str]:
    """Names of the variables used anywhere in a JSON document (`__data.fields.x` → `__data`)."""
    if isinstance(node, dict):
        for item in node.values():
            yield from references(item)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, str):
        for match in VARIABLE.finditer(node):
            yield next(g for g in match.groups() if g).split(".")[0]


# --- The JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_dashboard_is_sorted_pretty_json_with_uid_title_and_panels(uid: str) -> None:
    doc = load(uid)
    assert doc["uid"] == uid
    assert doc["schemaVersion"] >= 39
    assert doc["title"] and doc["panels"]
    text = (GRAFANA / DASHBOARDS[uid]).read_text(encoding="utf-8")
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n", "not pretty-printed, sorted"


# Keys Grafana's dashboard model does not describe, yet reads on import: export metadata, UI
# state, and the Prometheus datasource's own annotation query options.
OUTSIDE_THE_MODEL = frozenset(
    {
        "/__requires",
        "/annotations/list[]/builtIn",
        "/annotations/list[]/tagKeys",
        "/annotations/list[]/textFormat",
        "/annotations/list[]/titleFormat",
        "/annotations/list[]/useValueForTime",
        "/annotations/list[]/target/expr",
        "/annotations/list[]/target/interval",
        "/annotations/list[]/target/refId",
        "/templating/list[]/definition",
    }
)


def model_differences(written: Any, model: Any, path: str = "") -> Iterator[str]:
    """Where `model` (the document decoded by Grafana's model and encoded again) loses or
    changes what was `written`; list items are named `[]` so that one rule covers them all."""
    if isinstance(written, dict) and isinstance(model, dict):
        for key, value in written.items():
            where = f"{path}/{key}"
            if key not in model:
                yield f"dropped {where}"
            else:
                yield from model_differences(value, model[key], where)
    elif isinstance(written, list) and isinstance(model, list) and len(written) == len(model):
        for item, decoded in zip(written, model, strict=True):
            yield from model_differences(item, decoded, f"{path}[]")
    elif written != model:
        yield f"changed {path}: {written!r} -> {model!r}"


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_dashboard_fits_grafanas_dashboard_model(uid: str) -> None:
    """Decoded with the Dashboard model of grafana-foundation-sdk (Grafana's schema, generated
    by Grafana) and encoded again, every key and value survives but the known extras."""
    doc = load(uid)
    model = json.loads(json.dumps(Dashboard.from_json(doc), cls=JSONEncoder))
    differences = set(model_differences(doc, model))
    assert {d for d in differences if d.removeprefix("dropped ") not in OUTSIDE_THE_MODEL} == set()
    assert differences  # the comparison does see what the model drops


def test_the_model_check_catches_a_misspelt_key() -> None:
    doc = load("slogate-overview")
    doc["panels"][0]["fieldconfig"] = doc["panels"][0].pop("fieldConfig")
    model = json.loads(json.dumps(Dashboard.from_json(doc), cls=JSONEncoder))
    assert "dropped /panels[]/fieldconfig" in set(model_differences(doc, model))


def test_committed_json_is_what_build_py_builds() -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    build = [sys.executable, str(BUILD), "--out", str(tmp_path)]
    assert subprocess.run(build, capture_output=True, timeout=60).returncode == 0
    assert subprocess.run([*build, "--check"], capture_output=True, timeout=60).returncode == 0
    stale = tmp_path / DASHBOARDS["slogate-slo-detail"]
    stale.write_text(stale.read_text().replace("14.4", "14"))
    result = subprocess.run([*build, "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert DASHBOARDS["slogate-slo-detail"] in result.stderr


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_template_variables(uid: str) -> None:
    variables = {v["name"]: v for v in load(uid)["templating"]["list"]}
    assert list(variables) == ["datasource", "service", "slo"]
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    for name, query in VARIABLE_QUERIES.items():
        var = variables[name]
        assert var["type"] == "query"
        assert var["query"] == var["definition"] == query
        assert var["datasource"]["uid"] == DATASOURCE_REF


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_every_variable_used_is_defined(uid: str) -> None:
    doc = load(uid)
    defined = {v["name"] for v in doc["templating"]["list"]}
    used = set(references(doc))
    assert used - defined - BUILTINS == set()
    assert {"service", "slo", "datasource"} <= used
    for query in queries(uid):
        for name in set(references(query.expr)):
            assert name in defined or name in BUILTINS, (query.key, name)


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_every_panel_queries_the_datasource_variable(uid: str) -> None:
    doc = load(uid)
    for panel in panels(doc):
        assert panel["datasource"]["uid"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_REF, panel["title"]
            assert target["expr"].strip(), panel["title"]
    annotations = custom_annotations(doc)
    assert all(a["datasource"]["uid"] == DATASOURCE_REF for a in annotations)


def test_ids_and_uids_are_unique() -> None:
    uids = [load(uid)["uid"] for uid in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for uid in DASHBOARDS:
        doc = load(uid)
        ids = [p["id"] for p in panels(doc)]
        assert len(set(ids)) == len(ids), uid
        titles = [p["title"] for p in panels(doc)]
        assert len(set(titles)) == len(titles), uid
        for panel in panels(doc):
            refs = [t["refId"] for t in panel["targets"]]
            assert len(set(refs)) == len(refs), panel["title"]
        cells: set[tuple[int, int]] = set()
        for panel in panels(doc):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, panel["title"]
            mine = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not cells & mine, f"{panel['title']} overlaps another panel"
            cells |= mine


def test_detail_draws_the_burn_thresholds_and_decision_annotations() -> None:
    exprs = {q.expr for q in queries("slogate-slo-detail")}
    for factor in ("14.4", "6", "3", "1"):
        assert f"vector({factor})" in exprs
    annotations = custom_annotations(load("slogate-slo-detail"))
    decisions = [a for a in annotations if "slogate_gate_decisions_total" in a["target"]["expr"]]
    [failed] = [a for a in annotations if "slogate_deployments_total" in a["target"]["expr"]]
    assert len(decisions) == 2 and len(annotations) == 3
    burn = [p["id"] for p in panels(load("slogate-slo-detail")) if "burn rate" in p["title"]]
    assert failed["filter"] == {"exclude": False, "ids": burn}  # the burn-rate panels only


def test_overview_table_is_sorted_worst_first() -> None:
    [table] = [p for p in panels(load("slogate-overview")) if p["type"] == "table"]
    sort = [t for t in table["transformations"] if t["id"] == "sortBy"]
    assert sort == [
        {
            "id": "sortBy",
            "options": {"fields": {}, "sort": [{"desc": False, "field": "Value #budget"}]},
        }
    ]
    assert "budget" in {t["refId"] for t in table["targets"]}


# --- Every query against a real Prometheus scraping slogate ---------------------------------------


@dataclass
class CaptureSink:
    """A notification sink that acknowledges everything (so notification counters move)."""

    name: str = "capture"
    received: list[Notification] = field(default_factory=list)

    async def deliver(self, notification: Notification, http: httpx.AsyncClient) -> None:
        self.received.append(notification)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it returns true, for at most `POLL_LIMIT` seconds."""
    try:
        async with asyncio.timeout(POLL_LIMIT):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise TimeoutError(f"waited {POLL_LIMIT:g}s for {what}") from None


async def instant(prom: httpx.AsyncClient, expr: str, at: float | None = None) -> list[Any]:
    params: dict[str, Any] = {"query": expr}
    if at is not None:
        params["time"] = at
    response = await prom.get("/api/v1/query", params=params)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    result: list[Any] = body["data"]["result"]
    return result


async def range_query(prom: httpx.AsyncClient, expr: str, at: float) -> list[Any]:
    params: dict[str, str | float] = {"query": expr, "start": at - 60, "end": at, "step": "5s"}
    response = await prom.get("/api/v1/query_range", params=params)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    result: list[Any] = body["data"]["result"]
    return result


def finite(values: list[Any]) -> bool:
    return any(math.isfinite(float(v)) for _, v in values)


async def gate_calls(slogate: Running) -> int:
    """Decisions of each kind: payments deny and allow (an exempt rollback), catalog warn."""
    calls = [
        {"service": "payments"},
        {"service": "payments", "change_type": "rollback"},
        {"service": "catalog"},
        {"service": "checkout"},
        {"service": "search"},
    ]
    for params in calls:
        status, body = await slogate.gate(**params)
        assert status == 200, body
    return sum(1 for c in calls if c["service"] == "payments")


async def deployments(slogate: Running, *outcomes: str) -> None:
    """Deployments of payments (backfilled: the admin token), each commit two hours before."""
    now = time.time()
    for n, outcome in enumerate(outcomes):
        at = now - 3600 + n
        common = {"service": "payments", "deploy_id": f"p-{now:.0f}-{n}"}
        for event, when in (("started", at - 600), (outcome, at)):
            body = {**common, "event": event, "at": iso(when), "commit_time": iso(at - 7200)}
            response = await slogate.http.post("/v1/deployments", json=body, headers=slogate.admin)
            assert response.status_code == 200, response.text


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


async def restored_incident(slogate: Running) -> None:
    """A page incident of payments that opened and resolved (what time to restore measures)."""
    now = time.time()
    doc = {"slo_id": "payments-restored", "service": "payments", "slo": "restored"}
    store = slogate.pager.store
    await store.change_incidents(
        IncidentChange(opened=(OpenIncident({**doc, "severity": "page"}, now - 1800),))
    )
    await store.change_incidents(
        IncidentChange(resolved=(("payments-restored", "page"),), at=now - 600)
    )


async def test_every_query_returns_data_from_a_prometheus_scraping_slogate(
    history: History, tmp_path: Path
) -> None:
    sink = CaptureSink()
    async with running_slogate(
        history.url,
        schedule=True,
        interval="1s",
        config_text=SINK_CONFIG,
        sinks={sink.name: sink},
    ) as slogate:

        async def ready() -> bool:
            return (await slogate.http.get("/readyz")).status_code == 200

        await until(ready, "slogate to be ready")
        payments = await gate_calls(slogate)
        await restored_incident(slogate)
        await deployments(slogate, "succeeded", "succeeded", "rolled_back")
        target = slogate.url.removeprefix("http://")
        prometheus = LocalPrometheus(tmp_path, jobs={"slogate": [target]}, scrape_interval="1s")
        await asyncio.to_thread(prometheus.start)
        try:
            async with httpx.AsyncClient(base_url=prometheus.url, timeout=10) as prom:
                await check_queries(prom, slogate, payments)
        finally:
            await asyncio.to_thread(prometheus.stop)
        assert sink.received, "no notification reached the capture sink"


async def check_queries(prom: httpx.AsyncClient, slogate: Running, payments: int) -> None:
    async def scraped() -> bool:
        up = await instant(prom, 'count_over_time(up{job="slogate"}[1m])')
        return bool(up) and float(up[0]["value"][1]) >= 3

    await until(scraped, "three scrapes of slogate")
    # More decisions and deployments now that Prometheus has the earlier counts: increases show.
    payments += await gate_calls(slogate)
    await deployments(slogate, "rolled_back")

    async def counted() -> bool:
        total = await instant(prom, 'sum(slogate_gate_decisions_total{service="payments"})')
        return bool(total) and float(total[0]["value"][1]) >= payments

    await until(counted, "the later gate decisions to be scraped")
    all_queries = [q for uid in DASHBOARDS for q in queries(uid)]
    needed = {
        name
        for q in all_queries
        if q.key not in NO_DATA_YET
        for name in re.findall(r"\bslogate_\w+", q.expr)
    }

    async def present() -> bool:
        names = await instant(prom, 'group by (__name__) ({__name__=~"slogate_.+"})')
        return needed <= {r["metric"]["__name__"] for r in names}

    await until(present, f"samples of {sorted(needed)}")
    await asyncio.sleep(1.5)  # one more scrape: rates over the newest samples
    at = time.time()

    for uid in DASHBOARDS:
        for var in load(uid)["templating"]["list"]:
            if var["type"] == "query":
                await check_label_values(prom, var["query"], ONE_SLO)

    empty: list[str] = []
    for query in all_queries:
        for values in VALUES[query.dashboard]:
            expr = substitute(query.expr, values)
            assert "$" not in expr, expr
            results = [await instant(prom, expr, at)]
            if query.time_series:
                results.append(await range_query(prom, expr, at))
            if query.key in NO_DATA_YET:
                assert results == [[]] * len(results), f"{query.key} has data: drop NO_DATA_YET"
                continue
            instant_ok = any(math.isfinite(float(r["value"][1])) for r in results[0])
            range_ok = all(any(finite(r["values"]) for r in rs) for rs in results[1:])
            if not (instant_ok and range_ok):
                empty.append(f"{query.key} with {values['service']}: {expr}")
            if expr.startswith(("sort(", "sort_desc(")):  # bar gauges, worst first
                shown = [float(r["value"][1]) for r in results[0]]
                worst_first = sorted(shown, reverse=expr.startswith("sort_desc("))
                assert shown == worst_first, (query.key, shown)
    assert not empty, "\n".join(empty)


async def check_label_values(prom: httpx.AsyncClient, query: str, values: dict[str, str]) -> None:
    """A `label_values(selector, label)` variable lists the value the panels were checked with."""
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", substitute(query, values))
    assert match, query
    selector, label = match.groups()
    response = await prom.get(f"/api/v1/label/{label}/values", params={"match[]": selector})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    assert values[label] in body["data"], (query, body["data"])
