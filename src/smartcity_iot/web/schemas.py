"""The JSON API's request and response bodies (they make the published OpenAPI).
Requests reject unknown keys, so nobody can mass-assign owner_id, role or secrets."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ..i18n import Refusal
from ..phones import normalise_phone

# Path ids: SQLite integers are 64-bit signed, and a bigger number is simply not found.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _canonical_phone(value: str) -> str:
    return normalise_phone(value)  # a PhoneError is a Refusal: a 422 naming the field and why


Phone = Annotated[
    str,
    Field(min_length=5, max_length=24, description="mainland mobile number, e.g. 139 0000 1111"),
    AfterValidator(_canonical_phone),
]
Code = Annotated[
    str, Field(pattern=r"^[0-9]{6}$", description="the six-digit code sent to the phone")
]
Password = Annotated[
    str, Field(min_length=8, max_length=128, description="8-128 characters, 15+ recommended")
]


class CodeIn(In):
    phone: Phone


class CodeSent(BaseModel):
    phone: str = Field(description="where the code went, masked: 139****1111")
    expires_in_s: int
    resend_after_s: int


class SignupIn(In):
    phone: Phone
    code: Code
    name: str = Field(min_length=1, max_length=64)
    password: Password


class LoginIn(In):
    login: str = Field(min_length=1, max_length=64, description="phone (owners) or operator name")
    password: str = Field(min_length=1, max_length=256)


class PasswordChangeIn(In):
    old_password: str = Field(min_length=1, max_length=256)
    new_password: Password


class ResetIn(In):
    phone: Phone
    code: Code
    password: Password


class VerifyIn(In):
    code: Code


class Me(BaseModel):
    id: int
    role: Literal["owner", "operator"]
    login: str
    name: str
    csrf_token: str = Field(description="send it back in X-CSRF-Token on every POST")
    timezone: str = Field(description="the city time zone; the pages show times in it")
    phone_verified: bool = Field(
        True, description="owners: false until the phone is proven with a code (sees nothing)"
    )


class DogIn(In):
    name: str = Field(min_length=1, max_length=40)
    breed: str = Field(min_length=1, max_length=40)
    sex: Literal["male", "female"]
    birth_date: dt.date
    rabies_cert: str = Field(
        pattern=r"^[A-Za-z0-9-]{4,40}$", description="rabies vaccination certificate number"
    )

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: dt.date) -> dt.date:
        if not dt.date(1990, 1, 1) <= value <= dt.date.today():
            raise Refusal("owner.error.birth_date")
        return value


class Dog(BaseModel):
    id: int
    name: str
    breed: str | None
    sex: str | None
    birth_date: str | None
    rabies_cert: str | None
    created_at: float
    tag_id: str | None = Field(None, description="its active tag, else its newest, if any")
    tag_status: str | None = None
    can_request: bool = Field(
        True, description="false while it wears an active tag or a request is in progress"
    )


class TagRequestIn(In):
    postal_address: str = Field(min_length=5, max_length=300)


class TagRequest(BaseModel):
    id: int
    dog_id: int
    dog_name: str
    postal_address: str
    status: Literal["requested", "approved", "shipped", "active", "inactive", "rejected"]
    tag_id: str | None
    created_at: float
    decided_at: float | None
    reason: str | None = Field(None, description="why an operator rejected the request")
    tag_reason: str | None = Field(
        None, description="why the tag was deactivated: lost, broken, deceased or replaced"
    )
    replaced_by: str | None = Field(None, description="the serial that replaced this tag")


class OperatorTagRequest(TagRequest):
    owner_id: int
    owner_name: str
    owner_phone: str


class Tag(BaseModel):
    tag_id: str
    status: str
    dog_id: int
    dog_name: str
    activated_at: float | None
    deactivated_at: float | None = None
    deactivated_reason: str | None = Field(
        None, description="lost, broken, deceased or replaced (when status is inactive)"
    )
    replaced_by: str | None = None
    lat: float | None
    lon: float | None
    batt: float | None
    last_ts: float | None
    last_seen: float | None
    offline_since: float | None
    low_battery_since: float | None


class ActivateIn(In):
    serial: str = Field(
        pattern=r"^[A-Za-z0-9_-]{4,32}$", description="the serial printed on the tag"
    )
    activation_code: str = Field(
        min_length=4, max_length=20, description="the code printed with it"
    )


class Activation(BaseModel):
    tag_id: str
    status: Literal["active"]
    mqtt_username: str
    mqtt_password: str = Field(description="shown this once; only its hash is stored")
    publish_topic: str


class Violation(BaseModel):
    id: str
    kind: str
    kind_label: str
    device_id: str
    dog_name: str | None
    zone_name: str | None
    status: str
    started_at: float
    ended_at: float | None
    lat: float | None
    lon: float | None
    escalation: str | None
    offence_number: int | None
    guidance: str
    workflow: str
    disposition: str | None


class AlertOut(BaseModel):
    id: str
    kind: str
    status: str
    device_id: str
    zone_id: str | None
    zone_name: str | None
    grid: str | None
    party: str | None
    started_at: float
    opened_at: float | None
    ended_at: float | None
    updated_at: float | None
    lat: float | None
    lon: float | None
    escalation: str | None
    offence_number: int | None
    revision: int
    evidence: list[dict[str, Any]]
    workflow: str
    disposition: str | None
    plate: str | None = None
    plate_conf: float | None = None
    plate_status: Literal["unread", "read", "confirmed", "corrected"] | None = None
    plate_candidate: str | None = None


class PlateIn(BaseModel):
    """An operator's confirmation of the read plate, or the plate typed from the close-up."""

    model_config = ConfigDict(extra="forbid")
    plate: str = Field(
        min_length=1, max_length=20, description="as printed, e.g. 浙H·A1234 (normalised here)"
    )
    note: str | None = Field(None, max_length=500)


