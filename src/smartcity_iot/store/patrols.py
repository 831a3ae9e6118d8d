"""Where the patrol units have been (SPEC 5.1), for the console's map: each unit's
recent route and last position, read from the mobile path's saved state."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .database import Connection, json_field

# The camera_state row the mobile path saves (pipeline/mobile_stages.py STATE_KEY):
# {"rule": {...}, "units": {id: {"last_ts": s, "route": [[ts, lat, lon, heading], ...]}}}
STATE_KEY = "_patrols"


@dataclass(frozen=True, slots=True)
class RoutePoint:
    ts: float
    lat: float
    lon: float
    heading: float  # degrees clockwise from north


@dataclass(frozen=True, slots=True)
class PatrolRoute:
    unit_id: str
    last_ts: float | None  # capture time of the unit's latest frame
    route: tuple[RoutePoint, ...]  # oldest first, a point every few capture seconds

    @property
    def last(self) -> RoutePoint | None:
        return self.route[-1] if self.route else None


def patrol_routes(conn: Connection) -> dict[str, PatrolRoute]:
    """Every unit's route by unit id; empty before the mobile path saved any."""
    # Only the units' part: the rule's half holds plates the map has no use for.
    row = conn.execute(
        f"SELECT {json_field(conn, 'state', 'units')} AS units FROM camera_state "
        "WHERE camera_id = ?",
        (STATE_KEY,),
    ).fetchone()
    if row is None or row["units"] is None:
        return {}
    routes = {}
    for unit_id, saved in json.loads(row["units"]).items():
        points = tuple(
            RoutePoint(float(ts), float(lat), float(lon), float(heading))
            for ts, lat, lon, heading in saved.get("route") or []
        )
        last_ts = saved.get("last_ts")
        routes[unit_id] = PatrolRoute(unit_id, None if last_ts is None else float(last_ts), points)
    return routes
