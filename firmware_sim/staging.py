"""Staged violations: a dog walked deep into a zone at a forbidden time, or caught inside
when its walking window closes, with margins that make the service's verdict unambiguous."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from shapely.geometry import LineString, Point
from shapely.ops import nearest_points

from .district import District, DogZone
from .routes import Pt, RoutePlanner

ACC_MAX = 25.0  # worst accuracy radius on ordinary fixes
STAGED_ACC_MAX = 8.0  # accuracy radius while a staged violation is near its zone
MARGIN_M = 5.0  # the service's accuracy-circle margin
DEPTH_M = 2 * STAGED_ACC_MAX + MARGIN_M + 5.0  # staged true position is this deep inside
CLEARANCE_M = 2 * ACC_MAX + MARGIN_M + 10.0 + 1.0  # lawful true position keeps this far out
EDGE_S = 300.0  # window edges are avoided by this much (seconds)
WALK_MAX_S = 50 * 60.0  # longest planned walk; zone states are checked over its span


@dataclass(frozen=True)
class StagedViolation:
    """One violation the simulator staged; `start`/`end` are what the service must alert."""

    tag_id: str
    zone_id: str
    kind: str
    case: str  # "entry" (walked in at a forbidden time) or "window_close" (stayed on)
    start: float
    end: float
    exempt: tuple[float, float]  # near the zone: low accuracy fixes, not held to clearance

    def truth(self) -> dict:
        return {
            "tag_id": self.tag_id,
            "zone_id": self.zone_id,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Walk:
    knots: list[tuple[float, float, float]]  # (t, x, y) from leaving home to being back
    violation: StagedViolation | None = None

    @property
    def t0(self) -> float:
        return self.knots[0][0]

    @property
    def t1(self) -> float:
        return self.knots[-1][0]


def timed(points: list[Pt], t: float, speed: float, rng: np.random.Generator):
    """Knots walking along points from time t; speed varies a little per segment."""
    knots = []
    for a, b in zip(points, points[1:], strict=False):
        t += math.dist(a, b) / (speed * rng.uniform(0.9, 1.1))
        knots.append((t, b[0], b[1]))
    return knots, t


class ViolationStager:
    """Plans walks that contain exactly one staged violation."""

    def __init__(
        self,
        district: District,
        planner: RoutePlanner,
        fix_interval: float,
        blocked: Callable[[float, float], set[str]],
    ):
        self.district = district
        self.planner = planner
        self.fix_interval = fix_interval
        self.blocked = blocked

    def plan(self, tag_id: str, home: Pt, rng: np.random.Generator, earliest: float) -> Walk | None:
        d = self.district
        near = [
            z for z in d.zones
            if z.id not in d.parent and z.metric.distance(Point(home)) < 1200
        ]  # fmt: skip
        closing = []
        for z in near:
            tc = z.schedule.next_close(earliest + 10 * 60, earliest + 2 * 3600)
            if tc is not None and z.schedule.forbidden_throughout(tc, tc + WALK_MAX_S + EDGE_S):
                closing.append((z, tc))
        entering = [
            z for z in near
            if z.schedule.forbidden_throughout(earliest - EDGE_S, earliest + WALK_MAX_S + EDGE_S)
        ]  # fmt: skip
        if closing and (rng.random() < 0.5 or not entering):
            z, tc = closing[int(rng.integers(len(closing)))]
            return self._stage(tag_id, home, rng, z, earliest, tc)
        if entering:
            z = entering[int(rng.integers(len(entering)))]
            return self._stage(tag_id, home, rng, z, earliest, None)
        return None

    def _stage(
        self,
        tag_id: str,
        home: Pt,
        rng: np.random.Generator,
        z: DogZone,
        earliest: float,
        close: float | None,
    ) -> Walk | None:
        """Home -> near z -> deep inside z for a few minutes -> back out -> home."""
        span = (
            (close - WALK_MAX_S, close + WALK_MAX_S) if close else (earliest, earliest + WALK_MAX_S)
        )
        blocked = self.blocked(*span) | {z.id}
        others = blocked - {z.id}
        inner = z.metric.buffer(-(DEPTH_M + 1.5))
        nested = [d for d, p in self.district.parent.items() if p == z.id]
        if nested:
            inner = inner.difference(self.planner.blocked(nested).clear.buffer(10))
        if inner.is_empty:
            return None
        entry = self._entry(z, inner, others, rng)
        if entry is None:
            return None
        p_out, p_in = entry
        speed = rng.uniform(1.0, 1.5)
        to_zone = self.planner.route(home, p_out, blocked, rng)
        back = self.planner.route(p_out, home, blocked, rng)
        if to_zone is None or back is None:
            return None
        ks_in, t_rel = timed([*to_zone, p_in], 0.0, speed, rng)
        t_out_rel = ks_in[-2][0]  # arrival at p_out, relative to the walk start
        lo = max(180.0, z.dwell_s + 90 + 2 * self.fix_interval)
        stretch = float(rng.uniform(lo, max(lo, 560.0)))
        if close is None:
            t0 = earliest
            lead = 0.0
        else:
            lead = float(rng.uniform(90, 300))
            t0 = float(math.floor(close - lead - t_rel))
            if t0 < earliest:
                return None
        wander = self._wander(p_in, inner, lead + stretch, rng)
        knots = [(t0, *home)] + [(t0 + t, x, y) for t, x, y in ks_in]
        t = knots[-1][0]
        t_arrive = t
        for dt, x, y in wander:
            knots.append((t_arrive + dt, x, y))
        t = knots[-1][0]
        ks_back, t = timed([p_in, p_out, *back[1:]], t, speed, rng)
        t_leave_pout = ks_back[0][0]
        knots += ks_back
        if knots[-1][0] - t0 > WALK_MAX_S or (close and knots[-1][0] > close + WALK_MAX_S):
            return None
        if close is not None and not z.schedule.allowed_throughout(t0 - EDGE_S, close - 1e-3):
            return None
        walk_end = knots[-1][0]
        if not z.schedule.forbidden_throughout(close or t0 + t_out_rel, walk_end + EDGE_S):
            return None
        # Exact instants on the straight entry/exit segments where the depth is reached/left.
        t_in_seg = (t0 + t_out_rel, t_arrive)
        t_out_seg = (t_arrive + wander[-1][0], t_leave_pout)
        start = close if close is not None else crossing(z, knots, *t_in_seg, entering=True)
        end = crossing(z, knots, *t_out_seg, entering=False)
        opens = z.schedule.next_open(start, end)
        if opens is not None:
            end = opens
        v = StagedViolation(
            tag_id, z.id, z.kind, "window_close" if close else "entry", start, end,
            (t0 + t_out_rel, t_leave_pout),
        )  # fmt: skip
        return Walk(close_knots(knots), v)

    def _entry(self, z: DogZone, inner, others: set[str], rng) -> tuple[Pt, Pt] | None:
        """A point ~74 m outside z and a point deep inside, joined by a clear straight line."""
        ring = z.metric.boundary
        for _ in range(25):
            b = ring.interpolate(float(rng.uniform(0, ring.length)))
            p_in_pt = nearest_points(inner.buffer(-0.5), b)[0]
            p_in = (p_in_pt.x, p_in_pt.y)
            dx, dy = b.x - p_in[0], b.y - p_in[1]
            n = math.hypot(dx, dy)
            if n < 1:
                continue
            p_out = (b.x + dx / n * 74.0, b.y + dy / n * 74.0)
            if not 70.0 <= z.metric.distance(Point(p_out)) <= 90.0:
                continue
            if not self.planner.in_bounds(p_out, 30):
                continue
            if others and not self.planner.segment_clear(p_out, p_in, others):
                continue
            return p_out, p_in
        return None

    def _wander(self, p_in: Pt, inner, duration: float, rng) -> list[tuple[float, float, float]]:
        """Sniff around inside `inner` and come back to p_in, taking exactly `duration` s."""
        v = rng.uniform(0.8, 1.2)
        pts, length = [p_in], 0.0
        minx, miny, maxx, maxy = inner.bounds
        for _ in range(40):
            q = (float(rng.uniform(minx, maxx)), float(rng.uniform(miny, maxy)))
            seg = math.dist(pts[-1], q)
            if 2 * (length + seg) / v > 0.8 * duration:
                continue
            if inner.contains(Point(q)) and inner.contains(segment(pts[-1], q)):
                pts.append(q)
                length += seg
            if len(pts) >= 4:
                break
        path = pts + pts[-2::-1]
        pause = duration - 2 * length / v
        out, t = [(0.0, *p_in)], 0.0
        half = len(pts) - 1
        for i, (a, b) in enumerate(zip(path, path[1:], strict=False)):
            if i == half:
                t += pause
                out.append((t, *a))
            t += math.dist(a, b) / v
            out.append((t, *b))
        if half == len(path) - 1:  # no waypoint found: stand still
            out.append((duration, *p_in))
        return out


def segment(a: Pt, b: Pt):
    return LineString([a, b])


def close_knots(knots: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Drop knots that do not advance in time (keeps interpolation well defined)."""
    out = [knots[0]]
    for k in knots[1:]:
        if k[0] > out[-1][0]:
            out.append(k)
        elif k[0] == out[-1][0]:
            out[-1] = k
    return out


def crossing(z: DogZone, knots, a: float, b: float, entering: bool) -> float:
    """First instant in [a, b] where the true depth in z reaches DEPTH_M (or leaves it)."""
    kt = np.array([k[0] for k in knots])
    kx = np.array([k[1] for k in knots])
    ky = np.array([k[2] for k in knots])

    def deep(t: float) -> bool:
        return z.depth(float(np.interp(t, kt, kx)), float(np.interp(t, kt, ky))) >= DEPTH_M

    ts = np.linspace(a, b, max(3, int((b - a) * 4)))
    lo, hi = a, b
    for u, w in zip(ts, ts[1:], strict=False):
        if deep(u) != deep(w) and deep(w) == entering:
            lo, hi = float(u), float(w)
            break
    for _ in range(40):
        mid = (lo + hi) / 2
        if deep(mid) == entering:
            hi = mid
        else:
            lo = mid
    return hi if entering else lo
