"""Accuracy-aware zone membership for batches of fixes, through one STRtree.

A fix is IN a zone when its accuracy circle lies inside it, OUT when the circle
lies outside, and HOLD (keep the previous state) when the circle straddles the
boundary. Everything here is in metres of the local projection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from .metric import LocalProjection
from .zones import Zone

OUT, IN, HOLD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Membership:
    """Candidate (fix, zone) pairs; any pair not listed is OUT."""

    fix: np.ndarray
    zone: np.ndarray
    state: np.ndarray


class ZoneIndex:
    def __init__(self, zones: list[Zone], projection: LocalProjection | None = None) -> None:
        self.zones = zones
        self.projection = projection or LocalProjection.around([z.geometry for z in zones])
        self.polygons = np.asarray(
            [self.projection.project(z.geometry) for z in zones], dtype=object
        )
        self.boundaries = shapely.boundary(self.polygons) if len(zones) else self.polygons
        shapely.prepare(self.polygons)
        self.tree = STRtree(self.polygons)

    def classify(self, lon: np.ndarray, lat: np.ndarray, radius_m: np.ndarray) -> Membership:
        x, y = self.projection.to_xy(lon, lat)
        r = np.asarray(radius_m, dtype=float)
        if not len(self.zones) or not len(x):
            empty = np.zeros(0, dtype=np.intp)
            return Membership(empty, empty, empty)
        boxes = shapely.box(x - r, y - r, x + r, y + r)
        fix_i, zone_i = self.tree.query(boxes)
        px, py, pr = x[fix_i], y[fix_i], r[fix_i]
        inside = shapely.contains_xy(self.polygons[zone_i], px, py)
        clear = shapely.distance(self.boundaries[zone_i], shapely.points(px, py)) >= pr
        state = np.where(clear, np.where(inside, IN, OUT), HOLD)
        keep = state != OUT
        return Membership(fix_i[keep], zone_i[keep], state[keep])
