"""kill -9 of the service mid-stream: nothing acknowledged is lost, no alert is doubled."""

from __future__ import annotations

import os
import signal
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.config import Settings, env_name
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from ..support import (
    AlertListener,
    Mosquitto,
    client,
    fix_payload,
    publish_all,
    service_process,
    wait_until,
)
from .reliability import record

# The suite kills once, a third of the way in; the reliability run at three points.
FULL = bool(os.environ.get("RELIABILITY_LOG"))
POINTS = [
    pytest.param(0.05, id="early", marks=pytest.mark.skipif(not FULL, reason="reliability run")),
    pytest.param(1 / 3, id="mid"),
    pytest.param(0.9, id="late", marks=pytest.mark.skipif(not FULL, reason="reliability run")),
]

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)
TAGS = ("TAG-0001", "TAG-0002", "TAG-0003")


def stream() -> list[tuple[str, bytes]]:
    """Each tag alternates 5 min at home and 4 min in the school, a fix every 5 s, for 3 hours."""
    out = []
    for k, tag in enumerate(TAGS):
        for i in range(3 * 3600 // 5):
            t = T0 + i * 5 + k
            where = SCHOOL if (i * 5) % 540 >= 300 else HOME
            out.append((f"tags/{tag}/fix", fix_payload(t, *where, seq=i)))
    out.sort(key=lambda m: m[1])  # interleave tags roughly by time, as devices would
    return out


def register(conn: sqlite3.Connection) -> None:
    for i, tag in enumerate(TAGS):
        register_active_tag(conn, tag, f"dog{i}", f"owner{i}", f"1390000000{i}")


def reference_alerts(
    tmp: Path, msgs: list[tuple[str, bytes]], zones_dir: Path
) -> set[tuple[str, int, str]]:
    settings = Settings(data_dir=tmp, geofences=zones_dir)
    conn = connect(settings.db_path)
    register(conn)
    pipe = TagPipeline(settings, conn, load_zones(zones_dir, SH))
    for i in range(0, len(msgs), 500):
        pipe.process([Inbound(t, p, 0) for t, p in msgs[i : i + 500]])
    return {
        (r["id"], r["revision"], r["status"])
        for r in conn.execute("SELECT id, revision, status FROM alerts")
    }


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_mid_stream_loses_no_fix_and_duplicates_no_alert(
    tmp_path: Path, broker: Mosquitto, settings: Settings, point: float
) -> None:
    msgs = stream()
    expected = reference_alerts(tmp_path / "reference", msgs, settings.geofences)
    assert len(expected) > 20, "the stream must produce incidents worth checking"
    db = connect(settings.db_path)
    register(db)
    env = {env_name(k): str(v) for k, v in settings.model_dump().items() if v is not None}
    listener = AlertListener(broker.port)
    log = tmp_path / "service.log"
    proc = service_process(env, log)
    try:
        assert wait_until(lambda: "connected" in log.read_text(), 20), log.read_text()
        pub = client(broker.port)
        half = len(msgs) // 2
        publish_all(pub, msgs[:half])
        # Kill while it is working through the stream: some fixes stored, some not.
        assert wait_until(
            lambda: db.execute("SELECT COUNT(*) FROM fixes").fetchone()[0] > half * point, 60
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stored_at_kill = db.execute("SELECT COUNT(*) FROM fixes").fetchone()[0]
        publish_all(pub, msgs[half:])  # the broker queues them for the dead service's session
        proc = service_process(env, log)
        assert wait_until(
            lambda: db.execute("SELECT COUNT(*) FROM fixes").fetchone()[0] == len(msgs), 120
        ), (
            f"stored {db.execute('SELECT COUNT(*) FROM fixes').fetchone()[0]} of {len(msgs)}; "
            f"{stored_at_kill} at the kill"
        )
        assert wait_until(lambda: db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    stored = db.execute("SELECT COUNT(*) FROM fixes").fetchone()[0]
    distinct = db.execute("SELECT COUNT(DISTINCT tag_id || ':' || seq) FROM fixes").fetchone()[0]
    got_alerts = db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
    record(
        f"kill -9 of the service {point:.0%} into the first half of the stream",
        sent=len(msgs),
        stored=stored,
        lost=len(msgs) - distinct,
        doubled=stored - distinct,
        stored_at_kill=stored_at_kill,
        alerts=got_alerts,
        alerts_expected=len({a for a, _, _ in expected}),
    )
    assert stored_at_kill < len(msgs)
    got = {
        (r["id"], r["revision"], r["status"])
        for r in db.execute("SELECT id, revision, status FROM alerts")
    }
    assert got == expected, "same alerts as an uninterrupted run: none lost, none doubled"
    # Every revision of every stored alert went out on alerts/# (at least once; consumers
    # dedupe on id+revision).
    wanted = {(i, rev) for i, last, _ in got for rev in range(1, last + 1)}
    assert wait_until(lambda: {(m["id"], m["revision"]) for m in listener.snapshot()} >= wanted, 20)
    assert "session resumed" in log.read_text(), "the restart must resume the persistent session"
    listener.close()
