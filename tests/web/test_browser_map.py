"""In a real browser, the console's Leaflet map over the shipped district
(`geofences/`): its streets, zone names, fixed cameras, alerts clustered when dense, and
a dog's track with its direction, start, end and times, all under the page's CSP.
Screenshots land in artifacts/screenshots/ (map-*.png)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from firmware_sim.streets import dumps, streets_geojson
from smartcity_iot.config import Settings
from smartcity_iot.store import users
from smartcity_iot.web.app import create_app
from smartcity_iot.web.server import WebServer

from ..support import REPO, Mosquitto, client, fix_payload, publish_all
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD, T0
from .live import web  # noqa: F401 - fixture

DISTRICT = REPO / "geofences"
STREETS = DISTRICT / "streets" / "kecheng-streets.geojson"
HOSPITAL = (28.97432, 118.86609)  # 衢州市中医医院 (hospital-zyy): no dogs at any hour
FANGMEN_CAMERA = (28.97177, 118.87076)  # cam-fangmen-01, on 坊门街
FIXED_CAMERAS = {"cam-fangmen-01", "cam-fushan-01", "cam-shuiting-01"}
FIT_ZONE = """const m = document.getElementById('map')._scmap;
m.layers.zones.eachLayer((l) => { if (l.feature.properties.id === arguments[0])
  m.map.fitBounds(l.getBounds(), { animate: false }); });"""
# Record every CSP violation from the first script of each page on (Chromium's DevTools
# protocol runs this before the page's own scripts, and outside its CSP).
CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shipped district, its streets and cameras (read only)."""
    return settings.model_copy(update={"geofences": DISTRICT})


def wait(driver, seconds: float = 10) -> WebDriverWait:  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, seconds, poll_frequency=0.05)


def into_the_hospital(tag: str, east_m: float = 0.0) -> list[tuple[str, bytes]]:
    """A dog walks west along the street into the hospital grounds, stays 2 min, and
    leaves northwards: 24 fixes 15 s apart."""
    lat, lon = HOSPITAL
    lon += east_m / 97_400  # metres per degree of longitude here
    legs = (
        [(lat, lon + 0.0030 * (1 - i / 8)) for i in range(8)]  # west
        + [(lat, lon)] * 8
        + [(lat + 0.0030 * (i + 1) / 8, lon) for i in range(8)]  # north
    )
    return [
        (f"tags/{tag}/fix", fix_payload(T0 + 15 * i, la, lo, seq=i))
        for i, (la, lo) in enumerate(legs)
    ]


def hover(driver, element) -> list[str]:  # type: ignore[no-untyped-def]
    """The hover tips shown with the pointer on `element` (moved off and on again once
    when the first move lands while the page still lays itself out)."""
    for _ in range(3):
        ActionChains(driver).move_to_element(element).perform()
        try:
            # a tip redrawn between finding and reading it is stale: look again
            return WebDriverWait(
                driver, 2, ignored_exceptions=(StaleElementReferenceException,)
            ).until(
                lambda d: [
                    t.text
                    for t in d.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip.map-tip")
                    if t.is_displayed()
                ]
            )
        except TimeoutException:
            ActionChains(driver).move_to_element_with_offset(element, 60, 60).perform()
    raise AssertionError("no tooltip on hover")


def local(settings: Settings, ts: float) -> str:
    return datetime.fromtimestamp(ts, settings.tz).strftime("%Y-%m-%d %H:%M:%S")


def log_in_watching_csp(driver, base: str) -> None:  # type: ignore[no-untyped-def]
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_PROBE})
    driver.get(base)
    driver.find_element(By.ID, "login-login").send_keys("duty")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait(driver).until(EC.url_contains("/console"))


