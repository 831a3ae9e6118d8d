"""One language at a time on the operators' side (issue 12.3): in a real browser, the
console (alerts, tag requests, device health) and an alert page of each kind read wholly
in Chinese by default and wholly in English once the `lang` cookie says so, map tooltips
and popups included; only data (names, ids, plates) may be in another script. And the
operators' API refusals come in the reader's language with a code to match on.
Screenshots lang-{zh,en}-console and lang-{zh,en}-alert-<kind> under artifacts/."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from smartcity_iot.config import Settings
from smartcity_iot.geo.cameras import load_camera_files
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.i18n import text
from smartcity_iot.model import Alert
from smartcity_iot.store import dogs, tag_life, users
from smartcity_iot.store.alerts import list_alerts
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import transaction
from smartcity_iot.web.server import WebServer

from ..i18n_check import foreign
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import HOME, PASSWORD, SCHOOL, User, school_visit
from .live import web  # noqa: F401 - fixture
from .test_browser_alert_facts import fixes, open_page, parking, settings  # noqa: F401 - fixture

LANGS = ("zh", "en")
# an alert page of each kind, by the fact row drawn last that tells it is ready
PAGES = {
    "dog_forbidden_zone": "fact-phone",
    "dog_outside_walking_hours": "fact-phone",
    "tag_low_battery": "fact-last-fix",
    "tag_offline": "fact-last-fix",
    "sidewalk_parking": "fact-device",
    "sidewalk_parking_patrol": "fact-device",
}


def district(settings: Settings, db: sqlite3.Connection) -> dict[str, str]:
    """An alert of each kind (the alert-facts test's), plus tag requests in three states;
    returns the alert ids by page name."""
    now = time.time()
    school_visit(settings, db, "TAG-0001", t=now - 7200)
    fixes(settings, db, "TAG-0003", [(now - 600, HOME, 40), (now - 570, SCHOOL, 12)])
    fixes(settings, db, "TAG-0002", [(now - 9000, HOME, 66)]).sweep(now=now)
    parking(db, settings, "park-cam", "cam-test-01", now - 1800)
    parking(db, settings, "park-patrol", "patrol-01", now - 900)
    # the newest of each kind and tag (the service may find TAG-0001 silent too)
    kinds = {(a.kind, a.device_id): a.id for a in reversed(list_alerts(db, 100))}
    ids = {
        "dog_forbidden_zone": kinds["dog_forbidden_zone", "TAG-0001"],
        "tag_low_battery": kinds["tag_low_battery", "TAG-0003"],
        "tag_offline": kinds["tag_offline", "TAG-0002"],
    }
    dog_alert = next(a for a in list_alerts(db, 100) if a.kind == "dog_forbidden_zone")
    park = next(z for z in load_zones(settings.geofences, settings.tz) if z.id == "park")
    hours = replace(
        dog_alert, id="hours-1", kind="dog_outside_walking_hours", zone_id="park",
        zone_name="测试公园", grid="G-02", status="open", ended_at=None, started_at=now - 300,
        workflow="new", evidence=[], lat=park.geometry.centroid.y, lon=park.geometry.centroid.x,
    )  # fmt: skip
    with transaction(db):
        Sinks(db).alert(hours)
    ids["dog_outside_walking_hours"] = "hours-1"
    ids["sidewalk_parking"], ids["sidewalk_parking_patrol"] = "park-cam", "park-patrol"
    # the requests tab: one waiting, one approved, one rejected with its reason
    owner = db.execute("SELECT id FROM owners WHERE phone = '13900000002'").fetchone()["id"]
    for name in ("豆豆", "黑子", "花花"):
        dog = dogs.add_dog(db, owner, {"name": name, "breed": "柯基"})
        dogs.request_tag(db, owner, dog["id"], "浙江省衢州市柯城区府山街道 8 号")
    waiting = dogs.all_tag_requests(db, "requested")
    dogs.approve_request(db, waiting[0]["id"], "operator:duty")
    tag_life.reject_request(db, waiting[1]["id"], "operator:duty", "狂犬疫苗证号无效")
    users.create_operator(db, "duty", PASSWORD, "值班员")
    return ids


def data_values(settings: Settings, db: sqlite3.Connection) -> list[str]:
    """What the pages may show in any script: names, ids, plates, addresses, serials."""
    values = ["Leaflet", "duty", "值班员", "柯基", "狂犬疫苗证号无效", "浙HA1234", "浙H·A1234"]
    for z in load_zones(settings.geofences, settings.tz):
        values += [z.id, z.name or ""]
    for c in load_camera_files(settings.geofences / "cameras", settings.tz):
        values += [c.id, c.name or ""]
    for table, columns in (
        ("dogs", "name, breed"),
        ("owners", "name"),
        ("tags", "tag_id"),
        ("tag_requests", "postal_address"),
        ("alerts", "id, device_id"),
    ):
        for row in db.execute(f"SELECT {columns} FROM {table}"):  # noqa: S608 - fixed names
            values += [str(v) for v in row if v]
    return values


def log_in(driver, web: WebServer, lang: str) -> None:  # type: ignore[no-untyped-def]
    driver.get(web.url)
    driver.delete_all_cookies()
    if lang != "zh":
        driver.add_cookie({"name": "lang", "value": lang, "path": "/"})
    driver.get(web.url)
    WebDriverWait(driver, 10).until(
        EC.text_to_be_present_in_element((By.ID, "lang"), text("app.switch_language", lang))
    )
    driver.find_element(By.ID, "login-login").send_keys("duty")
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 10).until(EC.url_contains("/console"))


def mixed(driver, lang: str, data: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """The other language's words on the page as shown, its title and tooltips included."""
    shown = driver.find_element(By.TAG_NAME, "body").text + "\n" + driver.title
    titles = [
        e.get_attribute("title") or ""
        for e in driver.find_elements(By.CSS_SELECTOR, "[title]")
        if e.is_displayed()
    ]
    return foreign("\n".join([shown, *titles]), lang, data)


# Leaflet opens a hover tooltip or a click popup for the layers of one map group
OPEN_TIPS = """
const m = document.getElementById("map")._scmap;
m.layers[arguments[0]].eachLayer((l) => { if (l.getTooltip()) l.openTooltip(); });
return [...document.querySelectorAll("#map .map-tip")].map((t) => t.textContent);
"""
OPEN_POPUP = """
const m = document.getElementById("map")._scmap;
m.layers.zones.eachLayer((l) => { if (l.feature.properties.id === arguments[0]) l.openPopup(); });
"""


def tips(driver, group: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The hover texts of one layer group of the page's map, each opened."""
    return WebDriverWait(driver, 5, poll_frequency=0.05).until(
        lambda d: d.execute_script(OPEN_TIPS, group)
    )


@pytest.mark.parametrize("lang", LANGS)
def test_the_console_and_every_alert_page_speak_one_language(
    lang: str, browser, web: WebServer, settings: Settings, db: sqlite3.Connection
) -> None:
    ids = district(settings, db)
    data = data_values(settings, db)
    driver = browser
    log_in(driver, web, lang)
    wait = WebDriverWait(driver, 10, poll_frequency=0.05)

    # the alerts tab: the feed, the filters, the legend, the map's labels
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#feed li[data-kind]")))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#map .camera-marker")))
    wait.until(EC.text_to_be_present_in_element((By.ID, "live-text"), text("console.live", lang)))
    badge = driver.find_element(By.CSS_SELECTOR, "#feed li[data-alert-id='hours-1'] .badge.open")
    assert badge.text == text("status.open", lang) == {"zh": "进行中", "en": "Open"}[lang]
    assert driver.find_element(
        By.CSS_SELECTOR, "#feed li[data-alert-id='hours-1'] .title"
    ).text.startswith(text("kind.dog_outside_walking_hours", lang))
    assert mixed(driver, lang, data) == []
    options = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#filters option")]
    assert text("workflow.acknowledged", lang) in options
    assert foreign("\n".join(options), lang, data) == []
    [camera] = tips(driver, "cameras")
    assert camera == text("map.camera", lang, name="测试路 01", id="cam-test-01", grid="G-01")
    driver.execute_script(OPEN_POPUP, "park")
    popup = wait.until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".leaflet-popup-content"))
    )
    assert text("map.walking_hours", lang, hours="06:00-09:00 19:00-23:00") in popup.text
    assert foreign(popup.text, lang, data) == [], popup.text
    zoom = [
        driver.find_element(By.CSS_SELECTOR, f".leaflet-control-zoom-{d}") for d in ("in", "out")
    ]
    assert [z.get_attribute("title") for z in zoom] == [
        text("map.zoom_in", lang),
        text("map.zoom_out", lang),
    ]
    shot(driver, f"lang-{lang}-console")

    # the tag requests tab: statuses, buttons, the reason field
    driver.find_element(By.CSS_SELECTOR, "[data-tab='requests']").click()
    wait.until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#requests-table [data-status='approved']")
        )
    )
    statuses = {
        r.get_attribute("data-status"): r.find_element(By.CSS_SELECTOR, ".badge").text
        for r in driver.find_elements(By.CSS_SELECTOR, "#requests-table tbody tr")
    }
    assert statuses["rejected"] == text("tag_status.rejected", lang)
    assert statuses["requested"] == text("tag_status.requested", lang)
    assert mixed(driver, lang, data) == []
    placeholder = driver.find_element(By.CSS_SELECTOR, "[data-reject-reason]").get_attribute(
        "placeholder"
    )
    assert placeholder == text("console.requests.reject_reason", lang)
    shot(driver, f"lang-{lang}-console-requests")

    # the device health tab
    driver.find_element(By.CSS_SELECTOR, "[data-tab='devices']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#devices tr[data-tag]")))
    assert text("console.devices.low_battery", lang) in driver.find_element(By.ID, "devices").text
    assert mixed(driver, lang, data) == []

    # an alert page of each kind: facts, captions, history, handling, map tooltips
    for page, ready in PAGES.items():
        open_page(driver, web, ids[page], ready)
        if page.startswith("sidewalk"):
            wait.until(
                lambda d: d.find_elements(
                    By.CSS_SELECTOR, "#photos figcaption, #captures figcaption"
                )
            )
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#vehicle-cases tr")))
        assert driver.find_element(By.ID, "workflow").text == text("workflow.new", lang)
        th = driver.find_element(By.CSS_SELECTOR, f"#{ready} th").text
        assert th in {
            text(f"alert.fact.{k}", lang) for k in ("phone", "last_fix", "camera", "patrol_unit")
        }
        assert mixed(driver, lang, data) == [], page
        if page == "dog_forbidden_zone":  # closed, with its track: start, end, each fix
            assert driver.find_element(By.CSS_SELECTOR, "#fact-status td").text == text(
                "status.closed", lang
            )
            track = tips(driver, "track")
            assert any(t.startswith(text("map.end", lang, time="20")) for t in track), track
            assert foreign("\n".join(track), lang, data) == [], track
        if page == "dog_outside_walking_hours":
            assert driver.find_element(By.CSS_SELECTOR, "#fact-ended td").text == text(
                "alert.ongoing", lang
            )
        if page == "sidewalk_parking":
            first = driver.find_element(
                By.CSS_SELECTOR, "#photos figure[data-role='first_seen'] figcaption"
            )
            assert first.text.startswith(f"{text('alert.role.first_seen', lang)} · 20")
        if page == "tag_low_battery":
            assert (
                text("alert.battery_line", lang, then="12%", now="12%")
                == driver.find_element(By.CSS_SELECTOR, "#fact-battery td").text
            )
        shot(driver, f"lang-{lang}-alert-{page.replace('_', '-')}")

    # handling the walking-hours alert: each step's message and history line in one language
    open_page(driver, web, "hours-1", "fact-phone")
    for button, state in (("acknowledge", "acknowledged"), ("dispatch", "dispatched")):
        wait.until(EC.element_to_be_clickable((By.ID, f"btn-{button}"))).click()
        wait.until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f"body[data-workflow='{state}']"))
        )
    Select(driver.find_element(By.ID, "close-disposition")).select_by_value("education")
    wait.until(EC.element_to_be_clickable((By.ID, "btn-close"))).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "body[data-workflow='resolved']")))
    wait.until(EC.text_to_be_present_in_element((By.ID, "action-msg"), text("alert.updated", lang)))
    history = {
        r.get_attribute("data-action"): r.text
        for r in driver.find_elements(By.CSS_SELECTOR, "#events tr[data-action]")
    }
    assert text("alert.squad", lang, grid="G-02") in history["dispatch"]
    assert text("disposition.education", lang) in history["close"]
    assert text("alert.by_operator", lang, login="duty") in history["acknowledge"]
    assert driver.find_element(By.CSS_SELECTOR, "#fact-disposition td").text == text(
        "disposition.education", lang
    )
    assert mixed(driver, lang, data) == []
    shot(driver, f"lang-{lang}-alert-resolved")


