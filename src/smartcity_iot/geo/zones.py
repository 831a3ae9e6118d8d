"""Load and validate zone files (`geofences/*.geojson`, SPEC 4). Errors name the
file, the feature and the fix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..config import DEFAULT_DWELL_S, DEFAULT_GRACE_S
from .schedule import WalkingSchedule, WalkingWindow, parse_days


class ZoneFileError(ValueError):
    """A problem in a zone file; `problems` holds every one a load found (this one
    alone, or all of them), so a file with three defects needs one run, not three."""

    def __init__(self, path: Path, feature: str, message: str) -> None:
        super().__init__(f"{path}: feature {feature}: {message}")
        self.path, self.feature = path, feature
        self.problems: list[ZoneFileError] = [self]

    @classmethod
    def all_of(cls, problems: list[ZoneFileError]) -> ZoneFileError:
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        err = cls(first.path, first.feature, "")
        err.args = (
            f"{len(problems)} problems in the zone files, fix each:\n  "
            + "\n  ".join(str(p) for p in problems),
        )
        err.problems = list(problems)
        return err


class ZoneProperties(BaseModel):
    """`properties` of one zone feature; unknown keys are kept for extensions."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, description="unique zone id")
    name: str = Field("", description="human name, any language")
    rule: Literal["dogs", "sidewalk", "loading_spot"] = Field(description="what the zone is for")
    walking_hours: list[str] = Field(
        default_factory=list, description="local windows when dogs are allowed"
    )
    days: list[str] | None = Field(None, description="weekdays the schedule applies to")
    grade: Literal["model", "secondary", "alley"] | None = Field(None, description="road grade")
    grid: str | None = Field(None, description="grid (squad) that owns the zone")
    dwell_s: float | None = Field(None, gt=0, description="extension: minimum dwell override")
    grace_s: float | None = Field(None, ge=0, description="extension: grace period override")
    hours: list[str] = Field(
        default_factory=list, description="rule loading_spot: local windows when loading is allowed"
    )
    max_stop_min: float | None = Field(
        None, gt=0, description="rule loading_spot: the longest lawful stop, minutes"
    )

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    rule: str
    grid: str | None
    grade: str | None
    schedule: WalkingSchedule
    geometry: BaseGeometry  # lon/lat, as in the file
    source: Path
    dwell_s: float  # resolved at load: the file's value, else the service's default
    grace_s: float
    # rule loading_spot (SPEC 4, 5.1): when loading is allowed, and for how long
    loading_hours: WalkingSchedule | None = None
    max_stop_s: float | None = None

    @property
    def alert_kind(self) -> str:
        return "dog_forbidden_zone" if self.schedule.never_allowed else "dog_outside_walking_hours"


def load_zones(
    directory: Path,
    tz: ZoneInfo,
    dwell_s: float = DEFAULT_DWELL_S,
    grace_s: float = DEFAULT_GRACE_S,
) -> list[Zone]:
    """Every zone of DIR/*.geojson, validated. Every file and feature is checked
    before anything is refused: the ZoneFileError raised lists all the problems.
    A zone without its own `dwell_s` / `grace_s` gets the defaults given here."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ZoneFileError(directory, "-", "zone directory does not exist (set --geofences DIR)")
    zones: list[Zone] = []
    problems: list[ZoneFileError] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.geojson")):
        for zone in _load_file(path, tz, (dwell_s, grace_s), problems):
            if zone.id in seen:
                problems.append(
                    ZoneFileError(path, zone.id, f"duplicate zone id, also in {seen[zone.id]}")
                )
                continue
            seen[zone.id] = path
            zones.append(zone)
    if problems:
        raise ZoneFileError.all_of(problems)
    return zones


def _load_file(
    path: Path, tz: ZoneInfo, defaults: tuple[float, float], problems: list[ZoneFileError]
) -> list[Zone]:
    """The file's valid zones; each problem found is added to `problems`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(ZoneFileError(path, "-", f"not readable GeoJSON: {exc}"))
        return []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        problems.append(
            ZoneFileError(
                path, "-", 'top level must be {"type": "FeatureCollection", "features": [...]}'
            )
        )
        return []
    features = doc.get("features")
    if not isinstance(features, list):
        problems.append(ZoneFileError(path, "-", '"features" must be a list'))
        return []
    zones = []
    for i, feature in enumerate(features):
        found = _feature_problems(path, i, feature)
        if isinstance(found, list):
            problems.extend(found)
        else:
            zones.append(_zone(path, tz, defaults, *found))
    return zones


