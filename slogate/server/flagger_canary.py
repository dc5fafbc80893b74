"""Flagger's webhooks judging the canary against its primary (DESIGN §8).

Flagger sends `{"name", "namespace", "phase", "checksum", "metadata": {...}}`; the canary's and
the baseline's label values come from `metadata` (`canary`, `baseline`, and optionally `slo`,
`window`), the service as for the gate webhook (`metadata.service`, `flagger.services`, or the
canary's name). Flagger reads HTTP 200-202 as "go on" and anything else as "not now":

- `POST /v1/canary/flagger` for `confirm-traffic-increase` (and `confirm-promotion`): 200 only
  on `pass`; 403 holds the weight on `inconclusive` and on `fail`;
- `POST /v1/canary/flagger/rollout` for the `rollout` hook (each iteration): 403 only on
  `fail`, which Flagger counts as a failed check and rolls back after `threshold` of them; an
  inconclusive canary neither fails a check nor advances (the confirm hook holds it).

Both answer with the `/v1/canary` body and are audited as `flagger-canary`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from slogate.core.canary import CanaryVerdict
from slogate.errors import BadRequestError
from slogate.server.canary_api import analyse, canary_request, known_to
from slogate.server.canary_history import CanaryAnswer
from slogate.server.web import json_object
from slogate.server.webhooks import flagger_request

METADATA_FIELDS = ("canary", "baseline", "window", "start", "end")


async def _analyse(request: web.Request) -> CanaryAnswer:
    payload = await json_object(request)
    gate = flagger_request(request.app, payload)
    metadata: Mapping[str, Any] = payload.get("metadata") or {}
    fields: dict[str, Any] = {k: v for k, v in dataclasses.asdict(gate).items() if v}
    for key in METADATA_FIELDS:
        if key in metadata:
            fields[key] = metadata[key]
    for key in ("canary", "baseline"):
        if not fields.get(key):
            raise BadRequestError(f"metadata.{key}", f"metadata.{key} is required")
    canary_req = canary_request(fields, known_to(request.app))
    return await analyse(request.app, canary_req, "flagger-canary")


async def confirm(request: web.Request) -> web.Response:
    answer = await _analyse(request)
    return answer.response(200 if answer.analysis.verdict is CanaryVerdict.PASS else 403)


async def rollout(request: web.Request) -> web.Response:
    answer = await _analyse(request)
    return answer.response(403 if answer.analysis.verdict is CanaryVerdict.FAIL else 200)
