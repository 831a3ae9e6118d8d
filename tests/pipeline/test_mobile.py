"""The mobile path (SPEC 5.1) on real SQLite, the real plate reader and the sample
district's zones: position from user properties or EXIF, refused without it, a plate
seen on two passes a dwell apart at one place is a violation with both captures as
evidence, and a pass that no longer sees it ends it."""

from __future__ import annotations

import math
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from PIL import Image

from firmware_sim.plates import plate_image
from smartcity_iot.config import Settings
from smartcity_iot.geo.cameras import load_mobile_units
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import MobilePipeline
from smartcity_iot.store import deadletters
from smartcity_iot.store.alerts import list_alerts
from smartcity_iot.store.sqlite import connect

from ..support import REPO

GEO = REPO / "geofences"
PLATE = "浙HA5T21"
TOPIC = "cameras/patrol-01/frame"
# Beside 府山路东侧人行道 (sw-fushanlu-e, secondary: 300 s dwell), heading north: the
# sidewalk is 4 m to the unit's right, away from the loading spot ls-fushanlu-01.
LAT, LON = 28.9800, 118.8710793 - 4.0 / (111_195 * math.cos(math.radians(28.98)))


def frame(plate: str | None, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    img = np.full((720, 1280, 3), 120, np.uint8) + rng.integers(0, 8, (720, 1280, 3), np.uint8)
    if plate:
        cv2.rectangle(img, (420, 260), (860, 560), (90, 90, 160), -1)  # the car's rear
        p = plate_image(plate, "blue", 48)
        img[440 : 440 + p.shape[0], 640 - p.shape[1] // 2 : 640 - p.shape[1] // 2 + p.shape[1]] = p
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def props(ts: float, lat: float = LAT, lon: float = LON, heading: float = 0.0) -> list:
    return [("ts", str(round(ts * 1000))), ("lat", str(lat)), ("lon", str(lon)),
            ("heading", str(heading))]  # fmt: skip


def with_exif(jpeg: bytes, lat: float, lon: float, heading: float) -> bytes:
    def dms(v: float) -> tuple[float, float, float]:
        d = int(v)
        m = int((v - d) * 60)
        return (d, m, round(((v - d) * 60 - m) * 60, 4))

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon), 16: "T", 17: heading}
    out = BytesIO()
    Image.open(BytesIO(jpeg)).save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


@pytest.fixture
def pipe(tmp_path: Path) -> MobilePipeline:
    settings = Settings(data_dir=tmp_path, geofences=GEO)
    units = load_mobile_units(GEO / "cameras", settings.tz)
    zones = load_zones(GEO, settings.tz, settings.dwell_s, settings.grace_s)
    return MobilePipeline(settings, connect(settings.db_path), units, zones)


def parking(p: MobilePipeline) -> list:
    return [a for a in list_alerts(p.conn, 100) if a.kind == "sidewalk_parking"]


def test_two_passes_a_dwell_apart_open_a_violation_and_a_pass_without_it_ends_it(
    pipe: MobilePipeline, tmp_path: Path
) -> None:
    t0 = 1_764_000_000.0
    for k in range(3):  # one pass: three frames a metre apart
        pipe.process(Inbound(TOPIC, frame(PLATE, k), t0 + k), props(t0 + k, LAT + k * 1e-5))
    assert parking(pipe) == [] and pipe.counters.get("patrol_sightings") == 3
    t1 = t0 + 420
    pipe.process(Inbound(TOPIC, frame(PLATE, 9), t1), props(t1, LAT + 3e-5))
    (alert,) = parking(pipe)
    assert (alert.status, alert.plate, alert.plate_status) == ("open", PLATE, "read")
    assert (alert.party, alert.escalation) == (f"vehicle:{PLATE}", "education")
    assert alert.device_id == "patrol-01" and alert.zone_id == "sw-fushanlu-e"
    assert alert.started_at == t0 and alert.opened_at == t1
    assert abs(alert.lon - 118.8710793) < 2e-5  # the vehicle's place, not the unit's
    roles = [e["role"] for e in alert.evidence]
    assert roles == ["first_seen", "dwell_exceeded", "latest", "plate"]
    for e in alert.evidence:
        assert (tmp_path / e["path"]).is_file()
    # the next pass looks at the place and sees no plate, then drives on
    t2 = t1 + 600
    pipe.process(Inbound(TOPIC, frame(None, 11), t2), props(t2, LAT + 3e-5))
    pipe.process(Inbound(TOPIC, frame(None, 12), t2 + 5), props(t2 + 5, LAT + 3e-4))
    (alert,) = parking(pipe)
    assert alert.status == "closed" and alert.ended_at == t2


