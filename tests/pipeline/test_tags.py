"""The tag pipeline on a real SQLite file, without a broker: alerts, escalation,
duplicates, late fixes, health notices."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartcity_iot.config import Settings
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store import alerts as alert_store
from smartcity_iot.store import deadletters
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from ..support import TEST_ZONES, fix_payload

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()  # 10:00: the park forbids dogs
SCHOOL = (28.971, 118.871)
PARK = (28.972, 118.882)
HOME = (28.960, 118.875)


@pytest.fixture
def pipe(tmp_path: Path) -> TagPipeline:
    settings = Settings(data_dir=tmp_path, geofences=TEST_ZONES)
    conn = connect(settings.db_path)
    register_active_tag(conn, "TAG-0001", "旺财", "张三", "13900000001")
    register_active_tag(conn, "TAG-0002", "小白", "张三", "13900000001")
    register_active_tag(conn, "TAG-0003", "Lucky", "李四", "13900000002")
    return TagPipeline(settings, conn, load_zones(TEST_ZONES, settings.tz))


def feed(
    pipe: TagPipeline, tag: str, points: list[tuple[float, tuple[float, float]]], **kw: object
) -> None:
    pipe.process(
        [
            Inbound(f"tags/{tag}/fix", fix_payload(ts, lat, lon, **kw), ts)
            for ts, (lat, lon) in points
        ]
    )


def visit(t: float, where: tuple[float, float], minutes: float, step: float = 15) -> list:
    return [(t + i * step, where) for i in range(int(minutes * 60 / step) + 1)]


def alerts(conn: sqlite3.Connection) -> list:
    return sorted(alert_store.list_alerts(conn, 1000), key=lambda a: a.started_at)


def test_visit_to_a_forbidden_zone_opens_then_closes_one_alert(pipe: TagPipeline) -> None:
    feed(pipe, "TAG-0001", visit(T0, SCHOOL, 5) + visit(T0 + 310, HOME, 3))
    [a] = alerts(pipe.conn)
    assert (a.kind, a.zone_id, a.grid, a.status) == (
        "dog_forbidden_zone",
        "school",
        "G-01",
        "closed",
    )
    assert a.started_at == T0 and a.ended_at == T0 + 310
    assert a.escalation == "education" and a.offence_number == 1
    outbox = [json.loads(r["payload"]) for r in alert_store.pending_outbox(pipe.conn)]
    assert [(m["id"], m["status"], m["revision"]) for m in outbox] == [
        (a.id, "open", 1),
        (a.id, "closed", 2),
    ]


def test_spec_alert_fields_are_all_present(pipe: TagPipeline) -> None:
    feed(pipe, "TAG-0001", visit(T0, SCHOOL, 2))
    msg = json.loads(alert_store.pending_outbox(pipe.conn)[0]["payload"])
    for field in (
        "id",
        "kind",
        "status",
        "device_id",
        "zone_id",
        "grid",
        "started_at",
        "ended_at",
        "lat",
        "lon",
        "escalation",
        "evidence",
    ):
        assert field in msg
    assert msg["ended_at"] is None and msg["evidence"][0]["type"] == "track"


def test_escalation_counts_the_owners_violations_across_dogs(pipe: TagPipeline) -> None:
    t = T0
    for tag in ("TAG-0001", "TAG-0002", "TAG-0001", "TAG-0002", "TAG-0001"):
        feed(pipe, tag, visit(t, SCHOOL, 3) + visit(t + 190, HOME, 3))
        t += 3600
    feed(pipe, "TAG-0003", visit(t, SCHOOL, 3))
    steps = [(a.device_id, a.escalation) for a in alerts(pipe.conn)]
    assert steps == [
        ("TAG-0001", "education"),
        ("TAG-0002", "warning"),
        ("TAG-0001", "penalty"),
        ("TAG-0002", "strict"),
        ("TAG-0001", "strict"),
        ("TAG-0003", "education"),
    ]


def test_violations_older_than_twelve_months_do_not_escalate(pipe: TagPipeline) -> None:
    year = 365 * 86400
    feed(
        pipe,
        "TAG-0001",
        visit(T0 - year - 86400, SCHOOL, 3) + visit(T0 - year - 86400 + 190, HOME, 1),
    )
    feed(pipe, "TAG-0001", visit(T0, SCHOOL, 3))
    assert [a.escalation for a in alerts(pipe.conn)] == ["education", "education"]


def test_walking_hours_violation_is_its_own_kind(pipe: TagPipeline) -> None:
    feed(pipe, "TAG-0003", visit(T0, PARK, 4))
    [a] = alerts(pipe.conn)
    assert a.kind == "dog_outside_walking_hours" and a.zone_id == "park"


def test_dog_in_park_when_window_closes_alerts_from_the_close(pipe: TagPipeline) -> None:
    close = datetime(2026, 11, 23, 9, 0, tzinfo=SH).timestamp()  # the 06:00-09:00 window closes
    feed(pipe, "TAG-0003", visit(close - 600, PARK, 15))
    [a] = alerts(pipe.conn)
    assert a.started_at == close and a.status == "open"


def test_duplicates_by_ts_and_by_seq_are_ignored(pipe: TagPipeline) -> None:
    msgs = [Inbound("tags/TAG-0001/fix", fix_payload(T0 + i, *HOME, seq=i), 0) for i in range(5)]
    pipe.process(msgs)
    pipe.process(msgs)  # a QoS 1 redelivery
    pipe.process(
        [Inbound("tags/TAG-0001/fix", fix_payload(T0 + 2.5, *HOME, seq=3), 0)]
    )  # re-sent seq
    assert pipe.conn.execute("SELECT COUNT(*) FROM fixes").fetchone()[0] == 5
    assert pipe.counters.get("duplicate") == 6


def test_late_fix_is_kept_in_the_track_but_never_reopens_a_closed_incident(
    pipe: TagPipeline,
) -> None:
    feed(pipe, "TAG-0001", visit(T0, SCHOOL, 3) + visit(T0 + 190, HOME, 3))
    [closed] = alerts(pipe.conn)
    assert closed.status == "closed"
    # Fixes from inside the school arrive late (store-and-forward), at their own old times.
    feed(pipe, "TAG-0001", [(T0 + 181, SCHOOL), (T0 + 182, SCHOOL), (T0 + 183, SCHOOL)])
    assert [a.status for a in alerts(pipe.conn)] == ["closed"]
    assert pipe.counters.get("late") == 3
    state = pipe.conn.execute(
        "SELECT last_ts, lat FROM tag_state WHERE tag_id='TAG-0001'"
    ).fetchone()
    assert state["last_ts"] == T0 + 190 + 180 and state["lat"] == HOME[0], (
        "latest position never moves back"
    )
    assert pipe.conn.execute("SELECT COUNT(*) FROM fixes WHERE late = 1").fetchone()[0] == 3


def test_out_of_order_fixes_within_a_batch_are_judged_in_capture_order(pipe: TagPipeline) -> None:
    points = visit(T0, SCHOOL, 3) + visit(T0 + 190, HOME, 2)
    pipe.process(
        [Inbound("tags/TAG-0001/fix", fix_payload(ts, *p), 0) for ts, p in reversed(points)]
    )
    [a] = alerts(pipe.conn)
    assert a.started_at == T0 and a.status == "closed"
    assert pipe.counters.get("late") == 0


def test_unknown_and_inactive_tags_are_rejected_and_counted(pipe: TagPipeline) -> None:
    pipe.conn.execute("UPDATE tags SET status = 'inactive' WHERE tag_id = 'TAG-0003'")
    pipe.process(
        [
            Inbound("tags/NOPE-9999/fix", fix_payload(T0, *HOME), 0),
            Inbound("tags/TAG-0003/fix", fix_payload(T0, *HOME), 0),
        ]
    )
    assert deadletters.counts(pipe.conn) == {"inactive_device": 1, "unknown_device": 1}


def test_low_battery_opens_once_and_closes_after_recovery(pipe: TagPipeline) -> None:
    levels = [30, 21, 19, 20, 19.5, 18, 24, 26, 19]
    pipe.process(
        [
            Inbound("tags/TAG-0001/fix", fix_payload(T0 + i, *HOME, batt=b), 0)
            for i, b in enumerate(levels)
        ]
    )
    lows = [a for a in alerts(pipe.conn) if a.kind == "tag_low_battery"]
    assert [(a.started_at - T0, a.status) for a in lows] == [(2, "closed"), (8, "open")]


def test_tag_that_stops_reporting_gets_an_offline_notice_closed_by_its_next_fix(
    pipe: TagPipeline,
) -> None:
    A0 = T0 + 5  # arrival: a fix is not dated after it arrived (future_tolerance_s)
    pipe.process([Inbound("tags/TAG-0001/fix", fix_payload(T0, *HOME), A0)])
    pipe.sweep(now=A0 + 1799)
    assert not alerts(pipe.conn)
    pipe.sweep(now=A0 + 1801)
    pipe.sweep(now=A0 + 5000)  # still one notice, not a flood
    [a] = alerts(pipe.conn)
    assert (a.kind, a.status, a.started_at) == ("tag_offline", "open", A0)
    pipe.process([Inbound("tags/TAG-0001/fix", fix_payload(T0 + 60, *HOME), A0 + 6000)])
    [a] = alerts(pipe.conn)
    assert (a.status, a.ended_at) == ("closed", A0 + 6000)


def test_state_survives_a_new_pipeline_on_the_same_database(pipe: TagPipeline) -> None:
    feed(pipe, "TAG-0001", visit(T0, SCHOOL, 0.5))
    again = TagPipeline(pipe.settings, connect(pipe.settings.db_path), load_zones(TEST_ZONES, SH))
    feed(again, "TAG-0001", visit(T0 + 45, SCHOOL, 1))
    [a] = alerts(again.conn)
    assert a.started_at == T0, "the dwell timer carried over the restart"


def test_seq_duplicates_are_recognised_after_a_restart_but_a_reset_counter_is_not(
    pipe: TagPipeline,
) -> None:
    pipe.process(
        [Inbound("tags/TAG-0001/fix", fix_payload(T0 + i, *HOME, seq=i), 0) for i in range(5)]
    )
    again = TagPipeline(pipe.settings, connect(pipe.settings.db_path), load_zones(TEST_ZONES, SH))
    again.process(
        [Inbound("tags/TAG-0001/fix", fix_payload(T0 + 30, *HOME, seq=4), 0)]
    )  # re-stamped resend
    assert again.counters.get("duplicate") == 1
    again.process(
        [Inbound("tags/TAG-0001/fix", fix_payload(T0 + 3600, *HOME, seq=0), 0)]
    )  # rebooted tag
    assert again.counters.get("accepted") == 1


@given(
    st.lists(
        st.tuples(st.floats(-60, 60), st.floats(-80, 80), st.floats(1, 40)), min_size=1, max_size=40
    )
)
def test_fixes_straddling_a_boundary_never_open_an_incident(
    fixes: list[tuple[float, float, float]],
) -> None:
    """Fixes near the school's west edge whose accuracy circle (acc + 5 m margin) crosses it."""
    import tempfile

    from smartcity_iot.geo.metric import LocalProjection

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), geofences=TEST_ZONES)
        conn = connect(settings.db_path)
        register_active_tag(conn, "TAG-0001", "旺财", "张三", "13900000001")
        pipe = TagPipeline(settings, conn, load_zones(TEST_ZONES, settings.tz))
        proj: LocalProjection = pipe.index.projection
        x_edge, y_mid = proj.to_xy(118.870, 28.971)
        batch = []
        for i, (dx, dy, acc) in enumerate(fixes):
            if abs(dx) >= acc + settings.hysteresis_m:
                continue  # not straddling: the circle is wholly on one side
            lon, lat = proj.to_lonlat(float(x_edge) + dx, float(y_mid) + dy)
            batch.append(
                Inbound(
                    "tags/TAG-0001/fix",
                    fix_payload(T0 + i * 30, float(lat), float(lon), acc=acc),
                    0,
                )
            )
        if batch:
            pipe.process(batch)
        assert alerts(conn) == []
