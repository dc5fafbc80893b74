"""Replicas on one PostgreSQL (DESIGN §7): three real `slogate serve` processes, a real
PostgreSQL, Prometheus and Alertmanager, a PagerDuty stand-in.

P1 a freeze on one replica holds on the others' next answers; P2 PostgreSQL killed under load:
503 store_unavailable and /readyz 503, never an unrecorded answer, recovery without restart; a
table lock past the timeout: 503; P3/P4 three replicas on burning services: one incident and one
page per (SLO, severity), one halt; P5 kill -9 of a replica under load: the others answer,
nothing acknowledged is lost, its outbox lease is taken over."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from slogate.cli.localprom import LocalAlertmanager
from tests.postgres import PASSWORD, LocalPostgres

from ..conftest import DEMO_SPECS
from .conftest import History
from .helpers import ADMIN_TOKEN, ServeProcess, eventually
from .receivers import Receiver, receiver, sink_env
from .test_durability import all_decision_ids

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SERVICES = ("checkout", "search", "payments")  # healthy, exhausted (halted), fast burn
INTERVAL = "3s"  # three replicas' cycles share the test Prometheus and 2 busy cores


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlertmanager]:
    am = LocalAlertmanager(tmp_path_factory.mktemp("alertmanager"))
    am.start()
    yield am
    am.stop()


def replica_config(tmp_path: Path, receiver_url: str = "", alertmanager_url: str = "") -> Path:
    # A cycle may take long on the shared cores (and its figures age): not what these tests
    # are about.
    lines = ["store:", "  timeout: 2s", "prometheus:", "  timeout: 60s"]
    lines += ["policy:", "  default:", "    max_staleness: 10m"]
    if receiver_url:
        lines += [
            "notifications:",
            "  retry_initial: 100ms",
            "  retry_max: 500ms",
            "  sinks:",
            f"    - {{name: pd, type: pagerduty, url: '{receiver_url}/v2/enqueue',"
            " secret_env: TEST_PD_KEY}",
            f"    - {{name: am, type: alertmanager, url: '{alertmanager_url}'}}",
        ]
    path = tmp_path / "slogate.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@asynccontextmanager
async def replicas(
    history: History,
    url: str,
    tmp_path: Path,
    count: int = 3,
    *,
    config: Path | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[list[ServeProcess]]:
    """`count` replicas on the database `url`, started together (they race to migrate)."""
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    for name in SERVICES:
        shutil.copy(DEMO_SPECS / f"{name}.yml", specs / f"{name}.yml")
    servers = [
        ServeProcess(
            history.url,
            specs,
            tmp_path / f"replica{n}",
            config=config or replica_config(tmp_path),
            interval=INTERVAL,
            store_url=url,
            env={"SLOGATE_STORE_PASSWORD": PASSWORD, **(env or {})},
        )
        for n in range(count)
    ]
    try:
        await asyncio.gather(*(s.start() for s in servers))
        yield servers
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            assert PASSWORD not in server.log.read_text(), "the store password was logged"


async def gate(http: httpx.AsyncClient, url: str, service: str) -> tuple[int, Any]:
    response = await http.get(f"{url}/v1/gate", params={"service": service})
    return response.status_code, response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


async def test_a_freeze_on_one_replica_holds_on_every_other_at_once(
    history: History, postgres: LocalPostgres, tmp_path: Path
) -> None:
    async with (
        replicas(history, postgres.fresh_database(), tmp_path) as (a, b, c),
        httpx.AsyncClient(timeout=10) as http,
    ):
        for server in (b, c):  # their answers for checkout are in memory: allow
            body = (await gate(http, server.url, "checkout"))[1]
            assert body["decision"] == "allow", body["reasons"]
        created = await http.post(
            f"{a.url}/v1/freezes",
            json={"service": "checkout", "reason": "p1", "duration": "1h"},
            headers=ADMIN,
        )
        assert created.status_code == 201
        answers = await asyncio.gather(
            *(gate(http, (b, c)[n % 2].url, "checkout") for n in range(20))
        )
        assert [(s, body["decision"]) for s, body in answers] == [(200, "deny")] * 20
        assert all("frozen" in codes(body) for _, body in answers)
        query = {"service": "checkout"}
        listed = (await http.get(f"{c.url}/v1/freezes", params=query, headers=ADMIN)).json()
        assert [f["id"] for f in listed["freezes"]] == [created.json()["id"]]
        lifted = await http.delete(f"{b.url}/v1/freezes/{created.json()['id']}", headers=ADMIN)
        assert lifted.status_code == 200
        after = await asyncio.gather(
            *(gate(http, (a, c)[n % 2].url, "checkout") for n in range(20))
        )
        assert [(s, body["decision"]) for s, body in after] == [(200, "allow")] * 20
        exempted = await http.post(
            f"{c.url}/v1/exemptions",
            json={"service": "search", "reason": "fix", "duration": "1h", "change_type": "fix"},
            headers=ADMIN,
        )
        assert exempted.status_code == 201
        response = await http.get(
            f"{a.url}/v1/gate", params={"service": "search", "change_type": "fix"}
        )
        assert "exempted" in codes(response.json())


async def load(
    urls: list[str], answered: list[tuple[int, str]], stop: asyncio.Event, service: str
) -> None:
    """Gate calls round-robin over `urls` until `stop`: (status, decision id or error code)."""
    async with httpx.AsyncClient(timeout=10) as http:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                response = await http.get(
                    f"{urls[n % len(urls)]}/v1/gate", params={"service": service}
                )
            except httpx.HTTPError:
                continue  # a replica killed mid-request: that answer was never given
            body = response.json()
            key = body["decision_id"] if response.status_code == 200 else body["error"]["code"]
            answered.append((response.status_code, key))


async def test_postgresql_killed_and_restarted_under_load(history: History, tmp_path: Path) -> None:
    with LocalPostgres() as pg:
        async with (
            replicas(history, pg.url(), tmp_path, 2) as servers,
            httpx.AsyncClient(timeout=10) as http,
        ):
            answered: list[tuple[int, str]] = []
            stop = asyncio.Event()
            urls = [s.url for s in servers]
            workers = [
                asyncio.create_task(load(urls, answered, stop, "checkout")) for _ in range(4)
            ]
            await eventually(lambda: len(answered) > 100, "answers before the kill")
            await asyncio.to_thread(pg.kill)
            await eventually(
                lambda: (503, "store_unavailable") in answered[-20:], "503 store_unavailable"
            )
            await eventually(lambda: all_ready(http, urls, 503), "readyz 503 while down")
            await asyncio.to_thread(pg.start)
            await eventually(lambda: all_ready(http, urls, 200), "ready again", 60)
            mark = len(answered)
            await eventually(lambda: len(answered) > mark + 50, "answers after the restart")
            stop.set()
            await asyncio.gather(*workers)
            assert {status for status, _ in answered} == {200, 503}
            assert all(key == "store_unavailable" for s, key in answered if s == 503)
            assert all(s == 200 for s, _ in answered[-20:])
            acknowledged = {key for status, key in answered if status == 200}
            async with httpx.AsyncClient(base_url=urls[0], timeout=10) as one:
                assert acknowledged <= await all_decision_ids(one)
            print(f"answers: {len(acknowledged)} recorded, {len(answered) - len(acknowledged)} 503")

            # slow past the timeout: a lock held on the decisions table
            with psycopg.connect(pg.url(), password=PASSWORD) as locker:
                locker.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
                status, body = await gate(http, urls[1], "checkout")
                assert (status, body["error"]["code"]) == (503, "store_unavailable")
            assert (await gate(http, urls[1], "checkout"))[0] == 200


async def all_ready(http: httpx.AsyncClient, urls: list[str], expected: int) -> bool:
    """Whether every replica's /readyz answers `expected`."""
    try:
        statuses = [(await http.get(f"{url}/readyz")).status_code for url in urls]
    except httpx.HTTPError:
        return False
    return statuses == [expected] * len(urls)


