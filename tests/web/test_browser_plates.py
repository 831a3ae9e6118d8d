"""In a real browser: an operator reads an unread plate off its close-up, types it,
and the alert gets its party and escalation and goes out again on alerts/#."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from smartcity_iot.config import Settings
from smartcity_iot.geo.cameras import load_cameras
from smartcity_iot.pipeline.alerting import ParkingAlerts
from smartcity_iot.rules import parking
from smartcity_iot.rules.plate_vote import PlateVerdict
from smartcity_iot.store import users
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import transaction
from smartcity_iot.web.server import WebServer

from ..support import AlertListener, Mosquitto, wait_until
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD
from .live import web  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]
CAMERA = load_cameras(REPO / "geofences" / "cameras", ZoneInfo("Asia/Shanghai"))[0]


def closeup(settings: Settings, alert_id: str) -> dict:
    """A plate close-up as the plate stage saves it (here drawn, not cut from a frame)."""
    img = np.full((110, 480, 3), (160, 60, 20), np.uint8)
    cv2.putText(img, "H A1284?", (40, 75), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 4)
    path = settings.data_dir / "evidence" / CAMERA.id / f"{alert_id}-plate.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    return {
        "type": "image",
        "role": "plate",
        "path": str(path.relative_to(settings.data_dir)),
        "ts": 0.0,
        "box": [0, 0, 480, 110],
        "text": "浙HA1284",
        "conf": 0.55,
    }


def stored_stop(db: sqlite3.Connection, settings: Settings, started: float, verdict: PlateVerdict):
    stop = parking.Stop(started, started + 400, True)
    opened = parking.ParkingOpened(started, started + 310)
    aid = ParkingAlerts.alert_id(CAMERA, stop)
    photos = [closeup(settings, aid)]
    alert = ParkingAlerts(db).opened(CAMERA, stop, opened, photos, verdict, started + 310)
    with transaction(db):
        Sinks(db).alert(alert)
    return alert


def test_an_unread_plate_becomes_a_party_when_an_operator_types_it(
    browser,
    web: WebServer,
    broker: Mosquitto,
    settings: Settings,
    db: sqlite3.Connection,
) -> None:
    t0 = time.time() - 3600
    read = PlateVerdict("浙HA1234", 0.97, "read", "浙HA1234")
    stored_stop(db, settings, t0 - 5 * 86400, read)  # the same car, parked last week
    alert = stored_stop(db, settings, t0, PlateVerdict(None, 0.55, "unread", "浙HA1284"))
    assert alert.party is None and alert.escalation is None
    listener = AlertListener(broker.port)
    users.create_operator(db, "duty", PASSWORD, "值班员")

    driver = browser
    driver.get(web.url)
    driver.find_element(By.ID, "login-login").send_keys("duty")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait = WebDriverWait(driver, 10, poll_frequency=0.05)
    wait.until(EC.url_contains("/console"))
    driver.get(f"{web.url}console/alerts/{alert.id}")
    status = wait.until(EC.presence_of_element_located((By.ID, "plate-status")))
    assert status.text == "未识别"
    assert driver.find_element(By.ID, "plate-closeup").get_attribute("src")
    shot(driver, "operator-plate-unread")

    box = driver.find_element(By.ID, "plate-input")
    assert box.get_attribute("value") == "浙HA1284"  # the best candidate, to check
    box.clear()
    box.send_keys("浙H·A123")  # a character short: refused, saying why
    driver.find_element(By.ID, "btn-plate").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "plate-msg"), "有 6 个字符"))
    box = driver.find_element(By.ID, "plate-input")
    box.clear()
    box.send_keys("浙H·A1234")
    driver.find_element(By.ID, "btn-plate").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "plate-status"), "已更正"))
    wait.until(EC.text_to_be_present_in_element((By.ID, "plate-hint"), "当事方：车辆 浙HA1234"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#vehicle-cases tr")) == 2
    assert driver.find_elements(By.CSS_SELECTOR, "#events tr[data-action='plate']")
    shot(driver, "operator-plate-corrected")

    def republished() -> list[dict]:
        return [m for m in listener.snapshot() if m["id"] == alert.id and m["revision"] == 2]

    assert wait_until(lambda: republished(), 10)
    out = republished()[0]
    assert out["_topic"] == "alerts/sidewalk_parking"
    assert (out["plate"], out["plate_status"], out["party"]) == (
        "浙HA1234",
        "corrected",
        "vehicle:浙HA1234",
    )
    assert (out["escalation"], out["offence_number"]) == ("warning", 2)
    listener.close()
