"""Sign-up, log-in and sessions (ASVS 6 and 7; research T23)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from argon2 import extract_parameters
from fastapi.testclient import TestClient

from smartcity_iot.store.registry import register_active_tag

from .conftest import PASSWORD, User


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


def test_one_account_per_phone(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    signup("13900000013")
    r = clients().post(
        "/api/auth/signup", json={"phone": "13900000013", "name": "x", "password": PASSWORD}
    )
    assert r.status_code == 400 and "already" in r.json()["detail"]


def test_weak_and_overlong_passwords_are_refused_not_truncated(
    clients: Callable[[], TestClient],
) -> None:
    c = clients()
    for password, expected in (("short", 422), ("12345678", 400), ("x" * 129, 422)):
        r = c.post(
            "/api/auth/signup", json={"phone": "13900000014", "name": "x", "password": password}
        )
        assert r.status_code == expected, (password, r.text)


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
