"""The pipeline clients that call slogate with their own payloads: Flagger and GitHub.

- Flagger (`POST /v1/gate/flagger`): its webhook payload in; 200 lets the canary proceed, 403
  halts it (Flagger treats any status above 202 as a failed check and shows the body). The
  `rollback` hook is inverted and has its own path (`/v1/gate/flagger/rollback`): 200 means
  "roll back now", while the service's page condition or budget exhaustion holds.
- GitHub deployment protection rules (`POST /v1/gate/github`): the signed
  `deployment_protection_rule` webhook in; the decision goes back to the run's
  `deployment_callback_url` as `approved` or `rejected` with a comment, authenticated as the
  webhook's app installation (`github_auth`).

Both tolerate fields their senders add; both are audited like every gate decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from aiohttp import web

from slogate.conventions import NAME
from slogate.core import signatures
from slogate.core.gate import Decision, statuses_for
from slogate.core.policy import GateRequest, ReasonCode, slo_reasons
from slogate.errors import BadRequestError, ConfigError, GitHubAuthError, UnknownServiceError
from slogate.server.bodies import TOKEN
from slogate.server.github_auth import GitHubCredentials, github_credentials
from slogate.server.keys import ENGINE, GITHUB_AUTH, HTTP_CLIENT, SECRETS
from slogate.server.web import (
    check_field,
    error_response,
    gate_decision,
    json_object,
    json_response,
)

log = logging.getLogger(__name__)

ROLLBACK_CODES = frozenset({ReasonCode.FAST_BURN, ReasonCode.BUDGET_EXHAUSTED})
GITHUB_COMMENT_LIMIT = 1024


# --- Flagger --------------------------------------------------------------------------------------


def _strings(payload: Mapping[str, Any], key: str) -> dict[str, str]:
    value = payload.get(key) or {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise BadRequestError(key, f"{key} must be a mapping of strings")
    return dict(value)


def token_or(value: Any, default: str) -> str:
    """Flagger's free-form fields (phase, checksum) as audit tokens; anything odd is `default`."""
    return value if isinstance(value, str) and TOKEN.match(value) and len(value) <= 100 else default


def flagger_request(app: web.Application, payload: Mapping[str, Any]) -> GateRequest:
    """The gate request a Flagger webhook payload stands for."""
    name = check_field("name", payload.get("name"), NAME)
    namespace = check_field("namespace", payload.get("namespace", "default"), NAME)
    metadata = _strings(payload, "metadata")
    mapping = app[ENGINE].config.flagger.services
    service = (
        metadata.get("service") or mapping.get(f"{namespace}/{name}") or mapping.get(name) or name
    )
    checksum = token_or(payload.get("checksum"), "unknown")
    phase = token_or(payload.get("phase"), "unknown")
    return GateRequest(
        service=check_field("metadata.service", service, NAME),
        slo=check_field("metadata.slo", metadata["slo"], NAME) if "slo" in metadata else "",
        deploy_id=check_field(
            "metadata.deploy_id", metadata.get("deploy_id") or f"{namespace}/{name}@{checksum}"
        ),
        step=f"flagger/{phase}",
        change_type=check_field("metadata.change_type", metadata["change_type"])
        if "change_type" in metadata
        else "",
    )


async def flagger_gate(request: web.Request) -> web.Response:
    gate_request = flagger_request(request.app, await json_object(request))
    answer = await gate_decision(request.app, gate_request, "flagger")
    return answer.response(200 if answer.decision.allow else 403)


def rollback_reasons(app: web.Application, gate_request: GateRequest) -> list[dict[str, str]]:
    """Fresh page-condition or exhausted-budget reasons: what makes a canary roll back."""
    engine = app[ENGINE]
    now, policy = engine.clock(), engine.config.policy
    found = []
    for status in statuses_for(engine.snapshot, gate_request):
        for reason in slo_reasons(status, policy.for_slo(status.slo.service, status.slo.name), now):
            if reason.code in ROLLBACK_CODES:
                found.append(
                    {"slo": reason.slo, "code": reason.code.value, "message": reason.message}
                )
    return found


async def flagger_rollback(request: web.Request) -> web.Response:
    gate_request = flagger_request(request.app, await json_object(request))
    reasons = rollback_reasons(request.app, gate_request)
    answer = await gate_decision(request.app, gate_request, "flagger-rollback")
    body = {**answer.body, "rollback": bool(reasons), "rollback_reasons": reasons}
    return json_response(body, 200 if reasons else 409)


# --- GitHub deployment protection rules -----------------------------------------------------------


def _field(payload: Mapping[str, Any], path: str) -> Any:
    value: Any = payload
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value in (None, ""):
        raise BadRequestError(path, f"{path} is required")
    return value


