"""Parking alerts' identity: the plate's party and escalation across cameras, and an
operator's confirmation, on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.geo.cameras import load_cameras
from smartcity_iot.pipeline.alerting import ParkingAlerts
from smartcity_iot.pipeline.operators import PlateError, set_plate
from smartcity_iot.rules import parking
from smartcity_iot.rules.plate_vote import PlateVerdict
from smartcity_iot.store import alerts as alert_store
from smartcity_iot.store import workflow
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import connect, transaction

REPO = Path(__file__).resolve().parents[2]
CAMERAS = load_cameras(REPO / "geofences" / "cameras", ZoneInfo("Asia/Shanghai"))
DAY = 86400.0
READ = PlateVerdict("浙HA1234", 0.97, "read", "浙HA1234")
UNREAD = PlateVerdict(None, 0.55, "unread", "浙HA1284")


@pytest.fixture
def conn(tmp_path: Path):
    return connect(tmp_path / "db.sqlite")


def park(conn, camera_index: int, started_at: float, verdict: PlateVerdict):
    camera = CAMERAS[camera_index]
    stop = parking.Stop(started_at, started_at + 400, True)
    opened = parking.ParkingOpened(started_at, started_at + 310)
    alert = ParkingAlerts(conn).opened(camera, stop, opened, [], verdict, started_at + 310)
    with transaction(conn):
        Sinks(conn).alert(alert)
    return alert


def test_a_read_plate_is_the_party_and_its_second_violation_is_a_warning(conn) -> None:
    t0 = 1_790_000_000.0
    first = park(conn, 0, t0, READ)
    second = park(conn, 1, t0 + 3 * DAY, READ)  # another camera, another day
    assert (first.party, first.escalation, first.plate_status) == (
        "vehicle:浙HA1234",
        "education",
        "read",
    )
    assert (second.offence_number, second.escalation) == (2, "warning")


def test_a_violation_more_than_a_year_ago_or_dismissed_does_not_count(conn) -> None:
    t0 = 1_790_000_000.0
    park(conn, 0, t0, READ)  # over a year before the last
    dismissed = park(conn, 1, t0 + 200 * DAY, READ)
    workflow.apply(conn, dismissed.id, "acknowledge", "operator:t")
    workflow.apply(conn, dismissed.id, "close", "operator:t", "dismissed")
    last = park(conn, 2, t0 + 370 * DAY, READ)
    assert (last.offence_number, last.escalation) == (1, "education")


def test_an_unread_plate_has_no_party_and_no_step(conn) -> None:
    alert = park(conn, 0, 1_790_000_000.0, UNREAD)
    assert (alert.party, alert.escalation, alert.plate) == (None, None, None)
    assert (alert.plate_status, alert.plate_candidate) == ("unread", "浙HA1284")


def test_an_operator_correction_makes_the_party_is_recorded_and_republished(conn) -> None:
    t0 = 1_790_000_000.0
    park(conn, 1, t0 - 10 * DAY, READ)  # the same car, earlier
    alert = park(conn, 0, t0, UNREAD)
    done = set_plate(conn, alert.id, "浙H·A1234", "operator:duty", note="close-up is clear")
    assert (done.plate, done.plate_status, done.party) == (
        "浙HA1234",
        "corrected",
        "vehicle:浙HA1234",
    )
    assert (done.escalation, done.revision) == ("warning", alert.revision + 1)
    event = workflow.events(conn, alert.id)[-1]
    assert event["action"] == "plate" and event["actor"] == "operator:duty"
    assert event["detail"]["from"] == "浙HA1284" and event["detail"]["to"] == "浙HA1234"
    last = json.loads(alert_store.pending_outbox(conn)[-1]["payload"])
    assert (last["id"], last["revision"], last["party"]) == (alert.id, done.revision, done.party)


def test_confirming_the_read_plate_keeps_its_number(conn) -> None:
    alert = park(conn, 0, 1_790_000_000.0, READ)
    done = set_plate(conn, alert.id, "浙HA1234", "operator:duty")
    assert (done.plate_status, done.offence_number) == ("confirmed", 1)


def test_a_later_automatic_read_never_overrides_an_operator(conn) -> None:
    alert = park(conn, 0, 1_790_000_000.0, UNREAD)
    set_plate(conn, alert.id, "浙HA1234", "operator:duty")
    other = PlateVerdict("浙HA1284", 0.99, "read", "浙HA1284")
    assert ParkingAlerts(conn).reread(alert.id, other, None, 1_790_000_500.0) is None


def test_a_malformed_plate_or_a_dog_alert_is_refused(conn) -> None:
    alert = park(conn, 0, 1_790_000_000.0, UNREAD)
    with pytest.raises(PlateError, match="province"):
        set_plate(conn, alert.id, "HA12345", "operator:duty")
    assert alert_store.get_alert(conn, alert.id).revision == alert.revision  # nothing written
    with pytest.raises(workflow.AlertNotFound):
        set_plate(conn, "nope", "浙HA1234", "operator:duty")


def test_a_later_confident_read_identifies_an_open_unread_violation(conn) -> None:
    alert = park(conn, 0, 1_790_000_000.0, UNREAD)
    maker = ParkingAlerts(conn)
    assert maker.reread(alert.id, UNREAD, None, 1_790_000_400.0) is None  # nothing new
    photo = {"type": "image", "role": "plate", "path": "evidence/x-plate.jpg", "ts": 1.0}
    later = maker.reread(alert.id, READ, photo, 1_790_000_420.0)
    assert later is not None
    assert (later.plate, later.party, later.escalation) == (
        "浙HA1234",
        "vehicle:浙HA1234",
        "education",
    )
    assert later.revision == alert.revision + 1
    assert [e for e in later.evidence if e["role"] == "plate"] == [photo]
