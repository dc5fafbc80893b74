"""What every part of the OpenAPI document is built from: references, JSON answers and bodies,
the error answer, the patterns the handlers check, and the request models' schemas
(`bodies`), derived by msgspec so that the document and the checks agree."""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import msgspec

from slogate.conventions import NAME
from slogate.server.bodies import REQUEST_BODIES, TOKEN, Body

NAME_PATTERN: Final = NAME.pattern
TOKEN_PATTERN: Final = TOKEN.pattern


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ERROR: Final = json_answer(ref("Error"), "Error")

_CROSS_FIELD: Final[dict[str, dict[str, Any]]] = {
    # What the handlers check after decoding, said as far as a schema can say it.
    "FreezeBody": {"not": {"required": ["until", "duration"]}},
    "ExemptionBody": {
        "allOf": [
            {"not": {"required": ["until", "duration"]}},
            {"anyOf": [{"required": ["until"]}, {"required": ["duration"]}]},
            {"anyOf": [{"required": ["change_type"]}, {"required": ["deploy_id"]}]},
        ]
    },
}


@cache
def body_schemas() -> dict[str, Any]:
    """The components of the request models (`bodies.REQUEST_BODIES`), by class name."""
    _, components = msgspec.json.schema_components(
        REQUEST_BODIES, ref_template="#/components/schemas/{name}"
    )
    for name, schema in components.items():
        schema.update(_CROSS_FIELD.get(name, {}))
    return components


def query_parameters(kind: type[Body]) -> list[dict[str, Any]]:
    """The model `kind`'s fields as query parameters (of a GET that takes them as a POST does
    in its body)."""
    schema = body_schemas()[kind.__name__]
    return [
        {"name": name, "in": "query", "required": name in schema["required"], "schema": field}
        for name, field in schema["properties"].items()
    ]
