"""In a real browser, each alert kind's page shows the facts an operator acts on (issue 12):
a dog alert's dog, owner and phone and the owner's earlier cases one click away; a health
notice's battery and last fix; a parking alert's camera or patrol unit, its place, and
photos captioned with role, time and camera. One screenshot per kind under artifacts/."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from smartcity_iot.config import Settings
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Alert, Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store import users
from smartcity_iot.store.alerts import list_alerts
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import transaction
from smartcity_iot.web.server import WebServer

from ..support import REPO, TEST_ZONES, Mosquitto, fix_payload
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import HOME, PASSWORD, SCHOOL, school_visit
from .live import web  # noqa: F401 - fixture


@pytest.fixture
def settings(tmp_path: Path, broker: Mosquitto) -> Settings:
    """The test district with one patrol unit beside its fixed camera."""
    zones = tmp_path / "zones"
    shutil.copytree(TEST_ZONES, zones)
    shutil.copy(REPO / "geofences" / "cameras" / "patrol-01.json", zones / "cameras")
    return Settings(
        mqtt_url=broker.url,
        data_dir=tmp_path / "data",
        geofences=zones,
        mqtt_client_id=f"test-ingest-{broker.port}",
    )


def photo(settings: Settings, name: str, role: str, ts: float, **more: object) -> dict:
    img = np.full((360, 640, 3), (90, 110, 120), np.uint8)
    cv2.rectangle(img, (200, 180), (460, 300), (40, 40, 200), -1)
    cv2.putText(img, role, (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
    path = settings.data_dir / "evidence" / f"{name}-{role}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    rel = str(path.relative_to(settings.data_dir))
    return {"type": "image", "role": role, "path": rel, "ts": ts, **more}


def parking(db: sqlite3.Connection, settings: Settings, aid: str, device: str, t: float) -> None:
    extra = {"device_id": device} if device.startswith("patrol") else {}
    photos = [
        photo(settings, aid, role, t + dt, **extra)
        for role, dt in (("first_seen", 0), ("dwell_exceeded", 300), ("latest", 420))
    ]
    alert = Alert(
        id=aid, kind="sidewalk_parking", status="open", device_id=device, zone_id="walk-1",
        grid="G-03", started_at=t, ended_at=None, lat=28.9655, lon=118.8735, updated_at=t,
        party="vehicle:浙HA1234", plate="浙HA1234", plate_status="read", plate_conf=0.97,
        plate_candidate="浙HA1234", evidence=photos,
    )  # fmt: skip
    with transaction(db):
        Sinks(db).alert(alert)


def fixes(settings: Settings, db: sqlite3.Connection, tag: str, rows: list) -> TagPipeline:
    pipe = TagPipeline(settings, db, load_zones(settings.geofences, settings.tz))
    pipe.process(
        [
            Inbound(f"tags/{tag}/fix", fix_payload(ts, p[0], p[1], batt=b), ts + 1)
            for ts, p, b in rows
        ]
    )
    return pipe


def open_page(driver, web: WebServer, aid: str, ready: str):  # type: ignore[no-untyped-def]
    """The alert's page, once its fact row `ready` is drawn; returns that row's value cell."""
    driver.get(f"{web.url}console/alerts/{aid}")
    return WebDriverWait(driver, 10, poll_frequency=0.05).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f"#{ready} td"))
    )


def fact(driver, row: str) -> str:  # type: ignore[no-untyped-def]
    return driver.find_element(By.CSS_SELECTOR, f"#{row} td").text


def test_every_alert_kind_shows_its_facts(
    browser, web: WebServer, settings: Settings, db: sqlite3.Connection
) -> None:
    now = time.time()
    school_visit(settings, db, "TAG-0001", t=now - 7200)
    school_visit(settings, db, "TAG-0001", t=now - 3600)
    fixes(settings, db, "TAG-0003", [(now - 600, HOME, 40), (now - 570, SCHOOL, 12)])
    pipe = fixes(settings, db, "TAG-0002", [(now - 9000, HOME, 66)])
    pipe.sweep(now=now)
    parking(db, settings, "park-cam", "cam-test-01", now - 1800)
    parking(db, settings, "park-patrol", "patrol-01", now - 900)
    # the newest of each kind and tag (the service may find TAG-0001 silent too)
    kinds = {(a.kind, a.device_id): a.id for a in reversed(list_alerts(db, 100))}
    users.create_operator(db, "duty", PASSWORD, "值班员")

    driver = browser
    driver.get(web.url)
    driver.find_element(By.ID, "login-login").send_keys("duty")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 10).until(EC.url_contains("/console"))

    # a dog alert: who to call, and the owner's earlier case one click away
    phone = open_page(driver, web, kinds["dog_forbidden_zone", "TAG-0001"], "fact-phone")
    assert phone.text == "13900000001"
    assert phone.find_element(By.TAG_NAME, "a").get_attribute("href") == "tel:13900000001"
    assert fact(driver, "fact-owner") == "张三"
    assert "旺财" in fact(driver, "fact-dog")
    assert "TAG-0001" in fact(driver, "fact-dog")
    earlier = driver.find_elements(By.CSS_SELECTOR, "#earlier-cases a")
    assert len(earlier) == 1 and driver.find_element(By.ID, "earlier-box").is_displayed()
    shot(driver, "alert-facts-dog")
    earlier[0].click()
    WebDriverWait(driver, 10).until(
        EC.text_to_be_present_in_element((By.ID, "earlier-none"), "无既往案件")
    )
    assert driver.find_element(By.ID, "earlier-none").is_displayed()

    # a low-battery notice: the battery when it opened, and where the tag was then
    battery = open_page(driver, web, kinds["tag_low_battery", "TAG-0003"], "fact-battery")
    assert battery.text.startswith("12%")
    assert "测试小学" in fact(driver, "fact-last-fix")
    assert "张三" not in fact(driver, "fact-owner")  # TAG-0003 is 李四's
    shot(driver, "alert-facts-low-battery")

    # an offline notice: when and where the tag was last heard
    last = open_page(driver, web, kinds["tag_offline", "TAG-0002"], "fact-last-fix")
    assert "28.96000, 118.87500" in last.text
    assert fact(driver, "fact-battery").startswith("66%")
    shot(driver, "alert-facts-offline")

    # parking at a fixed camera: its name and place, photos captioned role · time · camera
    device = open_page(driver, web, "park-cam", "fact-device")
    assert "测试路 01 (cam-test-01)" in device.text
    # the photos draw after the facts: wait for them, then read what they say
    WebDriverWait(driver, 10, poll_frequency=0.05).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#photos figcaption")) >= 3
    )
    captions = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#photos figcaption")]
    assert len(captions) == 3, captions
    assert captions[0].startswith("首次发现 · 20") and captions[0].endswith(
        "测试路 01 (cam-test-01)"
    )
    assert "超过时限" in captions[1] and "最新" in captions[2]
    shot(driver, "alert-facts-parking-camera")

    # parking seen by a patrol unit: the unit and where it stood; the vehicle's cases
    device = open_page(driver, web, "park-patrol", "fact-device")
    WebDriverWait(driver, 10).until(
        EC.text_to_be_present_in_element((By.ID, "captures"), "巡查车 01")
    )
    assert device.text.startswith("巡查车 01 (patrol-01)") and "抓拍时位置" in device.text
    assert driver.find_element(By.CSS_SELECTOR, "#fact-device th").text == "巡查车"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#vehicle-cases a")) == 2
    shot(driver, "alert-facts-parking-patrol")
