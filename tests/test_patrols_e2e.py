"""Patrol units end to end (SPEC 5.1): the simulator's two units publish their frames
with position over MQTT v5 to a real Mosquitto, the service finds plates, applies the
re-sighting rule and publishes alerts on alerts/#, which must be exactly the staged
violations of readable plates (precision and recall 1.0); short stops, a lawful
loading stop and unreadable plates raise nothing. The first violation's vehicle had
been caught by a fixed camera three days before: `education` there, `warning` here,
one ladder for one vehicle."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_sim.patrol import PatrolWorld
from firmware_sim.plates import plate_image
from firmware_sim.publisher import publish_stream
from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store.alerts import list_alerts
from smartcity_iot.store.sqlite import connect

from .support import REPO, AlertListener, Mosquitto, client, wait_until
from .vision.scenes import car, encode, person, street
from .vision.test_cameras_e2e import publish_frames

GEO = REPO / "geofences"
START = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
SPAN_S = 1500  # two units, 25 minutes: violations, short stops, loading in and out of hours


def fixed_camera_stop(plate: str, style: str, t0: float) -> list[tuple[float, bytes]]:
    """A car with `plate` parked 90 s in front of the fixed test camera (120 s dwell)."""
    base = street(seed=4)
    image = plate_image(plate, style, 36).astype(np.float32)
    frames = []
    for t in range(250):
        img = base.copy()
        if 10 <= t < 240:
            car(img, 300, 510)
            px, py = 300 + 130 - image.shape[1] // 2, 510 + 120 - 44
            img[py : py + image.shape[0], px : px + image.shape[1]] = image
        if t % 20 < 5:
            person(img, 200 + (t % 20) * 50, 560)
        frames.append((t0 + t, encode(img, seed=t)))
    return frames


def test_two_patrol_units_alert_exactly_the_staged_violations_of_readable_plates(
    broker: Mosquitto, settings: Settings, tmp_path
) -> None:
    world = PatrolWorld(GEO, 1, START, SPAN_S)
    world.unit(GEO / "cameras" / "patrol-01.json")
    world.unit(GEO / "cameras" / "patrol-02.json")
    truth = world.truth()
    expected = [r for r in truth if r["violation"] and r["plate_readable"]]
    cases = {r["case"] for r in truth}
    assert len(expected) >= 3 and {"short", "loading_lawful", "loading_off_hours"} <= cases
    assert any(r["violation"] and not r["plate_readable"] for r in truth)  # never alerted
    assert {r["unit_id"] for r in expected} == {"patrol-01", "patrol-02"}
    assert any(r["passes"][0]["unit_id"] != r["unit_id"] for r in expected)  # units combine

    # The fixed test camera plus the district's zones and patrol units.
    geo = tmp_path / "geo"
    geo.mkdir()
    (geo / "cameras").mkdir()
    for f in GEO.glob("*.geojson"):
        (geo / f.name).write_bytes(f.read_bytes())
    for f in (GEO / "cameras").glob("patrol-*.json"):
        (geo / "cameras" / f.name).write_bytes(f.read_bytes())
    test_cam = REPO / "tests" / "data" / "zones" / "cameras" / "cam-test-01.json"
    (geo / "cameras" / test_cam.name).write_bytes(test_cam.read_bytes())
    settings = settings.model_copy(update={"geofences": geo, "frame_queue_max": 100_000})
    service = Service(settings)
    service.start()
    assert service.wait_connected(10)
    listener = AlertListener(broker.port)
    try:
        first = min(expected, key=lambda r: r["confirm_at"])
        style = first["plate_style"]
        pub = client(broker.port)
        publish_frames(pub, fixed_camera_stop(first["plate"], style, START.timestamp() - 3 * 86400))
        assert wait_until(lambda: service.counters.get("frames") >= 250, 120)
        # a unit's frame without a position (no user properties, no EXIF GPS): bad input
        plain = encode(street(seed=5), seed=1)
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("ts", str(int(START.timestamp() * 1000)))
        pub.publish("cameras/patrol-01/frame", plain, qos=1, properties=props).wait_for_publish(10)
        assert wait_until(lambda: service.counters.get("rejected.missing_field") == 1, 30)
        stats = publish_stream(world.messages(), broker.url, protocol="5", qos=1, rate=120.0,
                               client_id="patrol-sim", total=world.frame_count())  # fmt: skip
        assert stats["failed"] == 0 and stats["acked"] == world.frame_count()
        done = 250 + world.frame_count()
        assert wait_until(lambda: service.counters.get("frames") >= done, 300), (
            service.counters.snapshot()
        )

        def patrol_alerts() -> dict[str, dict]:
            latest: dict[str, dict] = {}
            for m in listener.snapshot():
                patrol = m["kind"] == "sidewalk_parking" and m["device_id"].startswith("patrol-")
                if patrol and m["revision"] >= latest.get(m["id"], {}).get("revision", 0):
                    latest[m["id"]] = m
            return latest

        assert wait_until(lambda: len(patrol_alerts()) >= len(expected), 10)
        time.sleep(1)
        got = sorted(patrol_alerts().values(), key=lambda m: m["opened_at"])
        assert [m["plate"] for m in got] == [r["plate"] for r in expected]  # precision, recall
        for m, r in zip(got, expected, strict=True):
            assert (m["zone_id"], m["device_id"]) == (r["zone_id"], r["unit_id"])
            assert abs(m["opened_at"] - r["confirm_at"]) < 1.0
            assert m["party"] == f"vehicle:{r['plate']}" and m["plate_status"] == "read"
            assert abs(m["lat"] - r["est_lat"]) < 5e-5 and abs(m["lon"] - r["est_lon"]) < 5e-5
            assert m["evidence"][0]["device_id"] == r["passes"][0]["unit_id"]
            roles = [e["role"] for e in m["evidence"]]
            assert roles == ["first_seen", "dwell_exceeded", "latest", "plate"]
            for e in m["evidence"]:
                assert (settings.data_dir / e["path"]).is_file()
        steps = {m["plate"]: m["escalation"] for m in got}
        assert steps[first["plate"]] == "warning"  # the fixed camera's was the first
        assert all(s == "education" for p, s in steps.items() if p != first["plate"])
        conn = connect(settings.db_path)
        fixed = [a for a in list_alerts(conn) if a.device_id == "cam-test-01"]
        assert [(a.plate, a.escalation) for a in fixed] == [(first["plate"], "education")]
        assert service.counters.get("patrol_sightings") > 0
    finally:
        listener.close()
        service.stop()
