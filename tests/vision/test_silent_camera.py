"""A camera that goes silent can no longer vouch for its parked cars: their stops end
where it last saw them, on its next frame or, if it never sends again, when another
camera's frames show that time has moved on."""

from __future__ import annotations

import json
from pathlib import Path

from smartcity_iot.config import Settings
from smartcity_iot.geo.cameras import load_camera
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import CameraPipeline
from smartcity_iot.pipeline.camera_stages import SILENT_S
from smartcity_iot.store.alerts import list_alerts
from smartcity_iot.store.sqlite import connect

from ..support import TEST_ZONES
from .scenes import car, encode, street

BASE = street(seed=2)
T0 = 1_790_000_000.0


def two_cameras(tmp_path: Path) -> CameraPipeline:
    doc = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text(encoding="utf-8"))
    (tmp_path / "cams").mkdir()
    for cid in ("cam-a", "cam-b"):
        (tmp_path / "cams" / f"{cid}.json").write_text(json.dumps({**doc, "id": cid}))
    settings = Settings(data_dir=tmp_path / "data", geofences=TEST_ZONES, plate_reader="none")
    cams = [load_camera(p, settings.tz) for p in sorted((tmp_path / "cams").glob("*.json"))]
    return CameraPipeline(settings, connect(settings.db_path), cams)


def send(pipe: CameraPipeline, cid: str, ts: float, parked: bool, arrived: float) -> None:
    img = BASE.copy()
    if parked:
        car(img, 300, 510)
    pipe.process(
        Inbound(f"cameras/{cid}/frame", encode(img, seed=int(ts)), arrived),
        [("ts", str(round(ts * 1000)))],
    )


def parked_past_its_dwell(pipe: CameraPipeline, cid: str) -> float:
    """Empty street, then a car that stays 80 s (dwell 40 s); returns the last frame time."""
    for t in range(10):
        send(pipe, cid, T0 + t, False, T0 + t)
    for t in range(10, 90):
        send(pipe, cid, T0 + t, True, T0 + t)
    (alert,) = [a for a in list_alerts(pipe.conn) if a.device_id == cid]
    assert alert.status == "open"
    return T0 + 89


def test_a_silent_cameras_stop_ends_when_another_camera_shows_time_moved_on(
    tmp_path: Path,
) -> None:
    pipe = two_cameras(tmp_path)
    last = parked_past_its_dwell(pipe, "cam-a")
    send(pipe, "cam-b", last + 10, False, last + 10)  # cam-a quiet for 10 s: nothing yet
    assert list_alerts(pipe.conn)[0].status == "open"
    send(pipe, "cam-b", last + SILENT_S + 5, False, last + SILENT_S + 5)
    (alert,) = list_alerts(pipe.conn)
    assert alert.status == "closed" and abs(alert.ended_at - last) <= 1


def test_a_camera_back_after_a_long_silence_ends_its_old_stops_first(tmp_path: Path) -> None:
    pipe = two_cameras(tmp_path)
    last = parked_past_its_dwell(pipe, "cam-a")
    back = last + SILENT_S + 60
    send(pipe, "cam-a", back, True, back)  # the same car in view again: a new stop, not this one
    first = next(a for a in list_alerts(pipe.conn) if a.started_at < last)
    assert first.status == "closed" and abs(first.ended_at - last) <= 1
