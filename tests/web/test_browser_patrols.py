"""In a real browser: the console's map follows the patrol units (each one's recent
route and its last position, labelled), and a patrol's parking alert shows its two
captures side by side, each with its unit and local time, beside the plate read."""

from __future__ import annotations

import math
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from smartcity_iot.config import Settings
from smartcity_iot.model import Alert
from smartcity_iot.pipeline.mobile_stages import EVIDENCE_DIR, vehicle_box
from smartcity_iot.store import users
from smartcity_iot.store.alerts import alert_id, save_alert
from smartcity_iot.store.sqlite import transaction
from smartcity_iot.vision.closeup import save_closeup
from smartcity_iot.vision.evidence import EvidenceStore
from smartcity_iot.web.server import WebServer

from ..support import REPO
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD
from .live import web  # noqa: F401 - fixture
from .test_patrols_api import patrol_geofences, save_routes

PHOTO = REPO / "tests" / "data" / "plates" / "hyperlpr_test_img.jpg"  # a real parked car
PLATE_BOX = (1744, 770, 122, 82)  # its plate in PHOTO (1920x1080)
PLATE = "苏ED51712"
PLACE = (28.96005, 118.8507)  # the car, on the test sidewalk walk-1
STREET_LAT = 28.95996  # the road beside it, driven westwards (the camera looks right: north)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test zones and cameras plus two patrol units."""
    return settings.model_copy(update={"geofences": patrol_geofences(tmp_path)})


def drive(waypoints: list[tuple[float, float]], end: float, every_s: float = 5.0) -> list[list]:
    """A route as the mobile path keeps it ([ts, lat, lon, heading], a point every 5 s
    of capture time) for a unit driving at 8 m/s through the waypoints, ending at `end`."""
    points: list[list] = []
    step_m = 8.0 * every_s
    for (lat0, lon0), (lat1, lon1) in zip(waypoints, waypoints[1:]):
        dy = (lat1 - lat0) * 111_320
        dx = (lon1 - lon0) * 111_320 * math.cos(math.radians(lat0))
        heading = math.degrees(math.atan2(dx, dy)) % 360
        n = max(1, round(math.hypot(dx, dy) / step_m))
        for i in range(n):
            f = i / n
            points.append([0.0, lat0 + f * (lat1 - lat0), lon0 + f * (lon1 - lon0), heading])
    points.append([0.0, *waypoints[-1], points[-1][3]])
    for i, p in enumerate(points):
        p[0] = end - every_s * (len(points) - 1 - i)
        p[1], p[2] = round(p[1], 7), round(p[2], 7)
    return points[-240:]


