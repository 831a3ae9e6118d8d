"""The verified sign-up in a real browser (headless Chromium) against the whole running
system: the code comes from a local HTTP SMS gateway (SPEC 8), then a dog, a tag
request, an operator's approval, and the owner activates the tag and gets its MQTT
credentials; then the dog walks into a school over a real Mosquitto and the owner is
told: the unread notice in the portal, the same text on the phone. Each step is a small
function."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store import users
from smartcity_iot.web.server import WebServer

from ..sms_gateway import LocalSmsGateway
from ..support import Mosquitto, client, free_port, publish_all
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD
from .live import school_visit_messages

OWNER_PHONE = "13900000071"


@dataclass
class System:
    """Mosquitto, the service and the web console, all sending texts to one gateway."""

    settings: Settings
    service: Service
    web: WebServer
    sms: LocalSmsGateway

    @property
    def url(self) -> str:
        return self.web.url


@pytest.fixture
def system(settings: Settings, db: sqlite3.Connection) -> Iterator[System]:
    with LocalSmsGateway() as sms:
        s = settings.model_copy(
            update={
                "http": f"127.0.0.1:{free_port()}",
                "sms_gateway_url": sms.url,
                "sms_retries": 0,
                "notice_review_s": 1.0,  # the owner's message goes out a second after
            }
        )
        service = Service(s)
        service.start()
        assert service.wait_connected(10)
        web = WebServer(s)
        web.start()
        try:
            yield System(s, service, web, sms)
        finally:
            web.stop()
            service.stop()


def wait(driver, seconds: float = 10) -> WebDriverWait:  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, seconds, poll_frequency=0.05)


# -- the steps ----------------------------------------------------------------------------


def sign_up_with_the_code(b, system: System, phone: str = OWNER_PHONE) -> None:  # type: ignore[no-untyped-def]
    b.get(system.url)
    b.find_element(By.ID, "signup-name").send_keys("陈七")
    b.find_element(By.ID, "signup-phone").send_keys("139 0000 0071")  # as people type it
    b.find_element(By.ID, "signup-code-send").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "signup-msg"), "139****0071"))
    code = system.sms.last_code(phone)
    b.find_element(By.ID, "signup-code").send_keys(code)
    b.find_element(By.ID, "signup-password").send_keys(PASSWORD)
    shot(b, "owner-signup-code")
    b.find_element(By.ID, "signup-submit").click()
    wait(b).until(EC.url_contains("/owner"))
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "who"), phone))


def add_a_dog(b) -> None:  # type: ignore[no-untyped-def]
    b.find_element(By.ID, "dog-name").send_keys("豆豆")
    b.find_element(By.ID, "dog-breed").send_keys("柯基 Corgi")
    Select(b.find_element(By.ID, "dog-sex")).select_by_value("female")
    b.execute_script("arguments[0].value = '2022-03-15'", b.find_element(By.ID, "dog-birth"))
    b.find_element(By.ID, "dog-rabies").send_keys("QZ-R-2025-0071")
    b.find_element(By.ID, "dog-submit").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "dog-msg"), "豆豆"))


def request_a_tag(b) -> None:  # type: ignore[no-untyped-def]
    wait(b).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#request-dog option")))
    b.find_element(By.ID, "request-address").send_keys("浙江省衢州市柯城区府山街道 71 号")
    b.find_element(By.ID, "request-submit").click()
    wait(b).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#requests-table [data-status='requested']")
        )
    )


def operator_approves_and_ships(system: System, db: sqlite3.Connection) -> tuple[str, str]:
    """Through the API, as the console does: the serial and the code printed with the tag."""
    users.create_operator(db, "duty", PASSWORD, "值班员")
    with httpx.Client(base_url=system.url, timeout=10) as op:
        me = op.post("/api/auth/login", json={"login": "duty", "password": PASSWORD}).json()
        op.headers["X-CSRF-Token"] = me["csrf_token"]
        (req,) = op.get("/api/operator/tag-requests", params={"status": "requested"}).json()
        approval = op.post(f"/api/operator/tag-requests/{req['id']}/approve", json={}).json()
        assert op.post(f"/api/operator/tag-requests/{req['id']}/ship").status_code == 200
    return approval["tag_id"], approval["activation_code"]


def activate_the_tag(b, serial: str, code: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    b.refresh()
    wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#requests-table [data-status='shipped']"))
    )
    b.find_element(By.ID, "activate-serial").send_keys(serial)
    b.find_element(By.ID, "activate-code").send_keys(code)
    b.find_element(By.ID, "activate-submit").click()
    wait(b).until(EC.visibility_of_element_located((By.ID, "credentials")))
    wait(b).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, f"#tags-table [data-tag='{serial}'] [data-status='active']")
        )
    )
    return {
        "username": b.find_element(By.ID, "cred-user").text,
        "password": b.find_element(By.ID, "cred-pass").text,
        "topic": b.find_element(By.ID, "cred-topic").text,
    }


def visible_text(driver, css: str) -> str:  # type: ignore[no-untyped-def]
    """The text of a visible element, found again if the page redrew it meanwhile."""
    redrawn = WebDriverWait(
        driver, 10, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    return redrawn.until(
        lambda d: (el := d.find_element(By.CSS_SELECTOR, css)).is_displayed() and el.text
    )


def the_dog_walks_into_the_school(broker: Mosquitto, serial: str) -> None:
    publish_all(client(broker.port), school_visit_messages(serial))


def the_owner_reads_the_notice(b, system: System, phone: str = OWNER_PHONE) -> str:  # type: ignore[no-untyped-def]
    """The badge shows one unread notice; opening it shows the education text, which is
    also the message the phone got."""
    wait(b, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#notices-unread[data-unread='1']"))
    )
    shot(b, "owner-journey-notice-unread")
    b.find_element(By.ID, "notices-badge").click()
    wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#notices-unread[data-unread='0']"))
    )
    text = visible_text(b, "#notices details[open] .notice-text")
    for part in ("豆豆", "测试小学", "教育引导"):
        assert part in text, part
    shot(b, "owner-journey-notice-opened")
    assert system.sms.wait_for(phone, "测试小学", timeout=20) == text
    return text


# -- the journey ---------------------------------------------------------------------------


def test_an_owner_signs_up_with_the_code_from_the_phone_activates_a_tag_and_is_told(
    browser,  # type: ignore[no-untyped-def]
    system: System,
    broker: Mosquitto,
    db: sqlite3.Connection,
) -> None:
    b = browser
    sign_up_with_the_code(b, system)
    add_a_dog(b)
    request_a_tag(b)
    serial, code = operator_approves_and_ships(system, db)
    credentials = activate_the_tag(b, serial, code)
    assert credentials["username"] == serial and len(credentials["password"]) >= 20
    assert serial in credentials["topic"]
    b.execute_script("document.getElementById('credentials').scrollIntoView()")
    shot(b, "owner-verified-tag-active")
    # a violation: the owner's notice in the portal and the message on the phone
    the_dog_walks_into_the_school(broker, serial)
    the_owner_reads_the_notice(b, system)


def test_without_the_code_the_browser_sign_up_is_refused_with_the_reason(
    browser,  # type: ignore[no-untyped-def]
    system: System,
) -> None:
    b = browser
    b.get(system.url)
    b.find_element(By.ID, "signup-name").send_keys("陌生人")
    b.find_element(By.ID, "signup-phone").send_keys("13900000001")  # the CLI-registered owner
    b.find_element(By.ID, "signup-code").send_keys("123456")
    b.find_element(By.ID, "signup-password").send_keys(PASSWORD)
    b.find_element(By.ID, "signup-submit").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "signup-msg"), "验证码"))
    assert "/owner" not in b.current_url
    shot(b, "owner-signup-refused")


def change_the_password(b, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    b.find_element(By.ID, "password-old").send_keys(old)
    b.find_element(By.ID, "password-new").send_keys(new)
    b.find_element(By.ID, "password-submit").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "password-msg"), "密码已修改"))


def sign_out_everywhere(b) -> None:  # type: ignore[no-untyped-def]
    b.find_element(By.ID, "logout-all").click()
    wait(b).until(EC.presence_of_element_located((By.ID, "login-form")))


def test_an_owner_changes_the_password_and_signs_out_everywhere(
    browser,  # type: ignore[no-untyped-def]
    system: System,
) -> None:
    b = browser
    sign_up_with_the_code(b, system)
    with httpx.Client(base_url=system.url, timeout=10) as elsewhere:
        r = elsewhere.post("/api/auth/login", json={"login": OWNER_PHONE, "password": PASSWORD})
        assert r.status_code == 200
        new = "a new and longer passphrase"
        change_the_password(b, PASSWORD, new)
        assert elsewhere.get("/api/me").status_code == 401  # the other session ended
    shot(b, "owner-password-changed")
    sign_out_everywhere(b)
    b.get(system.url + "owner")
    wait(b).until(EC.presence_of_element_located((By.ID, "login-form")))  # sent back to log in


def test_an_account_from_before_codes_proves_its_phone_in_the_portal(
    browser,  # type: ignore[no-untyped-def]
    system: System,
    db: sqlite3.Connection,
) -> None:
    from smartcity_iot.store.passwords import HASHER

    owner_id = db.execute("SELECT id FROM owners WHERE phone = '13900000001'").fetchone()[0]
    db.execute(  # signed up by the previous version, without a code
        "INSERT INTO web_users(role, login, name, password_hash, owner_id, created_at) "
        "VALUES ('owner', '13900000001', '张三', ?, ?, 0)",
        (HASHER.hash(PASSWORD), owner_id),
    )
    b = browser
    b.get(system.url)
    b.find_element(By.ID, "login-login").send_keys("139 0000 0001")
    b.find_element(By.ID, "login-password").send_keys(PASSWORD)
    b.find_element(By.ID, "login-submit").click()
    wait(b).until(EC.visibility_of_element_located((By.ID, "verify-card")))
    assert not b.find_elements(By.CSS_SELECTOR, "#tags-table [data-tag]")
    b.find_element(By.ID, "verify-code-send").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "verify-msg"), "139****0001"))
    b.find_element(By.ID, "verify-code").send_keys(system.sms.last_code("13900000001"))
    b.find_element(By.ID, "verify-submit").click()
    wait(b).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#tags-table [data-tag='TAG-0001']"))
    )
    assert not b.find_element(By.ID, "verify-card").is_displayed()
    shot(b, "owner-verified-old-account")


def reset_the_password(b, system: System, phone: str, new: str) -> None:  # type: ignore[no-untyped-def]
    b.get(system.url)
    b.find_element(By.ID, "login-login").send_keys(phone)
    b.find_element(By.ID, "reset-open").click()
    wait(b).until(EC.visibility_of_element_located((By.ID, "reset-card")))
    b.find_element(By.ID, "reset-code-send").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "reset-msg"), "****"))
    b.find_element(By.ID, "reset-code").send_keys(system.sms.last_code(OWNER_PHONE))
    b.find_element(By.ID, "reset-password").send_keys(new)
    b.find_element(By.ID, "reset-submit").click()
    wait(b).until(EC.url_contains("/owner"))


def test_a_forgotten_password_is_reset_with_a_code_from_the_phone(
    browser,  # type: ignore[no-untyped-def]
    system: System,
) -> None:
    b = browser
    sign_up_with_the_code(b, system)
    b.delete_all_cookies()
    reset_the_password(b, system, "139-0000-0071", "remembered at last, a new one")
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "who"), OWNER_PHONE))
    with httpx.Client(base_url=system.url, timeout=10) as c:
        old = c.post("/api/auth/login", json={"login": OWNER_PHONE, "password": PASSWORD})
        assert old.status_code == 401
