"""Authorisation on every route (research T22): anonymous callers get 401, owners never
reach operator functions, and owner B reaches nothing of owner A's (BOLA)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from fastapi.testclient import TestClient

from smartcity_iot.config import Settings

from .conftest import DOG, User, active_tag, school_visit

PUBLIC = {
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/signup/code"),  # sign-up and password reset by a code to the phone
    ("POST", "/api/auth/reset/code"),
    ("POST", "/api/auth/reset"),
    ("GET", "/api/messages"),  # the pages' texts: the log-in page needs them before a session
}


def routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    out = []
    for path, item in schema["paths"].items():
        for method in item:
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            out.append((method.upper(), concrete))
    return out


def test_every_api_route_but_signup_and_login_needs_a_session(
    clients: Callable[[], TestClient],
) -> None:
    c = clients()
    checked = 0
    for method, path in routes(c):
        if (method, path) in PUBLIC:
            continue
        r = c.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        checked += 1
    assert checked >= 20


def test_an_owner_cannot_call_any_operator_route(signup: Callable[..., User]) -> None:
    owner = signup("13900000031")
    operator_routes = [(m, p) for m, p in routes(owner.http) if p.startswith("/api/operator/")]
    assert len(operator_routes) >= 10
    for method, path in operator_routes:
        r = owner.http.request(method, path, json={"disposition": "dismissed"})
        assert r.status_code == 403, (method, path, r.status_code)


def test_an_operator_cannot_use_the_owner_portal(operator: User) -> None:
    assert operator.get("/api/owner/dogs").status_code == 403
    assert operator.post("/api/owner/dogs", DOG).status_code == 403


def test_owner_b_reaches_nothing_of_owner_a(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    a, b = signup("13900000032", "甲"), signup("13900000033", "乙")
    flow = active_tag(a, operator)
    serial, dog_id, req_id = flow["approval"]["tag_id"], flow["dog"]["id"], flow["request"]["id"]
    school_visit(web_settings, conn, serial)
    violations = a.get("/api/owner/violations").json()
    assert len(violations) == 1
    vid = violations[0]["id"]

    # reads: lists hold nothing of A's, direct ids look like nothing exists
    for path in (
        "/api/owner/dogs",
        "/api/owner/tag-requests",
        "/api/owner/tags",
        "/api/owner/violations",
    ):
        assert b.get(path).json() == [], path
    for path in (
        f"/api/owner/dogs/{dog_id}",
        f"/api/owner/tag-requests/{req_id}",
        f"/api/owner/violations/{vid}",
    ):
        assert b.get(path).status_code == 404, path
        assert a.get(path).status_code == 200, path
    # writes: cannot request a tag for A's dog, cannot activate a tag sent to A
    r = b.post(f"/api/owner/dogs/{dog_id}/tag-requests", {"postal_address": "somewhere else 123"})
    assert r.status_code == 404
    dog2 = a.post("/api/owner/dogs", {**DOG, "name": "二黄"}).json()
    req2 = a.post(
        f"/api/owner/dogs/{dog2['id']}/tag-requests", {"postal_address": "衢州市柯城区 2 号"}
    ).json()
    approval = operator.post(f"/api/operator/tag-requests/{req2['id']}/approve", {}).json()
    operator.post(f"/api/operator/tag-requests/{req2['id']}/ship")
    stolen = b.post(
        "/api/owner/tags/activate",
        {"serial": approval["tag_id"], "activation_code": approval["activation_code"]},
    )
    assert stolen.status_code == 400
    assert (
        conn.execute("SELECT status FROM tags WHERE tag_id = ?", (approval["tag_id"],)).fetchone()[
            0
        ]
        == "shipped"
    )
    # responses carry no other owner's fields
    assert "owner_phone" not in a.get("/api/owner/tag-requests").json()[0]
    assert "party" not in violations[0]


def test_the_live_feed_is_for_operators_only(
    signup: Callable[..., User], clients: Callable[[], TestClient]
) -> None:
    assert clients().get("/api/operator/alerts/stream").status_code == 401
    assert signup("13900000034").get("/api/operator/alerts/stream").status_code == 403
