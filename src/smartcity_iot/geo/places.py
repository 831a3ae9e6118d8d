"""Where a mobile unit's photographed vehicle stands (SPEC 5.1), and which sidewalk zone
and loading spot hold it, through the same STRtree machinery the tags use."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from .index import OUT, ZoneIndex
from .metric import LocalProjection
from .zones import Zone

SNAP_M = 2.5  # a place this near a zone counts as in it: GNSS on a moving car errs ~1-3 m


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    x: float  # metres of the district's projection
    y: float
    sidewalk: Zone | None
    spot: Zone | None


class PlaceIndex:
    """The district's `sidewalk` and `loading_spot` zones, for vehicle places."""

    def __init__(self, zones: list[Zone], projection: LocalProjection) -> None:
        self.projection = projection
        self.sidewalks = ZoneIndex([z for z in zones if z.rule == "sidewalk"], projection)
        self.spots = ZoneIndex([z for z in zones if z.rule == "loading_spot"], projection)

    def vehicle_place(
        self, lat: float, lon: float, heading: float, side: str, offset_m: float
    ) -> Place:
        """The unit at (lat, lon) heading `heading` degrees clockwise from north sees a
        vehicle `offset_m` away at right angles, on its `side`."""
        ux, uy = self.projection.to_xy(lon, lat)
        h = math.radians(heading)
        sign = 1.0 if side == "right" else -1.0
        x = float(ux) + sign * offset_m * math.cos(h)  # right of north is east
        y = float(uy) - sign * offset_m * math.sin(h)  # right of east is south
        vlon, vlat = self.projection.to_lonlat(x, y)
        return Place(
            float(vlat),
            float(vlon),
            x,
            y,
            _nearest(self.sidewalks, x, y),
            _nearest(self.spots, x, y, 0.0),
        )


def _nearest(index: ZoneIndex, x: float, y: float, snap_m: float = SNAP_M) -> Zone | None:
    """The zone containing (x, y), else the nearest within `snap_m`."""
    if not index.zones:
        return None
    lon, lat = index.projection.to_lonlat(x, y)
    found = index.classify(np.array([lon]), np.array([lat]), np.array([max(snap_m, 1e-6)]))
    best: tuple[float, Zone] | None = None
    for zi, state in zip(found.zone, found.state, strict=True):
        if state == OUT:
            continue
        d = float(shapely.distance(index.polygons[zi], shapely.Point(x, y)))
        if d <= snap_m and (best is None or d < best[0]):
            best = (d, index.zones[zi])
    return best[1] if best else None