def test_a_first_capture_never_confirmed_leaves_no_photos(
    pipe: MobilePipeline, tmp_path: Path
) -> None:
    t0 = 1_764_000_000.0
    pipe.process(Inbound(TOPIC, frame(PLATE), t0), props(t0))
    assert list((tmp_path / "evidence" / "patrols").glob("*-first_seen.jpg"))
    pipe.process(Inbound(TOPIC, frame(None), t0 + 200), props(t0 + 200))  # gone by the next pass
    pipe.process(Inbound(TOPIC, frame(None), t0 + 205), props(t0 + 205, LAT + 3e-4))
    assert parking(pipe) == []
    assert not list((tmp_path / "evidence" / "patrols").glob("*.jpg"))


def test_position_from_exif_when_the_broker_carries_no_user_properties(
    pipe: MobilePipeline,
) -> None:
    t0 = 1_764_000_000.0
    for ts in (t0, t0 + 400):
        jpeg = with_exif(frame(PLATE, int(ts) % 7), LAT, LON, 0.0)
        pipe.process(Inbound(TOPIC, jpeg, ts), [("ts", str(round(ts * 1000)))])
    (alert,) = parking(pipe)
    assert alert.zone_id == "sw-fushanlu-e" and alert.plate == PLATE


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ([("ts", "1764000000000")], "missing_field"),
        ([("lat", "28.98"), ("lon", "118.87")], "missing_field"),
        ([("lat", "north"), ("lon", "118.87"), ("heading", "0")], "bad_field"),
        ([("lat", "28.98"), ("lon", "118.87"), ("heading", "400")], "bad_field"),
    ],
)
def test_a_units_frame_without_a_valid_position_is_rejected_and_counted(
    pipe: MobilePipeline, properties: list, reason: str
) -> None:
    pipe.process(Inbound(TOPIC, frame(PLATE), 1_764_000_000.0), properties)
    assert pipe.counters.get(f"rejected.{reason}") == 1
    assert deadletters.counts(pipe.conn).get(reason) == 1
    assert parking(pipe) == []


def test_a_restart_between_the_two_passes_still_confirms_the_stop(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, geofences=GEO)
    units = load_mobile_units(GEO / "cameras", settings.tz)
    zones = load_zones(GEO, settings.tz, settings.dwell_s, settings.grace_s)
    first = MobilePipeline(settings, connect(settings.db_path), units, zones)
    t0 = 1_764_000_000.0
    first.process(Inbound(TOPIC, frame(PLATE), t0), props(t0))
    first.conn.close()
    again = MobilePipeline(settings, connect(settings.db_path), units, zones)
    again.process(Inbound(TOPIC, frame(PLATE, 3), t0 + 400), props(t0 + 400))
    (alert,) = parking(again)
    assert alert.started_at == t0 and alert.status == "open"


def test_a_capture_beyond_the_max_gap_is_a_new_first_sighting(pipe: MobilePipeline) -> None:
    t0 = 1_764_000_000.0
    pipe.process(Inbound(TOPIC, frame(PLATE), t0), props(t0))
    t1 = t0 + 3700  # nobody came by for over an hour: no proof it stayed
    pipe.process(Inbound(TOPIC, frame(PLATE, 1), t1), props(t1))
    assert parking(pipe) == []
    t2 = t1 + 400  # a dwell after the new first sighting
    pipe.process(Inbound(TOPIC, frame(PLATE, 2), t2), props(t2))
    (alert,) = parking(pipe)
    assert (alert.started_at, alert.opened_at) == (t1, t2)


def test_a_plate_on_a_loading_spot_in_its_hours_is_lawful_until_its_longest_stop(
    pipe: MobilePipeline,
) -> None:
    # 府山路礼让停车位 01 (ls-fushanlu-01): loading 07:00-09:00 and 13:00-15:00, 30 min
    lat = 28.97913
    t0 = datetime(2026, 11, 23, 13, 10, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    for k, dt in enumerate((0, 600, 1500)):
        pipe.process(Inbound(TOPIC, frame(PLATE, k), t0 + dt), props(t0 + dt, lat))
    assert parking(pipe) == []  # 25 minutes of loading in its hours
    pipe.process(Inbound(TOPIC, frame(PLATE, 5), t0 + 1900), props(t0 + 1900, lat))
    (alert,) = parking(pipe)  # past its 30 minutes
    assert alert.zone_id == "sw-fushanlu-e" and alert.opened_at == t0 + 1900
