"""Load and validate camera files (`geofences/cameras/*.json`, SPEC 5). Errors
name the file, the camera and the field. Polygons are image pixels (x right, y down)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from .schedule import WalkingSchedule, WalkingWindow

GRADE_DWELL_S = {"model": 120.0, "secondary": 300.0, "alley": 600.0}

Pixel = list[float]
M = TypeVar("M", bound=BaseModel)


class CameraFileError(ValueError):
    """A problem in a camera file; `problems` holds every one a load found (this one
    alone, or all of them), so one run names every defect of every file."""

    def __init__(self, path: Path, camera: str, message: str) -> None:
        super().__init__(f"{path}: camera {camera}: {message}")
        self.problems: list[CameraFileError] = [self]

    @classmethod
    def all_of(cls, problems: list[CameraFileError]) -> CameraFileError:
        flat = [q for p in problems for q in p.problems]
        if len(flat) == 1:
            return flat[0]
        err = cls(Path("-"), "-", "")
        err.args = (
            f"{len(flat)} problems in the camera files, fix each:\n  "
            + "\n  ".join(str(p) for p in flat),
        )
        err.problems = flat
        return err


class ImageSize(BaseModel):
    model_config = ConfigDict(extra="allow")
    width: int = Field(gt=0, le=10000, description="frame width in pixels")
    height: int = Field(gt=0, le=10000, description="frame height in pixels")


class LoadingSpotConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, description="loading spot id")
    polygon: list[Pixel] = Field(description="spot outline in image pixels")
    hours: list[str] = Field(
        default_factory=list, description="local windows when loading is allowed"
    )
    max_stop_min: float = Field(gt=0, description="longest lawful stop, minutes")


class CameraConfig(BaseModel):
    """One camera file. Unknown keys are allowed for extensions (SPEC 5)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="camera id, as in cameras/{id}/frame"
    )
    name: str = Field("", description="human name")
    lat: float = Field(ge=-90, le=90, description="WGS 84 latitude")
    lon: float = Field(ge=-180, le=180, description="WGS 84 longitude")
    grid: str | None = Field(None, description="grid (squad) that owns the camera's street")
    grade: Literal["model", "secondary", "alley"] = Field(
        description="road grade: sets the default dwell"
    )
    image: ImageSize
    sidewalk: list[list[Pixel]] = Field(
        min_length=1, description="no-parking polygons in image pixels"
    )
    loading_spots: list[LoadingSpotConfig] = Field(default_factory=list)
    dwell_s: float | None = Field(None, gt=0, description="overrides the grade's default dwell")
    detector: str | None = Field(
        None, min_length=1, description="vehicle detector by name; overrides the detector setting"
    )

    @field_validator("sidewalk")
    @classmethod
    def _polygons(cls, value: list[list[Pixel]]) -> list[list[Pixel]]:
        for ring in value:
            _check_ring(ring)
        return value


