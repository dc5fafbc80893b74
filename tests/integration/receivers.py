"""Local stand-ins for incident tools with no server here (PagerDuty, Opsgenie, Slack, a signed
webhook). Each checks every request against the tool's documented format, answers as the tool
does, and can be told to fail first (5xx, 429, or not listening at all)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from slogate.cli.localprom import free_port

PD_ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"  # 32 characters, as PagerDuty requires
OPSGENIE_KEY = "opsgenie-api-key-0001"
WEBHOOK_SECRET = "webhook-hmac-secret-0001"
SLACK_PATH = "/services/T000/B000/XXXXXXXX"


@dataclass
class Receiver:
    url: str = ""
    port: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)
    """Statuses to answer (in order) before accepting again."""
    attempts: int = 0

    def accepted_by(self, tool: str) -> list[dict[str, Any]]:
        return [a for a in self.accepted if a["tool"] == tool]

    def _maybe_fail(self) -> web.Response | None:
        self.attempts += 1
        if self.fail_with:
            status = self.fail_with.pop(0)
            headers = {"Retry-After": "0"} if status == 429 else {}
            return web.json_response(
                {"status": "throttled" if status == 429 else "error"},
                status=status,
                headers=headers,
            )
        return None

    def _bad(self, reason: str) -> web.Response:
        self.rejected.append(reason)
        return web.json_response({"status": "invalid event", "errors": [reason]}, status=400)

    async def pagerduty(self, request: web.Request) -> web.Response:
        if (failed := self._maybe_fail()) is not None:
            return failed
        body = await request.json()
        if body.get("routing_key") != PD_ROUTING_KEY or len(body["routing_key"]) != 32:
            return self._bad("Length of 'routing_key' is incorrect (should be 32 characters)")
        action = body.get("event_action")
        dedup = body.get("dedup_key", "")
        if action not in ("trigger", "acknowledge", "resolve") or not dedup or len(dedup) > 255:
            return self._bad("event_action or dedup_key invalid")
        if action == "trigger":
            payload = body.get("payload") or {}
            if (
                not payload.get("summary")
                or len(payload["summary"]) > 1024
                or not payload.get("source")
            ):
                return self._bad("payload.summary and payload.source are required")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                return self._bad("payload.severity invalid")
        elif set(body) != {"routing_key", "dedup_key", "event_action"}:
            return self._bad("resolve carries only routing_key, dedup_key, event_action")
        self.accepted.append({"tool": "pagerduty", **body})
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": dedup}, status=202
        )

    async def opsgenie_create(self, request: web.Request) -> web.Response:
        if (failed := self._maybe_fail()) is not None:
            return failed
        if request.headers.get("Authorization") != f"GenieKey {OPSGENIE_KEY}":
            return web.json_response({"message": "Could not authenticate"}, status=401)
        body = await request.json()
        if not body.get("message") or len(body["message"]) > 130 or not body.get("alias"):
            return self._bad("message (<= 130) and alias are required")
        self.accepted.append({"tool": "opsgenie", "action": "create", **body})
        return web.json_response(
            {"result": "Request will be processed", "took": 0.1, "requestId": "r1"}, status=202
        )

    async def opsgenie_close(self, request: web.Request) -> web.Response:
        if (failed := self._maybe_fail()) is not None:
            return failed
        if request.query.get("identifierType") != "alias":
            return self._bad("identifierType=alias expected")
        body = await request.json()
        self.accepted.append(
            {"tool": "opsgenie", "action": "close", "alias": request.match_info["alias"], **body}
        )
        return web.json_response(
            {"result": "Request will be processed", "took": 0.1, "requestId": "r2"}, status=202
        )

    async def slack(self, request: web.Request) -> web.Response:
        if (failed := self._maybe_fail()) is not None:
            return failed
        body = await request.json()
        if not isinstance(body.get("text"), str) or not body["text"]:
            self.rejected.append("no_text")
            return web.Response(text="invalid_payload", status=400)
        self.accepted.append({"tool": "slack", **body})
        return web.Response(text="ok")

    async def webhook(self, request: web.Request) -> web.Response:
        if (failed := self._maybe_fail()) is not None:
            return failed
        raw = await request.read()
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Slogate-Signature-256", "")):
            return web.Response(status=401)
        body = await request.json()
        self.accepted.append(
            {"tool": "webhook", "event": request.headers.get("X-Slogate-Event"), **body}
        )
        return web.Response(status=204)


@asynccontextmanager
async def receiver(port: int | None = None) -> AsyncIterator[Receiver]:
    state = Receiver(port=port or free_port())
    app = web.Application()
    app.router.add_post("/v2/enqueue", state.pagerduty)
    app.router.add_post("/v2/alerts", state.opsgenie_create)
    app.router.add_post("/v2/alerts/{alias}/close", state.opsgenie_close)
    app.router.add_post(SLACK_PATH, state.slack)
    app.router.add_post("/hook", state.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", state.port).start()
    state.url = f"http://127.0.0.1:{state.port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def sinks_config(receiver_url: str, alertmanager_url: str = "", retry: str = "100ms") -> str:
    """slogate.yaml notifications for every sink type, secrets from env (see `SINK_ENV`)."""
    lines = [
        "notifications:",
        f"  retry_initial: {retry}",
        "  retry_max: 500ms",
        "  base_url: http://slogate.test:8080",
        "  sinks:",
        f"    - {{name: pd, type: pagerduty, url: '{receiver_url}/v2/enqueue',"
        " secret_env: TEST_PD_KEY}",
        f"    - {{name: ops, type: opsgenie, url: '{receiver_url}',"
        " secret_env: TEST_OPSGENIE_KEY}",
        "    - {name: slack, type: slack, url_env: TEST_SLACK_URL}",
        f"    - {{name: hook, type: webhook, url: '{receiver_url}/hook',"
        " secret_env: TEST_HOOK_SECRET}",
    ]
    if alertmanager_url:
        lines.append(f"    - {{name: am, type: alertmanager, url: '{alertmanager_url}'}}")
    return "\n".join(lines) + "\n"


def sink_env(receiver_url: str) -> dict[str, str]:
    return {
        "TEST_PD_KEY": PD_ROUTING_KEY,
        "TEST_OPSGENIE_KEY": OPSGENIE_KEY,
        "TEST_SLACK_URL": f"{receiver_url}{SLACK_PATH}",
        "TEST_HOOK_SECRET": WEBHOOK_SECRET,
    }
