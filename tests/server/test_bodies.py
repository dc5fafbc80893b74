"""The request models: their 400s in slogate's words, and their OpenAPI schemas checked by an
independent validator (jsonschema) against the models' own decoding."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slogate.core.dora import PIPELINE_EVENTS
from slogate.core.policy import GateRequest
from slogate.errors import BadRequestError
from slogate.server.bodies import (
    DURATION_PATTERN,
    REQUEST_BODIES,
    TOKEN,
    Body,
    CanaryBody,
    DeploymentEventBody,
    ExemptionBody,
    FreezeBody,
    GateBody,
    decoded,
    present,
)
from slogate.server.openapi import openapi_document
from slogate.server.openapi_parts import body_schemas, query_parameters
from slogate.server.routes import ROUTES


def error_of(kind: type[Body], fields: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(BadRequestError) as caught:
        decoded(kind, fields)
    return caught.value.field, caught.value.message


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "service", "service is required"),
        ({"service": 5}, "service", "service must be a string"),
        ({"service": "check out"}, "service", "service is not valid: 'check out'"),
        ({"service": "a"}, "service", "service is not valid: 'a'"),
        (
            {"service": "shop", "deploy_id": "x" * 300},
            "deploy_id",
            f"deploy_id is not valid: {'x' * 64!r}",
        ),
        (
            {"service": "shop", "colour": "red"},
            "colour",
            "unknown field 'colour' (known: service, slo, deploy_id, step, change_type)",
        ),
    ],
)
def test_gate_errors_name_the_field(fields: dict[str, Any], field: str, message: str) -> None:
    assert error_of(GateBody, fields) == (field, message)


def test_gate_body_is_the_core_request() -> None:
    body = decoded(
        GateBody, present({"service": "shop", "slo": "", "step": None, "deploy_id": "d"})
    )
    assert body.request() == GateRequest("shop", deploy_id="d")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"service": "*"}, "reason", "reason is required"),
        ({"service": "*", "reason": " \t"}, "reason", "reason is not valid: ' \\t'"),
        ({"service": "*", "reason": "a\x01b"}, "reason", "reason is not valid: 'a\\x01b'"),
        (
            {"service": "*", "reason": "x" * 1025},
            "reason",
            "reason must be at most 1024 characters",
        ),
        ({"service": "*", "reason": ""}, "reason", "reason must not be empty"),
        (
            {"service": "*", "reason": "x", "until": "soon"},
            "until",
            "until must be an RFC 3339 timestamp",
        ),
        (
            {"service": "*", "reason": "x", "until": "2030-01-01T00:00:00"},
            "until",
            "until must include a time zone (e.g. Z)",
        ),
        (
            {"service": "*", "reason": "x", "duration": "forever"},
            "duration",
            "duration is not valid: 'forever'",
        ),
        ({"service": "*", "reason": "x", "slo": None}, "slo", "slo must be a string"),
        (
            {"service": "*", "reason": "x", "requested_by": "y" * 129},
            "requested_by",
            "requested_by must be at most 128 characters",
        ),
    ],
)
def test_freeze_errors_name_the_field(fields: dict[str, Any], field: str, message: str) -> None:
    assert error_of(FreezeBody, fields) == (field, message)


def test_freeze_body_decodes_times_and_text() -> None:
    body = decoded(
        FreezeBody,
        {"service": "*", "reason": "incident\n\tINC-1", "until": "2030-01-01T01:00:00+01:00"},
    )
    assert body.until == datetime(2030, 1, 1, tzinfo=UTC)
    assert body.reason == "incident\n\tINC-1"
    assert error_of(ExemptionBody, {"service": "*", "reason": "x"}) == (
        "service",
        "service is not valid: '*'",
    )


def test_deployment_events_are_the_pipeline_events() -> None:
    events = typing.get_args(typing.get_type_hints(DeploymentEventBody)["event"])
    assert sorted(events) == sorted(k.value for k in PIPELINE_EVENTS)
    assert error_of(
        DeploymentEventBody, {"service": "shop", "deploy_id": "d", "event": "step"}
    ) == ("event", "event must be one of started, succeeded, failed, rolled_back")


def test_a_body_that_is_no_object() -> None:
    assert error_of(GateBody, [1]) == ("body", "body must be a JSON object")  # type: ignore[arg-type]


def test_the_document_publishes_the_models() -> None:
    document = openapi_document(ROUTES)
    schemas = document["components"]["schemas"]
    for kind in REQUEST_BODIES:
        assert schemas[kind.__name__] == body_schemas()[kind.__name__]
    gate = document["paths"]["/v1/gate"]
    assert gate["get"]["parameters"] == query_parameters(GateBody)
    assert [p["name"] for p in query_parameters(GateBody) if p["required"]] == ["service"]
    assert [p["name"] for p in query_parameters(CanaryBody) if p["required"]] == [
        "service",
        "canary",
        "baseline",
    ]
    window = body_schemas()["CanaryBody"]["properties"]["window"]  # checked after the 404
    assert (window["pattern"], window["allOf"]) == (TOKEN.pattern, [{"pattern": DURATION_PATTERN}])
    body = gate["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GateBody"}


FIELD_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["shop", "check-out.v2", "*", "a", "-a", "x" * 300, "v" * 200, "1h", "0s", "2d4h", ""]
    ),
    st.sampled_from(["2030-01-01T00:00:00Z", "2030-01-01T00:00:00", "tomorrow"]),
    st.integers(),
    st.none(),
)


def agree(kind: type[Body], fields: dict[str, Any]) -> None:
    schema = {**body_schemas()[kind.__name__], "$defs": body_schemas()}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    try:
        decoded(kind, fields)
        accepted = True
    except BadRequestError:
        accepted = False
    assert accepted == validator.is_valid(fields), fields


VALID: dict[type[Body], dict[str, Any]] = {
    GateBody: {"service": "shop"},
    DeploymentEventBody: {"service": "shop", "deploy_id": "d1", "event": "started"},
}


def bodies_of(kind: type[Body]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body of `kind` with up to three fields changed, added or removed."""
    names = st.sampled_from([*kind.__struct_fields__, "unknown"])
    changes = st.dictionaries(names, st.one_of(FIELD_VALUES, st.just(REMOVED)), max_size=3)
    return changes.map(
        lambda changed: {k: v for k, v in {**VALID[kind], **changed}.items() if v is not REMOVED}
    )


REMOVED = object()


# An independent validator of the published schema agrees with the model's decoding (for the
# models whose rules are all single-field ones: the others' schemas add cross-field ones).


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(bodies_of(GateBody))
def test_gate_schema_and_model_accept_the_same(fields: dict[str, Any]) -> None:
    agree(GateBody, fields)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(bodies_of(DeploymentEventBody))
def test_deployment_event_schema_and_model_accept_the_same(fields: dict[str, Any]) -> None:
    agree(DeploymentEventBody, fields)
