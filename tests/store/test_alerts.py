"""Alerts on each backend: the row and its upsert, the console's queries, the outbox,
the operators' workflow with its history, and the owner's notice written with it."""

from __future__ import annotations

import pytest

from smartcity_iot.model import Alert
from smartcity_iot.store import alerts, notices, registry, workflow
from smartcity_iot.store.database import Connection, connect, is_postgres
from smartcity_iot.store.sinks import Sinks

T0 = 1795399200.0


def dog_alert(party: str, started_at: float = T0, **kw: object) -> Alert:
    values: dict = dict(
        id=alerts.alert_id("dog_forbidden_zone", "TAG-0001", "school", started_at),
        kind="dog_forbidden_zone",
        status="open",
        device_id="TAG-0001",
        zone_id="school",
        zone_name="第一小学",
        grid="G-07",
        started_at=started_at,
        ended_at=None,
        lat=28.971,
        lon=118.871,
        party=party,
        opened_at=started_at + 60,
        updated_at=started_at + 60,
        evidence=[{"type": "track", "from": started_at, "to": None}],
    )
    values.update(kw)
    return Alert(**values)


@pytest.fixture
def party(db: Connection) -> str:
    tag = registry.register_active_tag(db, "TAG-0001", "旺财", "张三", "13900000001")
    return f"owner:{tag['owner_id']}"


def test_an_alert_is_stored_queued_and_updated_in_place(db: Connection, party: str) -> None:
    alert = dog_alert(party)
    Sinks(db).alert(alert)
    alert.status, alert.ended_at, alert.revision = "closed", T0 + 300, 2
    Sinks(db).alert(alert)
    assert alerts.get_alert(db, alert.id) == alert
    assert alerts.list_alerts(db) == [alert]
    outbox = alerts.pending_outbox(db)
    assert [r["topic"] for r in outbox] == ["alerts/dog_forbidden_zone"] * 2
    assert isinstance(outbox[0]["payload"], bytes) and outbox[0]["seq"] < outbox[1]["seq"]
    alerts.mark_sent(db, [outbox[0]["seq"]])
    assert [r["seq"] for r in alerts.pending_outbox(db)] == [outbox[1]["seq"]]


def test_the_consoles_queries_filter_and_count(db: Connection, party: str) -> None:
    older, newer = dog_alert(party, T0), dog_alert(party, T0 + 3600)
    for a in (older, newer):
        Sinks(db).alert(a)
    assert [a.id for a in alerts.search_alerts(db, grid="G-07")] == [newer.id, older.id]
    assert alerts.search_alerts(db, grid="G-99") == []
    assert alerts.open_counts(db, ("dog_forbidden_zone", "tag_offline")) == {
        "dog_forbidden_zone": 2
    }
    kinds = ("dog_forbidden_zone",)
    assert alerts.offences_between(db, party, T0 - 1, T0 + 3600, kinds, exclude=newer.id) == 1
    assert [r["id"] for r in alerts.changed_since(db, T0 + 60)] == [older.id, newer.id]
    assert alerts.revisions_since(db, T0 + 3000) == [(newer.id, 1, T0 + 3660)]
    owner_id = int(party.removeprefix("owner:"))
    assert len(alerts.owner_violations(db, owner_id, kinds)) == 2
    assert alerts.owner_violation(db, owner_id, older.id, kinds)["id"] == older.id
    assert [r["started_at"] for r in alerts.started_since(db, T0)] == [T0, T0 + 3600]


def test_an_operator_acknowledges_dispatches_and_closes(db: Connection, party: str) -> None:
    alert = dog_alert(party)
    Sinks(db).alert(alert)
    workflow.apply(db, alert.id, "acknowledge", "op1")
    with pytest.raises(workflow.WorkflowError):
        workflow.apply(db, alert.id, "acknowledge", "op1")
    workflow.apply(db, alert.id, "dispatch", "op1", note="near the gate")
    done = workflow.apply(db, alert.id, "close", "op1", disposition="warning")
    assert (done.workflow, done.disposition, done.revision) == ("resolved", "warning", 4)
    assert alerts.get_alert(db, alert.id) == done
    history = workflow.events(db, alert.id)
    assert [e["action"] for e in history] == ["acknowledge", "dispatch", "close"]
    assert history[1]["detail"]["squad"] == "G-07 中队 squad"
    with pytest.raises(workflow.AlertNotFound):
        workflow.apply(db, "nope", "acknowledge", "op1")


def test_an_owners_alert_makes_one_notice_and_a_dismissal_withdraws_it(
    db: Connection, party: str
) -> None:
    alert = dog_alert(party)
    Sinks(db).alert(alert)
    Sinks(db).alert(alert)  # a later revision: no second notice
    owner_id = int(party.removeprefix("owner:"))
    [notice] = notices.owner_notices(db, owner_id)
    assert (notice["dog_name"], notice["owner_phone"], notice["sms_status"]) == (
        "旺财",
        "13900000001",
        "pending",
    )
    assert notices.next_due(db, 180.0) == pytest.approx(notice["created_at"] + 180.0)
    notices.write_texts(db, [(notice["id"], "您的犬只进入了学校")])
    assert notices.unwritten(db) == []
    assert notices.unread_count(db, owner_id) == 1
    notices.mark_read(db, owner_id, notice["id"], T0)
    assert notices.unread_count(db, owner_id) == 0
    workflow.apply(db, alert.id, "acknowledge", "op1")
    workflow.apply(db, alert.id, "close", "op1", disposition="dismissed")
    assert notices.sms_counts(db) == {"withdrawn": 1, "failed_tries": 0}
    assert notices.next_due(db, 180.0) is None


def test_two_publishers_never_claim_the_same_outbox_rows(
    db: Connection, location: object, party: str
) -> None:
    """Workers share one outbox on PostgreSQL: rows one publisher has claimed (sending,
    awaiting the broker) are passed by the other, so an alert is not sent once per
    worker; rows it could not send go back, and a claim left without sending deletes
    nothing. SQLite has one publisher: its claim is the plain read it was."""
    for k in range(3):
        Sinks(db).alert(dog_alert(party, T0 + k))
    other = connect(location)
    try:
        with alerts.outbox_claim(db) as (rows, sent):
            assert len(rows) == 3
            with alerts.outbox_claim(other) as (seen, _):
                if is_postgres(location):
                    assert seen == []  # claimed: passed by
                else:
                    assert len(seen) == 3
            sent.append(rows[0]["seq"])  # the broker acknowledged only the first
        assert [r["seq"] for r in alerts.pending_outbox(other)] == [r["seq"] for r in rows[1:]]
        with alerts.outbox_claim(other) as (again, _):
            assert [r["seq"] for r in again] == [r["seq"] for r in rows[1:]]
        assert len(alerts.pending_outbox(db)) == 2  # nothing sent: nothing deleted
    finally:
        other.close()
