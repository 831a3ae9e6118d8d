"""The command center's patrol units (SPEC 5.1): each configured mobile unit with its
last position and recent route, from the mobile path's saved state; operators only."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.model import Alert
from smartcity_iot.pipeline.mobile_stages import STATE_KEY
from smartcity_iot.store import camera_state, patrols
from smartcity_iot.store.alerts import save_alert
from smartcity_iot.store.sqlite import transaction

from ..support import TEST_ZONES
from .conftest import User

T0 = 1795399200.0  # 2026-11-23 10:00 Asia/Shanghai
UNITS = {"patrol-01": "巡查车 01", "patrol-02": "巡查车 02"}


def patrol_geofences(root: Path) -> Path:
    """The test zones and cameras plus two patrol units' files (SPEC 5.1)."""
    geo = root / "geofences"
    shutil.copytree(TEST_ZONES, geo)
    for uid, name in UNITS.items():
        unit = {
            "id": uid,
            "name": name,
            "mobile": True,
            "grid": "G-03",
            "image": {"width": 1280, "height": 720},
            "side": "right",
            "side_offset_m": 4.0,
        }
        (geo / "cameras" / f"{uid}.json").write_text(json.dumps(unit, ensure_ascii=False))
    return geo


def save_routes(conn: sqlite3.Connection, units: dict[str, dict]) -> None:
    """The mobile path's state row as pipeline/mobile_stages.py saves it."""
    with transaction(conn):
        camera_state.save(conn, STATE_KEY, {"rule": {"stops": []}, "units": units})


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", geofences=patrol_geofences(tmp_path))


def test_an_operator_sees_each_units_last_position_and_recent_route(
    operator: User, conn: sqlite3.Connection
) -> None:
    route = [
        [T0, 28.96, 118.853, 270.0],
        [T0 + 5, 28.96, 118.8526, 270.0],
        [T0 + 10, 28.9601, 118.8522, 290.0],
        [T0 + 15, 28.9603, 118.8519, 300.5],
    ]
    save_routes(
        conn,
        {
            "patrol-01": {"last_ts": T0 + 17, "route": route},
            "patrol-99": {"last_ts": T0, "route": route},  # its file is gone: not listed
        },
    )

    r = operator.get("/api/operator/patrols")

    assert r.status_code == 200, r.text
    assert r.json() == [
        {
            "id": "patrol-01",
            "name": "巡查车 01",
            "grid": "G-03",
            "last_seen": T0 + 17,
            "position": {"ts": T0 + 15, "lat": 28.9603, "lon": 118.8519, "heading": 300.5},
            "route": [[p[1], p[2]] for p in route],
        },
        {
            "id": "patrol-02",
            "name": "巡查车 02",
            "grid": "G-03",
            "last_seen": None,
            "position": None,
            "route": [],
        },
    ]


def test_before_any_patrol_frame_the_units_are_listed_without_a_position(
    operator: User,
) -> None:
    units = operator.get("/api/operator/patrols").json()
    assert [(u["id"], u["position"], u["route"]) for u in units] == [
        ("patrol-01", None, []),
        ("patrol-02", None, []),
    ]


def test_patrols_are_for_operators_only(
    clients: Callable[[], TestClient], signup: Callable[..., User]
) -> None:
    assert clients().get("/api/operator/patrols").status_code == 401
    assert signup("13900000091").get("/api/operator/patrols").status_code == 403


def test_a_bad_unit_file_is_named_in_the_answer(operator: User, web_settings: Settings) -> None:
    bad = web_settings.geofences / "cameras" / "patrol-02.json"
    bad.write_text('{"id": "patrol-02", "mobile": true, "image": {"width": 0, "height": 720}}')

    r = operator.get("/api/operator/patrols")

    assert r.status_code == 503
    assert r.json()["code"] == "map.camera_files_bad"
    assert "patrol-02.json" in r.json()["detail"] and "smartcity-iot check" in r.json()["detail"]


def test_the_store_reads_the_row_the_mobile_path_saves() -> None:
    assert patrols.STATE_KEY == STATE_KEY


def test_a_patrol_alerts_photos_name_the_unit_of_each_capture(
    operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    folder = web_settings.data_dir / "evidence" / "patrols"
    folder.mkdir(parents=True)
    evidence = []
    for role, unit, ts in (
        ("first_seen", "patrol-01", T0),
        ("dwell_exceeded", "patrol-02", T0 + 400),
    ):
        (folder / f"p-1-{role}.jpg").write_bytes(b"\xff\xd8\xff\xe0photo\xff\xd9")
        evidence.append(
            {
                "type": "image",
                "role": role,
                "path": f"evidence/patrols/p-1-{role}.jpg",
                "ts": ts,
                "box": [1, 2, 3, 4],
                "device_id": unit,
            }
        )
    alert = Alert(
        id="p-1",
        kind="sidewalk_parking",
        status="open",
        device_id="patrol-02",
        zone_id="walk-1",
        grid="G-03",
        started_at=T0,
        ended_at=None,
        lat=28.96005,
        lon=118.8507,
        opened_at=T0 + 400,
        updated_at=T0 + 400,
        evidence=evidence,
    )
    with transaction(conn):
        save_alert(conn, alert)

    images = operator.get("/api/operator/alerts/p-1").json()["images"]

    assert [(i["role"], i["device_id"], i["ts"]) for i in images] == [
        ("first_seen", "patrol-01", T0),
        ("dwell_exceeded", "patrol-02", T0 + 400),
    ]
