"""Camera frames through a real Mosquitto into the service: a car parked past the
dwell is one sidewalk_parking alert with three evidence photos; a lawful
loading stop is none; bad frames are rejected, counted and survived."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from functools import partial

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store import deadletters
from smartcity_iot.store.alerts import list_alerts

from ..support import AlertListener, Mosquitto, client, wait_until
from .scenes import car, encode, person, street

BASE = street()


def publish_frames(
    c: mqtt.Client,
    frames: list[tuple[float, bytes]],
    camera: str = "cam-test-01",
    handled: Callable[[], int] | None = None,
) -> None:
    """Frames one after another; with `handled` (frames the service has processed), at
    most two ahead of it, as a camera at one frame a second is on any machine: frames
    sent faster than a busy machine handles them would be skipped (counted, correct,
    but then the test would see fewer than it sent)."""
    sent = handled() if handled else 0
    for ts, jpeg in frames:
        if handled is not None:
            assert wait_until(partial(_caught_up, handled, sent - 2), 30, 0.002), "stalled"
        sent += 1
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("ts", str(int(ts * 1000)))
        info = c.publish(f"cameras/{camera}/frame", jpeg, qos=1, properties=props)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
        info.wait_for_publish(10)
        time.sleep(0.01)  # a camera sends frames one after another, not in a burst


def _caught_up(handled: Callable[[], int], goal: int) -> bool:
    return handled() >= goal


def parked(x: int, stay_s: int, t0: float) -> list[tuple[float, bytes]]:
    frames = []
    for t in range(stay_s + 30):
        img = BASE.copy()
        if 10 <= t < 10 + stay_s:
            car(img, x, 510)
        if t % 12 < 6:
            person(img, x - 100 + (t % 12) * 50, 560)  # passers-by in front of it
        frames.append((t0 + t, encode(img, seed=t)))
    return frames


def test_parked_car_is_one_alert_with_evidence_and_a_loading_stop_is_none(
    broker: Mosquitto, service: Service, settings: Settings, db: sqlite3.Connection
) -> None:
    listener = AlertListener(broker.port)
    pub = client(broker.port)
    t0 = time.time() - 3600

    def handled() -> int:
        return service.counters.get("frames")

    publish_frames(pub, parked(300, 90, t0), handled=handled)  # 90 s on the sidewalk, dwell 40 s
    # 90 s in the loading spot, hours all day, max 30 min
    publish_frames(pub, parked(950, 90, t0 + 200), handled=handled)
    assert wait_until(lambda: service.counters.get("frames") >= 240, 60), (
        service.counters.snapshot()
    )
    alerts = [a for a in list_alerts(db) if a.kind == "sidewalk_parking"]
    assert len(alerts) == 1, alerts
    a = alerts[0]
    assert (
        a.status == "closed"
        and a.zone_id == "cam-test-01/sidewalk"
        and a.device_id == "cam-test-01"
    )
    assert abs(a.started_at - (t0 + 10)) <= 5, "timed from when it stopped, in capture time"
    assert abs(a.opened_at - (t0 + 10 + 40)) <= 5
    assert abs(a.ended_at - (t0 + 100)) <= 5
    roles = [e["role"] for e in a.evidence]
    assert roles == ["first_seen", "dwell_exceeded", "latest"]
    for e in a.evidence:
        image = cv2.imread(str(settings.data_dir / e["path"]))
        assert image is not None and image.shape == (720, 1280, 3)
    assert wait_until(
        lambda: (
            {m["status"] for m in listener.snapshot() if m["kind"] == "sidewalk_parking"}
            == {"open", "closed"}
        ),
        10,
    )
    # no photos left behind by the lawful stop
    photos = list((settings.data_dir / "evidence").rglob("*.jpg"))
    assert len(photos) == 3
    listener.close()


def test_bad_frames_are_rejected_counted_and_survived(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    pub = client(broker.port)
    small = cv2.imencode(".jpg", np.zeros((240, 320, 3), np.uint8))[1].tobytes()
    for topic, payload in [
        ("cameras/cam-test-01/frame", b"not a jpeg"),
        ("cameras/cam-test-01/frame", small),
        ("cameras/cam-nobody/frame", small),
    ]:
        pub.publish(topic, payload, qos=1).wait_for_publish(5)
    publish_frames(pub, [(time.time(), encode(BASE))])
    assert wait_until(lambda: service.counters.get("frames") == 1, 20)
    assert deadletters.counts(db) == {"not_jpeg": 1, "wrong_size": 1, "unknown_device": 1}


def test_tag_fixes_never_wait_behind_vision(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    """A flood of frames is skipped (counted) rather than delaying fixes."""
    from ..support import fix_payload, publish_all

    pub = client(broker.port)
    jpeg = encode(BASE)
    for i in range(300):
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("ts", str(int((time.time() - 600 + i * 0.01) * 1000)))
        pub.publish("cameras/cam-test-01/frame", jpeg, qos=1, properties=props)
    publish_all(pub, [("tags/TAG-0001/fix", fix_payload(time.time() - 5, 28.960, 118.875))])
    assert wait_until(lambda: db.execute("SELECT COUNT(*) FROM fixes").fetchone()[0] == 1, 5)
    assert wait_until(
        lambda: service.counters.get("frames") + service.counters.get("frames_skipped") == 300, 60
    )
    assert service.counters.get("frames_skipped") > 0


def test_restart_keeps_timing_the_parked_car(
    broker: Mosquitto, settings: Settings, db: sqlite3.Connection
) -> None:
    frames = parked(300, 100, time.time() - 3600)
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    pub = client(broker.port)
    # at rest since frame 10; 25 s timed, dwell is 40 s
    publish_frames(pub, frames[:35], handled=lambda: svc.counters.get("frames"))
    assert wait_until(lambda: svc.counters.get("frames") >= 35, 30)
    svc.stop()
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    publish_frames(pub, frames[35:], handled=lambda: svc.counters.get("frames"))
    assert wait_until(lambda: svc.counters.get("frames") >= len(frames) - 35, 60)
    svc.stop()
    [a] = [a for a in list_alerts(db) if a.kind == "sidewalk_parking"]
    assert abs(a.started_at - frames[10][0]) <= 5, "the stop was timed from before the restart"
    assert abs(a.opened_at - (frames[10][0] + 40)) <= 5, (
        "not restarted, not absorbed into the background"
    )
    assert a.status == "closed"
