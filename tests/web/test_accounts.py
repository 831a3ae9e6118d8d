"""Sign-up with a one-time code, log-in, sessions, password change and reset (ASVS 6
and 7; research T23; SPEC 2 and 8)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from argon2 import extract_parameters
from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.notify.sms import HttpSmsGateway
from smartcity_iot.store import users
from smartcity_iot.store.passwords import HASHER
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect
from smartcity_iot.web.app import create_app
from smartcity_iot.web.security import Limits

from ..sms_gateway import LocalSmsGateway
from .conftest import PASSWORD, User, sign_up


def test_the_stored_password_hash_is_argon2id_with_at_least_the_owasp_minimum(
    signup: Callable[..., User], conn: sqlite3.Connection
) -> None:
    signup("13900000011")
    stored = conn.execute(
        "SELECT password_hash FROM web_users WHERE login = '13900000011'"
    ).fetchone()[0]
    assert stored.startswith("$argon2id$")
    params = extract_parameters(stored)
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2 and params.parallelism >= 1
    assert PASSWORD not in stored


def test_signup_links_to_the_owner_the_cli_registered_with_that_phone(
    signup: Callable[..., User], conn: sqlite3.Connection
) -> None:
    register_active_tag(conn, "TAG-CLI-1", "阿黄", "王五", "13900000012")
    owner = signup("139 0000 0012", "王五")
    tags = owner.get("/api/owner/tags").json()
    assert [(t["tag_id"], t["dog_name"], t["status"]) for t in tags] == [
        ("TAG-CLI-1", "阿黄", "active")
    ]


def test_one_account_per_phone_however_it_is_spelled(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    signup("13900000013")
    for spelling in ("13900000013", "139 0000 0013", "+86 139-0000-0013"):
        r = clients().post("/api/auth/signup/code", json={"phone": spelling})
        assert r.status_code == 400 and r.json()["code"] == "account.phone_taken", spelling


def test_weak_and_overlong_passwords_are_refused_not_truncated(
    clients: Callable[[], TestClient],
) -> None:
    c = clients()
    for password, expected in (("short", 422), ("12345678", 400), ("x" * 129, 422)):
        r = c.post(
            "/api/auth/signup",
            json={"phone": "13900000014", "code": "000000", "name": "x", "password": password},
        )
        assert r.status_code == expected, (password, r.text)


def test_a_phone_that_is_not_a_mainland_mobile_is_refused_naming_the_field(
    clients: Callable[[], TestClient],
) -> None:
    for phone in ("12345", "+1 650 555 0100", "1390000001x", "23900000001"):
        r = clients().post("/api/auth/signup/code", json={"phone": phone})
        assert r.status_code == 422, phone
        (problem,) = r.json()["detail"]
        assert problem["field"] == "手机号" and "大陆手机号" in problem["msg"], phone


def test_login_issues_a_new_session_id_and_logout_invalidates_it(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    owner = signup("13900000015")
    first = owner.http.cookies.get("sc_session")
    r = owner.http.post("/api/auth/login", json={"login": "13900000015", "password": PASSWORD})
    assert r.status_code == 200
    second = owner.http.cookies.get("sc_session")
    assert first and second and first != second
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    stale = clients()
    stale.cookies.set("sc_session", first)
    assert stale.get("/api/me").status_code == 401  # the pre-login session died with the login

    owner.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert owner.http.post("/api/auth/logout").status_code == 204
    replay = clients()
    replay.cookies.set("sc_session", second)
    assert replay.get("/api/me").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    signup("13900000016")
    c = clients()
    wrong = c.post("/api/auth/login", json={"login": "13900000016", "password": "not the password"})
    unknown = c.post(
        "/api/auth/login", json={"login": "13900009999", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_login_is_rate_limited_per_account_even_with_the_right_password(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    signup("13900000017")
    c = clients()
    codes = [
        c.post(
            "/api/auth/login", json={"login": "13900000017", "password": f"guess-{i}"}
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    r = c.post("/api/auth/login", json={"login": "13900000017", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # other accounts from the same address are not locked by it
    signup("13900000018")
    assert (
        c.post("/api/auth/login", json={"login": "13900000018", "password": PASSWORD}).status_code
        == 200
    )


def test_login_is_rate_limited_per_address_across_accounts(
    clients: Callable[[], TestClient],
) -> None:
    c = clients()
    codes = [
        c.post(
            "/api/auth/login", json={"login": f"1390000{i:04d}", "password": "guess"}
        ).status_code
        for i in range(21)
    ]
    assert codes == [401] * 20 + [429]


def test_state_changes_need_the_csrf_token_and_a_same_site_origin(
    signup: Callable[..., User],
) -> None:
    owner = signup("13900000019")
    dog = {
        "name": "a",
        "breed": "b",
        "sex": "male",
        "birth_date": "2020-01-01",
        "rabies_cert": "ABCD-1",
    }
    del owner.http.headers["X-CSRF-Token"]
    assert owner.http.post("/api/owner/dogs", json=dog).status_code == 403
    owner.http.headers["X-CSRF-Token"] = "forged"
    assert owner.http.post("/api/owner/dogs", json=dog).status_code == 403
    owner.http.headers["X-CSRF-Token"] = owner.me["csrf_token"]
    evil = owner.http.post("/api/owner/dogs", json=dog, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    assert owner.http.post("/api/owner/dogs", json=dog).status_code == 201


def test_mass_assignment_of_owner_or_role_is_refused(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    r = clients().post(
        "/api/auth/signup",
        json={"phone": "13900000020", "name": "x", "password": PASSWORD, "role": "operator"},
    )
    assert r.status_code == 422
    owner = signup("13900000021")
    r = owner.post(
        "/api/owner/dogs",
        {
            "name": "a",
            "breed": "b",
            "sex": "male",
            "birth_date": "2020-01-01",
            "rabies_cert": "ABCD-1",
            "owner_id": 1,
        },
    )
    assert r.status_code == 422


# -- one-time codes (SPEC 2, 8) -----------------------------------------------------------


def test_the_code_goes_to_the_phone_in_chinese_as_its_only_six_digit_number_and_is_stored_hashed(
    clients: Callable[[], TestClient], sms: LocalSmsGateway, conn: sqlite3.Connection
) -> None:
    r = clients().post("/api/auth/signup/code", json={"phone": "+86 139-0000-0022"})
    assert r.status_code == 202 and r.json()["phone"] == "139****0022"
    (text,) = sms.to("13900000022")
    assert len(re.findall(r"(?<!\d)\d{6}(?!\d)", text)) == 1 and "验证码" in text
    code = sms.last_code("13900000022")
    stored = conn.execute("SELECT code_hash FROM phone_codes").fetchone()[0]
    assert stored.startswith("$argon2id$") and code not in stored


def test_a_code_is_single_use(clients: Callable[[], TestClient], sms: LocalSmsGateway) -> None:
    assert sign_up(clients(), sms, "13900000023").status_code == 201
    code = sms.last_code("13900000023")
    again = clients().post(
        "/api/auth/signup",
        json={"phone": "13900000023", "code": code, "name": "x", "password": PASSWORD},
    )
    assert again.status_code == 400 and again.json()["code"] == "code.none"  # spent: no valid code


def test_a_code_allows_five_tries_then_even_the_right_one_is_refused(
    clients: Callable[[], TestClient], sms: LocalSmsGateway
) -> None:
    c = clients()
    assert c.post("/api/auth/signup/code", json={"phone": "13900000024"}).status_code == 202
    code = sms.last_code("13900000024")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    body = {"phone": "13900000024", "name": "x", "password": PASSWORD}
    answers = [c.post("/api/auth/signup", json={**body, "code": wrong}).json() for _ in range(5)]
    assert answers[0] == {"detail": "验证码错误，还可再试 4 次", "code": "code.wrong_left"}
    assert answers[4]["code"] == "code.wrong_last"
    r = c.post("/api/auth/signup", json={**body, "code": code})
    assert r.status_code == 400 and r.json()["code"] == "code.too_many"


def test_an_expired_code_is_refused(
    clients: Callable[[], TestClient], sms: LocalSmsGateway, conn: sqlite3.Connection
) -> None:
    c = clients()
    assert c.post("/api/auth/signup/code", json={"phone": "13900000025"}).status_code == 202
    conn.execute("UPDATE phone_codes SET expires_at = expires_at - 601")
    r = c.post(
        "/api/auth/signup",
        json={
            "phone": "13900000025",
            "code": sms.last_code("13900000025"),
            "name": "x",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 400 and r.json()["code"] == "code.none"


def test_codes_are_rate_limited_per_phone_and_per_address(
    clients: Callable[[], TestClient], conn: sqlite3.Connection
) -> None:
    c = clients()
    assert c.post("/api/auth/signup/code", json={"phone": "13900000026"}).status_code == 202
    again = c.post("/api/auth/signup/code", json={"phone": "139 0000 0026"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    codes = [
        c.post("/api/auth/signup/code", json={"phone": f"1380000{i:04d}"}).status_code
        for i in range(20)
    ]
    assert codes == [202] * 19 + [429]  # 20 per address and hour, the first one included


def test_a_gateway_that_does_not_take_the_code_is_a_503_and_no_code_stays_valid(
    web_settings: Settings, conn: sqlite3.Connection
) -> None:
    with LocalSmsGateway(fail_first=10) as down:
        app = create_app(web_settings, Limits(), HttpSmsGateway(down.url, retries=1, backoff_s=0))
        with TestClient(app) as c:
            r = c.post("/api/auth/signup/code", json={"phone": "13900000027"})
    assert r.status_code == 503 and r.json()["code"] == "account.sms_down"
    assert conn.execute("SELECT COUNT(*) FROM phone_codes").fetchone()[0] == 0


# -- passwords and sessions -----------------------------------------------------------------


def test_a_password_change_needs_the_old_one_and_ends_the_other_sessions(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    here = signup("13900000028")
    there = clients()
    assert (
        there.post("/api/auth/login", json={"login": "13900000028", "password": PASSWORD})
    ).status_code == 200
    new = "a brand new long passphrase"
    wrong = here.post("/api/auth/password", {"old_password": "not it", "new_password": new})
    assert wrong.status_code == 400 and wrong.json()["code"] == "account.old_password_wrong"
    assert there.get("/api/me").status_code == 200
    ok = here.post("/api/auth/password", {"old_password": PASSWORD, "new_password": new})
    assert ok.status_code == 204
    assert here.get("/api/me").status_code == 200 and there.get("/api/me").status_code == 401
    login = clients().post("/api/auth/login", json={"login": "13900000028", "password": new})
    assert login.status_code == 200


def test_sign_out_everywhere_ends_every_session_of_the_account(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    here = signup("13900000029")
    there = clients()
    there.post("/api/auth/login", json={"login": "13900000029", "password": PASSWORD})
    other = signup("13900000030")
    assert here.post("/api/auth/logout-all").status_code == 204
    assert here.get("/api/me").status_code == 401 and there.get("/api/me").status_code == 401
    assert other.get("/api/me").status_code == 200


def test_a_reset_through_a_code_sets_the_password_and_ends_every_session(
    signup: Callable[..., User], clients: Callable[[], TestClient], sms: LocalSmsGateway
) -> None:
    thief = signup("13900000032")  # say someone else knew the password
    holder = clients()
    assert holder.post("/api/auth/reset/code", json={"phone": "139 0000 0032"}).status_code == 202
    code = sms.last_code("13900000032")
    new = "the holder of the phone decides"
    r = holder.post("/api/auth/reset", json={"phone": "13900000032", "code": code, "password": new})
    assert r.status_code == 200 and r.json()["login"] == "13900000032"
    assert thief.get("/api/me").status_code == 401 and holder.get("/api/me").status_code == 200
    old = clients().post("/api/auth/login", json={"login": "13900000032", "password": PASSWORD})
    assert old.status_code == 401


def test_a_reset_code_is_sent_only_to_a_phone_with_an_account_and_the_answer_is_the_same(
    clients: Callable[[], TestClient], sms: LocalSmsGateway
) -> None:
    r = clients().post("/api/auth/reset/code", json={"phone": "13900000033"})
    assert r.status_code == 202 and r.json()["phone"] == "139****0033"
    assert sms.to("13900000033") == []


def test_an_account_from_before_codes_sees_nothing_until_it_proves_its_phone(
    clients: Callable[[], TestClient], sms: LocalSmsGateway, conn: sqlite3.Connection
) -> None:
    register_active_tag(conn, "TAG-OLD-1", "阿黄", "王五", "13900000034")
    owner_id = conn.execute("SELECT id FROM owners").fetchone()[0]
    conn.execute(  # as the previous version signed up: no code, linked at once
        "INSERT INTO web_users(role, login, name, password_hash, owner_id, created_at) "
        "VALUES ('owner', '13900000034', '王五', ?, ?, 0)",
        (HASHER.hash(PASSWORD), owner_id),
    )
    c = clients()
    me = c.post("/api/auth/login", json={"login": "13900000034", "password": PASSWORD}).json()
    assert me["phone_verified"] is False
    c.headers["X-CSRF-Token"] = me["csrf_token"]
    for path in ("/api/owner/tags", "/api/owner/dogs", "/api/owner/violations"):
        r = c.get(path)
        assert r.status_code == 403 and r.json()["code"] == "account.prove_phone_first", path
    assert c.post("/api/auth/verify/code").status_code == 202
    wrong = c.post("/api/auth/verify", json={"code": "000000"})
    assert wrong.status_code == 400 or sms.last_code("13900000034") == "000000"
    r = c.post("/api/auth/verify", json={"code": sms.last_code("13900000034")})
    assert r.status_code == 200 and r.json()["phone_verified"] is True
    assert [t["tag_id"] for t in c.get("/api/owner/tags").json()] == ["TAG-OLD-1"]


def test_phones_stored_as_typed_by_an_earlier_version_become_canonical_on_open(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    conn = connect(db)
    conn.execute("INSERT INTO owners(name, phone, created_at) VALUES ('甲', '137 0000 0043', 0)")
    conn.execute("INSERT INTO owners(name, phone, created_at) VALUES ('乙', '+8613900000044', 0)")
    conn.execute("INSERT INTO owners(name, phone, created_at) VALUES ('丙', 'not a phone', 0)")
    conn.close()
    conn = connect(db)
    phones = [r[0] for r in conn.execute("SELECT phone FROM owners ORDER BY id")]
    assert phones == ["13700000043", "13900000044", "not a phone"]
    register_active_tag(conn, "TAG-MIG-1", "旺财", "甲", "13700000043")
    assert conn.execute("SELECT COUNT(*) FROM owners").fetchone()[0] == 3


def test_an_operator_name_however_spelled_counts_under_one_limit(
    clients: Callable[[], TestClient], conn: sqlite3.Connection
) -> None:
    users.create_operator(conn, "op1", PASSWORD)
    c = clients()
    for spelling in (" op1", "OP1", "ｏｐ１", "op1 ", "Op1"):
        r = c.post("/api/auth/login", json={"login": spelling, "password": "a wrong guess"})
        assert r.status_code == 401, spelling
    r = c.post("/api/auth/login", json={"login": "op1", "password": PASSWORD})
    assert r.status_code == 429
