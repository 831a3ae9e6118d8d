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
        if len(detail) > 300:  # a detail may quote the input (a 64 KB topic): never all of it
            detail = detail[:300] + f"… ({len(detail)} characters)"
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
    # sidewalk_parking only (SPEC 3.4): the vehicle's plate, normalised, or None while unread;
    # plate_status: unread | read (automatic, above the threshold) | confirmed | corrected
    plate: str | None = None
    plate_conf: float | None = None
    plate_status: str | None = None
    plate_candidate: str | None = None  # the best unconfirmed guess, for the operator

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()


# -- vehicle plates (SPEC 5) ---------------------------------------------------------

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_TAIL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # no I or O: they read as 1 and 0
PLATE = re.compile(f"^[{PROVINCES}][A-HJ-NP-Z][{_PLATE_TAIL}]{{5,6}}$")
_SEPARATORS = dict.fromkeys(map(ord, " \t·•・.-_/\\|"), None)
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}  # Ａ -> A, １ -> 1


def normalise_plate(text: str) -> str:
    """SPEC 5: upper case, full-width letters and digits made plain, every separator
    and space removed (`浙H·A1234` -> `浙HA1234`). Says nothing about validity."""
    return text.translate(_FULL_WIDTH).translate(_SEPARATORS).upper()


def check_plate(text: str) -> str:
    """The normalised plate, or ValueError saying what is wrong with it."""
    plate = normalise_plate(text)
    if not plate:
        raise ValueError("the plate is empty; type it as printed, e.g. 浙H·A1234")
    if plate[0] not in PROVINCES:
        raise ValueError(f"plate {plate!r} must start with a province character ({PROVINCES[:6]}…)")
    if len(plate) not in (7, 8):
        raise ValueError(
            f"plate {plate!r} has {len(plate)} characters; a mainland plate has 7 "
            "(8 on green new-energy plates): province, letter, then 5 (or 6)"
        )
    if not PLATE.match(plate):
        raise ValueError(
            f"plate {plate!r}: after the province comes a letter, then letters and digits "
            "(never I or O)"
        )
    return plate