def no_csp_violations(driver) -> None:  # type: ignore[no-untyped-def]
    assert driver.execute_script("return window.__csp") == []
    errors = [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    assert errors == []


def test_the_console_map_draws_streets_zone_names_cameras_and_clusters_alerts(
    browser,
    web: WebServer,
    broker: Mosquitto,
    db: sqlite3.Connection,
) -> None:
    users.create_operator(db, "duty", PASSWORD, "值班员")
    log_in_watching_csp(browser, web.url)
    b = browser

    # streets: one SVG path per street of the shipped layer, the named ones labelled
    shipped = json.loads(STREETS.read_text(encoding="utf-8"))["features"]
    wait(b).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#map path.street")) == len(shipped)
    )
    labels = {  # shown once zoomed in (see the zoomed screenshot)
        e.get_attribute("textContent")
        for e in b.find_elements(By.CSS_SELECTOR, "#map .street-label")
    }
    assert labels == {f["properties"]["name"] for f in shipped if f["properties"]["name"]}
    assert {"府山路", "坊门街"} <= labels

    # zone names on the map, not only on hover; sidewalks and loading spots drawn apart
    names = {e.text for e in b.find_elements(By.CSS_SELECTOR, "#map .zone-label") if e.text}
    assert {"衢州市中医医院", "府山公园", "南湖广场"} <= names
    assert b.find_elements(By.CSS_SELECTOR, "#map path.zone-sidewalk[data-zone='sw-fushanlu-e']")
    spot = b.find_element(By.CSS_SELECTOR, "#map path.zone-loading_spot[data-zone='ls-fangmen-01']")
    walk = b.find_element(By.CSS_SELECTOR, "#map path.zone-sidewalk[data-zone='sw-fangmen-n']")
    assert spot.value_of_css_property("fill") != walk.value_of_css_property("fill")

    # the fixed cameras as markers (the patrol units are not fixed cameras)
    wait(b).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#map [data-camera]")))
    cams = {
        e.get_attribute("data-camera")
        for e in b.find_elements(By.CSS_SELECTOR, "#map [data-camera]")
    }
    assert cams == FIXED_CAMERAS

    # three dogs in the hospital grounds at once: three alerts, one cluster at this zoom
    publish_all(
        client(broker.port),
        [
            m
            for k, tag in enumerate(("TAG-0001", "TAG-0002", "TAG-0003"))
            for m in into_the_hospital(tag, east_m=8.0 * k)
        ],
    )
    wait(b).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feed li[data-alert-id]")) == 3)
    cluster = wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#map .marker-cluster"))
    )
    assert cluster.text == "3"
    assert not b.find_elements(By.CSS_SELECTOR, "#map [data-alert-id]")
    shot(b, "map-console-streets-cameras-cluster")

    # zoomed in far enough, the cluster opens into the three alerts
    b.execute_script(
        "document.getElementById('map')._scmap.map.setView(arguments[0], 19)", HOSPITAL
    )
    wait(b).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#map [data-alert-id]")) == 3)
    wait(b).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#map .marker-cluster"))
    shot(b, "map-console-zoomed-alerts")

    # closer in, the streets and the sidewalks show their names
    b.execute_script(
        "document.getElementById('map')._scmap.map.setView(arguments[0], 17)", FANGMEN_CAMERA
    )
    wait(b).until(
        lambda d: (
            "坊门街" in {e.text for e in d.find_elements(By.CSS_SELECTOR, "#map .street-label")}
        )
    )
    assert "坊门街北侧人行道" in {
        e.text for e in b.find_elements(By.CSS_SELECTOR, "#map .zone-label")
    }
    shot(b, "map-console-streets-named")

    # a loading spot names its hours on hover
    b.execute_script(FIT_ZONE, "ls-fangmen-01")
    spot = b.find_element(By.CSS_SELECTOR, "#map path.zone-loading_spot[data-zone='ls-fangmen-01']")
    ActionChains(b).move_to_element_with_offset(spot, spot.size["width"] // 3, 0).perform()
    wait(b).until(
        lambda d: any(
            "09:00-11:00" in t.text for t in d.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip")
        )
    )
    no_csp_violations(b)


def test_a_dog_alert_shows_its_track_with_direction_start_end_and_times(
    browser,
    web: WebServer,
    broker: Mosquitto,
    settings: Settings,
    db: sqlite3.Connection,
) -> None:
    users.create_operator(db, "duty", PASSWORD, "值班员")
    publish_all(client(broker.port), into_the_hospital("TAG-0001"))
    log_in_watching_csp(browser, web.url)
    b = browser
    item = wait(b).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#feed li[data-kind='dog_forbidden_zone']")
        )
    )
    item.click()
    wait(b).until(EC.url_contains("/console/alerts/"))

    line = wait(b).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#map path.track")))
    assert line.size["width"] > 100  # focused on the track
    fixes = b.find_elements(By.CSS_SELECTOR, "#map path.fix")
    start = b.find_element(By.CSS_SELECTOR, "#map .track-start [data-ts]")
    end = b.find_element(By.CSS_SELECTOR, "#map .track-end [data-ts]")
    first, last = float(start.get_attribute("data-ts")), float(end.get_attribute("data-ts"))
    assert first < last and len(fixes) >= 10
    # direction: the arrows point west on the way in and north on the way out
    bearings = [
        int(e.get_attribute("data-bearing"))
        for e in b.find_elements(By.CSS_SELECTOR, "#map .track-arrow .arrow")
    ]
    assert len(bearings) == 8
    assert abs(bearings[0] - 270) <= 5 and min(bearings[-1], 360 - bearings[-1]) <= 5
    # times on hover: the end marker and a fix name their local time
    end_tip = hover(b, end)[0]
    assert local(settings, last) in end_tip and "终点" in end_tip
    tips = hover(b, fixes[2])  # on the way in
    assert any(local(settings, first + 15 * k) in tips[0] for k in range(8)), tips
    assert "终点" not in tips[0]
    # the streets and the zone's name under the track
    assert b.find_elements(By.CSS_SELECTOR, "#map path.street")
    assert "衢州市中医医院" in {
        e.text for e in b.find_elements(By.CSS_SELECTOR, "#map .zone-label")
    }
    shot(b, "map-alert-track")
    no_csp_violations(b)


def test_the_shipped_streets_are_what_the_generator_makes_of_the_shipped_zones() -> None:
    assert STREETS.read_text(encoding="utf-8") == dumps(streets_geojson(DISTRICT))


def test_a_broken_streets_file_is_named_in_a_503_and_the_zones_still_load(
    tmp_path: Path, db: sqlite3.Connection, settings: Settings
) -> None:
    zones = tmp_path / "zones"
    (zones / "streets").mkdir(parents=True)
    (zones / "streets" / "bad.geojson").write_text('{"type": "FeatureCollection"', encoding="utf-8")
    users.create_operator(db, "duty", PASSWORD, "值班员")
    app = create_app(settings.model_copy(update={"geofences": zones}))
    with TestClient(app) as http:
        http.post("/api/auth/login", json={"login": "duty", "password": PASSWORD})
        r = http.get("/api/streets")
        assert r.status_code == 503
        assert "bad.geojson" in r.json()["detail"] and "firmware_sim.streets" in r.json()["detail"]
        assert http.get("/api/zones").status_code == 200