def _feature_problems(
    path: Path, index: int, feature: Any
) -> list[ZoneFileError] | tuple[ZoneProperties, BaseGeometry, tuple[Any, Any, Any]]:
    """Every problem of one feature (properties, geometry and schedules are checked
    independently), or its parts when it has none."""
    label = f"#{index}"
    if not isinstance(feature, dict):
        return [ZoneFileError(path, label, "not a GeoJSON Feature object")]
    raw_props = feature.get("properties") or {}
    if isinstance(raw_props, dict) and raw_props.get("id"):
        label = f"#{index} ({raw_props['id']})"
    found: list[ZoneFileError] = []
    props: ZoneProperties | None = None
    try:
        props = ZoneProperties.model_validate(raw_props)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "properties"
            found.append(ZoneFileError(path, label, f"property {where}: {err['msg']}"))
    geometry: BaseGeometry | None = None
    try:
        geometry = _geometry(path, label, feature.get("geometry"))
    except ZoneFileError as exc:
        found.append(exc)
    if props is None:
        return found
    parsed: list[Any] = []
    for field, parse in (
        ("walking_hours", lambda: tuple(_windows(props.walking_hours, "walking_hours"))),
        ("hours", lambda: tuple(_windows(props.hours, "hours"))),
        ("days", lambda: parse_days(props.days)),
    ):
        try:
            parsed.append(parse())
        except _WindowErrors as exc:
            found.extend(ZoneFileError(path, label, m) for m in exc.messages)
        except ValueError as exc:
            found.append(ZoneFileError(path, label, f"property {field}: {exc}"))
    schedules = (parsed[0], parsed[1], parsed[2]) if len(parsed) == 3 else None
    if props.rule == "loading_spot" and props.max_stop_min is None:
        found.append(
            ZoneFileError(
                path,
                label,
                "property max_stop_min: a loading_spot needs its longest stop (minutes)",
            )
        )
    if found or geometry is None or schedules is None:
        return found
    return props, geometry, schedules


class _WindowErrors(ValueError):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _windows(texts: list[str], field: str) -> list[WalkingWindow]:
    """Every window of a list parsed; each bad one is named (one run finds them all)."""
    windows, messages = [], []
    for i, text in enumerate(texts):
        try:
            windows.append(WalkingWindow.parse(text))
        except ValueError as exc:
            messages.append(f"property {field}.{i}: {exc}")
    if messages:
        raise _WindowErrors(messages)
    return windows


def _zone(
    path: Path,
    tz: ZoneInfo,
    defaults: tuple[float, float],
    props: ZoneProperties,
    geometry: BaseGeometry,
    schedules: tuple[Any, Any, Any],
) -> Zone:
    windows, loading, days = schedules
    is_spot = props.rule == "loading_spot"
    return Zone(
        id=props.id,
        name=props.name,
        rule=props.rule,
        grid=props.grid,
        grade=props.grade,
        schedule=WalkingSchedule(windows, days, tz),
        geometry=geometry,
        source=path,
        dwell_s=props.dwell_s or defaults[0],
        grace_s=defaults[1] if props.grace_s is None else props.grace_s,
        loading_hours=WalkingSchedule(loading, days, tz) if is_spot else None,
        max_stop_s=props.max_stop_min * 60 if is_spot and props.max_stop_min else None,
    )


def _geometry(path: Path, label: str, raw: Any) -> BaseGeometry:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise ZoneFileError(path, label, f"geometry must be a Polygon or MultiPolygon, not {kind}")
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ZoneFileError(path, label, f"malformed coordinates: {exc}") from None
    if geom.is_empty:
        raise ZoneFileError(path, label, "geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ZoneFileError(
            path, label, "coordinates out of range: GeoJSON order is [lon, lat] in degrees"
        )
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise ZoneFileError(
            path, label, f"invalid polygon ({reason}); fix the ring (no self-intersections)"
        )
    return geom
