"""Simulated vehicle-mounted patrol units (SPEC 5.1): each drives a loop past the sidewalk
zones of `geofences/*.geojson` with the zone on its camera's side, and publishes JPEG frames
with its GPS fix at capture (MQTT 5 user properties and EXIF, SPEC 3.3). Several units share
one world of parked cars, so that the passes of different units combine.

The ground truth applies the SPEC 5.1 rule to the captures in which a unit saw each staged
car's plate, placed as the service must place it (the unit's reported fix moved
side_offset_m to its side). Every staged decision keeps MARGIN_S from its time edges, every
such place EDGE_M inside its zone, and holds under each reading of the rule, so a correct
service alerts exactly the staged violations. Deterministic: the same arguments give the
same truth and byte-identical JPEGs.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import shapely
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry

from .cameras import JPEG_QUALITY
from .district import Projection
from .patrol_render import (
    CAR_L,
    CAR_W,
    Car,
    Leg,
    Optics,
    PatrolRenderer,
    PlateViews,
    gps_exif,
    with_exif,
)
from .plates import Plate, random_plate, random_style
from .scene_events import SpotHours
from .scene_layout import GRADE_DWELL_S

MAX_GAP_S = 3600.0  # SPEC 5.1 defaults of the service
SAME_PLACE_M = 20.0
MARGIN_S = 30.0
PAD_S = 20.0  # cars arrive and leave at least this long before/after any pass
EDGE_M = 1.0
RUN_IN_M, RUN_OUT_M = 22.0, 6.0  # the camera looks ahead: start scanning before the zone
MIN_CAR_GAP_M = 11.0  # centre to centre: no staged car hides another's plate
MIN_PASS_FRAMES = 3
GPS_TAU_S = 20.0  # GPS error is correlated over this time
HEADING_SIGMA_DEG = 1.0
STREET_KERB_S, STREET_FACADE_S = 5.0, 9.5
BLOCK_S = 2700.0  # a scenario's stages repeat every 45 min of a longer run
ATTEMPTS = 80
CASES = ("violation", "short", "loading_lawful", "loading_overstay", "loading_off_hours", "max_gap")
VIOLATING = {"violation", "loading_overstay", "loading_off_hours"}
PLATE_ISSUES = (None, "dirty", "occluded")
_SUFFIX = re.compile(r"-([nsew])$")
_COMPASS = {"n": (0.0, 1.0), "s": (0.0, -1.0), "e": (1.0, 0.0), "w": (-1.0, 0.0)}


class PatrolConfigError(ValueError):
    """A unit or zone file the simulator cannot use; names the file and the field."""


@dataclass(frozen=True)
class Stage:
    """One staged parked car: its case, and optionally its plate problem, zone, and the
    earliest simulated second (after the start) of its first pass; `early` takes the very
    first pass of a zone, so that the violation confirms within one loop of the start."""

    case: str
    plate_issue: str | None = None
    zone_id: str | None = None
    after_s: float = 0.0
    early: bool = False

    def __post_init__(self) -> None:
        if self.case not in CASES:
            raise ValueError(f"stage case {self.case!r}: expected one of {', '.join(CASES)}")
        if self.plate_issue not in PLATE_ISSUES:
            raise ValueError(
                f"stage plate_issue {self.plate_issue!r}: expected dirty, occluded or None"
            )


SCENARIOS: dict[str, tuple[Stage, ...]] = {
    "mixed": (
        Stage("violation", early=True),
        Stage("short"),
        Stage("loading_lawful"),
        Stage("loading_off_hours"),
        Stage("violation", "dirty"),
        Stage("loading_overstay"),
        Stage("short", "occluded"),
        Stage("violation"),
        Stage("short"),
        Stage("violation", "occluded"),
    ),
    "violations": (
        Stage("violation", early=True),
        Stage("loading_off_hours"),
        Stage("loading_overstay"),
        Stage("violation"),
        Stage("violation", "dirty"),
    ),
    "lawful": (
        Stage("short"),
        Stage("loading_lawful"),
        Stage("short", "dirty"),
        Stage("short"),
        Stage("loading_lawful"),
    ),
    "max_gap": (Stage("max_gap"), Stage("violation", early=True)),
    "traffic": (),
}


# -- files --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitConfig:
    id: str
    name: str
    side: int  # +1 right, -1 left
    side_offset_m: float
    width: int
    height: int


def load_unit(path: str | Path) -> UnitConfig:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PatrolConfigError(f"{path}: not a readable unit JSON file: {exc}") from None
    if not isinstance(raw, dict) or raw.get("mobile") is not True:
        raise PatrolConfigError(
            f'{path}: not a mobile unit; a patrol unit file says "mobile": true (SPEC 5.1)'
        )
    try:
        side = str(raw.get("side", "right"))
        if side not in ("right", "left"):
            raise ValueError(f"side {side!r} is neither right nor left")
        offset = float(raw.get("side_offset_m", 4.0))
        if not 2.0 <= offset <= 8.0:
            raise ValueError(f"side_offset_m {offset} outside 2..8 m")
        return UnitConfig(
            str(raw["id"]),
            str(raw.get("name", raw["id"])),
            1 if side == "right" else -1,
            offset,
            int(raw["image"]["width"]),
            int(raw["image"]["height"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PatrolConfigError(f"{path}: missing or bad field ({exc}); see SPEC 5.1") from None


@dataclass(frozen=True)
class SidewalkZone:
    """A `rule: sidewalk` zone in metres, with its centre line: from (ax, ay) along (dx, dy)
    for `length`; (nx, ny) points from the centre line towards the road. Right-side units
    drive along +d, left-side units along -d."""

    id: str
    grade: str | None
    dwell_s: float
    grid: str | None
    poly: BaseGeometry
    ax: float
    ay: float
    dx: float
    dy: float
    nx: float
    ny: float
    length: float
    width: float

    def point(self, p: float) -> tuple[float, float]:
        return self.ax + self.dx * p, self.ay + self.dy * p


@dataclass(frozen=True)
class LoadingSpot:
    id: str
    zone_id: str
    poly: BaseGeometry
    hours: tuple[str, ...]
    max_stop_s: float


class PatrolDistrict:
    """The sidewalk zones and loading spots of a zone directory, in local metres."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        feats: list[tuple[Path, dict, BaseGeometry]] = []
        for path in sorted(directory.glob("*.geojson")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                for f in doc["features"]:
                    rule = f.get("properties", {}).get("rule")
                    if rule in ("sidewalk", "loading_spot"):
                        feats.append((path, f["properties"], shape(f["geometry"])))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise PatrolConfigError(f"{path}: not a usable GeoJSON zone file: {exc}") from None
        walks = [(p, props, g) for p, props, g in feats if props["rule"] == "sidewalk"]
        if not walks:
            raise PatrolConfigError(
                f"{directory}: no zone with rule: sidewalk in *.geojson; a "
                "patrol unit needs sidewalk zones (SPEC 5.1)"
            )
        c = shapely.union_all([g for _, _, g in walks]).centroid
        self.projection = Projection(float(c.x), float(c.y))
        self.zones: dict[str, SidewalkZone] = {}
        for path, props, geom in walks:
            z = self._zone(path, props, self.projection.geometry_to_xy(geom))
            self.zones[z.id] = z
        self.spots: list[LoadingSpot] = []
        for path, props, geom in feats:
            if props["rule"] == "loading_spot":
                self.spots.append(self._spot(path, props, self.projection.geometry_to_xy(geom)))

    def _zone(self, path: Path, props: dict, poly: BaseGeometry) -> SidewalkZone:
        zid = str(props.get("id", ""))
        where = f"{path}: zone {zid or '?'}"
        grade = props.get("grade")
        if props.get("dwell_s") is not None:
            dwell = float(props["dwell_s"])
        elif grade in GRADE_DWELL_S:
            dwell = GRADE_DWELL_S[grade]
        else:
            raise PatrolConfigError(f"{where}: needs grade (model, secondary, alley) or dwell_s")
        main = max(getattr(poly, "geoms", [poly]), key=lambda g: g.area)
        rect = np.asarray(main.minimum_rotated_rectangle.exterior.coords)[:4]
        e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
        long, short = (e1, e2) if np.hypot(*e1) >= np.hypot(*e2) else (e2, e1)
        length, width = float(np.hypot(*long)), float(np.hypot(*short))
        centre = rect.mean(0)
        perp = np.array([-long[1], long[0]]) / length
        # The road lies opposite the side the id names (sw-fushanlu-e: the east sidewalk,
        # road to the west); otherwise towards the middle of the district.
        m = _SUFFIX.search(zid)
        road = -np.array(_COMPASS[m.group(1)]) if m else -centre
        n = perp if perp @ road >= 0 else -perp
        d = np.array([n[1], -n[0]])  # a right-side unit's heading: the zone on its right
        a = centre - d * length / 2
        return SidewalkZone(
            zid,
            grade,
            dwell,
            props.get("grid"),
            poly,
            float(a[0]),
            float(a[1]),
            float(d[0]),
            float(d[1]),
            float(n[0]),
            float(n[1]),
            length,
            width,
        )

    def _spot(self, path: Path, props: dict, poly: BaseGeometry) -> LoadingSpot:
        sid = str(props.get("id", ""))
        where = f"{path}: loading spot {sid or '?'}"
        try:
            hours = tuple(str(h) for h in props.get("hours", []))
            max_stop = float(props["max_stop_min"]) * 60
        except (KeyError, TypeError, ValueError):
            raise PatrolConfigError(f"{where}: needs max_stop_min (minutes)") from None
        inside = [z.id for z in self.zones.values() if z.poly.contains(poly.centroid)]
        if not inside:
            raise PatrolConfigError(f"{where}: lies in no sidewalk zone (SPEC 5.1)")
        return LoadingSpot(sid, inside[0], poly, hours, max_stop)

    def tour(self) -> list[str]:
        """Zone ids in a nearest-neighbour tour from the northernmost zone."""
        left = dict(self.zones)
        here = max(left.values(), key=lambda z: z.ay + z.dy * z.length / 2)
        order = [here.id]
        del left[here.id]
        while left:
            hx, hy = here.point(here.length / 2)
            here = min(left.values(), key=lambda z: math.dist((hx, hy), z.point(z.length / 2)))
            order.append(here.id)
            del left[here.id]
        return order


# -- routes -------------------------------------------------------------------------------------
class Route:
    """A closed loop of legs driven over and over; `pose(tau)` at route time tau (s)."""

    def __init__(self, legs: list[Leg]) -> None:
        self.legs = legs
        times = np.array([leg.length / leg.speed for leg in legs])
        self.t0 = np.concatenate([[0.0], np.cumsum(times)[:-1]])
        self.period = float(times.sum())

    def pose(self, tau: np.ndarray) -> tuple[np.ndarray, ...]:
        """x, y, heading (deg), speed (m/s), leg index and metres along the leg."""
        t = np.mod(np.asarray(tau, float), self.period)
        i = np.clip(np.searchsorted(self.t0, t, side="right") - 1, 0, len(self.legs) - 1)
        arr = np.array([[g.x0, g.y0, g.hx, g.hy, g.speed, g.length] for g in self.legs])[i]
        f = np.minimum((t - self.t0[i]) * arr[:, 4], arr[:, 5])
        heading = np.degrees(np.arctan2(arr[:, 2], arr[:, 3])) % 360
        return arr[:, 0] + arr[:, 2] * f, arr[:, 1] + arr[:, 3] * f, heading, arr[:, 4], i, f


def build_route(
    district: PatrolDistrict, beat: Sequence[str], unit: UnitConfig, speed: float, scan_speed: float
) -> Route:
    """Along each zone of the beat with the zone on the camera's side, then by right-angled
    streets to the next zone, and back to the first."""
    runs = []
    for zid in beat:
        z = district.zones[zid]
        d = np.array([z.dx, z.dy]) * unit.side
        start = np.array(z.point(0.0 if unit.side > 0 else z.length))
        p0 = start + np.array([z.nx, z.ny]) * unit.side_offset_m - d * RUN_IN_M
        runs.append((z, p0, d, z.length + RUN_IN_M + RUN_OUT_M))
    legs: list[Leg] = []
    kerb = max(1.8, unit.side_offset_m - CAR_W / 2 - 0.7)
    facade = unit.side_offset_m + CAR_W / 2 + 3.6
    for k, (z, p0, d, length) in enumerate(runs):
        legs.append(
            Leg(
                0,
                float(p0[0]),
                float(p0[1]),
                float(d[0]),
                float(d[1]),
                length,
                scan_speed,
                "zone",
                z.id,
                kerb,
                facade,
                0,
            )
        )
        end = p0 + d * length
        nz, np0, nd, _ = runs[(k + 1) % len(runs)]
        for a, b in _pairs(_connect(end, d, np0, nd)):
            v = b - a
            dist = float(np.hypot(*v))
            legs.append(
                Leg(
                    0,
                    float(a[0]),
                    float(a[1]),
                    float(v[0] / dist),
                    float(v[1] / dist),
                    dist,
                    speed,
                    "street",
                    None,
                    STREET_KERB_S,
                    STREET_FACADE_S,
                    0,
                )
            )
    key = zlib.crc32(unit.id.encode())
    return Route([_with_key(g, key + i) for i, g in enumerate(legs)])


def _with_key(leg: Leg, key: int) -> Leg:
    return Leg(
        key,
        leg.x0,
        leg.y0,
        leg.hx,
        leg.hy,
        leg.length,
        leg.speed,
        leg.kind,
        leg.zone_id,
        leg.kerb_s,
        leg.facade_s,
        key * 2654435761 % (1 << 31),
    )


def _pairs(points: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for a, b in zip(points[:-1], points[1:]):
        if np.hypot(*(b - a)) >= 1.0:
            out.append((a, b))
    return out


def _turn(a: np.ndarray, b: np.ndarray) -> float:
    return abs(math.atan2(a[0] * b[1] - a[1] * b[0], a @ b))


def _connect(e: np.ndarray, he: np.ndarray, s: np.ndarray, hs: np.ndarray) -> list[np.ndarray]:
    """Way points from e (heading he) to s (heading hs): an L of north-south and east-west
    streets, the one with the least turning."""
    best, best_cost = [e, s], math.inf
    for corner in (np.array([e[0], s[1]]), np.array([s[0], e[1]])):
        pts = [p for p in (e, corner, s)]
        dirs = [he]
        for a, b in _pairs(pts):
            dirs.append((b - a) / np.hypot(*(b - a)))
        dirs.append(hs)
        cost = sum(_turn(a, b) for a, b in zip(dirs[:-1], dirs[1:]))
        if cost < best_cost - 1e-9:
            best, best_cost = pts, cost
    return best


# -- units --------------------------------------------------------------------------------------
class PatrolUnit:
    """One unit's frame schedule, true and reported fix per frame, and rendered frames."""

    def __init__(
        self,
        world: PatrolWorld,
        config: UnitConfig,
        route: Route,
        offset_s: float,
        breaks: Sequence[tuple[float, float]],
    ) -> None:
        self.world, self.config, self.route = world, config, route
        self.unit_id = config.id
        self.offset_s, self.breaks = float(offset_s), tuple((float(a), float(b)) for a, b in breaks)
        self.optics = Optics(config.width, config.height, config.side)
        w = world
        key = zlib.crc32(config.id.encode())
        rng = np.random.default_rng([w.seed, key, 41])
        n = int(math.floor(w.duration_s * w.fps))
        ts = w.t_start + (np.arange(n) + rng.uniform(0, 0.04 * w.fps, n)) / w.fps
        rel = ts - w.t_start
        paused = np.zeros(n)
        active = np.ones(n, bool)
        for at, dur in self.breaks:
            active &= ~((rel >= at) & (rel < at + dur))
            paused += np.clip(rel - at, 0, dur)
        self.ts = np.round(ts[active], 3)
        tau = (rel - paused + self.offset_s)[active]
        self.x, self.y, self.heading, self.speed, self.leg, self.f = route.pose(tau)
        m = len(self.ts)
        sigma = w.gps_sigma_m
        err = np.zeros((m, 2))
        shocks = rng.normal(0, sigma, (m, 2))
        e = rng.normal(0, sigma, 2)
        for i in range(m):  # AR(1): the error drifts, as a GPS fix does
            if i:
                rho = math.exp(-(self.ts[i] - self.ts[i - 1]) / GPS_TAU_S)
                e = rho * e + math.sqrt(1 - rho * rho) * shocks[i]
            err[i] = e
        err = np.clip(err, -2 * sigma, 2 * sigma)
        self.rep_x, self.rep_y = self.x + err[:, 0], self.y + err[:, 1]
        hn = np.clip(rng.normal(0, HEADING_SIGMA_DEG, m), -2.5, 2.5)
        self.rep_heading = np.mod(self.heading + hn, 360)
        self.rep_speed = np.maximum(self.speed * (1 + rng.normal(0, 0.02, m)), 0)
        self.lon, self.lat = w.district.projection.to_lonlat(self.rep_x, self.rep_y)
        # Where the service places what this frame sees (SPEC 5.1).
        t = np.radians(self.rep_heading)
        side = config.side * config.side_offset_m
        self.est_x = self.rep_x + side * np.cos(t)
        self.est_y = self.rep_y - side * np.sin(t)
        self._renderer: PatrolRenderer | None = None

    @property
    def topic(self) -> str:
        return f"cameras/{self.unit_id}/frame"

    def frame_count(self) -> int:
        return len(self.ts)

    def frame_times(self) -> list[float]:
        return [float(t) for t in self.ts]

    def index(self, ts: float) -> int:
        """The frame nearest to capture time `ts`."""
        i = int(np.searchsorted(self.ts, ts))
        if i >= len(self.ts) or (i > 0 and ts - self.ts[i - 1] < self.ts[i] - ts):
            i -= 1
        return max(i, 0)

    def fix(self, i: int) -> dict[str, float]:
        """The reported fix of frame i: lat, lon (deg), heading (deg from north), speed (m/s)."""
        return {
            "lat": round(float(self.lat[i]), 7),
            "lon": round(float(self.lon[i]), 7),
            "heading": round(float(self.rep_heading[i]), 1),
            "speed": round(float(self.rep_speed[i]), 2),
        }

    def render(self, i: int) -> np.ndarray:
        """The BGR frame i (before JPEG)."""
        if self._renderer is None:
            w = self.world
            cars = [s.car for s in w.staged()]
            spots = [np.asarray(s.poly.exterior.coords) for s in w.district.spots]
            self._renderer = PatrolRenderer(
                self.optics, self.route.legs, cars, spots, w.seed, w.tz, w.plates
            )
        leg = self.route.legs[int(self.leg[i])]
        return self._renderer.render(
            float(self.ts[i]),
            float(self.x[i]),
            float(self.y[i]),
            float(self.heading[i]),
            leg,
            float(self.f[i]),
        )

    def jpeg(self, i: int) -> bytes:
        """Frame i as JPEG with its fix in the EXIF GPS IFD."""
        ok, buf = cv2.imencode(
            ".jpg", self.render(i), [cv2.IMWRITE_JPEG_QUALITY, self.world.jpeg_quality]
        )
        if not ok:
            raise RuntimeError("cv2.imencode failed to encode a frame")
        fix = self.fix(i)
        exif = gps_exif(fix["lat"], fix["lon"], fix["heading"], fix["speed"], float(self.ts[i]))
        return with_exif(buf.tobytes(), exif)

    def frames(self) -> Iterator[tuple[float, bytes, dict[str, float]]]:
        """(capture ts, JPEG, fix) in capture order, rendered one at a time."""
        for i in range(len(self.ts)):
            yield float(self.ts[i]), self.jpeg(i), self.fix(i)

    def messages(self) -> Iterator[tuple[float, str, bytes, dict[str, str]]]:
        """(ts, topic, JPEG, MQTT 5 user properties ts, lat, lon, heading, speed)."""
        for ts, jpeg, fix in self.frames():
            props = {
                "ts": str(int(round(ts * 1000))),
                "lat": f"{fix['lat']:.7f}",
                "lon": f"{fix['lon']:.7f}",
                "heading": f"{fix['heading']:.1f}",
                "speed": f"{fix['speed']:.2f}",
            }
            yield ts, self.topic, jpeg, props


# -- the staged world ---------------------------------------------------------------------------
class Capture(NamedTuple):
    ts: float
    unit_id: str
    est_x: float  # where the service places the car from this frame
    est_y: float
    char_px: float


@dataclass
class StagedCar:
    car: Car
    case: str
    zone: SidewalkZone
    spot: LoadingSpot | None
    plate_issue: str | None
    captures: list[Capture]
    confirm: Capture | None

    def truth(self, projection: Projection) -> dict:
        lon, lat = projection.to_lonlat(self.car.x, self.car.y)
        est = np.array([[c.est_x, c.est_y] for c in self.captures]).mean(0)
        elon, elat = projection.to_lonlat(est[0], est[1])
        p = self.car.plate
        c = self.confirm
        return {
            "vehicle": self.car.vehicle,
            "case": self.case,
            "plate": p.text,
            "plate_style": p.style,
            "plate_readable": self.plate_issue is None,
            "plate_issue": self.plate_issue,
            "plate_dirt": round(p.dirt, 2),
            "zone_id": self.zone.id,
            "dwell_s": self.zone.dwell_s,
            "spot_id": self.spot.id if self.spot else None,
            "lat": round(float(lat), 7),
            "lon": round(float(lon), 7),
            "est_lat": round(float(elat), 7),
            "est_lon": round(float(elon), 7),
            "heading": round(math.degrees(math.atan2(self.car.ox, self.car.oy)) % 360, 1),
            "arrive": round(self.car.arrive, 3),
            "leave": round(self.car.leave, 3),
            "passes": [
                {"ts": x.ts, "unit_id": x.unit_id, "char_px": round(x.char_px, 1)}
                for x in self.captures
            ],
            "violation": c is not None,
            "confirm_at": c.ts if c else None,
            "unit_id": c.unit_id if c else None,
        }


class PatrolWorld:
    """Sidewalk zones, the units patrolling them and the cars staged on them over
    [start, start + duration_s]. Add every unit (`unit()`) before asking for frames or truth:
    the cars are staged where and when the units pass."""

    def __init__(
        self,
        zones_dir: str | Path,
        seed: int,
        start: datetime,
        duration_s: float,
        *,
        fps: float = 2.0,
        speed_mps: float = 5.5,
        scan_speed_mps: float = 4.0,
        gps_sigma_m: float = 1.5,
        scenario: str = "mixed",
        stage: Sequence[Stage] | None = None,
        tz: str = "Asia/Shanghai",
        jpeg_quality: int = JPEG_QUALITY,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not 0 < fps <= 10:
            raise ValueError(f"fps {fps}: must be within (0, 10]")
        if duration_s <= 0:
            raise ValueError(f"duration {duration_s}: must be positive")
        if not 1.0 <= scan_speed_mps <= speed_mps <= 20:
            raise ValueError(
                f"speeds {scan_speed_mps}/{speed_mps} m/s: need 1 <= scanning <= driving <= 20"
            )
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
        self.district = PatrolDistrict(zones_dir)
        self.seed, self.fps = int(seed), float(fps)
        self.t_start = start.timestamp()
        self.duration_s = float(duration_s)
        self.t_end = self.t_start + self.duration_s
        self.speed_mps, self.scan_speed_mps = float(speed_mps), float(scan_speed_mps)
        self.gps_sigma_m = float(gps_sigma_m)
        self.tz = ZoneInfo(tz)
        self.jpeg_quality = int(jpeg_quality)
        self.scenario = scenario
        self.stages = list(stage) if stage is not None else self._scenario_stages(scenario)
        self.units: list[PatrolUnit] = []
        self.plates: set[str] = set()
        self.unstaged: list[Stage] = []
        self._staged: list[StagedCar] | None = None
        t0, t1 = self.t_start - 86400, self.t_end + 86400
        self.hours = {
            s.id: SpotHours(s.hours, tz, t0, t1, f"loading spot {s.id}")
            for s in self.district.spots
        }

    def _scenario_stages(self, name: str) -> list[Stage]:
        blocks = max(1, math.ceil(self.duration_s / BLOCK_S))
        out = []
        for b in range(blocks):
            for s in SCENARIOS[name]:
                out.append(
                    Stage(
                        s.case,
                        s.plate_issue,
                        s.zone_id,
                        s.after_s + b * BLOCK_S,
                        s.early and b == 0,
                    )
                )
        return out

    def unit(
        self,
        unit_json: str | Path,
        *,
        offset_s: float | None = None,
        beat: Sequence[str] | None = None,
        breaks: Sequence[tuple[float, float]] = (),
    ) -> PatrolUnit:
        """Add a unit. `beat`: the zone ids it patrols, in order (default: two neighbouring
        zones of the district's tour, shifting by one per unit, so that units share a zone);
        `offset_s`: how far into its loop it is at the start (default: 0 for the first unit,
        and for the others a third of a loop behind the unit before it at a shared zone);
        `breaks`: (at_s, for_s) spans after the start during which it is off duty (parked,
        camera off)."""
        if self._staged is not None:
            raise RuntimeError("add every unit before asking for frames or truth")
        config = load_unit(unit_json)
        if any(u.unit_id == config.id for u in self.units):
            raise PatrolConfigError(f"{unit_json}: unit id {config.id!r} added twice")
        zones = self.district.zones
        if beat is None:
            tour = self.district.tour()
            k = len(self.units)
            beat = [tour[k % len(tour)], tour[(k + 1) % len(tour)]][: len(tour)]
        for zid in beat:
            if zid not in zones:
                raise PatrolConfigError(
                    f"beat zone {zid!r}: no sidewalk zone of that id "
                    f"(known: {', '.join(sorted(zones))})"
                )
        route = build_route(self.district, list(beat), config, self.speed_mps, self.scan_speed_mps)
        if offset_s is None:
            offset_s = self._interleave(route)
        u = PatrolUnit(self, config, route, offset_s, breaks)
        self.units.append(u)
        return u

    def _interleave(self, route: Route) -> float:
        """The loop offset that brings a new unit past a zone it shares with the last unit
        added before it a third of a loop after that unit: their passes then spread out, and
        the gaps between them (~3.5 and ~7 min) stay clear of the usual dwells."""
        for other in reversed(self.units):
            for k, leg in enumerate(route.legs):
                mine = [i for i, g in enumerate(other.route.legs) if g.zone_id == leg.zone_id]
                if leg.zone_id is None or not mine:
                    continue
                theirs = (other.route.t0[mine[0]] - other.offset_s) % other.route.period
                want = theirs + other.route.period / 3
                return float((route.t0[k] - want) % route.period)
        return 0.0

    def staged(self) -> list[StagedCar]:
        if self._staged is None:
            if not self.units:
                raise RuntimeError("add a unit first: cars are staged where units pass")
            self._staged = _Stager(self).stage(self.stages)
        return self._staged

    def truth(self) -> list[dict]:
        """One row per staged parked car (see StagedCar.truth), by arrival."""
        rows = [s.truth(self.district.projection) for s in self.staged()]
        return sorted(rows, key=lambda r: (r["arrive"], r["vehicle"]))

    def write_truth(self, path: str | Path) -> None:
        lines = [json.dumps(r, ensure_ascii=False) for r in self.truth()]
        Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def messages(self) -> Iterator[tuple[float, str, bytes, dict[str, str]]]:
        """Every unit's frames merged in capture order."""
        self.staged()
        return heapq.merge(*(u.messages() for u in self.units), key=lambda m: m[0])

    def frame_count(self) -> int:
        return sum(u.frame_count() for u in self.units)


class PatrolScene:
    """One unit on its own world: frames(), truth(), write_truth(), messages()."""

    def __init__(
        self,
        unit_json: str | Path,
        zones_dir: str | Path,
        seed: int,
        start: datetime,
        duration_s: float,
        *,
        fps: float = 2.0,
        speed_mps: float = 5.5,
        scan_speed_mps: float = 4.0,
        gps_sigma_m: float = 1.5,
        scenario: str = "mixed",
        stage: Sequence[Stage] | None = None,
        tz: str = "Asia/Shanghai",
        beat: Sequence[str] | None = None,
        offset_s: float = 0.0,
        breaks: Sequence[tuple[float, float]] = (),
    ) -> None:
        self.world = PatrolWorld(
            zones_dir,
            seed,
            start,
            duration_s,
            fps=fps,
            speed_mps=speed_mps,
            scan_speed_mps=scan_speed_mps,
            gps_sigma_m=gps_sigma_m,
            scenario=scenario,
            stage=stage,
            tz=tz,
        )
        self.unit = self.world.unit(unit_json, offset_s=offset_s, beat=beat, breaks=breaks)
        self.unit_id = self.unit.unit_id

    def frames(self) -> Iterator[tuple[float, bytes, dict[str, float]]]:
        self.world.staged()
        return self.unit.frames()

    def messages(self) -> Iterator[tuple[float, str, bytes, dict[str, str]]]:
        return self.world.messages()

    def truth(self) -> list[dict]:
        return self.world.truth()

    def write_truth(self, path: str | Path) -> None:
        self.world.write_truth(path)

    def frame_count(self) -> int:
        return self.unit.frame_count()


# -- staging ------------------------------------------------------------------------------------
class _Pass(NamedTuple):
    t0: float
    t1: float
    n: int


@dataclass
class _Sightings:
    """Every frame of every unit that would see a car standing at one place."""

    ts: np.ndarray
    unit: np.ndarray  # index into world.units
    est_x: np.ndarray
    est_y: np.ndarray
    char_px: np.ndarray
    seen: np.ndarray  # bool: the truth lists it
    passes: list[_Pass] = field(default_factory=list)  # of seen frames, by start
    glimpses: list[_Pass] = field(default_factory=list)  # of seen-or-glimpsed frames


class _Stager:
    def __init__(self, world: PatrolWorld) -> None:
        self.w = world
        self.d = world.district
        self.cars: list[StagedCar] = []
        self._first: dict[str, float] = {}
        beats = {leg.zone_id for u in world.units for leg in u.route.legs if leg.zone_id}
        self.zones = [z for z in self.d.zones.values() if z.id in beats]
        self.spots_by_zone = {
            z.id: [s for s in self.d.spots if s.zone_id == z.id] for z in self.zones
        }
        self.all_spots = shapely.union_all([s.poly for s in self.d.spots]) if self.d.spots else None

    def stage(self, stages: Sequence[Stage]) -> list[StagedCar]:
        for k, st in enumerate(stages):
            rng = np.random.default_rng([self.w.seed, 503, k])
            for attempt in range(ATTEMPTS):
                car = self._attempt(st, rng, k, attempt)
                if car is not None:
                    self.cars.append(car)
                    self.w.plates.add(car.car.plate.text)
                    break
            else:
                self.w.unstaged.append(st)
        return self.cars

    # -- one attempt ----------------------------------------------------------------------------
    def _attempt(
        self, st: Stage, rng: np.random.Generator, k: int, attempt: int
    ) -> StagedCar | None:
        spot_case = st.case.startswith("loading")
        zones = [
            z
            for z in self.zones
            if (st.zone_id is None or z.id == st.zone_id)
            and (not spot_case or self.spots_by_zone[z.id])
        ]
        if not zones:
            return None
        if st.early:
            zones = sorted(zones, key=self._first_pass)[:1]
        zone = zones[int(rng.integers(len(zones)))]
        spot = None
        if spot_case:
            spots = self.spots_by_zone[zone.id]
            spot = spots[int(rng.integers(len(spots)))]
            lo, hi = self._axis_range(zone, spot.poly)
            if hi - lo < CAR_L + 1:
                return None
            p = float(rng.uniform(lo + CAR_L / 2 + 0.3, hi - CAR_L / 2 - 0.3))
        else:
            p = float(rng.uniform(CAR_L, zone.length - CAR_L / 2))
        sign = 1.0 if rng.random() < 0.7 else -1.0  # mostly parked the way the traffic goes
        x, y = zone.point(p)
        plate = self._plate(k, attempt)
        issue = st.plate_issue
        if issue == "dirty":
            plate = Plate(plate.text, plate.style, float(rng.uniform(0.55, 0.85)), plate.seed)
        car = Car(
            1 + len(self.cars),
            x,
            y,
            zone.dx * sign,
            zone.dy * sign,
            plate,
            int(rng.integers(1 << 30)),
            covered=issue == "occluded",
        )
        if not self._fits(car, zone, spot):
            return None
        s = self._sightings(car)
        if st.early and (not s.passes or s.passes[0].t0 > self._first_pass(zone) + 90):
            return None  # the unit started past this place: its first pass is a loop later
        window = self._plan(st, zone, spot, s, rng)
        if window is None:
            return None
        arrive, leave = window
        if any(
            o.zone.id == zone.id
            and o.car.arrive < leave + PAD_S
            and arrive < o.car.leave + PAD_S
            and math.dist((o.car.x, o.car.y), (x, y)) < MIN_CAR_GAP_M
            for o in self.cars
        ):
            return None
        present = (s.ts >= arrive) & (s.ts <= leave)
        strict, loose = present & s.seen, present
        if not strict.any() or not self._places_hold(zone, spot, s, strict, loose):
            return None
        for ps in self._group(s, strict):
            if ps.n < MIN_PASS_FRAMES:
                return None
        verdict = self._judge(zone, spot, s, strict, loose)
        if verdict is None:
            return None
        violation, confirm_i = verdict
        if violation != (st.case in VIOLATING):
            return None
        idx = np.flatnonzero(strict)
        units = self.w.units
        caps = [
            Capture(
                float(s.ts[i]),
                units[int(s.unit[i])].unit_id,
                float(s.est_x[i]),
                float(s.est_y[i]),
                float(s.char_px[i]),
            )
            for i in idx
        ]
        placed = Car(
            car.vehicle,
            car.x,
            car.y,
            car.ox,
            car.oy,
            car.plate,
            car.look,
            car.covered,
            arrive,
            leave,
        )
        confirm = caps[confirm_i] if confirm_i is not None else None
        return StagedCar(placed, st.case, zone, spot, issue, caps, confirm)

    def _plate(self, k: int, attempt: int) -> Plate:
        prng = np.random.default_rng([self.w.seed, 509, k, attempt])
        while True:
            style = random_style(prng)
            text = random_plate(prng, style)
            if text not in self.w.plates:
                return Plate(text, style, float(prng.uniform(0, 0.15)), int(prng.integers(1 << 30)))

    @staticmethod
    def _axis_range(zone: SidewalkZone, poly: BaseGeometry) -> tuple[float, float]:
        xy = np.asarray(poly.exterior.coords) - [zone.ax, zone.ay]
        p = xy @ [zone.dx, zone.dy]
        return float(p.min()), float(p.max())

    def _first_pass(self, zone: SidewalkZone) -> float:
        """When a unit first passes some place along the zone (it may start in mid-zone)."""
        if zone.id in self._first:
            return self._first[zone.id]
        out = math.inf
        for share in (0.3, 0.5, 0.7, 0.9):
            x, y = zone.point(zone.length * share)
            car = Car(0, x, y, zone.dx, zone.dy, Plate("浙H00000", "blue"), 0)
            s = self._sightings(car)
            out = min(out, s.passes[0].t0 if s.passes else math.inf)
        self._first[zone.id] = out
        return out

    def _fits(self, car: Car, zone: SidewalkZone, spot: LoadingSpot | None) -> bool:
        o, r = np.array([car.ox, car.oy]), np.array([car.oy, -car.ox])
        c = np.array([car.x, car.y])
        foot = Polygon(
            [
                c + o * a * CAR_L / 2 + r * b * CAR_W / 2
                for a, b in ((1, 1), (-1, 1), (-1, -1), (1, -1))
            ]
        )
        if not zone.poly.buffer(0.3).contains(foot):
            return False
        if spot is not None:
            return bool(spot.poly.buffer(0.2).contains(foot))
        return self.all_spots is None or foot.distance(self.all_spots) > EDGE_M

    def _sightings(self, car: Car) -> _Sightings:
        parts = []
        for k, u in enumerate(self.w.units):
            near = np.flatnonzero(np.hypot(u.x - car.x, u.y - car.y) < 30.0)
            if len(near) == 0:
                continue
            v = PlateViews(u.optics, car, u.x[near], u.y[near], u.heading[near])
            keep = v.seen | v.glimpsed
            i = near[keep]
            parts.append(
                (u.ts[i], np.full(len(i), k), u.est_x[i], u.est_y[i], v.char_px[keep], v.seen[keep])
            )
        if not parts:
            e = np.zeros(0)
            return _Sightings(e, e.astype(int), e, e, e, e.astype(bool))
        ts, unit, ex, ey, char, seen = (np.concatenate(c) for c in zip(*parts))
        o = np.argsort(ts, kind="stable")
        s = _Sightings(ts[o], unit[o], ex[o], ey[o], char[o], seen[o])
        s.passes = self._group(s, s.seen)
        s.glimpses = self._group(s, np.ones(len(s.ts), bool))
        return s

    @staticmethod
    def _group(s: _Sightings, mask: np.ndarray) -> list[_Pass]:
        out: list[_Pass] = []
        last_unit, t0, t1, n = -1, 0.0, -math.inf, 0
        for t, u in zip(s.ts[mask], s.unit[mask]):
            if u != last_unit or t - t1 > 3.0:
                if n:
                    out.append(_Pass(t0, t1, n))
                last_unit, t0, n = int(u), float(t), 0
            t1, n = float(t), n + 1
        if n:
            out.append(_Pass(t0, t1, n))
        return sorted(out)

    # -- when it stands ---------------------------------------------------------------------------
    def _plan(
        self,
        st: Stage,
        zone: SidewalkZone,
        spot: LoadingSpot | None,
        s: _Sightings,
        rng: np.random.Generator,
    ) -> tuple[float, float] | None:
        ps = s.passes
        earliest = self.w.t_start + st.after_s
        first = [i for i, p in enumerate(ps) if p.t0 >= earliest]
        if not first:
            return None
        m2, dwell = 2 * MARGIN_S, zone.dwell_s

        def in_hours(a: float, b: float) -> bool | None:
            """Whole [a, b] (with margins) in one window, wholly out, or None: straddles."""
            assert spot is not None
            hrs = self.w.hours[spot.id]
            w0 = hrs.window_at(a - m2)
            if w0 is not None and w0[1] > b + m2:
                return True
            if w0 is None and not any(lo < b + m2 and hi > a - m2 for lo, hi in hrs.spans):
                return False
            return None

        starts = [first[0]] if st.early else [int(i) for i in rng.permutation(first[:12])[:3]]
        for i in starts:
            later = range(i + 1, len(ps))
            ends: list[int]
            if st.case == "violation":
                ends = [k for k in later if ps[k].t0 - ps[i].t1 >= dwell + m2][:3]
            elif st.case == "short":
                ends = [k for k in [i, *later] if ps[k].t1 - ps[i].t0 <= dwell - m2]
                ends = [int(k) for k in rng.permutation(ends)]
            elif st.case == "max_gap":
                gap = i + 1 < len(ps) and ps[i + 1].t0 - ps[i].t1 >= MAX_GAP_S + m2
                ends = [i + 1] if gap else []
            else:
                assert spot is not None
                if st.case == "loading_lawful":
                    ends = [
                        k
                        for k in reversed(later)
                        if ps[k].t1 - ps[i].t0 <= spot.max_stop_s - m2
                        and ps[k].t0 - ps[i].t1 >= dwell + m2
                    ]
                    want = True
                elif st.case == "loading_overstay":
                    ends = [k for k in later if ps[k].t0 - ps[i].t1 >= spot.max_stop_s + m2][:3]
                    want = True
                else:
                    ends = [k for k in later if ps[k].t0 - ps[i].t1 >= dwell + m2][:3]
                    want = False
                ends = [k for k in ends if in_hours(ps[i].t0, ps[k].t1) is want]
            # Units passing close behind each other leave no time to drive off in between:
            # then the car stays for the next pass, when the case allows it.
            for j in ends:
                window = self._window(s, ps[i].t0, ps[j].t1, rng)
                if window is not None:
                    return window
        return None

    def _window(
        self, s: _Sightings, t_first: float, t_last: float, rng: np.random.Generator
    ) -> tuple[float, float] | None:
        """Arrive after the glimpse before t_first, leave before the one after t_last."""
        before = [g.t1 for g in s.glimpses if g.t1 < t_first - 1]
        after = [g.t0 for g in s.glimpses if g.t0 > t_last + 1]
        lo = before[-1] + PAD_S if before else t_first - 900
        hi = t_first - PAD_S
        lo2 = t_last + PAD_S
        hi2 = after[0] - PAD_S if after else t_last + 900
        if hi - lo < 1 or hi2 - lo2 < 1:
            return None
        # Arrive not long before the first pass and leave soon after the last: the real stop
        # then tells the same story as the captures.
        arrive = float(rng.uniform(max(lo, hi - 240), hi))
        leave = float(rng.uniform(lo2, min(hi2, lo2 + 240)))
        return round(arrive, 3), round(leave, 3)

    # -- does the truth hold? ----------------------------------------------------------------------
    def _places_hold(
        self,
        zone: SidewalkZone,
        spot: LoadingSpot | None,
        s: _Sightings,
        strict: np.ndarray,
        loose: np.ndarray,
    ) -> bool:
        """Every place the service derives from a capture lies EDGE_M inside the car's zone
        (and spot, or EDGE_M clear of every spot), within SAME_PLACE_M of the others; a
        glimpse may fall outside the zone, but not inside it on the wrong side of a spot."""
        pts = shapely.points(s.est_x[strict], s.est_y[strict])
        if not (
            shapely.contains(zone.poly, pts).all()
            and (shapely.distance(zone.poly.boundary, pts) >= EDGE_M).all()
        ):
            return False
        if spot is not None:
            ok = (
                shapely.contains(spot.poly, pts).all()
                and (shapely.distance(spot.poly.boundary, pts) >= EDGE_M).all()
            )
            if not ok:
                return False
        elif self.all_spots is not None and (shapely.distance(self.all_spots, pts) < EDGE_M).any():
            return False
        xy = np.column_stack([s.est_x[strict], s.est_y[strict]])
        span = np.hypot(*(xy.max(0) - xy.min(0)))
        if span > SAME_PLACE_M - 5:
            return False
        gl = shapely.points(s.est_x[loose], s.est_y[loose])
        in_zone = shapely.contains(zone.poly, gl)
        if spot is not None:
            return bool((shapely.contains(spot.poly, gl) == in_zone).all())
        return self.all_spots is None or not shapely.contains(self.all_spots, gl[in_zone]).any()

    def _judge(
        self,
        zone: SidewalkZone,
        spot: LoadingSpot | None,
        s: _Sightings,
        strict: np.ndarray,
        loose: np.ndarray,
    ) -> tuple[bool, int | None] | None:
        """(violation, index among the strict captures of the confirming one), or None when
        another reading of the rule, a threshold MARGIN_S away, or the glimpses would differ."""
        times = [float(t) for t in s.ts[strict]]
        base = _confirm(times, zone.dwell_s, MAX_GAP_S, self._exempt(spot, 0.0), "pairs")
        in_zone = shapely.contains(zone.poly, shapely.points(s.est_x, s.est_y))
        variants = [self._thin(s, strict), self._thin(s, loose & in_zone)]
        m = MARGIN_S
        for ts in variants:
            for shift in (
                (-m, -m, -m, -m),
                (m, m, m, m),
                (-m, m, -m, m),
                (m, -m, m, -m),
                (0, 0, m, -m),
                (0, 0, -m, m),
            ):
                dd, dg, ds, dh = shift
                exempt = self._exempt(spot, dh, ds)
                for mode in ("pairs", "first", "last"):
                    got = _confirm(ts, zone.dwell_s + dd, MAX_GAP_S + dg, exempt, mode)
                    if (got is None) != (base is None):
                        return None
                    if got is not None and base is not None and abs(ts[got] - times[base]) > 10:
                        return None
        return base is not None, base

    @staticmethod
    def _thin(s: _Sightings, mask: np.ndarray) -> list[float]:
        """First and last capture of each pass: the extremes every decision turns on."""
        out: set[float] = set()
        for p in _Stager._group(s, mask):
            out |= {p.t0, p.t1}
        return sorted(out)

    def _exempt(self, spot: LoadingSpot | None, dh: float, ds: float = 0.0):
        if spot is None:
            return lambda a, b: False
        hrs, max_stop = self.w.hours[spot.id], spot.max_stop_s + ds

        def exempt(a: float, b: float) -> bool:
            return (
                hrs.window_at(a + dh) is not None
                and hrs.window_at(b + dh) is not None
                and b - a <= max_stop
            )

        return exempt


def _confirm(times: Sequence[float], dwell: float, max_gap: float, exempt, mode: str) -> int | None:
    """The index of the capture that makes a violation (SPEC 5.1), under one reading:
    "pairs" - any two captures dwell..max_gap apart, not exempt; "first" - measured from the
    first sighting, a capture more than max_gap after it being a new first sighting; "last"
    - the same, but the stop ends only after max_gap without a capture."""
    if mode == "pairs":
        for k, tk in enumerate(times):
            for ti in times[:k]:
                if dwell <= tk - ti <= max_gap and not exempt(ti, tk):
                    return k
        return None
    first: float | None = None
    last: float | None = None
    for k, t in enumerate(times):
        ref = first if mode == "first" else last
        if first is None or ref is None or t - ref > max_gap:
            first = t
        elif t - first >= dwell and not exempt(first, t):
            return k
        last = t
    return None
