"""The owners' portal API: dogs, tag requests, tag activation, tags, violations.
Every call is scoped to the caller's owner id in the data layer (store/dogs.py,
credentials.py, alerts.py): another owner's object is simply "not found"."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from ..i18n import catalogue, text
from ..model import DOG_KINDS
from ..store import alerts, credentials, dogs
from ..store.errors import AccountError, NotFound
from .lang import lang_of, refuse
from .schemas import (
    ActivateIn,
    Activation,
    Dog,
    DogIn,
    Id,
    Tag,
    TagRequest,
    TagRequestIn,
    Violation,
)
from .security import Conn, Owner

GUIDANCE_STEPS = ("education", "warning", "penalty", "strict")
router = APIRouter(
    prefix="/api/owner",
    tags=["owners"],
    responses={401: {"description": "not logged in"}, 403: {"description": "owners only"}},
)


def _not_found(exc: NotFound) -> HTTPException:
    return refuse(404, "owner.error.not_found")


@router.get("/dogs", response_model=list[Dog])
def list_dogs(user: Owner, conn: Conn) -> list[dict]:
    assert user.owner_id is not None
    return dogs.list_dogs(conn, user.owner_id)


@router.post("/dogs", response_model=Dog, status_code=201)
def add_dog(body: DogIn, user: Owner, conn: Conn) -> dict:
    assert user.owner_id is not None
    data = body.model_dump()
    data["birth_date"] = body.birth_date.isoformat()
    return dogs.add_dog(conn, user.owner_id, data)


@router.get(
    "/dogs/{dog_id}", response_model=Dog, responses={404: {"description": "no such dog of yours"}}
)
def get_dog(dog_id: Id, user: Owner, conn: Conn) -> dict:
    assert user.owner_id is not None
    try:
        return dogs.get_dog(conn, user.owner_id, dog_id)
    except NotFound as exc:
        raise _not_found(exc) from None


@router.post(
    "/dogs/{dog_id}/tag-requests",
    response_model=TagRequest,
    status_code=201,
    responses={
        404: {"description": "no such dog of yours"},
        400: {"description": "request in progress"},
    },
)
def request_tag(dog_id: Id, body: TagRequestIn, user: Owner, conn: Conn) -> dict:
    """Ask for a tag by post for this dog."""
    assert user.owner_id is not None
    try:
        return dogs.request_tag(conn, user.owner_id, dog_id, body.postal_address)
    except NotFound as exc:
        raise _not_found(exc) from None
    except AccountError as exc:
        raise refuse(400, exc) from None


@router.get("/tag-requests", response_model=list[TagRequest])
def list_tag_requests(user: Owner, conn: Conn) -> list[dict]:
    """Follow requests: requested -> approved -> shipped (with a serial) -> active."""
    assert user.owner_id is not None
    return dogs.list_tag_requests(conn, user.owner_id)


@router.get(
    "/tag-requests/{request_id}",
    response_model=TagRequest,
    responses={404: {"description": "no such request of yours"}},
)
def get_tag_request(request_id: Id, user: Owner, conn: Conn) -> dict:
    assert user.owner_id is not None
    try:
        return dogs.get_tag_request(conn, user.owner_id, request_id)
    except NotFound as exc:
        raise _not_found(exc) from None


@router.get("/tags", response_model=list[Tag])
def list_tags(user: Owner, conn: Conn) -> list[dict]:
    """Your tags with last position and battery."""
    assert user.owner_id is not None
    return dogs.list_tags(conn, user.owner_id)


@router.post(
    "/tags/activate",
    response_model=Activation,
    responses={400: {"description": "serial and code do not match a tag sent to you"}},
)
def activate(body: ActivateIn, user: Owner, conn: Conn) -> dict:
    """Activate the tag received by post. Returns the tag's MQTT credentials, once."""
    assert user.owner_id is not None
    try:
        return credentials.activate_tag(conn, user.owner_id, body.serial, body.activation_code)
    except AccountError as exc:
        raise refuse(400, exc) from None


def guidance(step: str | None, lang: str) -> str:
    """SPEC 6 and the service-first "721" policy: what the step means for the owner
    (i18n/messages/guidance.toml), in the reader's language."""
    return text(f"guidance.{step}", lang) if step in GUIDANCE_STEPS else ""


def kind_label(kind: str, lang: str) -> str:
    """What the owner is told happened (guidance.kind.*); the raw kind if it has no label."""
    key = f"guidance.kind.{kind}"
    return text(key, lang) if key in catalogue().messages else kind


def _violation(row: object, dog_names: dict[str, str], lang: str) -> dict:
    r = dict(row)  # type: ignore[call-overload]
    step = r["escalation"]
    return {
        **{
            k: r[k]
            for k in (
                "id",
                "kind",
                "device_id",
                "zone_name",
                "status",
                "started_at",
                "ended_at",
                "lat",
                "lon",
                "escalation",
                "offence_number",
                "workflow",
                "disposition",
            )
        },
        "kind_label": kind_label(r["kind"], lang),
        "dog_name": dog_names.get(r["device_id"]),
        "guidance": guidance(step, lang),
    }


@router.get("/violations", response_model=list[Violation])
def list_violations(request: Request, user: Owner, conn: Conn) -> list[dict]:
    """Your dogs' violations, newest first, with the escalation step and what it means
    (kind_label and guidance in the reader's language: the `lang` cookie)."""
    assert user.owner_id is not None
    names, lang = dogs.tag_dog_names(conn, user.owner_id), lang_of(request)
    rows = alerts.owner_violations(conn, user.owner_id, DOG_KINDS)
    return [_violation(r, names, lang) for r in rows]


@router.get(
    "/violations/{alert_id}",
    response_model=Violation,
    responses={404: {"description": "no such violation of yours"}},
)
def get_violation(alert_id: str, request: Request, user: Owner, conn: Conn) -> dict:
    assert user.owner_id is not None
    try:
        row = alerts.owner_violation(conn, user.owner_id, alert_id, DOG_KINDS)
    except NotFound as exc:
        raise _not_found(exc) from None
    return _violation(row, dogs.tag_dog_names(conn, user.owner_id), lang_of(request))
