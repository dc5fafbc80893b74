"""Each pipeline client's real request and how it reads slogate's answer.

- Argo Rollouts' web metric provider: GET the URL, any non-2xx is a measurement *Error*, a JSON
  body is read with a k8s JSONPath, then `successCondition` decides Successful or Failed.
- Flagger: POSTs its webhook payload; a status above 202 is a failed check.
- GitHub deployment protection rules: a signed webhook; the answer goes to the callback URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

from slogate.cli.localprom import free_port
from slogate.server.auth import Secrets

from ..conftest import ROOT
from .conftest import History
from .helpers import running_slogate

# --- Argo Rollouts --------------------------------------------------------------------------------


def jsonpath(body: Any, expression: str) -> Any:
    """The subset of k8s JSONPath Argo templates use for this: `{$.a.b}`."""
    assert expression.startswith("{$") and expression.endswith("}")
    value = body
    for part in expression[2:-1].split(".")[1:]:
        value = value[part]
    return value


def argo_measure(response: httpx.Response, json_path: str, success: str) -> str:
    """Argo's web provider + evaluate: Error on non-2xx, else Successful or Failed."""
    if not 200 <= response.status_code < 300:
        return "Error"
    result = jsonpath(response.json(), json_path)
    assert success == "result == true"
    return "Successful" if result is True else "Failed"


