"""Facts on every alert page (issue 12): the dog, owner and phone of a dog alert (operators
only), the battery and last fix of a health notice, the camera or patrol unit of a parking
alert with its place, and the same owner's or vehicle's earlier cases."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Alert, Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import transaction

from ..support import REPO, TEST_ZONES
from .conftest import HOME, SCHOOL, T0, User, active_tag, school_visit


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    """The test district, with one patrol unit beside its fixed camera."""
    zones = tmp_path / "zones"
    shutil.copytree(TEST_ZONES, zones)
    shutil.copy(REPO / "geofences" / "cameras" / "patrol-01.json", zones / "cameras")
    return Settings(data_dir=tmp_path / "data", geofences=zones)


def _alerts(operator: User, kind: str) -> list[dict]:
    return operator.get(f"/api/operator/alerts?kind={kind}").json()


def test_a_dog_alert_names_the_dog_the_owner_and_the_phone_to_call(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("139 0000 0061", name="王芳")
    tag = active_tag(owner, operator)["approval"]["tag_id"]
    school_visit(web_settings, conn, tag)
    school_visit(web_settings, conn, tag, t=T0 + 3600)  # the same dog again, an hour later
    later, earlier = _alerts(operator, "dog_forbidden_zone")
    d = operator.get(f"/api/operator/alerts/{later['id']}").json()
    assert d["dog"]["dog"] == "旺财" and d["dog"]["breed"] == "中华田园犬"
    assert (d["dog"]["owner"], d["dog"]["phone"], d["dog"]["tag_id"]) == (
        "王芳",
        "13900000061",
        tag,
    )
    assert [c["id"] for c in d["earlier"]] == [earlier["id"]]  # the owner's earlier case
    first = operator.get(f"/api/operator/alerts/{earlier['id']}").json()
    assert first["earlier"] == []  # nothing before the first
    assert first["health"] is None and first["device"] is None


def test_owners_never_reach_an_alert_page_nor_another_owners_phone(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000062", name="王芳")
    other = signup("13900000063", name="李四")
    school_visit(web_settings, conn, active_tag(owner, operator)["approval"]["tag_id"])
    [a] = _alerts(operator, "dog_forbidden_zone")
    for who in (owner, other):
        r = who.get(f"/api/operator/alerts/{a['id']}")
        assert r.status_code == 403 and "13900000062" not in r.text
    listed = other.get("/api/owner/violations")
    assert "13900000062" not in listed.text and "王芳" not in listed.text


def _fixes(
    settings: Settings, conn: sqlite3.Connection, tag: str, fixes: list[tuple]
) -> TagPipeline:
    pipe = TagPipeline(settings, conn, load_zones(settings.geofences, settings.tz))
    pipe.process(
        [
            Inbound(
                f"tags/{tag}/fix",
                json.dumps({"ts": ts, "lat": p[0], "lon": p[1], "acc": 5, "batt": b}).encode(),
                ts + 1,
            )
            for ts, p, b in fixes
        ]
    )
    return pipe


def test_a_low_battery_notice_shows_the_battery_and_the_last_fix(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000064", name="王芳")
    tag = active_tag(owner, operator)["approval"]["tag_id"]
    _fixes(web_settings, conn, tag, [(T0, HOME, 40), (T0 + 30, SCHOOL, 12), (T0 + 60, HOME, 9)])
    [a] = _alerts(operator, "tag_low_battery")
    d = operator.get(f"/api/operator/alerts/{a['id']}").json()
    assert d["health"]["battery"] == 12 and d["health"]["battery_now"] == 9
    assert d["health"]["last_fix"]["ts"] == T0 + 30
    assert (d["health"]["last_fix"]["lat"], d["health"]["last_fix"]["lon"]) == SCHOOL
    assert d["health"]["last_fix"]["place"] == "测试小学"
    assert d["dog"]["owner"] == "王芳" and d["dog"]["phone"] == "13900000064"


def test_an_offline_notice_shows_where_the_tag_was_last_heard(
    signup: Callable[..., User], operator: User, web_settings: Settings, conn: sqlite3.Connection
) -> None:
    owner = signup("13900000065")
    tag = active_tag(owner, operator)["approval"]["tag_id"]
    pipe = _fixes(web_settings, conn, tag, [(T0, SCHOOL, 77), (T0 + 30, HOME, 76)])
    pipe.sweep(now=T0 + 31 + web_settings.offline_after_s + 5)
    [a] = _alerts(operator, "tag_offline")
    d = operator.get(f"/api/operator/alerts/{a['id']}").json()
    fix = d["health"]["last_fix"]
    assert (fix["ts"], fix["lat"], fix["lon"], d["health"]["battery"]) == (T0 + 30, *HOME, 76)
    assert fix["place"] is None or "测试小学" not in fix["place"]  # home is not the school


def _parking(conn: sqlite3.Connection, aid: str, device: str, started: float, **more) -> None:
    alert = Alert(
        id=aid, kind="sidewalk_parking", status="closed", device_id=device, zone_id="walk-1",
        grid="G-03", started_at=started, ended_at=started + 600, lat=28.9655, lon=118.8735,
        updated_at=started, party="vehicle:浙HA1234", plate="浙HA1234", plate_status="read",
        **more,
    )  # fmt: skip
    with transaction(conn):
        Sinks(conn).alert(alert)


def test_a_parking_alert_names_its_camera_or_patrol_unit_and_the_vehicles_cases(
    operator: User, conn: sqlite3.Connection
) -> None:
    _parking(conn, "park-1", "cam-test-01", T0)
    _parking(conn, "park-2", "patrol-01", T0 + 86400)
    _parking(conn, "park-3", "cam-gone", T0 + 2 * 86400)
    fixed = operator.get("/api/operator/alerts/park-1").json()["device"]
    assert (fixed["name"], fixed["mobile"], fixed["grid"]) == ("测试路 01", False, "G-01")
    assert (fixed["lat"], fixed["lon"]) == (28.9701, 118.8712)
    d = operator.get("/api/operator/alerts/park-2").json()
    assert (d["device"]["name"], d["device"]["mobile"]) == ("巡查车 01", True)
    assert (d["device"]["lat"], d["device"]["lon"]) == (28.9655, 118.8735)  # where it stood
    assert [c["id"] for c in d["earlier"]] == ["park-1"]  # the vehicle's earlier case
    assert d["dog"] is None and d["health"] is None
    unknown = operator.get("/api/operator/alerts/park-3").json()
    assert unknown["device"]["name"] == "cam-gone" and unknown["device"]["mobile"] is None
    assert [c["id"] for c in unknown["earlier"]] == ["park-2", "park-1"]
