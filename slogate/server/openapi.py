"""The OpenAPI 3.1 description of slogate's HTTP API, served at `/openapi.json`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from slogate import __version__
from slogate.core.policy import ReasonCode, Verdict
from slogate.server.bodies import GateBody
from slogate.server.canary_openapi import CANARY_PATHS, CANARY_SCHEMAS
from slogate.server.deployments_api import PATHS as DEPLOYMENT_PATHS
from slogate.server.openapi_parts import (
    ERROR,
    NAME_PATTERN,
    TOKEN_PATTERN,
    body_schemas,
    json_answer,
    json_body,
    query_parameters,
    ref,
)

if TYPE_CHECKING:
    from slogate.server.routes import Route

_NULLABLE_NUMBER = {"type": ["number", "null"]}
_BY_WINDOW = {"type": "object", "additionalProperties": _NULLABLE_NUMBER}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    },
    "SLOStatus": {
        "type": "object",
        "required": [
            "service",
            "slo",
            "id",
            "objective",
            "period",
            "error_budget_remaining",
            "burn_rates",
            "error_ratios",
            "alerts",
            "evaluated_at",
            "data_age_seconds",
            "state",
        ],
        "properties": {
            "service": {"type": "string"},
            "slo": {"type": "string"},
            "id": {"type": "string"},
            "objective": {"type": "number"},
            "period": {"type": "string"},
            "error_budget_remaining": _NULLABLE_NUMBER,
            "error_ratios": _BY_WINDOW,
            "burn_rates": _BY_WINDOW,
            "alerts": {
                "type": "object",
                "required": ["page", "ticket"],
                "properties": {"page": {"type": "boolean"}, "ticket": {"type": "boolean"}},
            },
            "evaluated_at": {"type": ["string", "null"], "format": "date-time"},
            "data_age_seconds": _NULLABLE_NUMBER,
            "state": {"enum": ["ok", "no_data", "stale", "pending"]},
            "error": {"type": ["string", "null"]},
        },
    },
    "Reason": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "slo": {"type": ["string", "null"]},
            "code": {"enum": [c.value for c in ReasonCode]},
            "message": {"type": "string"},
            "effect": {"enum": [v.value for v in Verdict]},
        },
    },
    "Decision": {
        "type": "object",
        "required": [
            "decision",
            "allow",
            "service",
            "decision_id",
            "evaluated_at",
            "reasons",
            "slos",
        ],
        "properties": {
            "decision": {"enum": [v.value for v in Verdict]},
            "allow": {"type": "boolean"},
            "service": {"type": "string"},
            "slo": {"type": ["string", "null"]},
            "decision_id": {"type": "string"},
            "evaluated_at": {"type": "string", "format": "date-time"},
            "deploy_id": {"type": ["string", "null"]},
            "step": {"type": ["string", "null"]},
            "change_type": {"type": ["string", "null"]},
            "reasons": {"type": "array", "items": ref("Reason")},
            "slos": {"type": "array", "items": ref("SLOStatus")},
        },
    },
}

_GATE_RESPONSES = {
    "200": json_answer(ref("Decision"), "The decision (allow, warn and deny alike)"),
    "400": ERROR,
    "404": json_answer(ref("Error"), "Unknown service or SLO"),
    "413": ERROR,
    # Bounded under hostile load (server/access.py, store/diskguard.py):
    "401": json_answer(ref("Error"), "A token is required (server.require_token_for)"),
    "403": json_answer(ref("Error"), "The token lacks the pipeline scope"),
    "429": {
        **json_answer(ref("Error"), "Rate limited: retry after Retry-After seconds"),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
    "503": json_answer(ref("Error"), "Nothing decided: store_full or store_unavailable"),
}


_ADMIN: list[dict[str, list[str]]] = [{"admin": []}]
_AUTHERRORS = {"401": ERROR, "403": ERROR}
_ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
_SCHEMAS.update(
    {
        "Freeze": {
            "type": "object",
            "required": ["id", "service", "kind", "reason", "created_at", "created_by"],
            "properties": {
                "id": {"type": "string"},
                "service": {"type": "string"},
                "slo": {"type": ["string", "null"]},
                "kind": {"enum": ["manual", "system"]},
                "reason": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": {"type": "string"},
                "until": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "Exemption": {
            "type": "object",
            "required": ["id", "service", "reason", "created_at", "created_by", "until"],
            "properties": {
                "id": {"type": "string"},
                "service": {"type": "string"},
                "change_type": {"type": ["string", "null"]},
                "deploy_id": {"type": ["string", "null"]},
                "reason": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "created_by": {"type": "string"},
                "until": {"type": "string", "format": "date-time"},
            },
        },
        "FlaggerPayload": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": NAME_PATTERN},
                "namespace": {"type": "string", "pattern": NAME_PATTERN},
                "phase": {"type": "string"},
                "checksum": {"type": "string"},
                "metadata": {
                    "type": "object",
                    "properties": {
                        "service": {"type": "string", "pattern": NAME_PATTERN},
                        "slo": {"type": "string", "pattern": NAME_PATTERN},
                        "change_type": {"type": "string", "pattern": TOKEN_PATTERN},
                        "deploy_id": {"type": "string", "pattern": TOKEN_PATTERN},
                    },
                    "additionalProperties": {"type": "string"},
                },
            },
        },
    }
)


def _list_of(name: str, key: str) -> dict[str, Any]:
    return json_answer(
        {"type": "object", "properties": {key: {"type": "array", "items": ref(name)}}}, name + "s"
    )


_FLAGGER_BODY = json_body(ref("FlaggerPayload"))
_RELEASE_CONTROL_PATHS: dict[str, Any] = {
    "/v1/decisions": {
        "get": {
            "summary": "The audit trail, newest first",
            "parameters": [
                {
                    "name": "service",
                    "in": "query",
                    "schema": {"type": "string", "pattern": NAME_PATTERN},
                },
                {
                    "name": "since",
                    "in": "query",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "until",
                    "in": "query",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                },
                {
                    "name": "before",
                    "in": "query",
                    "schema": {"type": "string", "pattern": TOKEN_PATTERN},
                },
            ],
            "responses": {
                "200": json_answer(
                    {
                        "type": "object",
                        "properties": {
                            "decisions": {
                                "type": "array",
                                "items": {"anyOf": [ref("Decision"), ref("CanaryAnalysis")]},
                            },
                            "next_before": {"type": ["string", "null"]},
                        },
                    },
                    "A page of decisions",
                ),
                "400": ERROR,
            },
        }
    },
    "/v1/freezes": {
        "get": {
            "summary": "Active freezes",
            "security": _ADMIN,
            "responses": {"200": _list_of("Freeze", "freezes"), **_AUTHERRORS},
        },
        "post": {
            "summary": "Freeze releases of a service (or * for all)",
            "security": _ADMIN,
            "requestBody": json_body(ref("FreezeBody")),
            "responses": {
                "201": json_answer(ref("Freeze"), "Created"),
                "400": ERROR,
                "413": ERROR,
                **_AUTHERRORS,
            },
        },
    },
    "/v1/freezes/{id}": {
        "delete": {
            "summary": "Lift a freeze",
            "security": _ADMIN,
            "parameters": _ID_PARAM,
            "responses": {
                "200": json_answer({"type": "object"}, "Lifted"),
                "404": ERROR,
                **_AUTHERRORS,
            },
        },
    },
    "/v1/exemptions": {
        "get": {
            "summary": "Active exemptions",
            "security": _ADMIN,
            "responses": {"200": _list_of("Exemption", "exemptions"), **_AUTHERRORS},
        },
        "post": {
            "summary": "Allow a change type or deploy despite budget or freezes, for a while",
            "security": _ADMIN,
            "requestBody": json_body(ref("ExemptionBody")),
            "responses": {
                "201": json_answer(ref("Exemption"), "Created"),
                "400": ERROR,
                "413": ERROR,
                **_AUTHERRORS,
            },
        },
    },
    "/v1/exemptions/{id}": {
        "delete": {
            "summary": "Revoke an exemption",
            "security": _ADMIN,
            "parameters": _ID_PARAM,
            "responses": {
                "200": json_answer({"type": "object"}, "Revoked"),
                "404": ERROR,
                **_AUTHERRORS,
            },
        },
    },
    "/": {
        "get": {
            "summary": "Status page (HTML)",
            "responses": {
                "200": {
                    "description": "HTML",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/slos/{service}/{slo}": {
        "get": {
            "summary": "One SLO's status page (HTML)",
            "parameters": [
                {"name": "service", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "slo", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "HTML",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                "404": ERROR,
            },
        }
    },
    "/v1/incidents": {
        "get": {
            "summary": "Open incidents, one per SLO and severity",
            "responses": {"200": json_answer({"type": "object"}, "Incidents")},
        }
    },
    "/v1/notifications": {
        "get": {
            "summary": "The notification outbox by state",
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "schema": {"enum": ["pending", "delivered", "failed", "expired"]},
                }
            ],
            "responses": {"200": json_answer({"type": "object"}, "Notifications"), "400": ERROR},
        }
    },
    "/v1/gate/flagger": {
        "post": {
            "summary": "Flagger webhook: 200 proceeds, 403 halts",
            "requestBody": _FLAGGER_BODY,
            "responses": {
                "200": json_answer(ref("Decision"), "Proceed"),
                "403": json_answer(ref("Decision"), "Halt"),
                "400": ERROR,
                "404": ERROR,
            },
        }
    },
    "/v1/gate/flagger/rollback": {
        "post": {
            "summary": "Flagger rollback hook (inverted): 200 rolls back now",
            "requestBody": _FLAGGER_BODY,
            "responses": {
                "200": json_answer(ref("Decision"), "Roll back"),
                "409": json_answer(ref("Decision"), "Keep going"),
                "400": ERROR,
                "404": ERROR,
            },
        }
    },
    "/v1/gate/github": {
        "post": {
            "summary": "GitHub deployment_protection_rule webhook (X-Hub-Signature-256)",
            "requestBody": json_body({"type": "object"}),
            "responses": {
                "200": json_answer({"type": "object"}, "Decided and called back"),
                "202": json_answer({"type": "object"}, "Event ignored"),
                "400": ERROR,
                "401": ERROR,
                "403": ERROR,
                "404": ERROR,
                "502": json_answer({"type": "object"}, "Decided; the callback failed"),
            },
        }
    },
}


OPERATIONS: dict[str, dict[str, Any]] = {
    "/healthz": {
        "get": {
            "summary": "Process alive",
            "responses": {"200": json_answer({"type": "object"}, "Alive")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Specs loaded and a first evaluation finished",
            "responses": {
                "200": json_answer({"type": "object"}, "Ready"),
                "503": json_answer({"type": "object"}, "Not ready, with the reason"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus exposition",
            "responses": {
                "200": {
                    "description": "Metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": json_answer({"type": "object"}, "OpenAPI")},
        }
    },
    "/v1/slos": {
        "get": {
            "summary": "Every SLO's current status",
            "responses": {
                "200": json_answer(
                    {
                        "type": "object",
                        "properties": {"slos": {"type": "array", "items": ref("SLOStatus")}},
                    },
                    "Statuses",
                )
            },
        }
    },
    "/v1/slos/{service}/{slo}": {
        "get": {
            "summary": "One SLO's status",
            "parameters": [
                {
                    "name": "service",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                {
                    "name": "slo",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
            ],
            "responses": {"200": json_answer(ref("SLOStatus"), "Status"), "404": ERROR},
        }
    },
    "/v1/gate": {
        "get": {
            "summary": "Gate decision",
            "parameters": query_parameters(GateBody),
            "responses": _GATE_RESPONSES,
        },
        "post": {
            "summary": "Gate decision (JSON body)",
            "requestBody": json_body(ref("GateBody")),
            "responses": _GATE_RESPONSES,
        },
    },
    **_RELEASE_CONTROL_PATHS,
}
"""Every operation's OpenAPI description, by path and method. The document lists those of the
routes it is given (`routes.ROUTES`, what the app serves); `routes` checks that each has one."""


def operations() -> dict[str, dict[str, Any]]:
    """`OPERATIONS` and those of the modules that describe their own."""
    return {**OPERATIONS, **CANARY_PATHS, **DEPLOYMENT_PATHS}


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`. Raises KeyError for an undocumented route."""
    described = operations()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        method = route.method.lower()
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)  # aiohttp's {name:regex}
        paths.setdefault(path, {})[method] = described[path][method]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "slogate",
            "version": __version__,
            "description": "SLO and error-budget deploy gate.",
        },
        "paths": paths,
        "components": {
            "schemas": {**_SCHEMAS, **CANARY_SCHEMAS, **body_schemas()},
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
