"""The owners' portal: from a new dog to an active tag with device credentials, and
their own violations with the escalation step and guidance."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.store import credentials
from smartcity_iot.store.registry import RegistryError, register_active_tag

from .conftest import DOG, User, active_tag, school_visit


def test_a_tag_request_goes_requested_approved_shipped_active(
    signup: Callable[..., User], operator: User, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000041", "赵六")
    dog = owner.post("/api/owner/dogs", DOG).json()
    assert {k: dog[k] for k in DOG} == DOG
    req = owner.post(
        f"/api/owner/dogs/{dog['id']}/tag-requests", {"postal_address": "衢州市柯城区府山街道 1 号"}
    )
    assert req.status_code == 201 and req.json()["status"] == "requested"
    rid = req.json()["id"]
    again = owner.post(
        f"/api/owner/dogs/{dog['id']}/tag-requests", {"postal_address": "衢州市柯城区府山街道 1 号"}
    )
    assert again.status_code == 400  # one request in progress per dog

    queue = operator.get("/api/operator/tag-requests?status=requested").json()
    assert [(r["id"], r["owner_phone"], r["dog_name"]) for r in queue] == [
        (rid, "13900000041", "旺财")
    ]
    approval = operator.post(
        f"/api/operator/tag-requests/{rid}/approve", {"serial": "QZ-DOG-0042"}
    ).json()
    assert approval["tag_id"] == "QZ-DOG-0042" and len(approval["activation_code"]) == 11
    assert owner.get(f"/api/owner/tag-requests/{rid}").json()["status"] == "approved"
    assert operator.post(f"/api/operator/tag-requests/{rid}/approve", {}).status_code == 409
    assert operator.post(f"/api/operator/tag-requests/{rid}/ship").json()["status"] == "shipped"
    assert owner.get(f"/api/owner/tag-requests/{rid}").json()["status"] == "shipped"

    wrong = owner.post(
        "/api/owner/tags/activate", {"serial": "QZ-DOG-0042", "activation_code": "AAAAA-BBBBB"}
    )
    assert wrong.status_code == 400
    ok = owner.post(
        "/api/owner/tags/activate",
        {"serial": "QZ-DOG-0042", "activation_code": approval["activation_code"].lower()},
    )
    assert ok.status_code == 200, ok.text
    cred = ok.json()
    assert (
        cred["mqtt_username"] == "QZ-DOG-0042" and cred["publish_topic"] == "tags/QZ-DOG-0042/fix"
    )
    assert owner.get(f"/api/owner/tag-requests/{rid}").json()["status"] == "active"
    assert [t["status"] for t in owner.get("/api/owner/tags").json()] == ["active"]

    # the code is single-use and the password is stored only as a Mosquitto-format hash
    reuse = owner.post(
        "/api/owner/tags/activate",
        {"serial": "QZ-DOG-0042", "activation_code": approval["activation_code"]},
    )
    assert reuse.status_code == 400
    stored = conn.execute(
        "SELECT password_hash FROM tag_credentials WHERE tag_id = 'QZ-DOG-0042'"
    ).fetchone()[0]
    assert stored.startswith("$7$") and cred["mqtt_password"] not in stored
    assert credentials.mosquitto_verify(stored, cred["mqtt_password"])
    assert credentials.mosquitto_password_file(conn) == f"QZ-DOG-0042:{stored}\n"
    code_hash = conn.execute(
        "SELECT activation_code FROM tags WHERE tag_id = 'QZ-DOG-0042'"
    ).fetchone()[0]
    assert code_hash is None


def test_an_owner_sees_position_battery_and_violations_with_guidance(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000042")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, serial)
    school_visit(web_settings, conn, serial, t=1795399200.0 + 3600)

    tag = owner.get("/api/owner/tags").json()[0]
    assert tag["tag_id"] == serial and tag["batt"] == 80 and abs(tag["lat"] - 28.960) < 1e-6
    violations = owner.get("/api/owner/violations").json()
    assert [(v["offence_number"], v["escalation"]) for v in violations] == [
        (2, "warning"),
        (1, "education"),
    ]
    assert all(v["kind"] == "dog_forbidden_zone" and v["dog_name"] == "旺财" for v in violations)
    assert "教育引导" in violations[1]["guidance"] and "警告" in violations[0]["guidance"]
    assert (
        owner.get(f"/api/owner/violations/{violations[0]['id']}").json()["zone_name"] == "测试小学"
    )


def test_dog_fields_are_validated(signup: Callable[..., User]) -> None:
    owner = signup("13900000043")
    for bad in (
        {"sex": "x"},
        {"birth_date": "2999-01-01"},
        {"rabies_cert": "<script>"},
        {"name": ""},
    ):
        assert owner.post("/api/owner/dogs", {**DOG, **bad}).status_code == 422, bad


ADDRESS = {"postal_address": "衢州市柯城区府山街道 1 号"}


def test_a_tag_registered_from_the_cli_shows_on_its_dog_and_no_request_is_offered(
    signup: Callable[..., User], conn: sqlite3.Connection
) -> None:
    register_active_tag(conn, "QZ-CLI-0071", "豆豆", "钱七", "139 0000 0071")  # the CLI's way
    owner = signup("13900000071", "钱七")
    [dog] = owner.get("/api/owner/dogs").json()
    assert (dog["name"], dog["tag_id"], dog["tag_status"]) == ("豆豆", "QZ-CLI-0071", "active")
    assert dog["can_request"] is False
    assert owner.get(f"/api/owner/dogs/{dog['id']}").json()["tag_id"] == "QZ-CLI-0071"
    assert [t["tag_id"] for t in owner.get("/api/owner/tags").json()] == ["QZ-CLI-0071"]
    refused = owner.post(f"/api/owner/dogs/{dog['id']}/tag-requests", ADDRESS)
    assert refused.status_code == 400 and refused.json() == {
        "detail": "此犬已佩戴有效犬牌 QZ-CLI-0071；犬牌丢失或损坏由城管局补发，无需重新申请",
        "code": "owner.error.dog_has_active_tag",
    }


def test_only_dogs_without_an_active_or_pending_tag_may_request_one(
    signup: Callable[..., User], operator: User
) -> None:
    owner = signup("13900000072")
    done = active_tag(owner, operator)
    fresh = owner.post("/api/owner/dogs", {**DOG, "name": "小黑"}).json()
    assert fresh["can_request"] is True and fresh["tag_id"] is None
    dogs = {d["name"]: d for d in owner.get("/api/owner/dogs").json()}
    assert dogs["旺财"]["tag_id"] == done["approval"]["tag_id"]
    assert (dogs["旺财"]["tag_status"], dogs["旺财"]["can_request"]) == ("active", False)
    again = owner.post(f"/api/owner/dogs/{done['dog']['id']}/tag-requests", ADDRESS)
    assert again.status_code == 400  # after activation the same dog is not offered again
    assert owner.post(f"/api/owner/dogs/{fresh['id']}/tag-requests", ADDRESS).status_code == 201
    pending = owner.get(f"/api/owner/dogs/{fresh['id']}").json()
    assert pending["can_request"] is False and pending["tag_id"] is None


def test_phones_must_be_mainland_mobiles_wherever_they_are_typed(
    clients: Callable[[], TestClient], conn: sqlite3.Connection
) -> None:
    c = clients()
    for bad in ("12345", "23900000001", "1390000000", "phone"):
        r = c.post("/api/auth/signup/code", json={"phone": bad})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == "手机号", r.text
        assert "大陆手机号" in r.json()["detail"][0]["msg"], r.text
        with pytest.raises(RegistryError):
            register_active_tag(conn, "QZ-CLI-0099", "豆豆", "钱七", bad)
    ok = c.post("/api/auth/signup/code", json={"phone": "+86 139-0000-0073"})
    assert ok.status_code == 202 and ok.json()["phone"] == "139****0073"
