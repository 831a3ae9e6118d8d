"""The domain records that flow through the pipeline: an `Inbound` message, a tag
`Fix`, an `Alert`, and `Rejected`, the error every stage raises for bad input."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

DOG_KINDS = ("dog_forbidden_zone", "dog_outside_walking_hours")
HEALTH_KINDS = ("tag_offline", "tag_low_battery")
PARKING_KINDS = ("sidewalk_parking",)
ALERT_KINDS = DOG_KINDS + PARKING_KINDS + HEALTH_KINDS
TAG_ID = re.compile(r"^[A-Za-z0-9_-]{4,32}$")  # SPEC 3.1: a tag's serial, also its topic level


class Rejected(Exception):
    """Bad input: counted under `reason`, dead-lettered, and the service goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Inbound:
    """One MQTT message as received; `token` is the ingest layer's ack handle."""

    topic: str
    payload: bytes
    received_at: float
    token: Any = None


@dataclass(slots=True)
class Fix:
    tag_id: str
    ts: float  # capture instant, epoch seconds
    lat: float
    lon: float
    acc: float | None = None
    batt: float | None = None
    seq: int | None = None
    source: str = "tags"

    @property
    def ts_ms(self) -> int:
        return round(self.ts * 1000)


@dataclass(slots=True)
class Alert:
    id: str
    kind: str
    status: str  # open while the violation lasts, then closed
    device_id: str
    zone_id: str | None
    grid: str | None
    started_at: float
    ended_at: float | None
    lat: float | None
    lon: float | None
    escalation: str | None = None  # education | warning | penalty | strict
    offence_number: int | None = None
    party: str | None = None
    zone_name: str | None = None
    opened_at: float | None = None
    updated_at: float | None = None
    revision: int = 1
    evidence: list[dict[str, Any]] = field(default_factory=list)
    workflow: str = "new"  # operator handling: new | acknowledged | dispatched | resolved
    disposition: str | None = None  # education | warning | penalty | dismissed

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()
