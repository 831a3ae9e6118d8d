"""Real-browser tests in headless Chromium against the whole running system:
an operator watches an alert arrive and handles it; an owner goes from sign-up to an
active tag. Screenshots land in artifacts/screenshots/."""

from __future__ import annotations

import sqlite3
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from smartcity_iot.store import users
from smartcity_iot.web.server import WebServer

from ..support import Mosquitto, client, publish_all
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD
from .live import school_visit_messages, web  # noqa: F401 - fixture
from .test_browser_signup import (  # noqa: F401 - fixture
    System,
    activate_the_tag,
    add_a_dog,
    request_a_tag,
    sign_up_with_the_code,
    system,
)


def wait(driver, seconds: float = 10) -> WebDriverWait:  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, seconds, poll_frequency=0.05)


def log_in(driver, base: str, login: str, password: str) -> None:  # type: ignore[no-untyped-def]
    driver.get(base)
    driver.find_element(By.ID, "login-login").send_keys(login)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def log_out(driver) -> None:  # type: ignore[no-untyped-def]
    driver.find_element(By.ID, "logout").click()
    wait(driver).until(EC.presence_of_element_located((By.ID, "login-form")))


def test_operator_sees_an_alert_within_2s_of_the_fixes_and_handles_it(
    browser,
    web: WebServer,
    broker: Mosquitto,
    db: sqlite3.Connection,
) -> None:
    users.create_operator(db, "duty", PASSWORD, "值班员")
    log_in(browser, web.url, "duty", PASSWORD)
    wait(browser).until(EC.url_contains("/console"))
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#live-dot.live")))
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#map path")))

    publish_all(client(broker.port), school_visit_messages("TAG-0001"))
    published = time.monotonic()
    item = wait(browser, 5).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#feed li[data-kind='dog_forbidden_zone']")
        )
    )
    assert time.monotonic() - published < 2.0
    wait(browser).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#map .alert-marker [data-alert-id]"))
    )
    shot(browser, "operator-console-live-alert")

    item.click()
    wait(browser).until(EC.url_contains("/console/alerts/"))
    wait(browser).until(EC.element_to_be_clickable((By.ID, "btn-acknowledge"))).click()
    wait(browser).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "body[data-workflow='acknowledged']"))
    )
    wait(browser).until(EC.element_to_be_clickable((By.ID, "btn-dispatch"))).click()
    wait(browser).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "body[data-workflow='dispatched']"))
    )
    Select(browser.find_element(By.ID, "close-disposition")).select_by_value("education")
    browser.find_element(By.ID, "close-note").send_keys("首次，已现场教育")
    wait(browser).until(EC.element_to_be_clickable((By.ID, "btn-close"))).click()
    wait(browser).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "body[data-workflow='resolved']"))
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#events tr")) == 3
    assert browser.find_elements(By.CSS_SELECTOR, "#map path.track")
    shot(browser, "operator-alert-resolved")
    row = db.execute("SELECT workflow, disposition FROM alerts").fetchone()
    assert tuple(row) == ("resolved", "education")


def test_an_owner_goes_from_sign_up_to_an_active_tag(
    browser,
    system: System,
    db: sqlite3.Connection,
) -> None:
    users.create_operator(db, "duty", PASSWORD, "值班员")
    b = browser
    sign_up_with_the_code(b, system)  # the code from the local SMS gateway

    add_a_dog(b)
    request_a_tag(b)
    shot(b, "owner-requested")
    log_out(b)

    log_in(b, system.url, "duty", PASSWORD)
    wait(b).until(EC.url_contains("/console"))
    b.find_element(By.CSS_SELECTOR, "[data-tab='requests']").click()
    wait(b).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-approve]"))).click()
    msg = wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#requests-msg[data-code]"))
    )
    serial, code = msg.get_attribute("data-serial"), msg.get_attribute("data-code")
    wait(b).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-ship]"))).click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "requests-msg"), "已寄出"))
    shot(b, "operator-tag-requests")
    log_out(b)

    log_in(b, system.url, "13900000071", PASSWORD)
    wait(b).until(EC.url_contains("/owner"))
    credentials = activate_the_tag(b, serial, code)
    assert credentials["username"] == serial and len(credentials["password"]) >= 20
    b.execute_script("document.getElementById('credentials').scrollIntoView()")
    shot(b, "owner-tag-active")
    b.set_window_size(390, 844)  # a phone
    shot(b, "owner-tag-active-phone")


def test_the_map_draws_tiles_only_from_a_configured_tile_server(
    browser,
    settings,
    db: sqlite3.Connection,
    tmp_path,
) -> None:
    """Offline by default; with --map-tiles the console loads tiles from that server (a
    local one here, serving one PNG for every z/x/y) under the zone vectors."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import cv2
    import numpy as np

    from ..support import free_port

    png = cv2.imencode(".png", np.full((256, 256, 3), 200, np.uint8))[1].tobytes()
    requested: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: object) -> None:
            pass

    tiles = ThreadingHTTPServer(("127.0.0.1", free_port()), Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    users.create_operator(db, "duty", PASSWORD, "值班员")

    def console_map(template: str | None) -> int:
        server = WebServer(
            settings.model_copy(update={"http": f"127.0.0.1:{free_port()}", "map_tiles": template})
        )
        server.start()
        try:
            log_in(browser, server.url, "duty", PASSWORD)
            wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#map path")))
            images = browser.find_elements(By.CSS_SELECTOR, "#map img.leaflet-tile")
            server_root = (template or "").split("{z}")[0]  # tiles only from the configured server
            assert all(i.get_attribute("src").startswith(server_root) for i in images)
            if images:
                wait(browser).until(lambda d: len(requested) >= len(images))
                shot(browser, "operator-map-with-tiles")
            log_out(browser)
            return len(images)
        finally:
            server.stop()

    try:
        assert console_map(None) == 0 and requested == [], "offline by default"
        assert console_map(f"http://127.0.0.1:{tiles.server_port}/{{z}}/{{x}}/{{y}}.png") > 0
        assert requested
    finally:
        tiles.shutdown()
