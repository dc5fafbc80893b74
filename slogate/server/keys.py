"""The typed state of slogate's aiohttp application: every `web.AppKey`, in one place."""

from __future__ import annotations

import httpx
from aiohttp import web

from slogate.control.releases import ReleaseControl
from slogate.core.answers import AnswerCache
from slogate.evaluation.engine import Engine
from slogate.notify.paging import Pager
from slogate.server.auth import AdminTokens, Secrets
from slogate.server.github_auth import GitHubCredentials
from slogate.telemetry.metrics import Telemetry

ENGINE = web.AppKey("engine", Engine)
TELEMETRY = web.AppKey("telemetry", Telemetry)
CONTROL = web.AppKey("control", ReleaseControl)
TOKENS = web.AppKey("tokens", AdminTokens)
SECRETS = web.AppKey("secrets", Secrets)
ANSWERS = web.AppKey("answers", AnswerCache)
PAGER = web.AppKey("pager", Pager)
"""Present when paging is wired (`serve` always wires it)."""
HTTP_CLIENT = web.AppKey("http_client", httpx.AsyncClient)
"""The client of outgoing integration calls (GitHub)."""
GITHUB_AUTH = web.AppKey("github_auth", dict[tuple[str, str, str], GitHubCredentials])
"""GitHub credentials per (API URL, app id, key), built on first use."""
