"""The one place where WGS 84 degrees become metres: a local equirectangular
projection around the district, accurate to well under a metre over a city."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class LocalProjection:
    lon0: float
    lat0: float

    @property
    def _kx(self) -> float:
        return math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def _ky(self) -> float:
        return math.radians(1) * EARTH_RADIUS_M

    def to_xy(
        self, lon: np.ndarray | float, lat: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        x = (np.asarray(lon, dtype=float) - self.lon0) * self._kx
        y = (np.asarray(lat, dtype=float) - self.lat0) * self._ky
        return x, y

    def to_lonlat(
        self, x: np.ndarray | float, y: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(x) / self._kx + self.lon0, np.asarray(y) / self._ky + self.lat0

    def project(self, geom: BaseGeometry) -> BaseGeometry:
        kx, ky, lon0, lat0 = self._kx, self._ky, self.lon0, self.lat0
        return shapely.transform(
            geom, lambda c: np.column_stack(((c[:, 0] - lon0) * kx, (c[:, 1] - lat0) * ky))
        )

    @classmethod
    def around(cls, geoms: list[BaseGeometry]) -> LocalProjection:
        if not geoms:
            return cls(0.0, 0.0)
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
        return cls((minx + maxx) / 2, (miny + maxy) / 2)
