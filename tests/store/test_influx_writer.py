"""The InfluxDB write path against a real engine: line protocol round trip of
awkward values, the spool drained in order and deleted only after success, the
overflow policy, a bad point dead-lettered, retries while unreachable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.counters import Counters
from smartcity_iot.model import Alert, Fix
from smartcity_iot.store import influx as influx_store
from smartcity_iot.store import lineproto
from smartcity_iot.store.sqlite import connect

from ..support import free_port, wait_until
from .conftest import InfluxUnderTest, influx_settings

T0_MS = 1_795_000_000_000  # 2026-11-18


def fixes(n: int, tag: str = "TAG-0001", t0_ms: int = T0_MS) -> list[Fix]:
    return [
        Fix(tag, (t0_ms + i * 1000) / 1000, 28.97 + i * 1e-5, 118.87, acc=5, batt=80, seq=i)
        for i in range(n)
    ]


def spool_fixes(db: Path, fx: list[Fix]) -> None:
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    influx_store.spool(conn, [lineproto.fix_line(f) for f in fx])
    conn.execute("COMMIT")


def test_fix_line_is_plain_line_protocol_at_millisecond_precision() -> None:
    fix = Fix("TAG-0001", 1795000000.1234, 28.97, 118.87, acc=5, batt=None, seq=7)
    assert lineproto.fix_line(fix) == (
        "tag_fix,device_id=TAG-0001 lat=28.97,lon=118.87,acc=5.0,seq=7i,"
        'late=false,source="tags" 1795000000123'
    )


def test_awkward_values_round_trip_through_the_real_client_and_engine(
    tmp_path: Path, influx: InfluxUnderTest
) -> None:
    # given tag values and field strings with Chinese, spaces, commas, quotes, '=' and backslashes
    awkward = [
        ("府山 公园,东门", "G 03,=北", '儿童乐园 "东区", a=b \\ c\\'),
        ('zone=1 "q"', "G\\01", "end with backslash \\"),
        ("trailing\\", "x\\,y", 'quote " only'),
    ]
    alerts = [
        Alert(
            id=f"a{i}",
            kind="dog_forbidden_zone",
            status="open",
            device_id="TAG-0001",
            zone_id=zone,
            grid=grid,
            started_at=1_795_000_000 + i,
            ended_at=None,
            lat=28.97,
            lon=118.87,
            zone_name=name,
            escalation="warning",
            offence_number=2,
        )
        for i, (zone, grid, name) in enumerate(awkward)
    ]
    settings = influx_settings(tmp_path, influx.url)
    conn = connect(settings.db_path)
    influx_store.spool(conn, [lineproto.alert_line(a) for a in alerts])
    writer = influx_writer(settings)
    # when the writer drains the spool
    assert writer.drain_once() == 3
    # then every value reads back as written (a backslash line protocol cannot carry -- at the
    # end of a tag value or before , = or space -- is written as '/')
    rows = influx.rows(
        'SELECT "id", "zone_name", "zone_id", "grid", "escalation" FROM "alert" ORDER BY time'
    )
    assert [(r["zone_id"], r["grid"], r["zone_name"]) for r in rows] == [
        ("府山 公园,东门", "G 03,=北", '儿童乐园 "东区", a=b \\ c\\'),
        ('zone=1 "q"', "G\\01", "end with backslash \\"),
        ("trailing/", "x/,y", 'quote " only'),
    ]
    assert [r["id"] for r in rows] == ["a0", "a1", "a2"]
    assert influx.adapter.lines_acknowledged == 3
    assert influx_store.spooled(conn) == 0


def influx_writer(
    settings: Settings, counters: Counters | None = None
) -> influx_store.InfluxWriter:
    return influx_store.InfluxWriter(settings, settings.db_path, counters)


def test_spool_drains_in_order_and_rows_leave_only_after_the_write(
    tmp_path: Path, influx: InfluxUnderTest
) -> None:
    settings = influx_settings(tmp_path, influx.url, influx_batch_points=400)
    spool_fixes(settings.db_path, fixes(1000))
    writer = influx_writer(settings)
    conn = connect(settings.db_path)
    assert writer.drain_once() == 400 and influx_store.spooled(conn) == 600
    influx.engine.stop()  # unreachable: the batch stays
    with pytest.raises(Exception, match="unreachable|503"):
        writer.drain_once()
    assert influx_store.spooled(conn) == 600
    influx.engine.start()
    while writer.drain_once():
        pass
    rows = influx.rows('SELECT "seq" FROM "tag_fix" ORDER BY time')
    assert [r["seq"] for r in rows] == list(range(1000))
    assert influx.adapter.lines_acknowledged == 1000  # each point sent once


def test_full_spool_drops_the_oldest_points_and_counts_them(
    tmp_path: Path, influx: InfluxUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    # given 250 points spooled while the bound is 100
    settings = influx_settings(tmp_path, influx.url, influx_spool_max=100)
    spool_fixes(settings.db_path, fixes(250))
    counters = Counters()
    writer = influx_writer(settings, counters)
    # when the writer enforces the bound and drains
    with caplog.at_level(logging.WARNING, "smartcity_iot.influx"):
        assert writer.trim() == 150
    while writer.drain_once():
        pass
    # then the newest 100 arrive, the 150 oldest are counted as dropped and logged
    rows = influx.rows('SELECT "seq" FROM "tag_fix" ORDER BY time')
    assert [r["seq"] for r in rows] == list(range(150, 250))
    assert counters.get("influx_dropped") == 150
    assert "dropped the 150 oldest" in caplog.text


def test_bound_holds_while_influxdb_is_down(tmp_path: Path) -> None:
    # given InfluxDB unreachable (nothing listens) and the writer thread running
    settings = influx_settings(
        tmp_path, f"http://127.0.0.1:{free_port()}", influx_spool_max=50, influx_retry_max_s=0.5
    )
    counters = Counters()
    writer = influx_writer(settings, counters)
    writer.start()
    try:
        # when more points arrive than the bound
        spool_fixes(settings.db_path, fixes(80))
        # then the writer keeps retrying and trims to the bound
        conn = connect(settings.db_path)
        assert wait_until(
            lambda: influx_store.spooled(conn) == 50 and counters.get("influx_retries") >= 2, 10
        )
        assert counters.get("influx_dropped") == 30
        assert conn.execute("SELECT MIN(seq), MAX(seq) FROM influx_spool").fetchone()[:] == (31, 80)
    finally:
        writer.stop()


def test_a_point_influxdb_rejects_is_dead_lettered_and_the_rest_is_written(
    tmp_path: Path, influx: InfluxUnderTest
) -> None:
    # given a batch with one point whose field type conflicts with the stored schema
    settings = influx_settings(tmp_path, influx.url)
    good = fixes(20)
    conn = connect(settings.db_path)
    lines = [lineproto.fix_line(f) for f in good]
    lines.insert(7, 'tag_fix,device_id=TAG-0001 lat="not a number" 1795000500000')
    influx_store.spool(conn, lines)
    counters = Counters()
    writer = influx_writer(settings, counters)
    # when drained
    writer.drain_once()
    # then the 20 good points are stored, the bad one is a dead letter, the spool is empty
    assert len(influx.rows('SELECT "lat" FROM "tag_fix"')) == 20
    dead = conn.execute("SELECT topic, reason, detail, payload FROM dead_letters").fetchall()
    assert [(d["topic"], d["reason"]) for d in dead] == [("influxdb/write", "influx_rejected")]
    assert b"not a number" in dead[0]["payload"] and "400" in dead[0]["detail"]
    assert counters.get("influx_rejected") == 1 and influx_store.spooled(conn) == 0


def test_a_parking_alerts_plate_and_party_reach_influxdb(
    tmp_path: Path, influx: InfluxUnderTest
) -> None:
    alert = Alert(
        id="p1",
        kind="sidewalk_parking",
        status="open",
        device_id="cam-fushan-01",
        zone_id="cam-fushan-01/sidewalk",
        grid="G-03",
        started_at=1_795_000_000,
        ended_at=None,
        lat=28.97,
        lon=118.87,
        escalation="warning",
        offence_number=2,
        party="vehicle:浙HA1234",
        plate="浙HA1234",
        plate_conf=0.97,
        plate_status="read",
    )
    settings = influx_settings(tmp_path, influx.url)
    conn = connect(settings.db_path)
    influx_store.spool(conn, [lineproto.alert_line(alert)])
    assert influx_writer(settings).drain_once() == 1
    rows = influx.rows('SELECT "plate", "plate_conf", "plate_status", "party" FROM "alert"')
    assert [(r["plate"], r["plate_conf"], r["plate_status"], r["party"]) for r in rows] == [
        ("浙HA1234", 0.97, "read", "vehicle:浙HA1234")
    ]
