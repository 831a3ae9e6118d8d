"""The API's account and owner errors in one language at a time (issue 12.3): Chinese
without a cookie, English with `lang=en`, always with the catalogue key as `code` (what
scripts match on); a 422 names the field by its label; the 721 guidance and the notices'
labels come from the catalogue in the reader's language, the bureau's text as sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.store.registry import RegistryError, register_active_tag

from ..i18n_check import foreign
from .conftest import User, active_tag, school_visit

SIGNUP = {"phone": "13900000085", "code": "123456", "name": "陈八", "password": "password123"}


def reader(clients: Callable[[], TestClient], lang: str | None) -> TestClient:
    c = clients()
    if lang:
        c.cookies.set("lang", lang)
    return c


def test_a_common_password_is_refused_in_the_readers_language_with_its_code(
    clients: Callable[[], TestClient],
) -> None:
    zh = reader(clients, None).post("/api/auth/signup", json=SIGNUP)
    en = reader(clients, "en").post("/api/auth/signup", json=SIGNUP)
    assert (zh.status_code, en.status_code) == (400, 400)
    assert zh.json() == {
        "detail": "此密码是最常见的密码之一，请换一个",
        "code": "account.password_common",
    }
    assert en.json() == {
        "detail": "this password is among the most common ones; choose another",
        "code": "account.password_common",
    }


def test_a_wrong_login_is_refused_in_the_readers_language(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    signup("13900000086")
    wrong = {"login": "139 0000 0086", "password": "not the password"}
    zh = reader(clients, None).post("/api/auth/login", json=wrong)
    en = reader(clients, "en").post("/api/auth/login", json=wrong)
    assert (zh.status_code, en.status_code) == (401, 401)
    assert zh.json() == {"detail": "手机号（账号）或密码错误", "code": "account.login_wrong"}
    assert en.json() == {"detail": "wrong login or password", "code": "account.login_wrong"}
    anonymous = reader(clients, "en").get("/api/owner/dogs")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "account.log_in_first"
    assert anonymous.json()["detail"] == "log in first"


def test_a_validation_error_names_the_field_in_the_readers_language(
    clients: Callable[[], TestClient],
) -> None:
    for lang, field, problem in (
        ("zh", "手机号", "不是大陆手机号"),
        ("en", "Mobile phone", "is not a mainland mobile number"),
    ):
        r = reader(clients, lang).post("/api/auth/signup/code", json={"phone": "12345"})
        assert r.status_code == 422
        (item,) = r.json()["detail"]
        assert item["field"] == field and problem in item["msg"], item
        assert foreign(item["msg"], lang, data=["12345"]) == [], item
    missing = {k: v for k, v in SIGNUP.items() if k != "name"}
    zh = reader(clients, None).post("/api/auth/signup", json=missing).json()["detail"]
    en = reader(clients, "en").post("/api/auth/signup", json=missing).json()["detail"]
    assert [(d["field"], d["msg"]) for d in zh] == [("名称", "必填")]
    assert [(d["field"], d["msg"]) for d in en] == [("Name", "is required")]


def test_a_dogs_birth_date_refusal_is_in_the_readers_language(
    signup: Callable[..., User],
) -> None:
    owner = signup("13900000087")
    dog = {"name": "豆豆", "breed": "柯基", "sex": "male", "birth_date": "1980-01-01"}
    dog["rabies_cert"] = "QZ-2024-0087"
    zh = owner.post("/api/owner/dogs", dog).json()["detail"]
    owner.http.cookies.set("lang", "en")
    en = owner.post("/api/owner/dogs", dog).json()["detail"]
    assert [(d["field"], d["msg"]) for d in zh] == [
        ("出生日期", "出生日期须在 1990-01-01 与今天之间")
    ]
    assert [(d["field"], d["msg"]) for d in en] == [
        ("Birth date", "birth date must be between 1990-01-01 and today")
    ]


def test_the_721_guidance_and_notice_labels_follow_the_reader_and_the_sms_text_does_not(
    signup: Callable[..., User],
    operator: User,
    web_settings: Settings,
    conn: sqlite3.Connection,
) -> None:
    owner = signup("13900000088", "周九")
    tag = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, tag)
    (zh,) = owner.get("/api/owner/violations").json()
    assert zh["kind_label"] == "进入禁入区域" and zh["guidance"].startswith("第1次：教育引导")
    owner.http.cookies.set("lang", "en")
    (en,) = owner.get("/api/owner/violations").json()
    assert en["kind_label"] == "Entered a no-dogs area"
    assert en["guidance"].startswith("1st time: education and guidance, no fine")
    for v, lang in ((zh, "zh"), (en, "en")):
        assert foreign(v["kind_label"] + v["guidance"], lang) == [], v
    (notice,) = owner.get("/api/owner/notices").json()
    assert (notice["kind_label"], notice["step_label"]) == ("Entered a no-dogs area", "Education")
    assert "教育引导" in notice["text"]  # the bureau's text as the phone got it, not translated


def test_registry_errors_read_in_english_for_the_cli(conn: sqlite3.Connection) -> None:
    try:
        register_active_tag(conn, "QZ-CLI-0089", "豆豆", "钱七", "12345")
    except RegistryError as exc:
        assert str(exc).startswith("--phone: phone '12345' is not a mainland mobile number")
        assert exc.text("zh").startswith("手机号：手机号“12345”不是大陆手机号")
    else:
        raise AssertionError("12345 was accepted as a phone")


def test_a_body_too_large_is_refused_in_the_readers_language(
    clients: Callable[[], TestClient], web_settings: Settings
) -> None:
    big = "x" * (web_settings.http_body_max_bytes + 1)
    zh = reader(clients, None).post("/api/auth/login", content=big)
    en = reader(clients, "en").post("/api/auth/login", content=big)
    assert (zh.status_code, en.status_code) == (413, 413)
    assert zh.json()["code"] == en.json()["code"] == "request.body_too_large"
    assert zh.json()["detail"].startswith("请求内容过大")
    assert en.json()["detail"].startswith("request body too large")
