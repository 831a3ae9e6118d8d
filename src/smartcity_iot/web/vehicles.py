"""The command center's vehicles: an operator confirms or corrects a parking alert's
plate, and looks up a vehicle's cases. Operators only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam

from ..model import PROVINCES, check_plate, normalise_plate
from ..pipeline.operators import PlateError, set_plate
from ..store import workflow
from ..store.alerts import search_alerts
from .lang import refuse
from .schemas import AlertOut, PlateIn
from .security import Conn, Operator

router = APIRouter(
    prefix="/api/operator",
    tags=["operators"],
    responses={401: {"description": "not logged in"}, 403: {"description": "operators only"}},
)
PLATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such alert"},
    409: {"description": "not a parking alert"},
    422: {"description": "not a mainland plate (the message says why)"},
}


@router.post("/alerts/{alert_id}/plate", response_model=AlertOut, responses=PLATE_RESPONSES)
def confirm_plate(
    alert_id: str, body: PlateIn, user: Operator, conn: Conn, request: Request
) -> dict:
    """Confirm the plate read from the close-up, or type the right one. The alert gets
    its party (`vehicle:{plate}`) and escalation step and is republished; a plate set
    here is never overwritten by a later automatic read."""
    spool = bool(request.app.state.settings.influx_url)
    actor = f"operator:{user.login}"
    try:
        alert = set_plate(conn, alert_id, body.plate, actor, body.note, spool)
    except workflow.AlertNotFound:
        raise refuse(404, "alert.not_found") from None
    except workflow.WorkflowError as exc:
        raise refuse(409, exc) from None
    except PlateError:
        raise plate_refused(body.plate) from None
    return asdict(alert)


@router.get(
    "/vehicles/{plate}",
    response_model=list[AlertOut],
    responses={422: {"description": "not a mainland plate"}},
)
def vehicle_cases(
    plate: Annotated[str, PathParam(max_length=20)], user: Operator, conn: Conn
) -> list[dict]:
    """A vehicle's cases, newest first: every parking alert whose party is its plate."""
    try:
        party = f"vehicle:{check_plate(plate)}"
    except ValueError:
        raise plate_refused(plate) from None
    return [asdict(a) for a in search_alerts(conn, party=party, limit=500)]


def plate_refused(typed: str) -> HTTPException:
    """What model.check_plate found wrong, as a catalogue key in the reader's language
    (the model stays free of languages; its English words are the CLI's)."""
    plate = normalise_plate(typed)
    if not plate:
        key = "alert.plate_empty"
    elif plate[0] not in PROVINCES:
        key = "alert.plate_province"
    elif len(plate) not in (7, 8):
        key = "alert.plate_length"
    else:
        key = "alert.plate_pattern"
    return refuse(422, key, plate=plate, n=len(plate))
