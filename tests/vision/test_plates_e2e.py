"""Plates through a real Mosquitto into the service: one car parked twice, on
different days, is one vehicle: `education`, then `warning`, its plate in both."""

from __future__ import annotations

import sqlite3
import time

import numpy as np

from firmware_sim.plates import plate_image
from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store.alerts import list_alerts

from ..support import AlertListener, Mosquitto, client, wait_until
from .scenes import car, encode, person, street
from .test_cameras_e2e import publish_frames

BASE = street(seed=4)
PLATE = "浙HA5T21"


def parked_with_plate(x: int, stay_s: int, t0: float) -> list[tuple[float, bytes]]:
    plate = plate_image(PLATE, "blue", 36).astype(np.float32)
    frames = []
    for t in range(stay_s + 30):
        img = BASE.copy()
        if 10 <= t < 10 + stay_s:
            car(img, x, 510)
            px, py = x + 130 - plate.shape[1] // 2, 510 + 120 - 44
            img[py : py + plate.shape[0], px : px + plate.shape[1]] = plate
        if t % 20 < 5:
            person(img, x - 100 + (t % 20) * 50, 560)  # passers-by, now and then in front
        frames.append((t0 + t, encode(img, seed=t)))
    return frames


def test_one_car_parked_on_two_days_is_one_vehicle_education_then_warning(
    broker: Mosquitto, settings: Settings, db: sqlite3.Connection
) -> None:
    # frames arrive 100x faster than a camera sends them: queue them all, skip none
    settings = settings.model_copy(update={"frame_queue_max": 10_000})
    service = Service(settings)
    service.start()
    assert service.wait_connected(10)
    listener = AlertListener(broker.port)
    pub = client(broker.port)
    now = time.time()
    publish_frames(pub, parked_with_plate(300, 90, now - 3 * 86400))
    publish_frames(pub, parked_with_plate(330, 90, now - 3600))
    assert wait_until(lambda: service.counters.get("frames") >= 240, 90), (
        service.counters.snapshot()
    )
    alerts = sorted(
        (a for a in list_alerts(db) if a.kind == "sidewalk_parking"), key=lambda a: a.started_at
    )
    assert [(a.plate, a.plate_status, a.party) for a in alerts] == [
        (PLATE, "read", f"vehicle:{PLATE}"),
        (PLATE, "read", f"vehicle:{PLATE}"),
    ], alerts
    assert [a.escalation for a in alerts] == ["education", "warning"]
    for a in alerts:
        closeup = [e for e in a.evidence if e["role"] == "plate"]
        assert len(closeup) == 1 and (settings.data_dir / closeup[0]["path"]).is_file()
    assert wait_until(
        lambda: (
            {
                (m["id"], m["escalation"], m["plate"])
                for m in listener.snapshot()
                if m["kind"] == "sidewalk_parking"
            }
            >= {(alerts[0].id, "education", PLATE), (alerts[1].id, "warning", PLATE)}
        ),
        10,
    )
    listener.close()
    service.stop()
