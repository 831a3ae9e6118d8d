"""One language at a time on the owners' side (issue 12.3), in headless Chromium against
the whole running system: the log-in and sign-up page, the owner portal (dogs, tags, the
request form, violations with their 721 guidance) and the notices read in Chinese with
no cookie and in English with `lang=en`, with no word of the other language except the
data (names, places, the bureau's Chinese text as sent); a refused form says why in the
page's language."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from smartcity_iot.web.server import WebServer

from ..i18n_check import foreign
from ..sms_gateway import LocalSmsGateway
from ..support import Mosquitto, client, publish_all
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import DOG, PASSWORD, sign_up
from .live import school_visit_messages, web  # noqa: F401 - fixture
from .test_browser import log_in, wait
from .test_browser_notices import PHONE, gateway, settings, visible_text  # noqa: F401 - fixtures


def body_text(b) -> str:  # type: ignore[no-untyped-def]
    return str(b.find_element(By.TAG_NAME, "body").text)


def in_language(b, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's texts are in `lang` (the switch names the other language)."""
    other = "English" if lang == "zh" else "中文"
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "lang"), other))


def set_language(b, base: str, lang: str) -> None:  # type: ignore[no-untyped-def]
    b.add_cookie({"name": "lang", "value": lang, "path": "/"})
    b.refresh()
    in_language(b, lang)


def only(b, lang: str, data: Iterable[str] = ()) -> None:  # type: ignore[no-untyped-def]
    text = body_text(b)
    assert foreign(text, lang, data=data) == [], text


def refused_phone(b, lang: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    """`12345` sent for a code: the server's 422 names the field and why, in `lang`."""
    phone = b.find_element(By.ID, "signup-phone")
    phone.clear()
    phone.send_keys("12345")
    b.find_element(By.ID, "signup-code-send").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "signup-msg"), needle))
    msg = b.find_element(By.ID, "signup-msg").text
    assert foreign(msg, lang, data=["12345"]) == [], msg


def refused_common_password(b, lang: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    for field, value in (
        ("signup-name", "陈八"),
        ("signup-phone", "139 0000 0081"),
        ("signup-code", "123456"),
        ("signup-password", "password123"),
    ):
        b.find_element(By.ID, field).clear()
        b.find_element(By.ID, field).send_keys(value)
    b.find_element(By.ID, "signup-submit").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "signup-msg"), needle))
    msg = b.find_element(By.ID, "signup-msg").text
    assert foreign(msg, lang, data=["陈八"]) == [], msg
    assert "/owner" not in b.current_url


def test_the_log_in_and_sign_up_page_reads_in_one_language_and_so_do_its_refusals(
    browser,  # type: ignore[no-untyped-def]
    web: WebServer,
) -> None:
    b = browser
    b.get(web.url)  # no cookie: Chinese
    in_language(b, "zh")
    only(b, "zh")
    assert b.title == "智慧城管 · 文明养犬"
    refused_phone(b, "zh", "不是大陆手机号")
    refused_common_password(b, "zh", "最常见的密码")
    shot(b, "lang-zh-index")  # with the refusal, in the page's language

    set_language(b, web.url, "en")
    assert b.execute_script("return document.documentElement.lang") == "en"
    only(b, "en")
    refused_phone(b, "en", "is not a mainland mobile number")
    refused_common_password(b, "en", "among the most common ones")
    assert "Sign-up failed" in b.find_element(By.ID, "signup-msg").text
    shot(b, "lang-en-index")

    b.find_element(By.ID, "lang").click()  # the switch: back to Chinese
    in_language(b, "zh")
    only(b, "zh")


def owner_data(base: str, gw: LocalSmsGateway) -> tuple[httpx.Client, list[str]]:
    """Signs 张三 up (TAG-0001 is his in the registry), adds a dog with a request and one
    without; returns his client and the data his pages show as they are stored."""
    http = httpx.Client(base_url=base, timeout=10)
    me = sign_up(http, gw, PHONE, "张三")  # type: ignore[arg-type]
    assert me.status_code == 201, me.text
    http.headers["X-CSRF-Token"] = me.json()["csrf_token"]
    requested = http.post("/api/owner/dogs", json={**DOG, "name": "小黑"}).json()
    address = {"postal_address": "浙江省衢州市柯城区府山街道 81 号"}
    assert http.post(f"/api/owner/dogs/{requested['id']}/tag-requests", json=address).is_success
    assert http.post("/api/owner/dogs", json={**DOG, "name": "豆豆"}).is_success
    return http, ["张三", PHONE, address["postal_address"]]


def shown_data(http: httpx.Client) -> list[str]:
    """The stored values the portal shows (never its labels): names, places, ids, the
    bureau's notice texts."""
    values: list[str] = []
    for d in http.get("/api/owner/dogs").json():
        values += [d["name"], d["breed"] or "", d["tag_id"] or ""]
    for t in http.get("/api/owner/tags").json():
        values += [t["tag_id"], t["dog_name"]]
    for v in http.get("/api/owner/violations").json():
        values += [v["zone_name"] or "", v["device_id"], v["dog_name"] or ""]
    for n in http.get("/api/owner/notices").json():
        values += [n["text"], n["zone_name"] or "", n["grid"] or "", n["tag_id"]]
    return values


def test_the_owner_portal_and_notices_read_in_one_language(
    browser,  # type: ignore[no-untyped-def]
    web: WebServer,
    broker: Mosquitto,
    db: sqlite3.Connection,
    gateway: LocalSmsGateway,  # noqa: F811
) -> None:
    http, data = owner_data(web.url, gateway)
    publish_all(client(broker.port), school_visit_messages("TAG-0001"))  # a violation, a notice
    b = browser
    log_in(b, web.url, PHONE, PASSWORD)
    wait(b).until(EC.url_contains("/owner"))
    wait(b, 20).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#notices-unread[data-unread='1']"))
    )
    data += shown_data(http)

    for lang, guidance, step in (
        ("zh", "教育引导，不予罚款", "教育引导"),
        ("en", "no fine", "Education"),
    ):
        if lang == "en":
            set_language(b, web.url, "en")
        in_language(b, lang)
        wait(b).until(EC.text_to_be_present_in_element((By.ID, "violations"), guidance))
        wait(b).until(
            EC.presence_of_element_located(
                (By.CSS_SELECTOR, "#requests-table [data-status='requested']")
            )
        )
        wait(b).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, "#tags-table [data-tag='TAG-0001']"))
        )
        assert [o.text for o in b.find_elements(By.CSS_SELECTOR, "#request-dog option")] == [
            f"豆豆（{DOG['breed']}）"
        ]
        assert step in b.find_element(By.ID, "violations").text
        only(b, lang, data)
        b.execute_script("window.scrollTo(0, 0)")
        shot(b, f"lang-{lang}-owner")

        b.find_element(By.CSS_SELECTOR, "#notices details summary").click()  # open it
        notice = visible_text(b, "#notices details[open] .notice-body")
        assert "测试小学" in notice  # the bureau's text as sent, in either language
        only(b, lang, data)
        b.execute_script("document.getElementById('notices-card').scrollIntoView()")
        shot(b, f"lang-{lang}-notices")

    as_sent = b.find_element(By.CSS_SELECTOR, "#notices details[open] .notice-as-sent").text
    assert as_sent == "The bureau's text message, as sent (in Chinese):"
    http.close()
