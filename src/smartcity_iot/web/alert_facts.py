"""The facts an operator needs on an alert's page, beside the alert itself: for a dog
alert the dog, its owner and the phone to call; for a tag's health notice its battery and
last fix; for a parking alert the camera or patrol unit that saw it, and where that is;
and the earlier cases of the same owner or vehicle. Operators only: the owner's phone is
here because the operator must call it, and no owner's route reaches this module.

Everything here is data the page labels, except a place near a zone, which is told in
the reader's language (`lang`)."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import Point

from ..config import Settings
from ..geo.cameras import Camera, CameraFileError, MobileUnit, load_camera_files
from ..geo.metric import LocalProjection
from ..geo.zones import Zone, ZoneFileError, load_zones
from ..i18n import DEFAULT_LANG, text
from ..model import DOG_KINDS, HEALTH_KINDS, Alert
from ..store.alerts import search_alerts
from ..store.database import Connection

NEAR_M = 150.0  # a fix farther than this from every zone is told by its coordinates only
EARLIER_MAX = 50


def alert_facts(
    conn: Connection, alert: Alert, settings: Settings, lang: str = DEFAULT_LANG
) -> dict[str, Any]:
    tag_kinds = DOG_KINDS + HEALTH_KINDS
    return {
        "dog": _dog(conn, alert.device_id) if alert.kind in tag_kinds else None,
        "health": _health(conn, alert, settings, lang) if alert.kind in HEALTH_KINDS else None,
        "device": _device(alert, settings, lang) if alert.kind == "sidewalk_parking" else None,
        "earlier": _earlier(conn, alert),
    }


def _dog(conn: Connection, tag_id: str) -> dict[str, Any] | None:
    """The dog that wears (or wore) the tag, and its owner."""
    row = conn.execute(
        "SELECT t.tag_id, t.status AS tag_status, d.id AS dog_id, d.name AS dog, d.breed, "
        "o.id AS owner_id, o.name AS owner, o.phone "
        "FROM tags t JOIN dogs d ON d.id = t.dog_id JOIN owners o ON o.id = d.owner_id "
        "WHERE t.tag_id = ?",
        (tag_id,),
    ).fetchone()
    return dict(row) if row else None


def _health(conn: Connection, alert: Alert, settings: Settings, lang: str) -> dict[str, Any]:
    """The battery when the notice opened and now, and the last fix before it opened
    (for a silent tag, where it was last heard)."""
    at = conn.execute(
        "SELECT ts_ms, lat, lon, acc, batt FROM fixes WHERE tag_id = ? AND ts_ms <= ? "
        "ORDER BY ts_ms DESC LIMIT 1",
        (alert.device_id, round(alert.started_at * 1000) + 1000),
    ).fetchone()
    state = conn.execute(
        "SELECT last_ts, lat, lon, acc, batt FROM tag_state WHERE tag_id = ?", (alert.device_id,)
    ).fetchone()
    last_fix = None
    if at is not None:
        last_fix = {"ts": at["ts_ms"] / 1000, "lat": at["lat"], "lon": at["lon"], "acc": at["acc"]}
    elif state is not None and state["last_ts"] is not None:
        last_fix = {
            "ts": state["last_ts"],
            "lat": state["lat"],
            "lon": state["lon"],
            "acc": state["acc"],
        }
    if last_fix is not None:
        last_fix["place"] = place_name(settings, last_fix["lat"], last_fix["lon"], lang)
    return {
        "battery": at["batt"] if at is not None else None,
        "battery_now": state["batt"] if state is not None else None,
        "last_fix": last_fix,
    }


def _stamp(geofences: Path) -> tuple[tuple[str, int], ...]:
    """The city files' names and modification times: a file edited, added or removed
    changes it."""
    root = Path(geofences)
    if not root.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()))


@functools.lru_cache(maxsize=4)
def _files(
    geofences: Path, tz: ZoneInfo, stamp: tuple[tuple[str, int], ...]
) -> tuple[list[Zone], list[Camera | MobileUnit]]:
    """Zones and camera files as parsed and checked once per version of the files, not
    on every alert page; a file with a defect gives nothing for its kind (the page then
    shows coordinates only; `check` and `serve` name the defect)."""
    zones: list[Zone] = []
    files: list[Camera | MobileUnit] = []
    with contextlib.suppress(ZoneFileError):
        zones = load_zones(geofences, tz)
    with contextlib.suppress(CameraFileError):
        files = load_camera_files(Path(geofences) / "cameras", tz)
    return zones, files


def city_files(settings: Settings) -> tuple[list[Zone], list[Camera | MobileUnit]]:
    return _files(settings.geofences, settings.tz, _stamp(settings.geofences))


def place_name(settings: Settings, lat: float, lon: float, lang: str = DEFAULT_LANG) -> str | None:
    """The zone holding the point, else the nearest within NEAR_M ("near X, ~N m" in
    the reader's language)."""
    zones = city_files(settings)[0]
    if not zones:
        return None
    here = Point(lon, lat)
    for zone in zones:
        if zone.name and zone.geometry.covers(here):
            return zone.name
    projection = LocalProjection(lon, lat)
    point = projection.project(here)
    dist, zone = min(
        (float(shapely.distance(projection.project(z.geometry), point)), z) for z in zones if z.name
    )
    return text("alert.near", lang, zone=zone.name, m=f"{dist:.0f}") if dist <= NEAR_M else None


def _device(alert: Alert, settings: Settings, lang: str) -> dict[str, Any]:
    """The fixed camera or patrol unit of a parking alert, by its file."""
    files = city_files(settings)[1]
    found = next((c for c in files if c.id == alert.device_id), None)
    if found is not None:
        # a fixed camera stands where its file says; a patrol unit where the alert was
        mobile = not isinstance(found, Camera)
        lat, lon = (found.lat, found.lon) if isinstance(found, Camera) else (alert.lat, alert.lon)
        return {
            "id": found.id,
            "name": found.name or found.id,
            "mobile": mobile,
            "lat": lat,
            "lon": lon,
            "grid": found.grid,
            "place": None if lat is None or lon is None else place_name(settings, lat, lon, lang),
        }
    return {
        "id": alert.device_id,
        "name": alert.device_id,
        "mobile": None,
        "lat": None,
        "lon": None,
        "grid": None,
        "place": None,
    }


def _earlier(conn: Connection, alert: Alert) -> list[Alert]:
    """The same party's other cases (the owner's dog alerts, the vehicle's parking alerts)
    that started before this one, newest first."""
    if not alert.party:
        return []
    kinds = DOG_KINDS if alert.kind in DOG_KINDS else (alert.kind,)
    cases = search_alerts(conn, party=alert.party, limit=EARLIER_MAX * 4)
    return [
        a for a in cases if a.kind in kinds and a.id != alert.id and a.started_at < alert.started_at
    ][:EARLIER_MAX]