def test_an_operator_refusal_comes_in_the_readers_language_with_its_code(
    operator: User, conn: sqlite3.Connection
) -> None:
    now = time.time()
    alert = Alert(
        id="lang-1", kind="dog_forbidden_zone", status="open", device_id="TAG-0009",
        zone_id="school", grid=None, started_at=now, ended_at=None, lat=28.971, lon=118.871,
        updated_at=now,
    )  # fmt: skip
    with transaction(conn):
        Sinks(conn).alert(alert)
    cases = [  # method, path, body, status, code, its values
        ("GET", "/api/operator/alerts/no-such-alert", None, 404, "alert.not_found", {}),
        ("POST", "/api/operator/alerts/lang-1/close", {"disposition": "education"}, 409,
         "workflow_error.cannot_close", {}),
        ("POST", "/api/operator/alerts/lang-1/plate", {"plate": "浙HA1234"}, 409,
         "workflow_error.no_plate", {}),
        ("POST", "/api/operator/tag-requests/999/ship", None, 404, "console.requests.not_found",
         {"id": 999}),
        ("GET", "/api/operator/vehicles/浙H·A123", None, 422, "alert.plate_length",
         {"plate": "浙HA123", "n": 6}),
    ]  # fmt: skip
    for lang in LANGS:
        if lang == "en":
            operator.http.cookies.set("lang", "en")
        for method, path, body, status, code, values in cases:
            r = operator.http.request(method, path, json=body)
            assert (r.status_code, r.json()) == (
                status,
                {"detail": text(code, lang, **values), "code": code},
            ), path
            assert foreign(r.json()["detail"], lang, ["浙HA123"]) == [], r.json()
    # the same refusal, both ways: a Chinese sentence without a cookie, English with one
    operator.http.cookies.delete("lang")
    zh = operator.get("/api/operator/alerts/no-such-alert").json()
    operator.http.cookies.set("lang", "en")
    en = operator.get("/api/operator/alerts/no-such-alert").json()
    assert zh == {"detail": "没有这条告警", "code": "alert.not_found"}
    assert en == {"detail": "There is no such alert", "code": "alert.not_found"}
    # the dispatch of an alert without a grid says why and what to do instead
    operator.http.cookies.delete("lang")
    assert operator.post("/api/operator/alerts/lang-1/acknowledge").status_code == 200
    r = operator.post("/api/operator/alerts/lang-1/dispatch")
    assert (r.status_code, r.json()["code"]) == (409, "workflow_error.no_grid")
    assert r.json()["detail"] == "该告警没有网格，无中队可派遣；请直接办结"
