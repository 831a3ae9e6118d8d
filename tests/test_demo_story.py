"""The demo tells its story on time (issue 12): a parking alert within four minutes and a
dog alert within a minute whatever the hour it starts, and one line per alert change that
says what changed. The scenes' start time is faked, not the service's clock."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.demo import FIRST_PARKING_DUE_S, _AlertPrinter, demo_fleet, demo_scenes
from smartcity_iot.geo.cameras import load_camera
from smartcity_iot.model import Alert, Inbound
from smartcity_iot.pipeline import CameraPipeline
from smartcity_iot.service import Service
from smartcity_iot.store import workflow
from smartcity_iot.store.alerts import list_alerts
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import connect, transaction

from .support import REPO, wait_until

SH = ZoneInfo("Asia/Shanghai")
CAMERAS = sorted((REPO / "geofences" / "cameras").glob("cam-*.json"))
HOURS = [(4, 0), (10, 30), (16, 30), (22, 0)]  # 10:30 and 16:30 were 845 s before
# Dogs every two hours and at 11:30 (at 11:38 the first alert was 73 s in: walking-hour
# windows open at fixed hours; the demo now searches its seed for an early violation)
DOG_HOURS = sorted({(h, 0) for h in range(0, 24, 2)} | {(10, 30), (11, 30), (16, 30)})
DEMO_SPEED = 60.0  # the demo's default --speed


def city_time(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(("hour", "minute"), HOURS)
def test_a_parking_alert_is_raised_within_four_minutes(
    tmp_path: Path, hour: int, minute: int
) -> None:
    start = city_time(hour, minute)
    scenes = demo_scenes(CAMERAS, 7, start, "Asia/Shanghai")
    due = min(t["violation_start"] for s in scenes for t in s.truth() if t["violation"])
    assert due - start.timestamp() <= FIRST_PARKING_DUE_S < 240
    # and the service's camera path raises it: the staging camera's first 240 s of frames
    scene = scenes[0]
    settings = Settings(data_dir=tmp_path, geofences=REPO / "geofences")
    camera = load_camera(REPO / "geofences" / "cameras" / f"{scene.camera_id}.json", settings.tz)
    pipe = CameraPipeline(settings, connect(settings.db_path), [camera])
    topic = f"cameras/{scene.camera_id}/frame"
    for ts in scene.frame_times():
        if ts > start.timestamp() + 240:
            break
        pipe.process(Inbound(topic, scene.jpeg(ts), ts), [("ts", str(round(ts * 1000)))])
    parking = [a for a in list_alerts(pipe.conn, 100) if a.kind == "sidewalk_parking"]
    assert parking, f"no parking alert within 240 s of {start:%H:%M}"


@pytest.mark.parametrize(("hour", "minute"), DOG_HOURS)
def test_a_dog_alert_is_due_within_a_minute(hour: int, minute: int) -> None:
    settings = Settings(geofences=REPO / "geofences")
    now = city_time(hour, minute)
    fleet = demo_fleet(settings, 40, 7, now)
    first = min(v["start"] for v in fleet.truth())
    replay_start = min(ts for ts, _, _ in fleet.messages())
    # the incident opens once it has lasted the dwell; the replay runs at DEMO_SPEED
    real_s = (first - replay_start + settings.dwell_s) / DEMO_SPEED
    assert real_s <= 50, f"first dog alert {real_s:.0f} s after the demo starts at {now:%H:%M}"


def _alert(grid: str | None) -> Alert:
    now = time.time()
    return Alert(
        id="story-1",
        kind="dog_forbidden_zone",
        status="open",
        device_id="TAG-0001",
        zone_id="school-1",
        grid=grid,
        started_at=now - 120,
        ended_at=None,
        lat=28.97,
        lon=118.87,
        zone_name="实验小学",
        opened_at=now,
        updated_at=now,
    )


def test_the_printer_says_what_changed_in_one_line_each(
    settings: Settings, db: sqlite3.Connection, service: Service
) -> None:
    out = io.StringIO()
    printer = _AlertPrinter(settings, out)
    try:
        assert wait_until(lambda: printer.client.is_connected(), 10)
        time.sleep(0.3)  # the subscription is sent on connect
        with transaction(db):
            Sinks(db).alert(_alert("G-02"))
        workflow.apply(db, "story-1", "acknowledge", "operator:wang")
        workflow.apply(db, "story-1", "dispatch", "operator:wang")
        workflow.apply(db, "story-1", "close", "operator:li", disposition="education")
        assert wait_until(lambda: out.getvalue().count("\n") >= 4, 15), out.getvalue()
    finally:
        printer.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith("OPEN") and "opened" in lines[0]
    assert lines[1].startswith("ACKED") and "acknowledged by wang" in lines[1]
    assert lines[2].startswith("DISPATCH") and "dispatched to G-02 中队 squad" in lines[2]
    assert lines[3].startswith("RESOLVED") and "closed as education by li" in lines[3]
    assert all("实验小学" in line and "TAG-0001" in line for line in lines)


def test_a_published_operator_step_names_who_took_it(db: sqlite3.Connection) -> None:
    with transaction(db):
        Sinks(db).alert(_alert("G-01"))
    workflow.apply(db, "story-1", "acknowledge", "operator:wang")
    workflow.apply(db, "story-1", "dispatch", "operator:wang", note="on foot")
    payloads = [r["payload"] for r in db.execute("SELECT payload FROM outbox ORDER BY seq")]
    published = [json.loads(p) for p in payloads]
    assert "handling" not in published[0]  # the pipeline's own publication is unchanged
    assert published[1]["handling"] == {"action": "acknowledge", "by": "operator:wang"}
    assert published[2]["handling"] == {
        "action": "dispatch",
        "by": "operator:wang",
        "squad": "G-01 中队 squad",
        "note": "on foot",
    }
    assert published[2]["workflow"] == "dispatched"  # SPEC 3.4's fields all still there
