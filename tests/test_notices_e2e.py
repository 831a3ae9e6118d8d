"""Owners told, end to end: an owner's tag (registered with the CLI) publishes fixes in
the test school through a real Mosquitto; the service raises dog_forbidden_zone and
the owner gets one notice with the education text and one message at the local SMS
gateway, even across a restart of the service."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from smartcity_iot.cli import main
from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from .sms_gateway import LocalSmsGateway
from .support import Mosquitto, client, fix_payload, publish_all, wait_until

T0 = 1795399200.0  # 2026-11-23 10:00 Asia/Shanghai, a Monday: school hours
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)
PHONE = "13900001111"


def school_visit(tag: str) -> list[tuple[str, bytes]]:
    """3 minutes in the test school (测试小学, grid G-01), then home."""
    pts = [(T0 + i * 15, SCHOOL) for i in range(13)] + [(T0 + 200 + i * 15, HOME) for i in range(8)]
    return [(f"tags/{tag}/fix", fix_payload(ts, *p, seq=i)) for i, (ts, p) in enumerate(pts)]


def notices(db: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in db.execute("SELECT * FROM notices")]


def test_an_owner_gets_one_notice_and_one_message_for_a_violation(
    broker: Mosquitto, settings: Settings, tmp_path: Path
) -> None:
    with LocalSmsGateway() as gateway:
        settings = settings.model_copy(
            update={"sms_gateway_url": gateway.url, "sms_retries": 0, "notice_review_s": 1.0}
        )
        common = ["--data-dir", str(settings.data_dir), "--geofences", str(settings.geofences)]
        assert (
            main(["tags", "register", "QZ-N-0001", "--dog", "旺财", "--owner", "王芳",
                  "--phone", "139 0000 1111", *common])
            == 0
        )  # fmt: skip
        service = Service(settings)
        service.start()
        try:
            assert service.wait_connected(10)
            publish_all(client(broker.port), school_visit("QZ-N-0001"))
            text = gateway.wait_for(PHONE, "测试小学", timeout=20)
            db = connect(settings.db_path)
            assert wait_until(
                lambda: db.execute("SELECT status FROM alerts").fetchone()[0] == "closed", 10
            )
            time.sleep(2.5)  # longer than the review window: a second message would be here
        finally:
            service.stop()

    assert gateway.to(PHONE) == [text]
    for part in ("王芳", "旺财", "测试小学", "G-01", "教育引导", "不予处罚"):
        assert part in text, part
    [notice] = notices(db)
    assert (notice["kind"], notice["escalation"], notice["sms_status"]) == (
        "dog_forbidden_zone",
        "education",
        "sent",
    )
    assert notice["text"] == text
    assert service.counters.get("notice_sms_sent") == 1


def test_a_message_pending_when_the_service_stops_is_sent_after_the_restart(
    broker: Mosquitto, settings: Settings
) -> None:
    with LocalSmsGateway() as gateway:
        settings = settings.model_copy(
            update={"sms_gateway_url": gateway.url, "sms_retries": 0, "notice_review_s": 3.0}
        )
        db = connect(settings.db_path)
        register_active_tag(db, "QZ-N-0002", "豆豆", "王芳", PHONE)
        first = Service(settings)
        first.start()
        try:
            assert first.wait_connected(10)
            publish_all(client(broker.port), school_visit("QZ-N-0002"))
            assert wait_until(lambda: len(notices(db)) == 1, 15)
        finally:
            first.stop()  # inside the review window: nothing sent yet
        assert gateway.to(PHONE) == [] and notices(db)[0]["sms_status"] == "pending"

        second = Service(settings)
        second.start()
        try:
            text = gateway.wait_for(PHONE, "豆豆", timeout=15)
        finally:
            second.stop()
    assert gateway.to(PHONE) == [text] and notices(db)[0]["sms_status"] == "sent"
