from __future__ import annotations

from pathlib import Path

from slogate.config import parse_config
from slogate.control.deployments import Deliveries
from slogate.control.releases import ReleaseControl
from slogate.evaluation.engine import Engine, SpecSource
from slogate.evaluation.prometheus import PrometheusClient
from slogate.notify.paging import Pager
from slogate.server.app import create_app
from slogate.server.openapi import openapi_document, operations
from slogate.server.routes import ROUTES
from slogate.store.sqlite import SQLiteStore
from slogate.telemetry.metrics import Telemetry


async def test_openapi_documents_every_route(tmp_path: Path) -> None:
    client = PrometheusClient("http://127.0.0.1:1")
    engine = Engine(parse_config(""), SpecSource(tmp_path), client)
    store = SQLiteStore(tmp_path / "x.db")
    pager = Pager(parse_config("").notifications, {}, store)
    deliveries = Deliveries(store, lambda: engine.config.dora)
    telemetry = Telemetry(lambda: engine.snapshot)
    app = create_app(engine, telemetry, ReleaseControl(store), pager=pager, deliveries=deliveries)
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    paths = openapi_document(ROUTES)["paths"]
    documented = {(path, method) for path, ops in paths.items() for method in ops}
    assert routes == documented
    # No operation described that no route serves.
    assert documented == {(path, method) for path, ops in operations().items() for method in ops}
    await client.aclose()
    await pager.aclose()