def documented_analysis_template() -> dict[str, Any]:
    """The AnalysisTemplate users copy from docs/integrations.md."""
    text = (ROOT / "docs" / "integrations.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and doc.get("kind") == "AnalysisTemplate":
            metric: dict[str, Any] = doc["spec"]["metrics"][0]
            return metric
    raise AssertionError("no AnalysisTemplate in docs/integrations.md")


async def test_argo_web_provider(history: History) -> None:
    metric = documented_analysis_template()
    web_provider = metric["provider"]["web"]
    assert web_provider.get("method", "GET") == "GET"
    async with running_slogate(history.url) as slogate:
        for service, phase in (
            ("checkout", "Successful"),
            ("catalog", "Successful"),
            ("payments", "Failed"),
            ("search", "Failed"),
        ):
            # What the AnalysisTemplate in docs/argo-rollouts.md makes Argo send: a plain GET.
            response = await slogate.http.get(
                f"{slogate.url}/v1/gate?service={service}&step=canary-20"
            )
            assert argo_measure(response, "{$.allow}", "result == true") == phase
        unknown = await slogate.http.get(f"{slogate.url}/v1/gate?service=nope")
        assert argo_measure(unknown, "{$.allow}", "result == true") == "Error"


# --- Flagger --------------------------------------------------------------------------------------


def flagger_payload(name: str, **metadata: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": name,
        "namespace": "prod",
        "phase": "Progressing",
        "checksum": "85d557f47b",
    }
    if metadata:
        payload["metadata"] = metadata
    return payload


@pytest.mark.parametrize(
    "hook",
    ["confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase", "confirm-promotion"],
)
async def test_flagger_gate_hooks(history: History, hook: str) -> None:
    async with running_slogate(history.url) as slogate:
        ok = await slogate.http.post(
            "/v1/gate/flagger", json=flagger_payload("checkout", hook=hook)
        )
        assert ok.status_code == 200 and ok.json()["decision"] == "allow"
        halt = await slogate.http.post(
            "/v1/gate/flagger", json=flagger_payload("payments", hook=hook)
        )
        assert halt.status_code == 403  # > 202: Flagger halts and shows the body
        body = halt.json()
        assert body["decision"] == "deny" and body["reasons"][0]["code"] == "fast_burn"
        assert (
            body["deploy_id"] == "prod/payments@85d557f47b"
            and body["step"] == "flagger/Progressing"
        )


async def test_flagger_service_mapping_and_tolerance(history: History) -> None:
    config = "flagger: {services: {prod/web-frontend: checkout}}"
    async with running_slogate(history.url, config_text=config) as slogate:
        mapped = await slogate.http.post("/v1/gate/flagger", json=flagger_payload("web-frontend"))
        assert mapped.status_code == 200 and mapped.json()["service"] == "checkout"
        override = await slogate.http.post(
            "/v1/gate/flagger", json=flagger_payload("podinfo", service="payments")
        )
        assert override.status_code == 403
        extra = {**flagger_payload("checkout"), "newField": {"added": "by a later Flagger"}}
        assert (await slogate.http.post("/v1/gate/flagger", json=extra)).status_code == 200
        assert (
            await slogate.http.post("/v1/gate/flagger", json=flagger_payload("unknown"))
        ).status_code == 404
        missing = await slogate.http.post("/v1/gate/flagger", json={"namespace": "prod"})
        assert missing.status_code == 400 and missing.json()["error"]["field"] == "name"
        exempt = await slogate.http.post(
            "/v1/gate/flagger", json=flagger_payload("payments", change_type="rollback")
        )
        assert exempt.status_code == 200
        audited = (await slogate.http.get("/v1/decisions", params={"limit": "1"})).json()[
            "decisions"
        ][0]
        assert audited["source"] == "flagger" and audited["change_type"] == "rollback"


async def test_flagger_rollback_hook_is_inverted(history: History) -> None:
    async with running_slogate(history.url) as slogate:
        for service, status in (
            ("payments", 200),
            ("search", 200),
            ("checkout", 409),
            ("catalog", 409),
        ):
            response = await slogate.http.post(
                "/v1/gate/flagger/rollback", json=flagger_payload(service)
            )
            assert response.status_code == status, service
            assert response.json()["rollback"] is (status == 200)
        body = (
            await slogate.http.post("/v1/gate/flagger/rollback", json=flagger_payload("payments"))
        ).json()
        assert [r["code"] for r in body["rollback_reasons"]] == ["fast_burn"]


# --- GitHub deployment protection rules -----------------------------------------------------------

SECRET = "webhook-secret-for-tests"
TOKEN = "ghs_installationtokenfortests"


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APP_PEM = APP_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


@asynccontextmanager
async def github_receiver(
    status: int = 204, token: str = TOKEN
) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A local stand-in for api.github.com that checks the review request's shape, and hands
    out installation tokens (`ghs_app_<installation>`) for JWTs signed with `APP_KEY`."""
    received: list[dict[str, Any]] = []

    async def review(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {token}"
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert request.headers["Content-Type"] == "application/json"
        body = await request.json()
        assert set(body) == {"environment_name", "state", "comment"}
        assert body["state"] in ("approved", "rejected")
        assert len(body["comment"]) <= 1024
        received.append({"path": request.path, **body})
        return web.Response(status=status)

    async def access_token(request: web.Request) -> web.Response:
        scheme, _, jwt = request.headers["Authorization"].partition(" ")
        header, claims, signature = jwt.split(".")
        try:
            APP_KEY.public_key().verify(
                unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), SHA256()
            )
        except InvalidSignature:
            return web.json_response(
                {"message": "A JSON web token could not be decoded"}, status=401
            )
        assert scheme == "Bearer" and json.loads(unb64(claims))["iss"] == "123456"
        received.append({"path": request.path})
        installation = request.match_info["installation"]
        answer = {"token": f"ghs_app_{installation}", "expires_at": "2099-01-01T00:00:00Z"}
        return web.json_response(answer, status=201)

    app = web.Application()
    app.router.add_post(
        "/repos/{owner}/{repo}/actions/runs/{run}/deployment_protection_rule", review
    )
    app.router.add_post("/app/installations/{installation}/access_tokens", access_token)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


def github_event(
    api: str, repo: str = "octo-org/checkout", environment: str = "production"
) -> dict[str, Any]:
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": (
            f"{api}/repos/{repo}/actions/runs/1234567890/deployment_protection_rule"
        ),
        "deployment": {"id": 42, "sha": "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54", "ref": "main"},
        "repository": {
            "id": 321,
            "name": repo.split("/")[1],
            "full_name": repo,
            "owner": {"login": "octo-org"},
        },
        "installation": {"id": 99999},
        "sender": {"login": "octocat"},
    }


def signed(
    payload: dict[str, Any], secret: str = SECRET, event: str = "deployment_protection_rule"
) -> dict[str, Any]:
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "content": raw,
        "headers": {
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": event,
            "Content-Type": "application/json",
        },
    }


async def test_github_protection_rule_approves_and_rejects(history: History) -> None:
    async with github_receiver() as (api, received):
        config = f"github: {{api_url: '{api}', services: {{'octo-org/pay': payments}}}}"
        secrets = Secrets(github_webhook_secret=SECRET, github_token=TOKEN)
        async with running_slogate(history.url, config_text=config, secrets=secrets) as slogate:
            ok = await slogate.http.post("/v1/gate/github", **signed(github_event(api)))
            assert ok.status_code == 200 and ok.json()["callback"] == {"state": "approved"}
            no = await slogate.http.post(
                "/v1/gate/github", **signed(github_event(api, "octo-org/pay"))
            )
            assert no.status_code == 200 and no.json()["callback"] == {"state": "rejected"}
            assert [r["state"] for r in received] == ["approved", "rejected"]
            assert (
                received[0]["path"]
                == "/repos/octo-org/checkout/actions/runs/1234567890/deployment_protection_rule"
            )
            assert received[0]["environment_name"] == "production"
            assert "fast_burn" in received[1]["comment"]
            audited = (
                await slogate.http.get("/v1/decisions", params={"service": "payments"})
            ).json()["decisions"][0]
            assert audited["source"] == "github"
            assert (
                audited["deploy_id"]
                == "github:octo-org/pay@47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54"
            )


async def test_github_app_reviews_with_its_installation_token(history: History) -> None:
    """As a GitHub App: a JWT signed with the app's key, exchanged for the webhook's
    installation's token, which the review carries; the token is kept for the next run."""
    async with github_receiver(token="ghs_app_99999") as (api, received):
        config = f"github: {{api_url: '{api}', app_id: 123456}}"
        secrets = Secrets(github_webhook_secret=SECRET, github_private_key=APP_PEM)
        async with running_slogate(history.url, config_text=config, secrets=secrets) as slogate:
            for _ in range(2):
                ok = await slogate.http.post("/v1/gate/github", **signed(github_event(api)))
                assert ok.status_code == 200 and ok.json()["callback"] == {"state": "approved"}
            assert [r["path"] for r in received] == [
                "/app/installations/99999/access_tokens",
                "/repos/octo-org/checkout/actions/runs/1234567890/deployment_protection_rule",
                "/repos/octo-org/checkout/actions/runs/1234567890/deployment_protection_rule",
            ]
        wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        other_app = Secrets(
            github_webhook_secret=SECRET,
            github_private_key=wrong.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode(),
        )
        async with running_slogate(history.url, config_text=config, secrets=other_app) as slogate:
            refused = await slogate.http.post("/v1/gate/github", **signed(github_event(api)))
            assert refused.status_code == 502  # no token, no review: the delivery shows failed
            assert "HTTP 401" in refused.json()["callback"]["error"]
            assert len(received) == 3


async def test_github_bad_signature_does_nothing(history: History) -> None:
    async with github_receiver() as (api, received):
        config = f"github: {{api_url: '{api}'}}"
        secrets = Secrets(github_webhook_secret=SECRET, github_token=TOKEN)
        async with running_slogate(history.url, config_text=config, secrets=secrets) as slogate:
            forged = await slogate.http.post(
                "/v1/gate/github", **signed(github_event(api), secret="guess")
            )
            assert forged.status_code == 401
            unsigned = signed(github_event(api))
            del unsigned["headers"]["X-Hub-Signature-256"]
            assert (await slogate.http.post("/v1/gate/github", **unsigned)).status_code == 401
            assert received == []
            assert (await slogate.http.get("/v1/decisions")).json()["decisions"] == []
            ping = await slogate.http.post("/v1/gate/github", **signed({"zen": "hi"}, event="ping"))
            assert ping.status_code == 200
            elsewhere = github_event(api)
            elsewhere["deployment_callback_url"] = "http://127.0.0.1:1/steal"
            response = await slogate.http.post("/v1/gate/github", **signed(elsewhere))
            assert response.status_code == 400
            assert response.json()["error"]["field"] == "deployment_callback_url"


async def test_github_disabled_without_secret_and_callback_failure_is_visible(
    history: History,
) -> None:
    async with github_receiver(status=500) as (api, received):
        config = f"github: {{api_url: '{api}'}}"
        async with running_slogate(history.url, config_text=config) as slogate:
            assert (
                await slogate.http.post("/v1/gate/github", **signed(github_event(api)))
            ).status_code == 403
        secrets = Secrets(github_webhook_secret=SECRET, github_token=TOKEN)
        async with running_slogate(history.url, config_text=config, secrets=secrets) as slogate:
            failed = await slogate.http.post("/v1/gate/github", **signed(github_event(api)))
            assert failed.status_code == 502  # GitHub records a failed delivery, to redeliver
            assert failed.json()["callback"]["state"] == "approved"
            assert len(received) == 1