def capture(x0: int, y0: int, w: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 1280x720 frame of the patrol camera: a 16:9 part of the photo (each pass sees
    the car from a little elsewhere), and the plate's box in it."""
    image = cv2.imread(str(PHOTO))
    h = w * 9 // 16
    scale = 1280 / w
    frame = cv2.resize(image[y0 : y0 + h, x0 : x0 + w], (1280, 720), interpolation=cv2.INTER_AREA)
    px, py, pw, ph = PLATE_BOX
    box = (round((px - x0) * scale), round((py - y0) * scale), round(pw * scale), round(ph * scale))
    return frame, box


def patrol_alert(settings: Settings, db: sqlite3.Connection, first: float, confirm: float) -> Alert:
    """A parked car photographed by patrol-01, then confirmed by patrol-02, its evidence
    saved as the mobile path saves it."""
    aid = alert_id("sidewalk_parking", f"vehicle:{PLATE}", "walk-1", first)
    store = EvidenceStore(settings.data_dir, settings.tz)
    evidence = []
    shots = [
        ("first_seen", "patrol-01", first, (0, 0, 1920)),
        ("dwell_exceeded", "patrol-02", confirm, (120, 60, 1760)),
        ("latest", "patrol-02", confirm, (120, 60, 1760)),
    ]
    for role, unit, ts, crop in shots:
        frame, plate_box = capture(*crop)
        jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        where = f"{unit}  at {STREET_LAT:.6f}, {PLACE[1]:.6f}  heading 270"
        box = vehicle_box(plate_box, 1280, 720)
        item = store.save(EVIDENCE_DIR, aid, role, jpeg, box, ts, where)  # type: ignore[arg-type]
        evidence.append({**item, "device_id": unit})
    plate = save_closeup(store, EVIDENCE_DIR, aid, frame, plate_box, confirm, PLATE, 0.93)
    alert = Alert(
        id=aid,
        kind="sidewalk_parking",
        status="open",
        device_id="patrol-02",
        zone_id="walk-1",
        grid="G-03",
        started_at=first,
        ended_at=None,
        lat=PLACE[0],
        lon=PLACE[1],
        escalation="education",
        offence_number=1,
        party=f"vehicle:{PLATE}",
        zone_name="人行道",
        opened_at=confirm,
        updated_at=confirm,
        evidence=[*evidence, plate],
        plate=PLATE,
        plate_conf=0.93,
        plate_status="read",
        plate_candidate=PLATE,
    )
    with transaction(db):
        save_alert(db, alert)
    return alert


def local(settings: Settings, ts: float) -> str:
    return datetime.fromtimestamp(ts, settings.tz).strftime("%Y-%m-%d %H:%M:%S")


def test_the_map_follows_the_patrol_units_and_a_patrol_alert_shows_both_captures(
    browser,
    web: WebServer,
    settings: Settings,
    db: sqlite3.Connection,
) -> None:
    now = time.time()
    first = round(now) - 1810
    confirm = first + 1690  # 28 min 10 s later, two minutes ago
    # patrol-01 passed the car half an hour ago, drove on north-east and has been silent
    # since (muted); patrol-02 confirmed it and is driving west along the street now
    route_01 = drive(
        [(STREET_LAT, 118.8540), (STREET_LAT, 118.8503), (28.9680, 118.8560)], first + 200
    )
    route_02 = drive([(28.9700, 118.8700), (STREET_LAT, 118.8620), (STREET_LAT, 118.8530)], now - 3)
    save_routes(
        db,
        {
            "patrol-01": {"last_ts": route_01[-1][0], "route": route_01},
            "patrol-02": {"last_ts": now - 3, "route": route_02},
        },
    )
    alert = patrol_alert(settings, db, first, confirm)
    users.create_operator(db, "duty", PASSWORD, "值班员")

    driver = browser
    wait = WebDriverWait(driver, 10, poll_frequency=0.05)
    driver.get(web.url)
    driver.find_element(By.ID, "login-login").send_keys("duty")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(EC.url_contains("/console"))

    # the map: each unit's route and a labelled marker at its last position
    marker = wait.until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#map .patrol-unit [data-unit='patrol-02']")
        )
    )
    line = driver.find_element(By.CSS_SELECTOR, "#map path.patrol-route[data-unit='patrol-02']")
    # one vertex per kept point: "M x y" then "L x y" for each of the others
    assert len(line.get_attribute("d").split("L")) == len(route_02)
    assert marker.find_element(By.CSS_SELECTOR, ".patrol-label").text == "巡查车 02"
    assert marker.is_displayed() and line.size["width"] > 100
    stale = driver.find_element(By.CSS_SELECTOR, "#map path.patrol-route[data-unit='patrol-01']")
    assert "stale" in stale.get_attribute("class").split()  # silent for 26 min: muted
    unit_01 = driver.find_element(By.CSS_SELECTOR, "#map .patrol-unit:has([data-unit='patrol-01'])")
    assert "stale" in unit_01.get_attribute("class").split()
    assert (
        "stale"
        not in driver.find_element(
            By.CSS_SELECTOR, "#map .patrol-unit:has([data-unit='patrol-02'])"
        )
        .get_attribute("class")
        .split()
    )
    wait.until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f"#map [data-alert-id='{alert.id}']"))
    )
    legend = driver.find_element(By.CSS_SELECTOR, ".legend .l-patrol")
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", legend)
    shot(driver, "operator-console-patrols")

    # the map follows: the unit drives on, and the console redraws it within its refresh
    unit_02 = "#map .patrol-unit:has([data-unit='patrol-02'])"  # Leaflet moves the marker
    before = driver.find_element(By.CSS_SELECTOR, unit_02).get_attribute("style")
    route_02 += drive([(STREET_LAT, 118.8530), (STREET_LAT, 118.8505)], time.time())[1:]
    save_routes(
        db,
        {
            "patrol-01": {"last_ts": route_01[-1][0], "route": route_01},
            "patrol-02": {"last_ts": route_02[-1][0], "route": route_02[-240:]},
        },
    )
    WebDriverWait(driver, 15, poll_frequency=0.2).until(
        lambda d: d.find_element(By.CSS_SELECTOR, unit_02).get_attribute("style") != before
    )

    # the alert: the first and the confirming capture side by side, each with its unit
    driver.get(f"{web.url}console/alerts/{alert.id}")
    pair = [
        wait.until(
            EC.visibility_of_element_located(
                (By.CSS_SELECTOR, f"#captures figure[data-role='{role}']")
            )
        )
        for role in ("first_seen", "dwell_exceeded")
    ]
    for fig in pair:
        img = fig.find_element(By.TAG_NAME, "img")
        wait.until(
            lambda d, img=img: d.execute_script("return arguments[0].naturalWidth", img) == 1280
        )
    left, right = pair
    assert left.location["y"] == right.location["y"]  # side by side
    assert left.location["x"] + left.size["width"] <= right.location["x"]
    assert left.size["width"] > 250
    assert "首次抓拍" in left.text and "确认抓拍" in right.text
    assert "巡查车 01 (patrol-01)" in left.text and local(settings, first) in left.text
    assert "巡查车 02 (patrol-02)" in right.text and local(settings, confirm) in right.text
    assert "28 分 10 秒" in driver.find_element(By.ID, "capture-gap").text
    # the plate close-up beside the plate read, as for a fixed camera
    closeup = driver.find_element(By.ID, "plate-closeup")
    assert closeup.is_displayed() and closeup.get_attribute("src")
    assert driver.find_element(By.ID, "plate-text").text == PLATE
    assert driver.find_element(By.ID, "plate-status").text == "自动识别"
    assert "确认抓拍" in driver.find_element(By.ID, "plate-source").text
    shot(driver, "operator-patrol-alert")
