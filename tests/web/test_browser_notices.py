"""Owners told, in a real browser (headless Chromium) against the whole running system:
the owner's tag enters the test school over a real Mosquitto, the unread badge of the
portal shows the notice, opening it shows the education text and clears the badge, and
the same text reached the owner's phone at the local SMS gateway."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from smartcity_iot.config import Settings
from smartcity_iot.web.server import WebServer

from ..sms_gateway import LocalSmsGateway
from ..support import Mosquitto, client, publish_all
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD, sign_up
from .live import school_visit_messages, web  # noqa: F401 - fixture
from .test_browser import log_in, wait


def visible_text(driver, css: str) -> str:  # type: ignore[no-untyped-def]
    """The text of a visible element, found again if the page redrew it meanwhile."""
    redrawn = WebDriverWait(
        driver, 10, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    return redrawn.until(
        lambda d: (el := d.find_element(By.CSS_SELECTOR, css)).is_displayed() and el.text
    )


PHONE = "13900000001"  # 张三, who owns TAG-0001 in the registry (tests/conftest.py)


@pytest.fixture
def gateway() -> Iterator[LocalSmsGateway]:
    with LocalSmsGateway() as gw:
        yield gw


@pytest.fixture
def settings(settings: Settings, gateway: LocalSmsGateway) -> Settings:
    """The suite's settings with the phones' gateway and a short review window."""
    return settings.model_copy(
        update={"sms_gateway_url": gateway.url, "sms_retries": 0, "notice_review_s": 1.0}
    )


def test_the_badge_shows_the_unread_notice_and_opening_it_shows_the_text(
    browser,
    web: WebServer,
    broker: Mosquitto,
    db: sqlite3.Connection,
    gateway: LocalSmsGateway,
) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as http:  # the owner proves the phone
        assert sign_up(http, gateway, PHONE, "张三").status_code == 201  # type: ignore[arg-type]
    b = browser
    log_in(b, web.url, PHONE, PASSWORD)
    wait(b).until(EC.url_contains("/owner"))
    wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#notices-unread[data-unread='0']"))
    )

    publish_all(client(broker.port), school_visit_messages("TAG-0001"))
    wait(b, 20).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#notices-unread[data-unread='1']"))
    )
    wait(b).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#notices details.unread[data-kind='dog_forbidden_zone']")
        )
    )
    assert not b.find_elements(By.CSS_SELECTOR, "#notices details[open]")  # not opened yet
    shot(b, "owner-notice-unread")

    b.find_element(By.ID, "notices-badge").click()  # opens the first unread notice
    wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#notices-unread[data-unread='0']"))
    )
    text = visible_text(b, "#notices details[open] .notice-text")
    for part in ("旺财", "测试小学", "G-01", "教育引导", "不予处罚"):
        assert part in text, part
    assert "测试小学 · 网格 G-01" in visible_text(b, "#notices details[open] .notice-body")
    shot(b, "owner-notice-opened")

    message = gateway.wait_for(PHONE, "测试小学", timeout=15)
    assert message == text
    row = db.execute("SELECT read_at, sms_status FROM notices").fetchone()
    assert row["read_at"] is not None