class AlertEvent(BaseModel):
    at: float
    action: str
    actor: str
    detail: dict[str, Any]


class TrackPoint(BaseModel):
    ts: float
    lat: float
    lon: float
    acc: float | None
    batt: float | None


class AlertDog(BaseModel):
    """The dog wearing a tag, and the owner to call (operators only)."""

    tag_id: str
    tag_status: str
    dog_id: int
    dog: str
    breed: str | None
    owner_id: int
    owner: str
    phone: str


class LastFix(BaseModel):
    ts: float
    lat: float
    lon: float
    acc: float | None
    place: str | None = Field(description="the zone holding the fix, or the nearest one near it")


class AlertHealth(BaseModel):
    battery: float | None = Field(description="percent, at the fix that opened the notice")
    battery_now: float | None = Field(description="percent, at the tag's latest fix")
    last_fix: LastFix | None = Field(description="the last fix at or before the notice opened")


class AlertDevice(BaseModel):
    """The fixed camera or patrol unit that saw a parking alert."""

    id: str
    name: str
    mobile: bool | None = Field(description="true: a patrol unit; null: not in the camera files")
    lat: float | None
    lon: float | None
    grid: str | None
    place: str | None


class AlertDetail(BaseModel):
    alert: AlertOut
    events: list[AlertEvent]
    track: list[TrackPoint]
    images: list[dict[str, Any]] = Field(
        description="camera evidence: url, capture time, label and role of each photo, "
        "and the unit (device_id) that took a patrol capture"
    )
    squad: str | None
    dog: AlertDog | None = Field(None, description="dog and health alerts: the tag's dog")
    health: AlertHealth | None = Field(None, description="tag_low_battery and tag_offline")
    device: AlertDevice | None = Field(None, description="sidewalk_parking: camera or unit")
    earlier: list[AlertOut] = Field(
        default_factory=list,
        description="the same owner's (dog alerts) or vehicle's (parking) earlier cases",
    )


class ActionIn(In):
    note: str | None = Field(None, max_length=500)


class CloseIn(In):
    disposition: Literal["education", "warning", "penalty", "dismissed"]
    note: str | None = Field(None, max_length=500)


class ApproveIn(In):
    serial: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{4,32}$", description="leave empty to generate one"
    )


class Approval(BaseModel):
    request_id: int
    tag_id: str
    status: str
    activation_code: str = Field(description="print it with the tag; shown this once")


class Shipment(BaseModel):
    request_id: int
    tag_id: str
    status: str


class PatrolPosition(BaseModel):
    ts: float = Field(description="capture time of the position (epoch seconds)")
    lat: float
    lon: float
    heading: float = Field(description="degrees clockwise from north")


class PatrolUnit(BaseModel):
    """A mobile patrol unit (SPEC 5.1) and where it has been lately."""

    id: str
    name: str
    grid: str | None
    last_seen: float | None = Field(description="capture time of the unit's latest frame")
    position: PatrolPosition | None = Field(description="its last kept position; null: none yet")
    route: list[tuple[float, float]] = Field(
        description="recent positions as [lat, lon], oldest first (a point every ~5 s)"
    )
