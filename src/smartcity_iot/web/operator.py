"""The command-center API: the alert feed and its workflow, evidence, tag requests,
device health and statistics. Operators only."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..i18n import Refusal
from ..model import ALERT_KINDS, DOG_KINDS, HEALTH_KINDS, normalise_plate
from ..rules.health import is_low_battery, is_offline
from ..store import dogs, tag_life, workflow
from ..store.alerts import get_alert, open_counts, search_alerts
from ..store.broker_users import BrokerUserError, check_device_user, reserved_names
from ..store.errors import AccountError, NotFound
from ..store.history import HistoryError, open_history
from ..store.registry import RegistryError, active_tag_health
from ..store.users import User
from . import history, stats
from .alert_facts import alert_facts
from .feed import AlertFeed
from .lang import lang_of, refuse
from .schemas import (
    ActionIn,
    AlertDetail,
    AlertOut,
    Approval,
    ApproveIn,
    CloseIn,
    Id,
    In,
    OperatorTagRequest,
    Shipment,
)
from .security import Conn, Operator

router = APIRouter(
    prefix="/api/operator",
    tags=["operators"],
    responses={401: {"description": "not logged in"}, 403: {"description": "operators only"}},
)

Kind = Literal[
    "dog_forbidden_zone",
    "dog_outside_walking_hours",
    "sidewalk_parking",
    "tag_offline",
    "tag_low_battery",
]
assert set(Kind.__args__) == set(ALERT_KINDS)  # type: ignore[attr-defined]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such alert"}}


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    user: Operator,
    conn: Conn,
    kind: Kind | None = None,
    grid: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["open", "closed"] | None = None,
    workflow_state: Annotated[
        Literal["new", "acknowledged", "dispatched", "resolved"] | None, Query(alias="workflow")
    ] = None,
    plate: Annotated[str | None, Query(max_length=20, description="e.g. 浙H·A1234")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict]:
    """Stored alerts, newest first, filtered by kind, grid, status (the violation),
    workflow (the handling) and a vehicle's plate (normalised before matching)."""
    alerts = search_alerts(
        conn,
        kind=kind,
        grid=grid,
        status=status,
        workflow=workflow_state,
        plate=normalise_plate(plate) if plate else None,
        limit=limit,
    )
    return [asdict(a) for a in alerts]


@router.get(
    "/alerts/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "server-sent events: `alert` events carry SPEC 3.4 alert JSON",
        }
    },
)
def stream(user: Operator, request: Request) -> StreamingResponse:
    """Live alert changes (opened, updated, closed, handled) as server-sent events."""
    feed: AlertFeed = request.app.state.feed
    return StreamingResponse(
        feed.events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _image_path(data_dir: Path, item: dict[str, Any]) -> Path | None:
    raw = item.get("path")
    if item.get("type") != "image" or not isinstance(raw, str):
        return None
    root = data_dir.resolve()
    path = (root / raw).resolve()  # an absolute path stays absolute
    return path if path.is_relative_to(root) and path.is_file() else None


@router.get("/alerts/{alert_id}", response_model=AlertDetail, responses=NOT_FOUND)
def alert_detail(alert_id: str, user: Operator, conn: Conn, request: Request) -> dict:
    """One alert with its handling history and evidence: the dog's track around the
    incident, or the camera's photos."""
    alert = get_alert(conn, alert_id)
    if alert is None:
        raise refuse(404, "alert.not_found")
    data_dir = request.app.state.settings.data_dir
    images = [
        {
            "url": f"/api/operator/alerts/{alert_id}/evidence/{i}",
            "ts": item.get("ts"),
            "label": item.get("label") or item.get("role"),
            "role": item.get("role"),
            "device_id": item.get("device_id"),  # a patrol capture's unit
        }
        for i, item in enumerate(alert.evidence)
        if _image_path(data_dir, item)
    ]
    track = (
        history.track_around(conn, alert, request.app.state.settings)
        if alert.kind in DOG_KINDS + HEALTH_KINDS
        else []
    )
    facts = alert_facts(conn, alert, request.app.state.settings, lang_of(request))
    return {
        "alert": asdict(alert),
        "events": workflow.events(conn, alert_id),
        "track": track,
        "images": images,
        "squad": workflow.squad_of(alert.grid),
        **facts,
        "earlier": [asdict(a) for a in facts["earlier"]],
    }


@router.get(
    "/alerts/{alert_id}/evidence/{index}",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, **NOT_FOUND},
)
def evidence_image(
    alert_id: str,
    index: Annotated[int, PathParam(ge=0, le=1000)],
    user: Operator,
    conn: Conn,
    request: Request,
) -> FileResponse:
    """A camera evidence photo (only files under the data directory are served)."""
    alert = get_alert(conn, alert_id)
    if alert is None or not 0 <= index < len(alert.evidence):
        raise refuse(404, "alert.no_evidence")
    path = _image_path(request.app.state.settings.data_dir, alert.evidence[index])
    if path is None:
        raise refuse(404, "alert.no_evidence")
    return FileResponse(path, media_type="image/jpeg")


