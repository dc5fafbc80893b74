"""The OpenAPI paths and schemas of canary analysis: `/v1/canary`, Flagger's canary webhooks and
the Kayenta API subset. Merged into `/openapi.json` by `openapi.openapi_document`; the request
of `/v1/canary` is the model `bodies.CanaryBody`."""

from __future__ import annotations

from typing import Any

from slogate.core.canary import CanaryCode, CanaryVerdict
from slogate.core.policy import ReasonCode, Verdict
from slogate.server.bodies import DURATION_PATTERN, CanaryBody
from slogate.server.openapi_parts import (
    ERROR,
    NAME_PATTERN,
    TOKEN_PATTERN,
    json_answer,
    json_body,
    query_parameters,
    ref,
)

_NAME = {"type": "string", "pattern": NAME_PATTERN}
_TOKEN = {"type": "string", "pattern": TOKEN_PATTERN}
_DURATION = {"type": "string", "pattern": DURATION_PATTERN}
_TIME = {"type": "string", "format": "date-time"}
_NUMBER_OR_NULL = {"type": ["number", "null"]}


_FIGURES = {
    "type": "object",
    "required": ["errors", "total", "error_ratio", "burn_rate"],
    "properties": {
        "errors": _NUMBER_OR_NULL,
        "total": _NUMBER_OR_NULL,
        "error_ratio": _NUMBER_OR_NULL,
        "burn_rate": _NUMBER_OR_NULL,
        "samples": {"type": "integer"},
    },
}

