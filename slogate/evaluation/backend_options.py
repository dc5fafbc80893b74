"""How to build the backend client, as plain values: the serving process builds its own from
them, and sends them to the evaluation worker, which builds one of its own."""

from __future__ import annotations

import msgspec

from slogate.evaluation.prometheus import PrometheusClient


class BackendOptions(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    timeout: float
    connect_timeout: float
    max_concurrency: int
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    token: str = ""
    """Sent as `Authorization: Bearer`; a secret (never logged)."""

    def client(self) -> PrometheusClient:
        headers = dict(self.headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return PrometheusClient(
            self.url,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            max_concurrency=self.max_concurrency,
            headers=headers,
            params=self.params,
        )
