"""The owners' notices in the portal API: own notices only (another owner's are not
found, anonymous callers 401, operators 403), the unread count of the badge, marking
read, and a dismissed alert's notice shown as withdrawn."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.store import workflow

from .conftest import User, active_tag, school_visit


def test_an_owner_sees_the_notice_of_a_violation_with_place_step_and_text(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000051", "周八")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    assert owner.get("/api/owner/notices/unread").json() == {"unread": 0}
    school_visit(web_settings, conn, serial)

    [notice] = owner.get("/api/owner/notices").json()
    assert (notice["kind"], notice["tag_id"], notice["dog_name"]) == (
        "dog_forbidden_zone",
        serial,
        "旺财",
    )
    assert (notice["zone_name"], notice["grid"]) == ("测试小学", "G-01")
    assert (notice["escalation"], notice["step_label"], notice["offence_number"]) == (
        "education",
        "教育引导",
        1,
    )
    assert "周八" in notice["text"] and "测试小学" in notice["text"]
    assert "不予处罚" in notice["text"]
    assert (notice["read"], notice["withdrawn"], notice["sms"]) == (False, False, "pending")
    assert owner.get("/api/owner/notices/unread").json() == {"unread": 1}

    assert owner.post(f"/api/owner/notices/{notice['id']}/read").status_code == 204
    assert owner.get("/api/owner/notices/unread").json() == {"unread": 0}
    assert owner.get("/api/owner/notices").json()[0]["read"] is True


def test_a_dismissed_alert_shows_as_withdrawn_and_asks_nothing(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000052")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, serial)
    aid = conn.execute("SELECT id FROM alerts").fetchone()[0]
    assert operator.post(f"/api/operator/alerts/{aid}/acknowledge", {}).status_code == 200
    r = operator.post(f"/api/operator/alerts/{aid}/close", {"disposition": "dismissed"})
    assert r.status_code == 200, r.text
    [notice] = owner.get("/api/owner/notices").json()
    assert (notice["withdrawn"], notice["sms"]) == (True, "withdrawn")
    assert owner.get("/api/owner/notices/unread").json() == {"unread": 0}


def test_mark_all_read(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000053")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    for i in range(3):
        school_visit(web_settings, conn, serial, t=1795399200.0 + i * 3600)
    assert owner.get("/api/owner/notices/unread").json() == {"unread": 3}
    assert owner.post("/api/owner/notices/read-all").json() == {"unread": 0}
    steps = [n["escalation"] for n in owner.get("/api/owner/notices").json()]
    assert steps == ["penalty", "warning", "education"]  # newest first


def test_owner_b_reaches_no_notice_of_owner_a(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    a, b = signup("13900000054", "甲"), signup("13900000055", "乙")
    serial = active_tag(a, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, serial)
    [notice] = a.get("/api/owner/notices").json()

    assert b.get("/api/owner/notices").json() == []
    assert b.get("/api/owner/notices/unread").json() == {"unread": 0}
    assert b.post(f"/api/owner/notices/{notice['id']}/read").status_code == 404
    assert b.post("/api/owner/notices/read-all").json() == {"unread": 0}
    assert a.get("/api/owner/notices/unread").json() == {"unread": 1}  # B changed nothing
    assert "owner_phone" not in notice and "party" not in notice


def test_notices_need_an_owner_session(clients: Callable[[], TestClient], operator: User) -> None:
    anonymous = clients()
    for method, path in (
        ("GET", "/api/owner/notices"),
        ("GET", "/api/owner/notices/unread"),
        ("POST", "/api/owner/notices/1/read"),
        ("POST", "/api/owner/notices/read-all"),
    ):
        assert anonymous.request(method, path).status_code == 401, path
        assert operator.http.request(method, path).status_code == 403, path


def test_marking_read_needs_the_csrf_token(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000056")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, serial)
    [notice] = owner.get("/api/owner/notices").json()
    del owner.http.headers["X-CSRF-Token"]
    assert owner.post(f"/api/owner/notices/{notice['id']}/read").status_code == 403
    assert owner.post("/api/owner/notices/read-all").status_code == 403
    assert conn.execute("SELECT read_at FROM notices").fetchone()[0] is None


def test_a_notice_from_the_workflow_store_is_unchanged_by_later_revisions(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000057")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, serial)
    aid = conn.execute("SELECT id FROM alerts").fetchone()[0]
    before = owner.get("/api/owner/notices").json()
    workflow.apply(conn, aid, "acknowledge", "op1")
    workflow.apply(conn, aid, "close", "op1", disposition="education")
    assert owner.get("/api/owner/notices").json() == before