def pd_triggers(got: Receiver) -> list[str]:
    return [e["dedup_key"] for e in got.accepted_by("pagerduty") if e["event_action"] == "trigger"]


async def test_three_replicas_on_burning_services_page_once_and_halt_once(
    history: History,
    postgres: LocalPostgres,
    alertmanager: LocalAlertmanager,
    tmp_path: Path,
) -> None:
    async with receiver() as got:
        config = replica_config(tmp_path, got.url, alertmanager.url)
        url = postgres.fresh_database()
        async with (
            replicas(history, url, tmp_path, config=config, env=sink_env(got.url)) as servers,
            httpx.AsyncClient(timeout=10) as http,
        ):
            incidents = await eventually(lambda: _incidents(http, servers[0].url), "open incidents")
            expected = {f"slogate/{i['slo_id']}/{i['severity']}" for i in incidents}
            assert "slogate/search-requests-availability/page" in expected
            await eventually(lambda: set(pd_triggers(got)) == expected, "every page", 60)
            await asyncio.sleep(10)  # three more cycles on every replica: no second page
            for server in servers:
                mine = await _incidents(http, server.url)
                assert {f"slogate/{i['slo_id']}/{i['severity']}" for i in mine} == expected
                freezes = (await http.get(f"{server.url}/v1/freezes", headers=ADMIN)).json()
                halts = [f for f in freezes["freezes"] if f["kind"] == "system"]
                assert [(h["service"], h["slo"]) for h in halts] == [
                    ("search", "requests-availability")
                ]
            triggers = pd_triggers(got)
            assert sorted(triggers) == sorted(expected), "each page sent once"
            alerts = alertmanager.alerts(service="search", sloth_severity="page")
            assert len(alerts) == 1, alerts  # three replicas' alerts are one in Alertmanager
            with psycopg.connect(url, password=PASSWORD) as conn:
                [(halts_made,)] = conn.execute(
                    "SELECT count(*) FROM freezes WHERE kind = 'system'"
                ).fetchall()
            assert halts_made == 1