CANARY_SCHEMAS: dict[str, Any] = {
    "CanaryReason": {
        "type": "object",
        "required": ["slo", "code", "message", "effect"],
        "properties": {
            "slo": {"type": "string"},
            "code": {"enum": [c.value for c in CanaryCode] + [c.value for c in ReasonCode]},
            "message": {"type": "string"},
            "effect": {"enum": [v.value for v in Verdict]},
        },
    },
    "CanaryAnalysis": {
        "type": "object",
        "required": [
            "decision",
            "allow",
            "verdict",
            "score",
            "service",
            "decision_id",
            "window",
            "reasons",
            "slos",
        ],
        "properties": {
            "decision": {"enum": [v.value for v in Verdict]},
            "allow": {"type": "boolean"},
            "verdict": {"enum": [v.value for v in CanaryVerdict]},
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "service": {"type": "string"},
            "decision_id": {"type": "string"},
            "kind": {"const": "canary"},
            "canary": {"type": "string"},
            "baseline": {"type": "string"},
            "window": {
                "type": "object",
                "required": ["start", "end"],
                "properties": {"start": _TIME, "end": _TIME},
            },
            "evaluated_at": _TIME,
            "gate": {"enum": [v.value for v in Verdict]},
            "deploy_id": {"type": "string"},
            "step": {"type": "string"},
            "reasons": {"type": "array", "items": ref("CanaryReason")},
            "slos": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["slo", "verdict", "canary", "baseline", "ratio", "p_value"],
                    "properties": {
                        "slo": {"type": "string"},
                        "verdict": {"enum": [v.value for v in CanaryVerdict]},
                        "canary": _FIGURES,
                        "baseline": _FIGURES,
                        "ratio": _NUMBER_OR_NULL,
                        "p_value": _NUMBER_OR_NULL,
                        "test": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    "FlaggerCanaryPayload": {
        "allOf": [
            ref("FlaggerPayload"),
            {
                "type": "object",
                "required": ["metadata"],
                "properties": {
                    "metadata": {
                        "type": "object",
                        "required": ["canary", "baseline"],
                        "properties": {
                            "canary": _TOKEN,
                            "baseline": _TOKEN,
                            "window": _DURATION,
                            "start": _TIME,
                            "end": _TIME,
                        },
                    }
                },
            },
        ]
    },
    "KayentaExecutionRequest": {
        "type": "object",
        "required": ["scopes", "thresholds"],
        "properties": {
            "scopes": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 10,
                "additionalProperties": {
                    "type": "object",
                    "required": ["controlScope", "experimentScope"],
                    "properties": {
                        "controlScope": ref("KayentaScope"),
                        "experimentScope": ref("KayentaScope"),
                    },
                },
            },
            "thresholds": {
                "type": "object",
                "required": ["pass", "marginal"],
                "properties": {
                    "pass": {"type": "integer", "minimum": 0, "maximum": 100},
                    "marginal": {"type": "integer", "minimum": 0, "maximum": 100},
                },
            },
            "siteLocal": {"type": "object"},
        },
    },
    "KayentaScope": {
        "type": "object",
        "additionalProperties": False,
        "required": ["scope"],
        "properties": {
            "scope": _TOKEN,
            "region": {"type": "string"},
            "location": {"type": "string"},
            "step": {"type": "integer"},
            "start": {"anyOf": [_TIME, {"const": ""}]},
            "end": {"anyOf": [_TIME, {"const": ""}]},
            "extendedScopeParams": {"type": "object"},
        },
    },
}

_ANSWERS = {
    "200": json_answer(ref("CanaryAnalysis"), "The analysis (pass, fail and inconclusive alike)"),
    "400": ERROR,
    "404": json_answer(ref("Error"), "Unknown service or SLO"),
    "413": ERROR,
    "503": ERROR,
}
_FLAGGER = json_body(ref("FlaggerCanaryPayload"))
_OPTIONAL_TOKEN = {"type": "string", "pattern": TOKEN_PATTERN.replace("{1,", "{0,")}
_KAYENTA_QUERY = [
    {"name": name, "in": "query", "schema": _OPTIONAL_TOKEN}
    for name in (
        "application",
        "metricsAccountName",
        "configurationAccountName",
        "storageAccountName",
    )
]
_EXECUTION_ID = [{"name": "id", "in": "path", "required": True, "schema": _TOKEN}]
_CONFIG_ID = [{"name": "id", "in": "path", "required": True, "schema": _NAME}]


def _flagger(summary: str, proceed: str, halt: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": _FLAGGER,
            "responses": {
                "200": json_answer(ref("CanaryAnalysis"), proceed),
                "403": json_answer(ref("CanaryAnalysis"), halt),
                "400": ERROR,
                "404": ERROR,
                "413": ERROR,
                "503": ERROR,
            },
        }
    }


CANARY_PATHS: dict[str, Any] = {
    "/v1/canary": {
        "get": {
            "summary": "Judge a canary against its baseline",
            "parameters": query_parameters(CanaryBody),
            "responses": _ANSWERS,
        },
        "post": {
            "summary": "Judge a canary against its baseline (JSON body)",
            "requestBody": json_body(ref("CanaryBody")),
            "responses": _ANSWERS,
        },
    },
    "/v1/canary/flagger": _flagger(
        "Flagger confirm-traffic-increase webhook", "pass: go on", "inconclusive or fail: hold"
    ),
    "/v1/canary/flagger/rollout": _flagger(
        "Flagger rollout webhook", "pass or inconclusive", "fail: a failed check"
    ),
    "/canaryConfig": {
        "get": {
            "summary": "Kayenta API: canary configs (one per service, id = name = service)",
            "parameters": _KAYENTA_QUERY,
            "responses": {
                "200": json_answer({"type": "array", "items": {"type": "object"}}, "Configs"),
                "400": ERROR,
            },
        }
    },
    "/canary/{id}": {
        "post": {
            "summary": "Kayenta API: run a canary analysis with the config `id` (a service)",
            "parameters": _CONFIG_ID + _KAYENTA_QUERY,
            "requestBody": json_body(ref("KayentaExecutionRequest")),
            "responses": {
                "200": json_answer(
                    {
                        "type": "object",
                        "required": ["canaryExecutionId"],
                        "properties": {"canaryExecutionId": {"type": "string"}},
                    },
                    "Started (and already judged)",
                ),
                "400": ERROR,
                "404": ERROR,
                "413": ERROR,
                "503": ERROR,
            },
        },
        "get": {
            "summary": "Kayenta API: an execution's result",
            "parameters": _EXECUTION_ID,
            "responses": {
                "200": json_answer(
                    {
                        "type": "object",
                        "required": ["complete", "result"],
                        "properties": {
                            "complete": {"type": "boolean"},
                            "result": {"type": "object"},
                        },
                    },
                    "The execution",
                ),
                "400": ERROR,
                "404": ERROR,
            },
        },
    },
}
