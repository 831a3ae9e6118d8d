"""The command center: alert workflow recorded and published, evidence, device health,
statistics against the 721 shares."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from smartcity_iot.config import Settings
from smartcity_iot.model import Alert
from smartcity_iot.store.alerts import enqueue, save_alert

from .conftest import User, active_tag, school_visit


def test_acknowledge_dispatch_close_is_recorded_and_published(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000051")
    serial = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, serial)
    [alert] = operator.get("/api/operator/alerts?kind=dog_forbidden_zone&grid=G-01").json()
    aid, rev = alert["id"], alert["revision"]
    conn.execute("DELETE FROM outbox")

    assert (
        operator.post(f"/api/operator/alerts/{aid}/dispatch").status_code == 409
    )  # not acknowledged yet
    assert (
        operator.post(f"/api/operator/alerts/{aid}/acknowledge").json()["workflow"]
        == "acknowledged"
    )
    d = operator.post(f"/api/operator/alerts/{aid}/dispatch", {"note": "请网格员上门"}).json()
    assert d["workflow"] == "dispatched"
    bad = operator.post(f"/api/operator/alerts/{aid}/close", {"disposition": "fine"})
    assert bad.status_code == 422
    closed = operator.post(f"/api/operator/alerts/{aid}/close", {"disposition": "education"}).json()
    assert (closed["workflow"], closed["disposition"], closed["revision"]) == (
        "resolved",
        "education",
        rev + 3,
    )

    detail = operator.get(f"/api/operator/alerts/{aid}").json()
    assert [(e["action"], e["actor"]) for e in detail["events"]] == [
        ("acknowledge", "operator:op1"),
        ("dispatch", "operator:op1"),
        ("close", "operator:op1"),
    ]
    assert detail["events"][1]["detail"]["squad"] == "G-01 中队 squad"
    assert detail["events"][1]["detail"]["note"] == "请网格员上门"
    assert len(detail["track"]) == 21 and detail["squad"] == "G-01 中队 squad"
    outbox = [
        (r[0], json.loads(r[1]))
        for r in conn.execute("SELECT topic, payload FROM outbox ORDER BY seq")
    ]
    assert [(t, p["workflow"], p["revision"]) for t, p in outbox] == [
        ("alerts/dog_forbidden_zone", "acknowledged", rev + 1),
        ("alerts/dog_forbidden_zone", "dispatched", rev + 2),
        ("alerts/dog_forbidden_zone", "resolved", rev + 3),
    ]
    assert operator.get("/api/operator/alerts?workflow=resolved").json()[0]["id"] == aid
    assert operator.get("/api/operator/alerts?workflow=new").json() == []
    assert operator.post("/api/operator/alerts/nope/acknowledge").status_code == 404

    stats = operator.get("/api/operator/stats?days=366").json()
    assert stats["per_day"] == [
        {"day": "2026-11-23", "kind": "dog_forbidden_zone", "grid": "G-01", "count": 1}
    ]
    shares = {
        d["disposition"]: (d["count"], d["share"], d["target"]) for d in stats["dispositions"]
    }
    assert shares == {
        "education": (1, 1.0, 0.7),
        "warning": (0, 0.0, 0.2),
        "penalty": (0, 0.0, 0.1),
    }


def camera_alert(conn: sqlite3.Connection, evidence: list[dict]) -> str:
    alert = Alert(
        id="cam-alert-1",
        kind="sidewalk_parking",
        status="open",
        device_id="cam-fushan-01",
        zone_id=None,
        grid="G-03",
        started_at=1795399200.0,
        ended_at=None,
        lat=28.97,
        lon=118.871,
        updated_at=1795399200.0,
        evidence=evidence,
    )
    conn.execute("BEGIN IMMEDIATE")
    save_alert(conn, alert)
    enqueue(conn, alert)
    conn.execute("COMMIT")
    return alert.id


def test_camera_evidence_photos_are_served_and_nothing_outside_the_data_dir(
    operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    photo = web_settings.data_dir / "evidence" / "cam-fushan-01" / "first.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff\xe0fake-but-served-as-is\xff\xd9")
    outside = web_settings.data_dir.parent / "secret.jpg"
    outside.write_bytes(b"secret")
    aid = camera_alert(
        conn,
        [
            {
                "type": "image",
                "path": "evidence/cam-fushan-01/first.jpg",
                "ts": 1795399200.0,
                "label": "first seen",
            },
            {"type": "image", "path": "../secret.jpg", "ts": 1795399300.0},
            {"type": "image", "path": str(outside), "ts": 1795399300.0},
            {"type": "bbox", "box": [1, 2, 3, 4]},
        ],
    )
    detail = operator.get(f"/api/operator/alerts/{aid}").json()
    assert [i["url"] for i in detail["images"]] == [f"/api/operator/alerts/{aid}/evidence/0"]
    r = operator.get(detail["images"][0]["url"])
    assert (
        r.status_code == 200
        and r.headers["content-type"] == "image/jpeg"
        and r.content == photo.read_bytes()
    )
    for i in (1, 2, 3, 4, 99):
        assert operator.get(f"/api/operator/alerts/{aid}/evidence/{i}").status_code == 404
    assert operator.post(f"/api/operator/alerts/{aid}/acknowledge").status_code == 200
    assert (
        operator.post(f"/api/operator/alerts/{aid}/close", {"disposition": "warning"}).status_code
        == 200
    )


def test_device_health_lists_low_battery_and_silent_tags(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000052")
    silent = active_tag(owner, operator)["approval"]["tag_id"]
    health = operator.get("/api/operator/devices").json()
    assert health["active_tags"] == 1 and [t["tag_id"] for t in health["never_reported"]] == [
        silent
    ]
    school_visit(web_settings, conn, silent)  # batt 80, fixes arrived "at" 2026-11-23
    conn.execute("UPDATE tag_state SET batt = 12, low_battery_since = last_ts")
    health = operator.get("/api/operator/devices").json()
    assert [t["tag_id"] for t in health["low_battery"]] == [silent]
    assert health["never_reported"] == []


def test_zones_are_served_as_geojson_for_the_map(operator: User) -> None:
    zones = operator.get("/api/zones").json()
    assert zones["type"] == "FeatureCollection"
    assert {f["properties"]["id"] for f in zones["features"]} >= {
        "school",
        "park",
        "night-street",
        "walk-1",
    }