def _step(
    conn: Conn,
    alert_id: str,
    action: str,
    user: User,
    request: Request,
    disposition: str | None = None,
    note: str | None = None,
) -> dict:
    spool = bool(request.app.state.settings.influx_url)
    try:
        return asdict(
            workflow.apply(
                conn, alert_id, action, f"operator:{user.login}", disposition, note, spool
            )
        )
    except workflow.AlertNotFound:
        raise refuse(404, "alert.not_found") from None
    except workflow.WorkflowError as exc:
        raise refuse(409, exc) from None


STEP_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"description": "not possible in this state"},
}


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=STEP_RESPONSES)
def acknowledge(
    alert_id: str, user: Operator, conn: Conn, request: Request, body: ActionIn | None = None
) -> dict:
    return _step(conn, alert_id, "acknowledge", user, request, note=body.note if body else None)


@router.post("/alerts/{alert_id}/dispatch", response_model=AlertOut, responses=STEP_RESPONSES)
def dispatch(
    alert_id: str, user: Operator, conn: Conn, request: Request, body: ActionIn | None = None
) -> dict:
    """Send the alert to the squad that owns its grid."""
    return _step(conn, alert_id, "dispatch", user, request, note=body.note if body else None)


@router.post("/alerts/{alert_id}/close", response_model=AlertOut, responses=STEP_RESPONSES)
def close(alert_id: str, body: CloseIn, user: Operator, conn: Conn, request: Request) -> dict:
    """Close the handling with a disposition (education, warning, penalty, dismissed)."""
    return _step(conn, alert_id, "close", user, request, body.disposition, body.note)


@router.get("/tag-requests", response_model=list[OperatorTagRequest])
def tag_requests(
    user: Operator,
    conn: Conn,
    status: Literal["requested", "approved", "shipped", "active", "inactive", "rejected"]
    | None = None,
) -> list[dict]:
    return dogs.all_tag_requests(conn, status)


@router.post(
    "/tag-requests/{request_id}/approve",
    response_model=Approval,
    responses={404: {"description": "no such request"}, 409: {"description": "already decided"}},
)
def approve(
    request_id: Id, user: Operator, conn: Conn, request: Request, body: ApproveIn | None = None
) -> dict:
    """Approve a request: assign a serial and an activation code to print with the tag.
    A typed serial must not be a name another broker user logs in as (400)."""
    serial = body.serial if body else None
    try:
        if serial:
            check_device_user(serial, reserved_names(request.app.state.settings))
        return dogs.approve_request(conn, request_id, f"operator:{user.login}", serial)
    except BrokerUserError as exc:
        raise _refused(400, exc, "console.requests.serial_reserved", serial=serial) from None
    except NotFound:
        raise refuse(404, "console.requests.not_found", id=request_id) from None
    except RegistryError as exc:
        raise _refused(409, exc, "console.requests.serial_invalid") from None
    except AccountError as exc:
        raise _refused(409, exc, "console.requests.not_possible") from None


@router.post(
    "/tag-requests/{request_id}/ship",
    response_model=Shipment,
    responses={
        404: {"description": "no such request"},
        409: {"description": "not waiting to ship"},
    },
)
def ship(request_id: Id, user: Operator, conn: Conn) -> dict:
    try:
        return dogs.ship_request(conn, request_id, f"operator:{user.login}")
    except NotFound:
        raise refuse(404, "console.requests.not_found", id=request_id) from None
    except AccountError as exc:
        raise _refused(409, exc, "console.requests.not_possible") from None


def _refused(status: int, exc: Exception, fallback: str, **params: Any) -> HTTPException:
    """The store's own refusal in the reader's language when it is one (a catalogue key),
    else the fallback key: never its English text inside a page in another language."""
    return refuse(status, exc) if isinstance(exc, Refusal) else refuse(status, fallback, **params)


# -- the end of a tag's life: reject, deactivate, replace (store/tag_life.py) -----------

Serial = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{4,32}$", description="a tag serial")]


class RejectIn(In):
    reason: str = Field(min_length=2, max_length=300, description="shown to the owner")


class Rejection(BaseModel):
    request_id: int
    status: Literal["rejected"]
    reason: str


class DeactivateIn(In):
    reason: Literal["lost", "broken", "deceased"] = Field(description="why the tag ends")
    note: str | None = Field(None, max_length=300)


class Deactivation(BaseModel):
    tag_id: str
    status: Literal["inactive"]
    deactivated_reason: str


class ReplaceIn(In):
    serial: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{4,32}$", description="leave empty to generate one"
    )
    postal_address: str | None = Field(
        None, min_length=5, max_length=300, description="default: where the old tag was posted"
    )
    cause: Literal["lost", "broken"] | None = None


class Replacement(Approval):
    replaces: str


class TagEvent(BaseModel):
    at: float
    request_id: int | None
    tag_id: str | None
    action: str
    actor: str
    detail: dict[str, Any]


