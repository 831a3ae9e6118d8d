"""Operators complete a tag's life through the API: a request rejected with a reason the
owner reads, a tag deactivated (lost, broken, deceased), a tag replaced by a new serial
for the same dog with the dog's history kept; and no serial takes a name another
broker user logs in as."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from smartcity_iot.cli import main
from smartcity_iot.config import Settings
from smartcity_iot.store import credentials, deadletters
from smartcity_iot.store.sqlite import connect

from ..support import TEST_ZONES
from .conftest import DOG, T0, User, active_tag, school_visit

ADDRESS = "浙江省衢州市柯城区府山街道 1 号"


def new_request(owner: User) -> int:
    dog = owner.post("/api/owner/dogs", DOG).json()
    r = owner.post(f"/api/owner/dogs/{dog['id']}/tag-requests", {"postal_address": ADDRESS})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize(
    "serial", ["smartcity-service", "alerts-reader", "sim-tags", "cam-test-01", "SMARTCITY-SERVICE"]
)
def test_a_serial_another_broker_user_logs_in_as_is_refused_at_approval(
    serial: str, signup: Callable[..., User], operator: User
) -> None:
    # given a waiting request
    rid = new_request(signup("13900000061"))
    # when an operator types a serial that names a service account or a camera
    r = operator.post(f"/api/operator/tag-requests/{rid}/approve", {"serial": serial})
    # then it is refused with a message saying why and what to do; the request still waits
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "console.requests.serial_reserved"
    assert serial in r.json()["detail"] and "请换一个编号" in r.json()["detail"]
    [row] = operator.get("/api/operator/tag-requests?status=requested").json()
    assert row["id"] == rid and row["tag_id"] is None
    ok = operator.post(f"/api/operator/tag-requests/{rid}/approve", {"serial": "QZ-DOG-0061"})
    assert ok.status_code == 200 and ok.json()["tag_id"] == "QZ-DOG-0061"


def test_the_cli_refuses_to_register_a_reserved_serial(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["--dog", "旺财", "--owner", "张三", "--phone", "13900000062"]
    where = ["--data-dir", str(tmp_path / "data"), "--geofences", str(TEST_ZONES)]
    assert main(["tags", "register", "alerts-reader", *args, *where]) == 2
    assert "is reserved" in capsys.readouterr().err
    assert main(["tags", "register", "QZ-DOG-0062", *args, *where]) == 0
    tags = connect(tmp_path / "data" / "smartcity.db").execute("SELECT tag_id FROM tags")
    assert [r[0] for r in tags] == ["QZ-DOG-0062"]


def test_a_rejected_request_shows_its_reason_to_the_owner(
    signup: Callable[..., User], operator: User
) -> None:
    owner = signup("13900000063")
    rid = new_request(owner)
    # when an operator rejects it with a reason
    r = operator.post(
        f"/api/operator/tag-requests/{rid}/reject", {"reason": "狂犬疫苗证号无效，请核对"}
    )
    assert r.status_code == 200, r.text
    # then the owner sees the status and the reason, and may ask again
    mine = owner.get(f"/api/owner/tag-requests/{rid}").json()
    assert (mine["status"], mine["reason"]) == ("rejected", "狂犬疫苗证号无效，请核对")
    assert operator.post(f"/api/operator/tag-requests/{rid}/approve", {}).status_code == 409
    again = operator.post(f"/api/operator/tag-requests/{rid}/reject", {"reason": "again"})
    assert again.status_code == 409 and again.json()["code"] == "tag_life.request_decided"
    assert "未通过" in again.json()["detail"]  # the status by its label, in the reader's language
    assert (
        operator.post(f"/api/operator/tag-requests/{rid}/reject", {"reason": ""}).status_code == 422
    )
    assert (
        owner.post(f"/api/operator/tag-requests/{rid}/reject", {"reason": "xx"}).status_code == 403
    )
    dog_id = mine["dog_id"]
    retry = owner.post(f"/api/owner/dogs/{dog_id}/tag-requests", {"postal_address": ADDRESS})
    assert retry.status_code == 201
    events = operator.get(f"/api/operator/tag-requests/{rid}/events").json()
    assert [(e["action"], e["actor"], e["detail"]) for e in events] == [
        ("reject", "operator:op1", {"reason": "狂犬疫苗证号无效，请核对"})
    ]


def test_a_deactivated_tag_leaves_the_password_file_and_its_fixes_are_refused(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    # given two owners' active tags
    lost = active_tag(signup("13900000064"), operator)["approval"]["tag_id"]
    owner_b = signup("13900000065")
    kept = active_tag(owner_b, operator)["approval"]["tag_id"]
    assert len(credentials.mosquitto_password_file(conn).splitlines()) == 2
    # when an operator deactivates one as lost
    r = operator.post(
        f"/api/operator/tags/{lost}/deactivate", {"reason": "lost", "note": "犬主来电"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"tag_id": lost, "status": "inactive", "deactivated_reason": "lost"}
    # then its credential is gone from the broker's file and its fixes are refused
    assert [
        line.split(":")[0] for line in credentials.mosquitto_password_file(conn).splitlines()
    ] == [kept]
    school_visit(web_settings, conn, lost)
    school_visit(web_settings, conn, kept)
    assert deadletters.counts(conn) == {"inactive_device": 21}
    assert [a["device_id"] for a in operator.get("/api/operator/alerts").json()] == [kept]
    # and it cannot be deactivated twice, nor for a reason not on the list
    twice = operator.post(f"/api/operator/tags/{lost}/deactivate", {"reason": "broken"})
    assert twice.status_code == 409 and twice.json()["code"] == "tag_life.not_live"
    assert "“停用”（丢失）" in twice.json()["detail"]
    assert (
        operator.post(f"/api/operator/tags/{kept}/deactivate", {"reason": "bored"}).status_code
        == 422
    )
    assert (
        operator.post("/api/operator/tags/NO-SUCH-TAG/deactivate", {"reason": "lost"}).status_code
        == 404
    )
    assert (
        owner_b.post(f"/api/operator/tags/{kept}/deactivate", {"reason": "lost"}).status_code == 403
    )
    events = operator.get(f"/api/operator/tags/{lost}/events").json()
    assert [(e["action"], e["actor"]) for e in events] == [
        ("approve", "operator:op1"),
        ("ship", "operator:op1"),
        ("deactivate", "operator:op1"),
    ]
    assert events[-1]["detail"] == {"reason": "lost", "from": "active", "note": "犬主来电"}


def test_a_replaced_tag_keeps_the_dogs_history_and_escalation(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    # given a dog whose tag recorded a violation
    owner = signup("13900000066")
    old = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, old)
    # when an operator replaces the broken tag with a typed serial
    assert (
        operator.post(f"/api/operator/tags/{old}/replace", {"serial": "alerts-reader"}).status_code
        == 400
    )
    r = operator.post(
        f"/api/operator/tags/{old}/replace", {"serial": "QZ-NEW-0066", "cause": "broken"}
    )
    assert r.status_code == 200, r.text
    new = r.json()
    assert (new["tag_id"], new["replaces"], new["status"]) == ("QZ-NEW-0066", old, "approved")
    # then the old tag is inactive as replaced, the new one follows the usual way to active
    tags = {t["tag_id"]: t for t in owner.get("/api/owner/tags").json()}
    assert (tags[old]["status"], tags[old]["deactivated_reason"], tags[old]["replaced_by"]) == (
        "inactive",
        "replaced",
        "QZ-NEW-0066",
    )
    assert operator.post(f"/api/operator/tag-requests/{new['request_id']}/ship").status_code == 200
    act = owner.post(
        "/api/owner/tags/activate",
        {"serial": "QZ-NEW-0066", "activation_code": new["activation_code"]},
    )
    assert act.status_code == 200, act.text
    assert [
        line.split(":")[0] for line in credentials.mosquitto_password_file(conn).splitlines()
    ] == ["QZ-NEW-0066"]
    # and the dog's history goes on: the old violation is still shown, the next one is the 2nd
    school_visit(web_settings, conn, "QZ-NEW-0066", T0 + 3600)
    seen = owner.get("/api/owner/violations").json()
    assert [(v["device_id"], v["dog_name"], v["offence_number"]) for v in seen] == [
        ("QZ-NEW-0066", DOG["name"], 2),
        (old, DOG["name"], 1),
    ]
    again = operator.post(f"/api/operator/tags/{old}/replace", {})
    assert again.status_code == 409 and again.json()["code"] == "tag_life.already_replaced"
    assert "QZ-NEW-0066" in again.json()["detail"]
    events = operator.get(f"/api/operator/tags/{old}/events").json()
    assert events[-1]["action"] == "replace"
    assert events[-1]["detail"] == {"by": "QZ-NEW-0066", "from": "active", "cause": "broken"}


def test_a_deceased_dog_gets_no_new_tag(signup: Callable[..., User], operator: User) -> None:
    owner = signup("13900000067")
    life = active_tag(owner, operator)
    tag, dog_id = life["approval"]["tag_id"], life["dog"]["id"]
    assert (
        operator.post(f"/api/operator/tags/{tag}/deactivate", {"reason": "deceased"}).status_code
        == 200
    )
    assert operator.post(f"/api/operator/tags/{tag}/replace", {}).status_code == 409
    r = owner.post(f"/api/owner/dogs/{dog_id}/tag-requests", {"postal_address": ADDRESS})
    assert r.status_code == 400 and r.json()["code"] == "owner.error.dog_deceased"
