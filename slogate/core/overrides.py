"""Release freezes and exemptions: the human (and automatic) overrides of the gate's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ALL_SERVICES = "*"


class FreezeKind(StrEnum):
    MANUAL = "manual"
    """Declared by a person (an incident, a holiday): only an explicit exemption passes it."""
    SYSTEM = "system"
    """slogate's own halt after a budget was exhausted; lifted when the budget recovers."""


@dataclass(frozen=True, slots=True)
class Freeze:
    """No releases of `service` (or of every service for `*`) until `until` or until lifted."""

    id: str
    service: str
    reason: str
    created_at: float
    created_by: str
    until: float | None = None
    kind: FreezeKind = FreezeKind.MANUAL
    slo: str = ""

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def covers(self, service: str) -> bool:
        return self.service in (service, ALL_SERVICES)


@dataclass(frozen=True, slots=True)
class Exemption:
    """Allow `service`'s releases of one change type or one deploy despite budget or freezes."""

    id: str
    service: str
    reason: str
    created_at: float
    created_by: str
    until: float
    change_type: str = ""
    deploy_id: str = ""

    def active(self, now: float) -> bool:
        return now < self.until

    def matches(self, service: str, change_type: str, deploy_id: str) -> bool:
        if self.service not in (service, ALL_SERVICES):
            return False
        if self.deploy_id and self.deploy_id != deploy_id:
            return False
        return not self.change_type or self.change_type == change_type