LIFE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such request or tag"},
    409: {"description": "not possible in this state"},
}


def _life_step(missing: HTTPException, call: Any, *args: Any, **kwargs: Any) -> dict:
    """`call`'s result; `missing` when the request or tag does not exist."""
    try:
        result: dict = call(*args, **kwargs)
    except NotFound:
        raise missing from None
    except BrokerUserError as exc:
        serial = kwargs.get("serial")
        raise _refused(400, exc, "console.requests.serial_reserved", serial=serial) from None
    except RegistryError as exc:
        raise _refused(400, exc, "console.requests.serial_invalid") from None
    except AccountError as exc:
        raise _refused(409, exc, "console.requests.not_possible") from None
    return result


@router.post(
    "/tag-requests/{request_id}/reject", response_model=Rejection, responses=LIFE_RESPONSES
)
def reject(request_id: Id, body: RejectIn, user: Operator, conn: Conn) -> dict:
    """Refuse a waiting request; the owner sees the reason in the portal."""
    return _life_step(
        refuse(404, "console.requests.not_found", id=request_id),
        tag_life.reject_request,
        conn,
        request_id,
        f"operator:{user.login}",
        body.reason,
    )


@router.post("/tags/{tag_id}/deactivate", response_model=Deactivation, responses=LIFE_RESPONSES)
def deactivate(tag_id: Serial, body: DeactivateIn, user: Operator, conn: Conn) -> dict:
    """End a tag (lost, broken, the dog deceased): its fixes are refused from now on and its
    credential leaves `users tag-passwords`; reload the broker to close its login."""
    return _life_step(
        refuse(404, "console.requests.tag_not_found", tag=tag_id),
        tag_life.deactivate,
        conn,
        tag_id,
        f"operator:{user.login}",
        body.reason,
        body.note,
    )


@router.post(
    "/tags/{tag_id}/replace",
    response_model=Replacement,
    responses={**LIFE_RESPONSES, 400: {"description": "the serial cannot be used"}},
)
def replace(
    tag_id: Serial, user: Operator, conn: Conn, request: Request, body: ReplaceIn | None = None
) -> dict:
    """A new serial for the same dog, approved and waiting to ship (its activation code is
    shown this once); the old tag ends as replaced, the dog's history stays."""
    body = body or ReplaceIn(serial=None, postal_address=None)
    return _life_step(
        refuse(404, "console.requests.tag_not_found", tag=tag_id),
        tag_life.replace,
        conn,
        tag_id,
        f"operator:{user.login}",
        reserved_names(request.app.state.settings),
        serial=body.serial,
        postal_address=body.postal_address,
        cause=body.cause,
    )


@router.get("/tags/{tag_id}/events", response_model=list[TagEvent])
def tag_events(tag_id: Serial, user: Operator, conn: Conn) -> list[dict]:
    """Who did what to this tag and its requests, and when, oldest first."""
    return tag_life.events(conn, tag_id=tag_id)


@router.get("/tag-requests/{request_id}/events", response_model=list[TagEvent])
def request_events(request_id: Id, user: Operator, conn: Conn) -> list[dict]:
    return tag_life.events(conn, request_id=request_id)


@router.get("/devices")
def devices(user: Operator, conn: Conn, request: Request) -> dict[str, Any]:
    """Device health: active tags that are offline or low on battery, with their last state."""
    settings = request.app.state.settings
    now = time.time()
    tags = active_tag_health(conn)
    never = [t for t in tags if t["last_seen"] is None]
    # The pipeline's marks (kept until the tag recovers) or the live reading, which
    # also catches a tag the pipeline's periodic sweep has not marked yet.
    offline = [
        t
        for t in tags
        if t["offline_since"] is not None
        or (
            t["last_seen"] is not None and is_offline(t["last_seen"], now, settings.offline_after_s)
        )
    ]
    low = [
        t
        for t in tags
        if t["low_battery_since"] is not None or is_low_battery(t["batt"], settings.low_battery_pct)
    ]
    return {
        "active_tags": len(tags),
        "never_reported": never,
        "offline": offline,
        "low_battery": low,
        "open_notices": open_counts(conn, HEALTH_KINDS),
        "thresholds": {
            "offline_after_s": settings.offline_after_s,
            "low_battery_pct": settings.low_battery_pct,
        },
    }


@router.get("/stats")
def statistics(
    user: Operator, conn: Conn, request: Request, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """What the bureau reports over the last `days` days: alerts per local day by kind and
    grid, dispositions against the 721 shares, the resolution rate and median handling
    times overall, per kind, grid and squad, and the repeat offenders of the last 12
    months (web/stats.py defines each number)."""
    settings = request.app.state.settings
    history = open_history(settings, conn) if settings.influx_url else None
    try:
        return stats.statistics(conn, settings.tz, days, history)
    except HistoryError as exc:
        raise stats.history_unavailable(exc) from None
