"""The typed state of slogate's aiohttp application: every `web.AppKey`, in one place."""

from __future__ import annotations

from collections import OrderedDict

import httpx
from aiohttp import web
from prometheus_client import Counter

from slogate.control.deployments import Deliveries
from slogate.control.releases import ReleaseControl
from slogate.core.answers import AnswerCache
from slogate.evaluation.engine import Engine
from slogate.notify.paging import Pager
from slogate.server.auth import AdminTokens, Secrets
from slogate.server.canary_history import CanaryHistory
from slogate.server.github_auth import GitHubCredentials
from slogate.server.kayenta_execution import Execution
from slogate.server.status_charts import StatusCharts
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
DELIVERIES = web.AppKey("deliveries", Deliveries)
"""Deployments and their figures (DESIGN §9), where wired (`serve` wires them)."""
CANARY_HISTORY = web.AppKey("canary_history", CanaryHistory)
"""The last canary analyses (`canary_api.setup`)."""
CANARY_VERDICTS = web.AppKey("canary_verdicts", Counter)
"""`slogate_canary_verdicts_total{service,verdict}`."""
KAYENTA_EXECUTIONS = web.AppKey("kayenta_executions", OrderedDict[str, Execution])
"""The last Kayenta executions by id, oldest first (`kayenta_api.setup`)."""
CHARTS = web.AppKey("status_charts", StatusCharts)
"""The status page's pictures, where a backend to draw them from is wired."""
