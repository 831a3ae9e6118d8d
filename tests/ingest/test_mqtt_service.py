"""The service against a real Mosquitto: alerts out on alerts/#, bad input
survived, OwnTracks, backlogs, broker restarts."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store import deadletters

from ..support import AlertListener, Mosquitto, client, fix_payload, publish_all, wait_until
from .reliability import record

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)


def count(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def school_visit(tag: str, t: float, seq0: int = 0) -> list[tuple[str, bytes]]:
    pts = [(t + i * 15, SCHOOL) for i in range(13)] + [(t + 200 + i * 15, HOME) for i in range(8)]
    return [(f"tags/{tag}/fix", fix_payload(ts, *p, seq=seq0 + i)) for i, (ts, p) in enumerate(pts)]


def test_a_violation_reaches_alerts_topic_opened_then_closed(
    broker: Mosquitto, service: Service
) -> None:
    listener = AlertListener(broker.port)
    pub = client(broker.port)
    publish_all(pub, school_visit("TAG-0001", T0))
    assert wait_until(lambda: len(listener.snapshot()) >= 2, 10)
    msgs = listener.snapshot()
    assert [(m["_topic"], m["status"], m["revision"]) for m in msgs] == [
        ("alerts/dog_forbidden_zone", "open", 1),
        ("alerts/dog_forbidden_zone", "closed", 2),
    ]
    assert (
        msgs[0]["id"] == msgs[1]["id"]
        and msgs[0]["zone_id"] == "school"
        and msgs[0]["grid"] == "G-01"
    )
    assert msgs[1]["ended_at"] == T0 + 200
    listener.close()


def test_every_bad_input_class_is_rejected_counted_and_survived(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    now = time.time()
    bad = [
        ("tags/TAG-0001/fix", b"{oops"),
        ("tags/TAG-0001/fix", b"\x00\xff binary"),
        ("tags/TAG-0001/fix", json.dumps({"lat": 28.9, "lon": 118.8}).encode()),
        ("tags/TAG-0001/fix", json.dumps({"ts": now, "lat": 95, "lon": 118.8}).encode()),
        ("tags/TAG-0001/fix", json.dumps({"ts": "now", "lat": 28, "lon": 118}).encode()),
        ("tags/TAG-0001/fix", b"{" + b" " * 10_000 + b"}"),
        ("tags/UNKNOWN-TAG/fix", fix_payload(now, *HOME)),
        ("tags/x/fix", fix_payload(now, *HOME)),
    ]
    pub = client(broker.port)
    publish_all(pub, bad + [("tags/TAG-0002/fix", fix_payload(now, *HOME))])
    conn = db
    assert wait_until(lambda: count(conn, "SELECT COUNT(*) FROM fixes") == 1, 10), (
        "the valid fix after them"
    )
    assert deadletters.counts(conn) == {
        "bad_json": 2,
        "missing_field": 1,
        "out_of_range": 1,
        "bad_field": 1,
        "oversized": 1,
        "unknown_device": 1,
        "bad_topic": 1,
    }
    assert count(conn, "SELECT COUNT(*) FROM dead_letters") == 8
    assert service.session.client.is_connected()
    # and the service still processes more input
    publish_all(pub, [("tags/TAG-0003/fix", fix_payload(now + 1, *HOME))])
    assert wait_until(lambda: count(conn, "SELECT COUNT(*) FROM fixes") == 2, 10)


def test_dead_letter_store_is_bounded(
    broker: Mosquitto, settings: Settings, db: sqlite3.Connection
) -> None:
    svc = Service(settings.model_copy(update={"dead_letter_max": 50}))
    svc.start()
    assert svc.wait_connected(10)
    publish_all(client(broker.port), [("tags/TAG-0001/fix", b"junk %d" % i) for i in range(300)])
    assert wait_until(lambda: deadletters.counts(db).get("bad_json") == 300, 20)
    assert count(db, "SELECT COUNT(*) FROM dead_letters") <= 50
    svc.stop()


def test_owntracks_location_is_a_fix_and_other_types_are_ignored(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    pub = client(broker.port)
    publish_all(
        pub,
        [
            (
                "owntracks/TAG-0001/TAG-0001",
                json.dumps(
                    {
                        "_type": "location",
                        "lat": HOME[0],
                        "lon": HOME[1],
                        "tst": int(T0),
                        "acc": 10,
                        "batt": 66,
                    }
                ).encode(),
            ),
            ("owntracks/TAG-0001/TAG-0001", json.dumps({"_type": "lwt", "tst": int(T0)}).encode()),
        ],
    )
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == 1, 10)
    assert wait_until(lambda: service.counters.get("ignored") == 1, 5)
    assert deadletters.counts(db) == {}


def test_backlog_built_while_the_service_is_down_is_fully_processed(
    broker: Mosquitto, settings: Settings, db: sqlite3.Connection
) -> None:
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    svc.stop()  # the persistent session stays on the broker
    n = 20_000
    msgs = [(f"tags/TAG-000{1 + i % 3}/fix", fix_payload(T0 + i, *HOME, seq=i)) for i in range(n)]
    publish_all(client(broker.port), msgs, timeout=120)
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    assert svc.session.session_present is True, "clean_start=False must resume the session"
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == n, 120)
    svc.stop()
    assert "New connection" in broker.log, (
        "the broker log must be written for the next check to mean anything"
    )
    assert "dropped" not in broker.log


@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(signal.SIGTERM, id="restart"),
        pytest.param(
            signal.SIGKILL,
            id="kill",
            marks=pytest.mark.skipif(
                not os.environ.get("RELIABILITY_LOG"), reason="reliability run"
            ),
        ),
    ],
)
def test_broker_restart_mid_stream_loses_nothing(
    broker: Mosquitto, service: Service, db: sqlite3.Connection, sig: int
) -> None:
    n = 3000
    msgs = [("tags/TAG-0001/fix", fix_payload(T0 + i, *HOME, seq=i)) for i in range(n)]
    publish_all(client(broker.port), msgs[: n // 2])
    if sig == signal.SIGKILL:
        time.sleep(1.5)  # the broker saves its state every second (autosave_interval 1)
    broker.stop(sig)
    broker.start()
    assert wait_until(
        lambda: service.session.connections >= 2 and service.session.connected.is_set(), 30
    )
    assert service.session.session_present is True
    publish_all(client(broker.port), msgs[n // 2 :])
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == n, 60), (
        f"stored {count(db, 'SELECT COUNT(*) FROM fixes')} of {n}; session present "
        f"{service.session.session_present}; broker log:\n{broker.log[-3000:]}"
    )
    stored = count(db, "SELECT COUNT(*) FROM fixes")
    distinct = count(db, "SELECT COUNT(DISTINCT seq) FROM fixes")
    record(
        f"broker {'kill -9' if sig == signal.SIGKILL else 'restart'} mid-stream",
        sent=n,
        stored=stored,
        lost=n - distinct,
        doubled=stored - distinct,
    )
