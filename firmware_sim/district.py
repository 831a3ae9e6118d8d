"""The simulator's own view of the district: dog zones, a metric projection, walking hours.

Written independently of the service on purpose, so the simulator's ground truth is an
oracle for the service's zone and schedule logic rather than a copy of it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

FORBIDDEN_ZONE = "dog_forbidden_zone"
OUTSIDE_WALKING_HOURS = "dog_outside_walking_hours"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_DWELL_S = 60.0
DEFAULT_GRACE_S = 60.0
_EARTH_M_PER_DEG = 6371008.8 * math.pi / 180.0
_WINDOW_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class DistrictError(ValueError):
    """A zone file the simulator cannot use; the message names the file and the field."""


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection around the district centre: metres east (x) and north (y)."""

    lon0: float
    lat0: float

    @property
    def m_per_deg_lon(self) -> float:
        return _EARTH_M_PER_DEG * math.cos(math.radians(self.lat0))

    def to_xy(self, lon, lat):
        return (
            (np.asarray(lon, dtype=float) - self.lon0) * self.m_per_deg_lon,
            (np.asarray(lat, dtype=float) - self.lat0) * _EARTH_M_PER_DEG,
        )

    def to_lonlat(self, x, y):
        return (
            self.lon0 + np.asarray(x, dtype=float) / self.m_per_deg_lon,
            self.lat0 + np.asarray(y, dtype=float) / _EARTH_M_PER_DEG,
        )

    def geometry_to_xy(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.to_xy(c[:, 0], c[:, 1])))


