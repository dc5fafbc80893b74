"""The OpenAPI 3.1 description of slogate's HTTP API, served at `/openapi.json`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from slogate import __version__
from slogate.conventions import NAME
from slogate.core.policy import ReasonCode, Verdict
from slogate.server.web import TOKEN

if TYPE_CHECKING:
    from slogate.server.routes import Route

# The patterns the handlers check (`web.check_field`), so the document and the checks agree.
NAME_PATTERN = NAME.pattern
TOKEN_PATTERN = TOKEN.pattern


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_NULLABLE_NUMBER = {"type": ["number", "null"]}
_BY_WINDOW = {"type": "object", "additionalProperties": _NULLABLE_NUMBER}
_ERROR = _json(_ref("Error"), "Error")

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
            "reasons": {"type": "array", "items": _ref("Reason")},
            "slos": {"type": "array", "items": _ref("SLOStatus")},
        },
    },
    "GateRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["service"],
        "properties": {
            "service": {"type": "string", "pattern": NAME_PATTERN},
            "slo": {"type": "string", "pattern": NAME_PATTERN},
            "deploy_id": {"type": "string", "pattern": TOKEN_PATTERN},
            "step": {"type": "string", "pattern": TOKEN_PATTERN},
            "change_type": {"type": "string", "pattern": TOKEN_PATTERN},
        },
    },
}

_GATE_PARAMS = [
    {
        "name": "service",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "pattern": NAME_PATTERN},
    },
    {"name": "slo", "in": "query", "schema": {"type": "string", "pattern": NAME_PATTERN}},
    {"name": "deploy_id", "in": "query", "schema": {"type": "string", "pattern": TOKEN_PATTERN}},
    {"name": "step", "in": "query", "schema": {"type": "string", "pattern": TOKEN_PATTERN}},
    {"name": "change_type", "in": "query", "schema": {"type": "string", "pattern": TOKEN_PATTERN}},
]
_GATE_RESPONSES = {
    "200": _json(_ref("Decision"), "The decision (allow, warn and deny alike)"),
    "400": _ERROR,
    "404": _json(_ref("Error"), "Unknown service or SLO"),
    "413": _ERROR,
}


_ADMIN: list[dict[str, list[str]]] = [{"admin": []}]
_AUTH_ERRORS = {"401": _ERROR, "403": _ERROR}
_ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
DURATION_PATTERN = r"^(?=.)([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
_NOT_BOTH_UNTIL_AND_DURATION = {"not": {"required": ["until", "duration"]}}
_UNTIL = {
    "until": {"type": "string", "format": "date-time"},
    "duration": {"type": "string", "pattern": DURATION_PATTERN},
    "requested_by": {"type": "string", "minLength": 1, "maxLength": 128},
    "reason": {"type": "string", "minLength": 1, "maxLength": 1024},
}
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
        "FreezeRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["service", "reason"],
            **_NOT_BOTH_UNTIL_AND_DURATION,
            "properties": {
                "service": {"type": "string", "pattern": rf"^\*$|{NAME_PATTERN}"},
                "slo": {"type": "string", "pattern": NAME_PATTERN},
                **_UNTIL,
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
        "ExemptionRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["service", "reason"],
            "allOf": [
                _NOT_BOTH_UNTIL_AND_DURATION,
                {"anyOf": [{"required": ["until"]}, {"required": ["duration"]}]},
                {"anyOf": [{"required": ["change_type"]}, {"required": ["deploy_id"]}]},
            ],
            "properties": {
                "service": {"type": "string", "pattern": NAME_PATTERN},
                "change_type": {"type": "string", "pattern": TOKEN_PATTERN},
                "deploy_id": {"type": "string", "pattern": TOKEN_PATTERN},
                **_UNTIL,
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
    return _json(
        {"type": "object", "properties": {key: {"type": "array", "items": _ref(name)}}}, name + "s"
    )


_FLAGGER_BODY = {
    "required": True,
    "content": {"application/json": {"schema": _ref("FlaggerPayload")}},
}
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
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "decisions": {
                                "type": "array",
                                "items": {"anyOf": [_ref("Decision"), _ref("CanaryAnalysis")]},
                            },
                            "next_before": {"type": ["string", "null"]},
                        },
                    },
                    "A page of decisions",
                ),
                "400": _ERROR,
            },
        }
    },
    "/v1/freezes": {
        "get": {
            "summary": "Active freezes",
            "security": _ADMIN,
            "responses": {"200": _list_of("Freeze", "freezes"), **_AUTH_ERRORS},
        },
        "post": {
            "summary": "Freeze releases of a service (or * for all)",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("FreezeRequest")}},
            },
            "responses": {
                "201": _json(_ref("Freeze"), "Created"),
                "400": _ERROR,
                "413": _ERROR,
                **_AUTH_ERRORS,
            },
        },
    },
    "/v1/freezes/{id}": {
        "delete": {
            "summary": "Lift a freeze",
            "security": _ADMIN,
            "parameters": _ID_PARAM,
            "responses": {
                "200": _json({"type": "object"}, "Lifted"),
                "404": _ERROR,
                **_AUTH_ERRORS,
            },
        },
    },
    "/v1/exemptions": {
        "get": {
            "summary": "Active exemptions",
            "security": _ADMIN,
            "responses": {"200": _list_of("Exemption", "exemptions"), **_AUTH_ERRORS},
        },
        "post": {
            "summary": "Allow a change type or deploy despite budget or freezes, for a while",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ExemptionRequest")}},
            },
            "responses": {
                "201": _json(_ref("Exemption"), "Created"),
                "400": _ERROR,
                "413": _ERROR,
                **_AUTH_ERRORS,
            },
        },
    },
    "/v1/exemptions/{id}": {
        "delete": {
            "summary": "Revoke an exemption",
            "security": _ADMIN,
            "parameters": _ID_PARAM,
            "responses": {
                "200": _json({"type": "object"}, "Revoked"),
                "404": _ERROR,
                **_AUTH_ERRORS,
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
                "404": _ERROR,
            },
        }
    },
    "/v1/incidents": {
        "get": {
            "summary": "Open incidents, one per SLO and severity",
            "responses": {"200": _json({"type": "object"}, "Incidents")},
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
            "responses": {"200": _json({"type": "object"}, "Notifications"), "400": _ERROR},
        }
    },
    "/v1/gate/flagger": {
        "post": {
            "summary": "Flagger webhook: 200 proceeds, 403 halts",
            "requestBody": _FLAGGER_BODY,
            "responses": {
                "200": _json(_ref("Decision"), "Proceed"),
                "403": _json(_ref("Decision"), "Halt"),
                "400": _ERROR,
                "404": _ERROR,
            },
        }
    },
    "/v1/gate/flagger/rollback": {
        "post": {
            "summary": "Flagger rollback hook (inverted): 200 rolls back now",
            "requestBody": _FLAGGER_BODY,
            "responses": {
                "200": _json(_ref("Decision"), "Roll back"),
                "409": _json(_ref("Decision"), "Keep going"),
                "400": _ERROR,
                "404": _ERROR,
            },
        }
    },
    "/v1/gate/github": {
        "post": {
            "summary": "GitHub deployment_protection_rule webhook (X-Hub-Signature-256)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": _json({"type": "object"}, "Decided and called back"),
                "202": _json({"type": "object"}, "Event ignored"),
                "400": _ERROR,
                "401": _ERROR,
                "403": _ERROR,
                "404": _ERROR,
                "502": _json({"type": "object"}, "Decided; the callback failed"),
            },
        }
    },
}


OPERATIONS: dict[str, dict[str, Any]] = {
    "/healthz": {
        "get": {
            "summary": "Process alive",
            "responses": {"200": _json({"type": "object"}, "Alive")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Specs loaded and a first evaluation finished",
            "responses": {
                "200": _json({"type": "object"}, "Ready"),
                "503": _json({"type": "object"}, "Not ready, with the reason"),
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
            "responses": {"200": _json({"type": "object"}, "OpenAPI")},
        }
    },
    "/v1/slos": {
        "get": {
            "summary": "Every SLO's current status",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"slos": {"type": "array", "items": _ref("SLOStatus")}},
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
            "responses": {"200": _json(_ref("SLOStatus"), "Status"), "404": _ERROR},
        }
    },
    "/v1/gate": {
        "get": {
            "summary": "Gate decision",
            "parameters": _GATE_PARAMS,
            "responses": _GATE_RESPONSES,
        },
        "post": {
            "summary": "Gate decision (JSON body)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("GateRequest")}},
            },
            "responses": _GATE_RESPONSES,
        },
    },
    **_RELEASE_CONTROL_PATHS,
}
"""Every operation's OpenAPI description, by path and method. The document lists those of the
routes it is given (`routes.ROUTES`, what the app serves); `routes` checks that each has one."""


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`. Raises KeyError for an undocumented route."""
    from slogate.server.canary_openapi import CANARY_PATHS, CANARY_SCHEMAS  # uses the above

    operations = {**OPERATIONS, **CANARY_PATHS}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        method = route.method.lower()
        paths.setdefault(route.path, {})[method] = operations[route.path][method]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "slogate",
            "version": __version__,
            "description": "SLO and error-budget deploy gate.",
        },
        "paths": paths,
        "components": {
            "schemas": {**_SCHEMAS, **CANARY_SCHEMAS},
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
