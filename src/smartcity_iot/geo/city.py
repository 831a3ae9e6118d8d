"""The city's map files together: zones (`*.geojson`) and cameras (`cameras/*.json`).
Both are checked before either is refused, so a bureau fixing its files sees every
defect of every file in one run, not the zones' first and the cameras' next time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from .cameras import Camera, CameraFileError, MobileUnit, load_camera_files
from .zones import DEFAULT_DWELL_S, DEFAULT_GRACE_S, Zone, ZoneFileError, load_zones


class CityFilesError(ValueError):
    """Problems in the zone files, the camera files or both; the message lists each."""

    def __init__(self, problems: list[ValueError]) -> None:
        self.problems = problems
        if len(problems) == 1:
            message = str(problems[0])
        else:
            message = f"{len(problems)} problems in the zone and camera files, fix each:\n  " + (
                "\n  ".join(str(p) for p in problems)
            )
        super().__init__(message)


@dataclass(frozen=True)
class City:
    zones: list[Zone]
    cameras: list[Camera]
    units: list[MobileUnit]


def load_city(
    geofences: Path,
    tz: ZoneInfo,
    dwell_s: float = DEFAULT_DWELL_S,
    grace_s: float = DEFAULT_GRACE_S,
) -> City:
    problems: list[ValueError] = []
    zones: list[Zone] = []
    files: list[Camera | MobileUnit] = []
    try:
        zones = load_zones(geofences, tz, dwell_s, grace_s)
    except ZoneFileError as exc:
        problems.extend(exc.problems)
    try:
        files = load_camera_files(Path(geofences) / "cameras", tz)
    except CameraFileError as exc:
        problems.extend(exc.problems)
    if problems:
        raise CityFilesError(problems)
    return City(
        zones=zones,
        cameras=[c for c in files if isinstance(c, Camera)],
        units=[c for c in files if isinstance(c, MobileUnit)],
    )
