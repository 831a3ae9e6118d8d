"""Walking routes on the district's metric plane: a coarse grid A* around blocked dog zones.

A route keeps a clearance (metres) from every blocked zone, so GPS noise on the route can
never put a lawful dog's accuracy circle inside a zone that forbids it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from .district import District

Pt = tuple[float, float]
_SQRT2 = math.sqrt(2.0)


@dataclass
class _Blocked:
    clear: BaseGeometry  # blocked zones buffered by the clearance (prepared)
    free: bytearray  # per grid cell: 1 when its centre is far enough from every blocked zone


class RoutePlanner:
    """Plans routes that stay `clearance` metres away from a given set of blocked zones."""

    def __init__(self, district: District, cell_m: float = 15.0, clearance_m: float = 66.0):
        self.district = district
        self.cell = cell_m
        self.clearance = clearance_m
        minx, miny, maxx, maxy = district.bounds
        self.x0, self.y0 = minx, miny
        self.nx = int(math.ceil((maxx - minx) / cell_m))
        self.ny = int(math.ceil((maxy - miny) / cell_m))
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        self._cx = (self.x0 + (ix.ravel() + 0.5) * cell_m).astype(float)
        self._cy = (self.y0 + (iy.ravel() + 0.5) * cell_m).astype(float)
        self._cache: dict[frozenset[str], _Blocked] = {}

    # -- blocked sets -------------------------------------------------------------------
    def blocked(self, zone_ids: Iterable[str]) -> _Blocked:
        key = frozenset(zone_ids)
        hit = self._cache.get(key)
        if hit is None:
            geoms = [self.district.by_id[z].metric for z in sorted(key)]
            if geoms:
                union = shapely.union_all(geoms)
                clear = union.buffer(self.clearance)
                # A cell centre this far out keeps any segment to a neighbour outside `clear`.
                raster = union.buffer(self.clearance + self.cell * _SQRT2 / 2 + 0.5)
                shapely.prepare(clear)
                shapely.prepare(raster)
                inside = shapely.contains_xy(raster, self._cx, self._cy)
                free = bytearray((~inside).astype(np.uint8).tobytes())
            else:
                clear = Point(1e9, 1e9)
                free = bytearray(b"\x01" * (self.nx * self.ny))
            hit = _Blocked(clear, free)
            self._cache[key] = hit
        return hit

    def point_clear(self, p: Pt, zone_ids: Iterable[str]) -> bool:
        return not self.blocked(zone_ids).clear.intersects(Point(p))

    def segment_clear(self, a: Pt, b: Pt, zone_ids: Iterable[str]) -> bool:
        return self._seg_ok(a, b, self.blocked(zone_ids))

    @staticmethod
    def _seg_ok(a: Pt, b: Pt, blk: _Blocked) -> bool:
        geom = Point(a) if a == b else LineString([a, b])
        return not blk.clear.intersects(geom)

    def in_bounds(self, p: Pt, margin: float = 0.0) -> bool:
        minx, miny, maxx, maxy = self.district.bounds
        return minx + margin <= p[0] <= maxx - margin and miny + margin <= p[1] <= maxy - margin

    # -- grid ---------------------------------------------------------------------------
    def _centre(self, idx: int) -> Pt:
        return (float(self._cx[idx]), float(self._cy[idx]))

    def _snap(self, p: Pt, blk: _Blocked) -> int | None:
        """Nearest free cell reachable from p by a clear straight segment."""
        ci = int((p[0] - self.x0) // self.cell)
        cj = int((p[1] - self.y0) // self.cell)
        cand = []
        for dj in range(-6, 7):
            for di in range(-6, 7):
                i, j = ci + di, cj + dj
                if 0 <= i < self.nx and 0 <= j < self.ny and blk.free[j * self.nx + i]:
                    c = self._centre(j * self.nx + i)
                    cand.append((math.hypot(c[0] - p[0], c[1] - p[1]), j * self.nx + i))
        for _, idx in sorted(cand)[:12]:
            if self._seg_ok(p, self._centre(idx), blk):
                return idx
        return None

    def _astar(self, s: int, g: int, free: bytearray) -> list[int] | None:
        nx, ny = self.nx, self.ny
        gi, gj = g % nx, g // nx
        steps = [(1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0)]
        steps += [(1, 1, _SQRT2), (1, -1, _SQRT2), (-1, 1, _SQRT2), (-1, -1, _SQRT2)]

        def h(idx: int) -> float:
            dx, dy = abs(idx % nx - gi), abs(idx // nx - gj)
            return max(dx, dy) + (_SQRT2 - 1.0) * min(dx, dy)

        best = {s: 0.0}
        came: dict[int, int] = {}
        openq = [(h(s), 0.0, s)]
        closed = set()
        while openq:
            _, cost, cur = heapq.heappop(openq)
            if cur == g:
                path = [cur]
                while cur in came:
                    cur = came[cur]
                    path.append(cur)
                return path[::-1]
            if cur in closed:
                continue
            closed.add(cur)
            i, j = cur % nx, cur // nx
            for di, dj, w in steps:
                ni, nj = i + di, j + dj
                if not (0 <= ni < nx and 0 <= nj < ny):
                    continue
                nidx = nj * nx + ni
                if not free[nidx] or nidx in closed:
                    continue
                if di and dj and not (free[j * nx + ni] and free[nj * nx + i]):
                    continue  # no corner cutting
                nc = cost + w
                if nc < best.get(nidx, math.inf):
                    best[nidx] = nc
                    came[nidx] = cur
                    heapq.heappush(openq, (nc + h(nidx), nc, nidx))
        return None

    # -- routes -------------------------------------------------------------------------
    def route(
        self, a: Pt, b: Pt, zone_ids: Iterable[str], rng: np.random.Generator
    ) -> list[Pt] | None:
        """A plausible walking polyline from a to b, or None if b cannot be reached."""
        blk = self.blocked(zone_ids)
        if self._seg_ok(a, b, blk) and math.dist(a, b) < 4 * self.cell:
            return [a, b]
        s, g = self._snap(a, blk), self._snap(b, blk)
        if s is None or g is None:
            return None
        cells = self._astar(s, g, blk.free)
        if cells is None:
            return None
        pts = [a] + [self._centre(c) for c in cells] + [b]
        return self._wiggle(self._pull(pts, blk), blk, rng)

    def _pull(self, pts: list[Pt], blk: _Blocked) -> list[Pt]:
        """String pulling: drop grid corners while the shortcut stays clear."""
        out = [pts[0]]
        i = 0
        while i < len(pts) - 1:
            j = i + 1
            while j + 1 < len(pts) and self._seg_ok(pts[i], pts[j + 1], blk):
                j += 1
            out.append(pts[j])
            i = j
        return out

    def _wiggle(self, pts: list[Pt], blk: _Blocked, rng: np.random.Generator) -> list[Pt]:
        """Mild heading changes: a smooth lateral offset every ~30 m where clearance allows."""
        out = [pts[0]]
        off = 0.0
        for a, b in zip(pts, pts[1:], strict=False):
            length = math.dist(a, b)
            n = max(1, int(length // 30.0))
            ux, uy = ((b[0] - a[0]) / length, (b[1] - a[1]) / length) if length else (0.0, 0.0)
            for k in range(1, n):
                off = 0.7 * off + rng.normal(0.0, 1.5)
                off = max(-5.0, min(5.0, off))
                f = k / n
                q = (a[0] + f * (b[0] - a[0]) - uy * off, a[1] + f * (b[1] - a[1]) + ux * off)
                if self._seg_ok(out[-1], q, blk) and self._seg_ok(q, b, blk):
                    out.append(q)
            out.append(b)
        return out
