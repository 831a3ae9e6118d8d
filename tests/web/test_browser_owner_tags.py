"""In headless Chromium, the owner's portal agrees with itself (issue 12): a tag the bureau
registered from the CLI shows on its dog's row, not "No tag requested yet", and the request
form offers only the dog without a tag; the sign-up form refuses `12345` before sending."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from smartcity_iot.config import Settings
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.web.server import WebServer

from ..support import free_port
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import DOG, PASSWORD, User
from .test_browser import log_in, wait


@pytest.fixture
def portal(web_settings: Settings) -> Iterator[WebServer]:
    server = WebServer(web_settings.model_copy(update={"http": f"127.0.0.1:{free_port()}"}))
    server.start()
    yield server
    server.stop()


def test_a_cli_tag_shows_on_its_dog_and_only_the_untagged_dog_is_offered(
    browser, portal: WebServer, signup: Callable[..., User], conn: sqlite3.Connection
) -> None:
    register_active_tag(conn, "QZ-CLI-0091", "豆豆", "钱七", "13900000091")
    owner = signup("13900000091", "钱七")
    owner.post("/api/owner/dogs", {**DOG, "name": "小黑"})

    b = browser
    b.get(portal.url)
    phone = b.find_element(By.ID, "signup-phone")
    phone.send_keys("12345")
    assert b.execute_script("return arguments[0].validity.patternMismatch", phone)
    phone.clear()
    phone.send_keys("+86 139-0000-0092")
    assert b.execute_script("return arguments[0].checkValidity()", phone)

    log_in(b, portal.url, "13900000091", PASSWORD)
    wait(b).until(EC.url_contains("/owner"))
    row = wait(b).until(EC.presence_of_element_located((By.XPATH, "//tr[@data-dog][td[1]='豆豆']")))
    assert "QZ-CLI-0091" in row.text and "尚未申请犬牌" not in row.text
    assert row.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == (
        "active"
    )
    untagged = b.find_element(By.XPATH, "//tr[@data-dog][td[1]='小黑']")
    assert "尚未申请犬牌" in untagged.text
    offered = [o.text for o in Select(b.find_element(By.ID, "request-dog")).options]
    assert len(offered) == 1 and offered[0].startswith("小黑"), offered
    shot(b, "owner-cli-tag")