def github_comment(decision: Decision) -> str:
    verdict = {"allow": "approved", "warn": "approved with warnings", "deny": "rejected"}[
        decision.verdict.value
    ]
    lines = [f"slogate: {verdict} for {decision.request.service} (decision {decision.id})"]
    lines += [f"- `{r.code.value}` {r.slo}: {r.message}" for r in decision.reasons]
    text = "\n".join(lines)
    return text if len(text) <= GITHUB_COMMENT_LIMIT else text[: GITHUB_COMMENT_LIMIT - 1] + "…"


async def github_event(
    request: web.Request,
) -> tuple[str, dict[str, Any]] | web.Response:
    """A signed GitHub webhook's event name and payload, or the answer that ends it (no
    secret configured, a bad signature, a ping)."""
    secret = request.app[SECRETS].github_webhook_secret
    if not secret:
        return error_response(
            403, "forbidden", "GitHub integration disabled: no webhook secret configured"
        )
    raw = await request.read()
    if not signatures.verify(secret, raw, request.headers.get("X-Hub-Signature-256", "")):
        return error_response(401, "bad_signature", "X-Hub-Signature-256 does not match")
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return json_response({"pong": True})
    return event, await json_object(request)


async def github_gate(request: web.Request) -> web.Response:
    received = await github_event(request)
    if isinstance(received, web.Response):
        return received
    event, payload = received
    if event != "deployment_protection_rule" or payload.get("action") != "requested":
        return json_response({"ignored": event or "unknown event"}, 202)
    config = request.app[ENGINE].config.github
    environment = check_field("environment", _field(payload, "environment"), NAME)
    callback = _field(payload, "deployment_callback_url")
    repo = _field(payload, "repository.full_name")
    if not isinstance(callback, str) or not callback.startswith(
        config.api_url.rstrip("/") + "/repos/"
    ):
        raise BadRequestError(
            "deployment_callback_url", f"callback must be under {config.api_url}/repos/"
        )
    name = repo.rpartition("/")[2] if isinstance(repo, str) else ""
    service = config.services.get(f"{repo}:{environment}") or config.services.get(str(repo)) or name
    sha = (payload.get("deployment") or {}).get("sha") or "unknown"
    app_installation = payload.get("installation")
    installation = app_installation.get("id") if isinstance(app_installation, Mapping) else None
    if installation is not None and (
        isinstance(installation, bool) or not isinstance(installation, int) or installation <= 0
    ):
        raise BadRequestError("installation.id", "installation.id must be a positive integer")
    gate_request = GateRequest(
        service=check_field("repository", service, NAME),
        deploy_id=check_field("deployment.sha", f"github:{repo}@{sha}"),
        step=f"github/{environment}",
    )
    try:
        answer = await gate_decision(request.app, gate_request, "github")
        decision, body = answer.decision, answer.body
    except UnknownServiceError as exc:
        try:  # fail closed: GitHub must not wait for an answer that will never come
            await _github_review(
                request.app, callback, installation, environment, "rejected", f"slogate: {exc}"
            )
        except (httpx.HTTPError, GitHubAuthError) as callback_error:
            log.error("GitHub callback for unknown service failed: %s", callback_error)
        raise
    state = "approved" if decision.allow else "rejected"
    try:
        await _github_review(
            request.app, callback, installation, environment, state, github_comment(decision)
        )
    except (httpx.HTTPError, GitHubAuthError) as exc:
        log.error("GitHub callback for decision %s failed: %s", decision.id, exc)
        return json_response({**body, "callback": {"state": state, "error": str(exc)}}, 502)
    return json_response({**body, "callback": {"state": state}})


def _credentials(app: web.Application) -> GitHubCredentials:
    """The credentials for the current GitHub config (it may change on reload)."""
    config, secrets = app[ENGINE].config.github, app[SECRETS]
    known: dict[tuple[str, str, str], GitHubCredentials] = app[GITHUB_AUTH]
    key = (config.api_url, config.app_id, config.token_file)
    if key not in known:
        try:
            known[key] = github_credentials(
                config, secrets.github_private_key, secrets.github_token, lambda: app[HTTP_CLIENT]
            )
        except ConfigError as exc:
            raise GitHubAuthError(str(exc)) from None
    return known[key]


async def _github_review(
    app: web.Application,
    url: str,
    installation: int | None,
    environment: str,
    state: str,
    comment: str,
) -> None:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token := await _credentials(app).token(installation):
        headers["Authorization"] = f"Bearer {token}"
    response = await app[HTTP_CLIENT].post(
        url,
        json={"environment_name": environment, "state": state, "comment": comment},
        headers=headers,
    )
    response.raise_for_status()


async def _http_client(app: web.Application) -> Any:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
        app[HTTP_CLIENT] = client
        yield


def setup(app: web.Application) -> None:
    """The webhooks' own state: GitHub credentials and the client of outgoing calls."""
    app[GITHUB_AUTH] = {}
    app.cleanup_ctx.append(_http_client)
