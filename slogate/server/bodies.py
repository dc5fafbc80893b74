"""The HTTP contract of slogate's own request bodies, as msgspec Structs.

Each model is at once the check (`decoded`: a 400 naming the field, in the words below) and the
OpenAPI component (`openapi.py` derives the schemas from them), so the document and the
handlers cannot disagree. A model checks each field on its own: names (`conventions.NAME`),
tokens (`TOKEN`), printable texts, RFC 3339 times, enums. What takes more than one field (until
or duration, an exemption's change type or deploy id) or the clock (in the future, at most so
many days away) stays in the handlers, after decoding.

The gate's GET query string decodes through `GateBody` too: its values are all strings.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from slogate.conventions import NAME
from slogate.core.policy import GateRequest
from slogate.errors import BadRequestError

TOKEN: Final = re.compile(r"^[\x21-\x7e]{1,256}$")
"""What an identifier a caller makes up may be (deploy ids, steps, change types, cursors):
printable ASCII without spaces, at most 256 characters."""
DURATION_PATTERN: Final = (
    r"^(?=.)([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
)
"""A Prometheus duration (`core.durations.parse_duration`'s), such as 30m, 4h or 2d."""
_PRINTABLE = r"^(?=[^\x00-\x08\x0b-\x1f]*$)\s*\S"
"""Text with something in it and no control character but tab and newline (linear to match)."""

Name = Annotated[str, msgspec.Meta(pattern=NAME.pattern)]
Token = Annotated[str, msgspec.Meta(pattern=TOKEN.pattern)]
Duration = Annotated[str, msgspec.Meta(pattern=DURATION_PATTERN)]
Time = Annotated[datetime, msgspec.Meta(tz=True)]
Note = Annotated[str, msgspec.Meta(pattern=_PRINTABLE, min_length=1, max_length=1024)]
Actor = Annotated[str, msgspec.Meta(pattern=_PRINTABLE, min_length=1, max_length=128)]
Version = Annotated[str, msgspec.Meta(pattern=TOKEN.pattern, max_length=128)]

# Checked as tokens until the service is known (its 404 comes first), then by the handler as
# what the document says they are.
LateTime = Annotated[
    str, msgspec.Meta(pattern=TOKEN.pattern, extra_json_schema={"format": "date-time"})
]
LateDuration = Annotated[
    str,
    msgspec.Meta(
        pattern=TOKEN.pattern, extra_json_schema={"allOf": [{"pattern": DURATION_PATTERN}]}
    ),
]


class Body(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A JSON object whose every field is known."""


class GateBody(Body, frozen=True, kw_only=True):
    """`GET`/`POST /v1/gate`: which service (and SLO) asks to deploy, for which change."""

    service: Name
    slo: Name = ""
    deploy_id: Token = ""
    step: Token = ""
    change_type: Token = ""

    def request(self) -> GateRequest:
        return GateRequest(self.service, self.slo, self.deploy_id, self.step, self.change_type)


class CanaryBody(GateBody, frozen=True, kw_only=True):
    """`GET`/`POST /v1/canary`: judge the `canary` version against the `baseline` over a
    window (`window` up to `end`, or `start` to `end`; `end` defaults to now)."""

    canary: Token
    baseline: Token
    window: LateDuration = ""
    start: LateTime = ""
    end: LateTime = ""


class Until(Body, frozen=True, kw_only=True):
    """When an override ends: at `until`, or `duration` from now (not both)."""

    reason: Note
    until: Time | msgspec.UnsetType = msgspec.UNSET
    duration: Duration | msgspec.UnsetType = msgspec.UNSET
    requested_by: Actor | msgspec.UnsetType = msgspec.UNSET


class FreezeBody(Until, frozen=True, kw_only=True):
    """`POST /v1/freezes`: freeze releases of a service (or `*`, all), or of one SLO."""

    service: Annotated[str, msgspec.Meta(pattern=rf"^\*$|{NAME.pattern}")]
    slo: Name = ""


class ExemptionBody(Until, frozen=True, kw_only=True):
    """`POST /v1/exemptions`: allow a change type or a deploy despite budget and freezes."""

    service: Name
    change_type: Token = ""
    deploy_id: Token = ""


class DeploymentEventBody(Body, frozen=True, kw_only=True):
    """`POST /v1/deployments`: a pipeline reports what happened to a deployment."""

    service: Name
    deploy_id: Token
    event: Literal["started", "succeeded", "failed", "rolled_back"]
    at: Time | msgspec.UnsetType = msgspec.UNSET
    version: Version = ""
    commit_sha: Version = ""
    commit_time: Time | msgspec.UnsetType = msgspec.UNSET


REQUEST_BODIES: Final = (GateBody, CanaryBody, FreezeBody, ExemptionBody, DeploymentEventBody)
"""The models the OpenAPI document publishes as components (by class name)."""

B = TypeVar("B", bound=Body)


def present(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """`fields` without those given empty (`?slo=`, `"slo": null`): absent, as if not sent."""
    values = fields.values()
    if "" in values or None in values:
        return {k: v for k, v in fields.items() if v is not None and v != ""}
    return fields  # the usual case, not copied


def decoded(kind: type[B], fields: Mapping[str, Any]) -> B:
    """`fields` (a parsed JSON object or a query string) as a `kind`; a 400 naming the first
    field that does not fit."""
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise bad_request(kind, str(exc), fields) from None


_ERROR = re.compile(r"^(?P<reason>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.S)


def bad_request(kind: type[Body], message: str, fields: Mapping[str, Any]) -> BadRequestError:
    """msgspec's `message` in slogate's words, naming the field (`$.service` → `service`)."""
    field, text, shows_value = _reading(kind, message)
    if shows_value:
        text = f"{text} {str(fields.get(field))[:64]!r}"
    return BadRequestError(field, text)


@functools.lru_cache(maxsize=256)
def _reading(kind: type[Body], message: str) -> tuple[str, str, bool]:
    """The field `message` names, what it says of it, and whether the value is to follow
    (a 400 reads its message once: the same mistake, repeated, costs a lookup)."""
    match = _ERROR.match(message)
    assert match is not None  # the pattern matches any text
    reason, field = match["reason"], match["path"] or ""
    if unknown := re.fullmatch(r"Object contains unknown field `(.*)`", reason):
        known = ", ".join(kind.__struct_fields__)
        return unknown[1], f"unknown field {unknown[1]!r} (known: {known})", False
    if missing := re.fullmatch(r"Object missing required field `(.*)`", reason):
        return missing[1], f"{missing[1]} is required", False
    if not field:
        return "body", "body must be a JSON object", False
    if reason.startswith("Expected `str` matching regex"):
        return field, f"{field} is not valid:", True
    return field, f"{field} {_why(reason, kind, field)}", False


def _why(reason: str, kind: type[Body], field: str) -> str:
    if "datetime" in reason or "RFC3339" in reason:
        if "timezone" in reason:
            return "must include a time zone (e.g. Z)"
        return "must be an RFC 3339 timestamp"
    if length := re.fullmatch(r"Expected `str` of length <= (\d+)", reason):
        return f"must be at most {length[1]} characters"
    if reason.startswith("Expected `str` of length >="):
        return "must not be empty"
    if reason.startswith("Invalid enum value"):
        return f"must be one of {', '.join(_options(kind, field))}"
    if reason.startswith("Expected `str`"):
        return "must be a string"
    return reason[:1].lower() + reason[1:]


def _options(kind: type[Body], field: str) -> tuple[str, ...]:
    annotation = typing.get_type_hints(kind).get(field)
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
