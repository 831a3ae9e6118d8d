"""Owners told (issue 11, deliverable 6): each violation or health notice of an owner's
tag becomes one notice and one text message, in the bureau's words, capped per owner
and day, none for a dismissed alert, durable across gateway outages and restarts.
Alerts come from the real tag pipeline on a real SQLite file; messages go through the
real HTTP client to the real local gateway of tests/sms_gateway.py."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.counters import Counters
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Alert, Inbound
from smartcity_iot.notify.notices import Notifier
from smartcity_iot.notify.sms import sms_gateway
from smartcity_iot.notify.texts import load_texts
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store import notices as notice_store
from smartcity_iot.store import workflow
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import connect, transaction

from ..sms_gateway import LocalSmsGateway
from ..support import TEST_ZONES, fix_payload, free_port, wait_until

T0 = 1795399200.0  # 2026-11-23 10:00 Asia/Shanghai, a Monday: school hours
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)
ZHANG = "13900000001"  # 张三: TAG-0001 (旺财) and TAG-0002 (小白)
LI = "13900000002"  # 李四: TAG-0003 (Lucky)


@pytest.fixture
def gateway() -> Iterator[LocalSmsGateway]:
    with LocalSmsGateway() as gw:
        yield gw


@pytest.fixture
def settings(tmp_path: Path, gateway: LocalSmsGateway) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        geofences=TEST_ZONES,
        sms_gateway_url=gateway.url,
        sms_retries=0,
        sms_timeout_s=2,
        notice_review_s=0,
        notice_retry_s=60,
    )


@pytest.fixture
def conn(settings: Settings) -> sqlite3.Connection:
    conn = connect(settings.db_path)
    register_active_tag(conn, "TAG-0001", "旺财", "张三", ZHANG)
    register_active_tag(conn, "TAG-0002", "小白", "张三", ZHANG)
    register_active_tag(conn, "TAG-0003", "Lucky", "李四", LI)
    return conn


@pytest.fixture
def pipe(settings: Settings, conn: sqlite3.Connection) -> TagPipeline:
    return TagPipeline(settings, conn, load_zones(settings.geofences, settings.tz))


def notifier(settings: Settings, **changes: object) -> Notifier:
    s = settings.model_copy(update=changes)
    return Notifier(s, load_texts(s.notice_texts), sms_gateway(s), Counters())


def school_visit(pipe: TagPipeline, tag: str, t: float = T0, batt: float = 80) -> None:
    """3 minutes in the test school (G-01), then home: one alert, opened then closed."""
    pts = [(t + i * 15, SCHOOL) for i in range(13)] + [(t + 200 + i * 15, HOME) for i in range(8)]
    pipe.process(
        [Inbound(f"tags/{tag}/fix", fix_payload(ts, *p, batt=batt), ts + 1) for ts, p in pts]
    )


def rows(conn: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in conn.execute("SELECT * FROM notices ORDER BY id")]


def alert_ids(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM alerts ORDER BY started_at")]


# -- one notice per alert, the text of its step -----------------------------------------


def test_a_violation_becomes_one_notice_and_one_message_with_the_education_text(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    school_visit(pipe, "TAG-0001")  # the alert opens and closes: two revisions
    n = notifier(settings)
    n.run_once()
    n.run_once()

    [notice] = rows(pipe.conn)
    assert (notice["kind"], notice["escalation"], notice["zone_name"], notice["grid"]) == (
        "dog_forbidden_zone",
        "education",
        "测试小学",
        "G-01",
    )
    [text] = gateway.to(ZHANG)
    assert text == notice["text"]
    for part in ("张三", "旺财", "11月23日 10:00", "测试小学", "G-01", "教育引导", "不予处罚"):
        assert part in text, part
    assert notice["sms_status"] == "sent" and gateway.to(LI) == []


def test_an_alert_updated_many_times_is_one_notice_and_one_message(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    school_visit(pipe, "TAG-0001")
    n = notifier(settings)
    n.run_once()
    [aid] = alert_ids(pipe.conn)
    for action in ("acknowledge", "dispatch"):
        workflow.apply(pipe.conn, aid, action, "op1")
        n.run_once()
    workflow.apply(pipe.conn, aid, "close", "op1", disposition="education")
    n.run_once()
    revision = pipe.conn.execute("SELECT revision FROM alerts").fetchone()[0]
    assert revision == 5
    assert len(rows(pipe.conn)) == 1 and len(gateway.to(ZHANG)) == 1


def test_each_escalation_step_has_its_own_text(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    for i in range(4):  # four visits on one day: education, warning, penalty, strict
        school_visit(pipe, "TAG-0001", T0 + i * 3600)
    notifier(settings).run_once()
    texts = gateway.to(ZHANG)
    assert [r["escalation"] for r in rows(pipe.conn)] == [
        "education",
        "warning",
        "penalty",
        "strict",
    ]
    assert len(texts) == 4 and len(set(texts)) == 4
    assert "教育引导" in texts[0] and "不予处罚" in texts[0]
    assert "警告" in texts[1] and "第2次" in texts[1]
    assert "处罚" in texts[2] and "第3次" in texts[2]
    assert "从严处罚" in texts[3] and "第4次" in texts[3]


def test_a_health_notice_is_a_notice_too(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    pipe.process([Inbound("tags/TAG-0003/fix", fix_payload(T0, *HOME, batt=12), T0 + 1)])
    notifier(settings).run_once()
    [notice] = rows(pipe.conn)
    assert (notice["kind"], notice["escalation"]) == ("tag_low_battery", None)
    [text] = gateway.to(LI)
    assert "TAG-0003" in text and "Lucky" in text and "充电" in text


# -- the operator's dismissal ------------------------------------------------------------


def test_an_alert_dismissed_within_the_review_window_sends_no_message(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    n = notifier(settings, notice_review_s=1.0)
    school_visit(pipe, "TAG-0001")
    n.run_once()
    assert gateway.requests == 0  # held for review
    [aid] = alert_ids(pipe.conn)
    workflow.apply(pipe.conn, aid, "acknowledge", "op1")
    workflow.apply(pipe.conn, aid, "close", "op1", disposition="dismissed")
    n.run_once(now=time.time() + 5)

    [notice] = rows(pipe.conn)
    assert gateway.requests == 0
    assert notice["sms_status"] == "withdrawn" and notice["withdrawn_at"] is not None
    assert notice_store.unread_count(pipe.conn, notice["owner_id"]) == 0


def test_a_message_not_dismissed_goes_out_once_its_review_window_ends(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    n = notifier(settings, notice_review_s=1.0)
    school_visit(pipe, "TAG-0001")
    n.run_once()
    assert gateway.requests == 0
    n.run_once(now=time.time() + 1.5)
    assert len(gateway.to(ZHANG)) == 1


# -- the daily cap -------------------------------------------------------------------


def test_messages_are_capped_per_owner_per_day_and_the_rest_still_show(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    for i in range(3):
        school_visit(pipe, "TAG-0001", T0 + i * 3600)
    school_visit(pipe, "TAG-0002", T0 + 4 * 3600)  # 张三's other dog: the same owner's cap
    school_visit(pipe, "TAG-0003", T0)  # 李四 has a cap of his own
    n = notifier(settings, notice_sms_per_day=2)
    n.run_once()

    zhang = [r for r in rows(pipe.conn) if r["device_id"] != "TAG-0003"]
    assert [r["sms_status"] for r in zhang] == ["sent", "sent", "capped", "capped"]
    assert len(gateway.to(ZHANG)) == 2 and len(gateway.to(LI)) == 1
    assert n.counters.get("notice_sms_capped") == 2
    assert notice_store.sms_counts(pipe.conn) == {"sent": 3, "capped": 2, "failed_tries": 0}
    owner_id = zhang[0]["owner_id"]
    assert len(notice_store.owner_notices(pipe.conn, owner_id)) == 4  # all in the portal

    # the next local day the cap starts again (the capped ones are not sent late)
    school_visit(pipe, "TAG-0001", T0 + 86400)
    n.run_once(now=time.time() + 86400)
    assert len(gateway.to(ZHANG)) == 3


def test_a_cap_of_zero_sends_nothing_but_keeps_every_notice(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    school_visit(pipe, "TAG-0001")
    notifier(settings, notice_sms_per_day=0).run_once()
    assert gateway.requests == 0 and [r["sms_status"] for r in rows(pipe.conn)] == ["capped"]
    assert rows(pipe.conn)[0]["text"]


# -- outages and restarts ----------------------------------------------------------------


def test_a_gateway_outage_is_retried_later_and_counted(
    pipe: TagPipeline, settings: Settings
) -> None:
    with LocalSmsGateway(fail_first=2) as flaky:
        n = notifier(settings, sms_gateway_url=flaky.url, notice_retry_s=10)
        school_visit(pipe, "TAG-0001")
        now = time.time()
        n.run_once(now)  # 503: kept pending, next try in 10 s
        assert (flaky.requests, flaky.to(ZHANG)) == (1, [])
        [notice] = rows(pipe.conn)
        assert notice["sms_status"] == "pending" and notice["sms_attempts"] == 1
        n.run_once(now + 5)  # not due yet: the gateway is left alone
        assert flaky.requests == 1
        n.run_once(now + 11)  # 503 again: next try in 20 s
        assert flaky.requests == 2
        n.run_once(now + 31)
        assert flaky.requests == 3 and len(flaky.to(ZHANG)) == 1
    assert n.counters.get("notice_sms_failed") == 2 and n.counters.get("notice_sms_sent") == 1
    assert notice_store.sms_counts(pipe.conn) == {"sent": 1, "failed_tries": 2}


def test_an_unreachable_gateway_is_never_fatal(pipe: TagPipeline, settings: Settings) -> None:
    n = notifier(settings, sms_gateway_url=f"http://127.0.0.1:{free_port()}/sms")
    school_visit(pipe, "TAG-0001")
    school_visit(pipe, "TAG-0003")
    n.run_once()  # connection refused: returns, both kept
    assert [r["sms_status"] for r in rows(pipe.conn)] == ["pending", "pending"]
    # the first failure ends the round: the second owner's message was not tried in vain
    assert [r["sms_attempts"] for r in rows(pipe.conn)] == [1, 0]


def test_a_restart_keeps_pending_messages_and_sends_them(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    down = notifier(
        settings, sms_gateway_url=f"http://127.0.0.1:{free_port()}/sms", notice_retry_s=0.3
    )
    school_visit(pipe, "TAG-0001")
    down.run_once()  # the gateway is down, then the service stops
    down.conn.close()
    assert gateway.to(ZHANG) == []

    again = notifier(settings, notice_retry_s=0.3)  # a new process, a new connection
    again.start()
    try:
        text = gateway.wait_for(ZHANG, "测试小学", timeout=10)
    finally:
        again.stop()
    assert "教育引导" in text and len(gateway.to(ZHANG)) == 1
    assert rows(pipe.conn)[0]["sms_status"] == "sent"


def test_the_worker_thread_sends_after_the_review_window(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    n = notifier(settings, notice_review_s=1.0)
    n.start()
    try:
        school_visit(pipe, "TAG-0001")
        n.wake.set()
        assert wait_until(lambda: rows(pipe.conn)[0]["text"] is not None, 5)
        began = time.monotonic()
        gateway.wait_for(ZHANG, "测试小学", timeout=10)
        assert time.monotonic() - began >= 0.5  # held, not sent at once
    finally:
        n.stop()


def test_an_owner_phone_that_is_not_a_mobile_number_is_counted_not_retried(
    pipe: TagPipeline, settings: Settings, gateway: LocalSmsGateway
) -> None:
    school_visit(pipe, "TAG-0001")
    pipe.conn.execute("UPDATE owners SET phone = '0570-1234' WHERE phone = ?", (ZHANG,))
    n = notifier(settings)
    n.run_once()
    n.run_once()
    assert gateway.requests == 0 and rows(pipe.conn)[0]["sms_status"] == "no_phone"
    assert n.counters.get("notice_sms_no_phone") == 1


def test_alerts_that_are_no_owners_make_no_notice(conn: sqlite3.Connection) -> None:
    def alert(kind: str, party: str | None) -> Alert:
        return Alert(
            f"a-{kind}",
            kind,
            "open",
            "TAG-0001",
            None,
            None,
            T0,
            None,
            0,
            0,
            party=party,
            updated_at=T0,
        )

    with transaction(conn):
        Sinks(conn).alert(alert("sidewalk_parking", "vehicle:浙HA1234"))  # a vehicle's
        Sinks(conn).alert(alert("tag_offline", None))  # a tag nobody owns any more
    assert rows(conn) == []
