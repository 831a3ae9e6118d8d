"""The owners' notices in the portal: their dogs' violations and their tags' health
notices, each with time, place, escalation step and the bureau's text (education
first, SPEC 6), an unread count for the badge, and marking them read. Scoped to the
caller's owner id in the data layer (store/notices.py): another owner's notice is
simply "not found"."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ..i18n import text as catalogue_text
from ..notify.texts import NoticeTexts, load_texts, write_notice
from ..store import notices
from ..store.database import Row
from ..store.errors import NotFound
from .lang import lang_of, refuse
from .owner import GUIDANCE_STEPS, kind_label
from .schemas import Id
from .security import Conn, Owner

router = APIRouter(
    prefix="/api/owner/notices",
    tags=["owners"],
    responses={401: {"description": "not logged in"}, 403: {"description": "owners only"}},
)

SmsStatus = Literal["pending", "sent", "capped", "withdrawn", "no_phone"]


class Notice(BaseModel):
    id: int
    kind: str
    kind_label: str
    tag_id: str
    dog_name: str | None
    zone_name: str | None = Field(description="the place: the zone's name")
    grid: str | None = Field(description="the grid (and so the squad) of the place")
    lat: float | None
    lon: float | None
    started_at: float = Field(description="when it happened")
    escalation: str | None = Field(description="education | warning | penalty | strict")
    step_label: str = Field(description="the step in the reader's language, e.g. 教育引导")
    offence_number: int | None
    text: str = Field(
        description="the bureau's text for this kind and step, as sent by SMS (in Chinese "
        "whatever the reader's language: it is what the owner received)"
    )
    created_at: float
    read: bool
    withdrawn: bool = Field(description="an operator dismissed the alert: nothing is asked")
    sms: SmsStatus = Field(description="the text message to the owner's phone")


class Unread(BaseModel):
    unread: int


@functools.lru_cache(maxsize=4)
def _texts(path: Path | None) -> NoticeTexts:
    return load_texts(path)


def _notice(row: Row, request: Request) -> dict:
    settings = request.app.state.settings
    text = row["text"] or write_notice(_texts(settings.notice_texts), row, settings.tz)
    step, lang = row["escalation"], lang_of(request)
    return {
        "id": row["id"],
        "kind": row["kind"],
        "kind_label": kind_label(row["kind"], lang),
        "tag_id": row["device_id"],
        "dog_name": row["dog_name"],
        "zone_name": row["zone_name"],
        "grid": row["grid"],
        "lat": row["lat"],
        "lon": row["lon"],
        "started_at": row["started_at"],
        "escalation": step,
        "step_label": catalogue_text(
            f"step.{step}" if step in GUIDANCE_STEPS else "owner.notice.reminder", lang
        ),
        "offence_number": row["offence_number"],
        "text": text,
        "created_at": row["created_at"],
        "read": row["read_at"] is not None,
        "withdrawn": row["withdrawn_at"] is not None,
        "sms": row["sms_status"],
    }


@router.get("", response_model=list[Notice])
def list_notices(request: Request, user: Owner, conn: Conn) -> list[dict]:
    """Your notices, newest first (at most 200)."""
    assert user.owner_id is not None
    return [_notice(r, request) for r in notices.owner_notices(conn, user.owner_id)]


@router.get("/unread", response_model=Unread)
def unread(user: Owner, conn: Conn) -> dict:
    """How many of your notices you have not opened yet (the badge)."""
    assert user.owner_id is not None
    return {"unread": notices.unread_count(conn, user.owner_id)}


@router.post(
    "/{notice_id}/read",
    status_code=204,
    responses={404: {"description": "no such notice of yours"}},
)
def mark_read(notice_id: Id, user: Owner, conn: Conn) -> Response:
    """You opened this notice."""
    assert user.owner_id is not None
    try:
        notices.mark_read(conn, user.owner_id, notice_id, time.time())
    except NotFound:
        raise refuse(404, "owner.error.not_found") from None
    return Response(status_code=204)


@router.post("/read-all", response_model=Unread)
def mark_all_read(user: Owner, conn: Conn) -> dict:
    """Mark every notice of yours read; returns the new unread count (0)."""
    assert user.owner_id is not None
    notices.mark_all_read(conn, user.owner_id, time.time())
    return {"unread": notices.unread_count(conn, user.owner_id)}
