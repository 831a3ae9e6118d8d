"""The command center's patrol units (SPEC 5.1): where each configured mobile unit
is and has been lately, for the console's map. Operators only."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..geo.cameras import CameraFileError, load_mobile_units
from ..store.patrols import patrol_routes
from .map_layers import camera_files_refused
from .schemas import PatrolUnit
from .security import Conn, Operator

router = APIRouter(
    prefix="/api/operator",
    tags=["operators"],
    responses={401: {"description": "not logged in"}, 403: {"description": "operators only"}},
)


@router.get(
    "/patrols",
    response_model=list[PatrolUnit],
    responses={503: {"description": "a camera file is not valid (the message names it)"}},
)
def patrols(user: Operator, conn: Conn, request: Request) -> list[dict]:
    """Each mobile unit of the camera files, in file order, with its last position and
    recent route (the mobile path keeps a point every ~5 s of capture time, up to 240)."""
    settings = request.app.state.settings
    # Read on each call, as /api/zones is: the files are the configuration, and small.
    try:
        units = load_mobile_units(settings.geofences / "cameras", settings.tz)
    except CameraFileError as exc:
        raise camera_files_refused(exc) from None
    routes = patrol_routes(conn)
    out = []
    for unit in units:
        seen = routes.get(unit.id)
        last = seen.last if seen else None
        out.append(
            {
                "id": unit.id,
                "name": unit.name or unit.id,
                "grid": unit.grid,
                "last_seen": seen.last_ts if seen else None,
                "position": None
                if last is None
                else {"ts": last.ts, "lat": last.lat, "lon": last.lon, "heading": last.heading},
                "route": [(p.lat, p.lon) for p in seen.route] if seen else [],
            }
        )
    return out