async def _incidents(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    incidents: list[dict[str, Any]] = (await http.get(f"{url}/v1/incidents")).json()["incidents"]
    return incidents


async def test_kill_9_of_a_replica_under_load_loses_nothing_acknowledged(
    history: History, postgres: LocalPostgres, tmp_path: Path
) -> None:
    async with replicas(history, postgres.fresh_database(), tmp_path) as servers:
        answered: list[tuple[int, str]] = []
        stop = asyncio.Event()
        urls = [s.url for s in servers]
        workers = [asyncio.create_task(load(urls, answered, stop, "payments")) for _ in range(6)]
        await eventually(lambda: len(answered) > 300, "answers before the kill")
        servers[0].signal(signal.SIGKILL)
        mark = len(answered)
        await eventually(lambda: len(answered) > mark + 300, "answers after the kill")
        stop.set()
        await asyncio.gather(*workers)
        after = answered[mark:]
        assert {status for status, _ in after} == {200}, "the others kept answering"
        acknowledged = {key for status, key in answered if status == 200}
        async with httpx.AsyncClient(base_url=urls[1], timeout=10) as http:
            assert acknowledged <= await all_decision_ids(http)
        print(f"acknowledged: {len(acknowledged)}, all found after kill -9 of one replica")


async def test_a_dead_replicas_outbox_leases_are_taken_over(
    history: History,
    postgres: LocalPostgres,
    alertmanager: LocalAlertmanager,
    tmp_path: Path,
) -> None:
    async with receiver() as got:
        got.fail_with = [503] * 100_000  # nothing is delivered: rows stay pending, leased
        config = replica_config(tmp_path, got.url, alertmanager.url)
        url = postgres.fresh_database()
        async with replicas(history, url, tmp_path, config=config, env=sink_env(got.url)) as (
            servers
        ):
            with psycopg.connect(url, password=PASSWORD, autocommit=True) as conn:

                def holders() -> dict[str, int]:
                    rows = conn.execute(
                        "SELECT claimed_by, count(*) FROM outbox WHERE state = 'pending'"
                        " AND sink = 'pd' AND claimed_by IS NOT NULL GROUP BY claimed_by"
                    ).fetchall()
                    return dict(rows)

                held = await eventually(holders, "leased outbox rows")
                owner = max(held, key=lambda k: held[k])
                pid = int(owner.split("/")[1])
                [dead] = [s for s in servers if s.process is not None and s.process.pid == pid]
                dead.signal(signal.SIGKILL)
                dead.wait()
                got.fail_with.clear()
                expected = {
                    key
                    for (key,) in conn.execute(
                        "SELECT DISTINCT dedup_key FROM outbox WHERE sink = 'pd'"
                    ).fetchall()
                }
                await eventually(lambda: set(pd_triggers(got)) >= expected, "every page", 60)

                def delivered_by() -> set[str] | None:
                    """Who delivered, once every page's row says so (the sink acknowledges
                    before the sender records it)."""
                    rows = conn.execute(
                        "SELECT dedup_key, claimed_by FROM outbox"
                        " WHERE sink = 'pd' AND state = 'delivered'"
                    ).fetchall()
                    done = {key for key, _ in rows}
                    return {holder for _, holder in rows} if done >= expected else None

                senders = await eventually(delivered_by, "every page recorded as delivered", 60)
                assert owner not in senders and senders