class MobileUnitConfig(BaseModel):
    """A vehicle-mounted patrol unit's file (SPEC 5.1): no pixel polygons; its places
    are the geo `sidewalk` and `loading_spot` zones."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="unit id, as in cameras/{id}/frame"
    )
    name: str = Field("", description="human name")
    mobile: Literal[True] = Field(description="true: a vehicle-mounted unit")
    image: ImageSize
    side: Literal["right", "left"] = Field("right", description="the side its camera faces")
    side_offset_m: float = Field(
        4.0, gt=0, le=30, description="metres from the unit to the vehicles it photographs"
    )
    grid: str | None = Field(None, description="the squad the unit belongs to")


@dataclass(frozen=True)
class MobileUnit:
    id: str
    name: str
    width: int
    height: int
    side: str  # "right" | "left" of the heading
    side_offset_m: float
    grid: str | None
    source: Path


def _check_ring(ring: list[Pixel]) -> None:
    if len(ring) < 3 or any(len(p) != 2 for p in ring):
        raise ValueError("a polygon needs at least 3 [x, y] points")


@dataclass(frozen=True)
class LoadingSpot:
    id: str
    polygon: Polygon
    schedule: WalkingSchedule  # reused: the windows are when loading is allowed
    max_stop_s: float


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    lat: float
    lon: float
    grid: str | None
    grade: str
    width: int
    height: int
    sidewalk: Polygon  # union of the sidewalk polygons, pixels
    loading_spots: tuple[LoadingSpot, ...]
    dwell_s: float
    source: Path
    detector: str | None = None  # by name; None: the service's `detector` setting

    def on_sidewalk(self, x: float, y: float) -> bool:
        return bool(self.sidewalk.contains(Point(x, y)))

    def spot_at(self, x: float, y: float) -> LoadingSpot | None:
        p = Point(x, y)
        return next((s for s in self.loading_spots if s.polygon.contains(p)), None)


def load_cameras(directory: Path, tz: ZoneInfo) -> list[Camera]:
    """The fixed cameras of DIR/*.json (every file is validated, mobile units too)."""
    return [c for c in load_camera_files(directory, tz) if isinstance(c, Camera)]


def load_mobile_units(directory: Path, tz: ZoneInfo) -> list[MobileUnit]:
    """The mobile patrol units of DIR/*.json (`"mobile": true`, SPEC 5.1)."""
    return [c for c in load_camera_files(directory, tz) if isinstance(c, MobileUnit)]


def load_camera_files(directory: Path, tz: ZoneInfo) -> list[Camera | MobileUnit]:
    directory = Path(directory)
    if not directory.is_dir():
        return []
    """Every file of DIR/*.json checked before anything is refused: the
    CameraFileError raised lists the problems of all of them."""
    cameras: list[Camera | MobileUnit] = []
    problems: list[CameraFileError] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            camera = load_camera_file(path, tz)
        except CameraFileError as exc:
            problems.extend(exc.problems)
            continue
        if camera.id in seen:
            problems.append(
                CameraFileError(path, camera.id, f"duplicate camera id, also in {seen[camera.id]}")
            )
            continue
        seen[camera.id] = path
        cameras.append(camera)
    if problems:
        raise CameraFileError.all_of(problems)
    return cameras


def load_camera_file(path: Path, tz: ZoneInfo) -> Camera | MobileUnit:
    """A fixed camera, or a mobile unit when the file says `"mobile": true`."""
    raw = _read(path)
    if isinstance(raw, dict) and raw.get("mobile") is True:
        unit = _validate(MobileUnitConfig, raw, path)
        return MobileUnit(
            id=unit.id,
            name=unit.name,
            width=unit.image.width,
            height=unit.image.height,
            side=unit.side,
            side_offset_m=unit.side_offset_m,
            grid=unit.grid,
            source=path,
        )
    return _fixed(path, tz, raw)


def load_camera(path: Path, tz: ZoneInfo) -> Camera:
    """A fixed camera's file (a mobile unit's file is an error here)."""
    raw = _read(path)
    if isinstance(raw, dict) and raw.get("mobile") is True:
        raise CameraFileError(path, str(raw.get("id", "-")), "a mobile unit, not a fixed camera")
    return _fixed(path, tz, raw)


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CameraFileError(path, "-", f"not readable JSON: {exc}") from None


def _validate(model: type[M], raw: object, path: Path) -> M:
    label = str(raw.get("id", "-")) if isinstance(raw, dict) else "-"
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():  # every field at once, not the first only
            where = ".".join(str(p) for p in err["loc"]) or "file"
            problems.append(CameraFileError(path, label, f"field {where}: {err['msg']}"))
        raise CameraFileError.all_of(problems) from None


def _fixed(path: Path, tz: ZoneInfo, raw: object) -> Camera:
    cfg = _validate(CameraConfig, raw, path)
    w, h = cfg.image.width, cfg.image.height
    problems: list[CameraFileError] = []
    polygons = []
    for i, ring in enumerate(cfg.sidewalk):
        poly = Polygon(ring)
        if not poly.is_valid or poly.area <= 0:
            problems.append(
                CameraFileError(
                    path, cfg.id, f"field sidewalk.{i}: not a valid polygon (self-intersecting?)"
                )
            )
            continue
        minx, miny, maxx, maxy = poly.bounds
        if minx < 0 or miny < 0 or maxx > w or maxy > h:
            problems.append(
                CameraFileError(path, cfg.id, f"field sidewalk.{i}: outside the {w}x{h} image")
            )
        polygons.append(poly)
    sidewalk = unary_union(polygons)
    sidewalk_known = not problems  # else "outside the sidewalk" would only echo its defect
    spots = []
    for i, spot in enumerate(cfg.loading_spots):
        try:
            _check_ring(spot.polygon)
            windows = tuple(WalkingWindow.parse(x) for x in spot.hours)
        except ValueError as exc:
            problems.append(
                CameraFileError(path, cfg.id, f"field loading_spots.{i} ({spot.id}): {exc}")
            )
            continue
        poly = Polygon(spot.polygon)
        if not poly.is_valid or (sidewalk_known and not sidewalk.buffer(2).contains(poly)):
            problems.append(
                CameraFileError(
                    path,
                    cfg.id,
                    f"field loading_spots.{i} ({spot.id}): "
                    "must be a valid polygon inside the sidewalk",
                )
            )
            continue
        spots.append(
            LoadingSpot(spot.id, poly, WalkingSchedule(windows, None, tz), spot.max_stop_min * 60)
        )
    if problems:
        raise CameraFileError.all_of(problems)
    return Camera(
        id=cfg.id,
        name=cfg.name,
        lat=cfg.lat,
        lon=cfg.lon,
        grid=cfg.grid,
        grade=cfg.grade,
        width=w,
        height=h,
        sidewalk=sidewalk,
        loading_spots=tuple(spots),
        dwell_s=cfg.dwell_s or GRADE_DWELL_S[cfg.grade],
        source=path,
        detector=cfg.detector,
    )