@dataclass(frozen=True)
class WalkingWindow:
    """Local time-of-day window, start inclusive, end exclusive, in minutes after midnight."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> WalkingWindow:
        m = _WINDOW_RE.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise ValueError(f"walking window {text!r} is not 'HH:MM-HH:MM'")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"walking window {text!r} has an impossible time")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise ValueError(f"walking window {text!r} is empty (start equals end)")
        return cls(start, end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_min < self.start_min

    def contains(self, seconds_of_day: float) -> bool:
        s, e = self.start_min * 60, self.end_min * 60
        if self.crosses_midnight:
            return seconds_of_day >= s or seconds_of_day < e
        return s <= seconds_of_day < e


@dataclass(frozen=True)
class WalkingSchedule:
    """When dogs are allowed in a zone. No windows: never allowed on the scheduled days."""

    windows: tuple[WalkingWindow, ...] = ()
    days: frozenset[str] = frozenset()  # empty: the schedule applies every day
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    @classmethod
    def parse(
        cls, hours: Sequence[str] | None, days: Sequence[str] | None, tz: str | ZoneInfo
    ) -> WalkingSchedule:
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        bad = [d for d in (days or []) if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"days {bad} are not among {list(WEEKDAYS)}")
        windows = tuple(WalkingWindow.parse(w) for w in (hours or []))
        return cls(windows, frozenset(days or ()), zone)

    def allows(self, ts: float) -> bool:
        """True when dogs are allowed at the instant ts (epoch seconds)."""
        local = datetime.fromtimestamp(ts, self.tz)
        if self.days and WEEKDAYS[local.weekday()] not in self.days:
            return True
        sod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return any(w.contains(sod) for w in self.windows)

    def change_points(self, a: float, b: float) -> list[float]:
        """Instants in (a, b] where the allowed/forbidden state may change (a superset)."""
        minutes = {0}
        for w in self.windows:
            minutes.add(w.start_min % 1440)
            minutes.add(w.end_min % 1440)
        out = []
        day: date = datetime.fromtimestamp(a, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(b, self.tz).date() + timedelta(days=1)
        while day <= last:
            for mins in sorted(minutes):
                t = datetime.combine(day, time(mins // 60, mins % 60), self.tz).timestamp()
                if a < t <= b:
                    out.append(t)
            day += timedelta(days=1)
        return sorted(out)

    def allowed_throughout(self, a: float, b: float) -> bool:
        return all(self.allows(t) for t in [a, *self.change_points(a, b)])

    def forbidden_throughout(self, a: float, b: float) -> bool:
        return not any(self.allows(t) for t in [a, *self.change_points(a, b)])

    def forbidden_intervals(self, a: float, b: float) -> list[tuple[float, float]]:
        """Maximal [start, end) spans within [a, b) when dogs are forbidden."""
        out: list[tuple[float, float]] = []
        edges = [a, *self.change_points(a, b)]
        for lo, hi in zip(edges, [*edges[1:], b], strict=True):
            if lo < hi and not self.allows(lo):
                if out and out[-1][1] == lo:
                    out[-1] = (out[-1][0], hi)
                else:
                    out.append((lo, hi))
        return out

    def next_close(self, after: float, before: float) -> float | None:
        """First instant in (after, before] where allowed turns into forbidden."""
        prev = self.allows(after)
        for t in self.change_points(after, before):
            now = self.allows(t)
            if prev and not now:
                return t
            prev = now
        return None

    def next_open(self, after: float, before: float) -> float | None:
        prev = self.allows(after)
        for t in self.change_points(after, before):
            now = self.allows(t)
            if now and not prev:
                return t
            prev = now
        return None


@dataclass(frozen=True)
class DogZone:
    """A `rule: dogs` zone, with its geometry in lon/lat and in district metres."""

    id: str
    name: str
    grid: str
    schedule: WalkingSchedule
    geometry: BaseGeometry  # lon, lat
    metric: BaseGeometry  # x, y metres
    dwell_s: float = DEFAULT_DWELL_S
    grace_s: float = DEFAULT_GRACE_S
    source: str = ""

    @property
    def kind(self) -> str:
        return OUTSIDE_WALKING_HOURS if self.schedule.windows else FORBIDDEN_ZONE

    def forbids(self, ts: float) -> bool:
        return not self.schedule.allows(ts)

    def depth(self, x: float, y: float) -> float:
        """Signed distance in metres: positive inside the zone, negative outside."""
        p = shapely.Point(x, y)
        if self.metric.contains(p):
            return float(self.metric.boundary.distance(p))
        return -float(self.metric.distance(p))


class District:
    """All dog zones of a geofence directory, projected onto one local metric plane."""

    def __init__(self, zones: list[DogZone], projection: Projection, tz: ZoneInfo):
        self.zones = zones
        self.projection = projection
        self.tz = tz
        self.by_id = {z.id: z for z in zones}
        minx, miny, maxx, maxy = shapely.union_all([z.metric for z in zones]).bounds
        self.bounds = (minx - 150.0, miny - 150.0, maxx + 150.0, maxy + 150.0)
        # A zone lying inside another (a park's children's area) is "nested".
        self.parent: dict[str, str] = {}
        for z in zones:
            for o in zones:
                if o is not z and o.metric.contains(z.metric):
                    self.parent[z.id] = o.id

    @classmethod
    def load(cls, directory: str | Path, tz: str = "Asia/Shanghai") -> District:
        zone_tz = ZoneInfo(tz)
        directory = Path(directory)
        files = sorted(directory.glob("*.geojson"))
        if not files:
            raise DistrictError(f"no *.geojson files in {directory} (check --geofences)")
        raw: list[tuple[str, dict, BaseGeometry]] = []
        for path in files:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DistrictError(f"{path}: not readable GeoJSON ({exc})") from exc
            for i, feat in enumerate(doc.get("features") or []):
                props = feat.get("properties") or {}
                if props.get("rule") != "dogs":
                    continue
                where = f"{path} feature {i} ({props.get('id', '?')})"
                try:
                    geom = shape(feat["geometry"])
                except Exception as exc:
                    raise DistrictError(f"{where}: bad geometry ({exc})") from exc
                if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
                    raise DistrictError(f"{where}: geometry must be a valid (Multi)Polygon")
                raw.append((where, props, geom))
        if not raw:
            raise DistrictError(f"no `rule: dogs` zones in {directory}")
        minx, miny, maxx, maxy = shapely.union_all([g for _, _, g in raw]).bounds
        proj = Projection(lon0=(minx + maxx) / 2, lat0=(miny + maxy) / 2)
        zones, seen = [], set()
        for where, props, geom in raw:
            zid = props.get("id")
            if not isinstance(zid, str) or not zid or zid in seen:
                raise DistrictError(f"{where}: `id` missing or duplicated")
            seen.add(zid)
            try:
                sched = WalkingSchedule.parse(
                    props.get("walking_hours"), props.get("days"), zone_tz
                )
            except ValueError as exc:
                raise DistrictError(f"{where}: {exc}") from exc
            zones.append(
                DogZone(
                    id=zid,
                    name=str(props.get("name", zid)),
                    grid=str(props.get("grid", "")),
                    schedule=sched,
                    geometry=geom,
                    metric=proj.geometry_to_xy(geom),
                    dwell_s=float(props.get("dwell_s", DEFAULT_DWELL_S)),
                    grace_s=float(props.get("grace_s", DEFAULT_GRACE_S)),
                    source=where,
                )
            )
        return cls(zones, proj, zone_tz)

    def forbidding(self, a: float, b: float | None = None) -> list[DogZone]:
        """Zones that forbid dogs at some instant of [a, b] (b defaults to a)."""
        b = a if b is None else b
        return [z for z in self.zones if not z.schedule.allowed_throughout(a, b)]

    def distance_to(self, zones: Iterable[DogZone], x: float, y: float) -> float:
        p = shapely.Point(x, y)
        return min((float(z.metric.distance(p)) for z in zones), default=math.inf)
