"""InfluxDB goes away in the middle of a stream flowing through the real service
and the real Mosquitto, then comes back: every fix and every alert change arrives
exactly once, in InfluxDB as in the embedded database."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store import influx as influx_store
from smartcity_iot.store.history import SqliteHistory, open_history
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from ..ingest.reliability import record
from ..support import Mosquitto, client, fix_payload, publish_all, wait_until
from .conftest import DB, InfluxUnderTest

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)
TAGS = ("TAG-0001", "TAG-0002", "TAG-0003")
PER_TAG = 600  # a fix every 5 s for 50 minutes


def stream() -> list[tuple[str, bytes]]:
    """Each tag alternates 5 min at home and 4 min in the school (an incident each time)."""
    out = []
    for i in range(PER_TAG):
        for k, tag in enumerate(TAGS):
            where = SCHOOL if (i * 5) % 540 >= 300 else HOME
            out.append((f"tags/{tag}/fix", fix_payload(T0 + i * 5 + k, *where, seq=i)))
    return out


def count(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


@pytest.mark.slow
def test_influxdb_outage_mid_stream_every_point_arrives_exactly_once(
    tmp_path: Path, broker: Mosquitto, influx: InfluxUnderTest
) -> None:
    # given the service writing to InfluxDB through the real client, and three tags streaming
    settings = Settings(
        mqtt_url=broker.url,
        data_dir=tmp_path / "data",
        geofences=Path(__file__).parents[1] / "data" / "zones",
        mqtt_client_id=f"test-ingest-{broker.port}",
        influx_url=influx.url,
        influx_bucket=DB,
        influx_org="city",
        influx_token="t",
        influx_flush_ms=100,
        influx_batch_points=500,
        influx_retry_max_s=1,
    )
    db = connect(settings.db_path)
    for i, tag in enumerate(TAGS):
        register_active_tag(db, tag, f"dog{i}", f"owner{i}", f"1390000000{i}")
    msgs = stream()
    third = len(msgs) // 3
    service = Service(settings)
    service.start()
    try:
        assert service.wait_connected(10)
        pub = client(broker.port)
        publish_all(pub, msgs[:third])
        assert wait_until(lambda: influx.adapter.lines_acknowledged >= third // 2, 30)

        # when influxd stops (the adapter answers 503), then the adapter too (connection refused)
        influx.engine.stop()
        publish_all(pub, msgs[third : 2 * third])
        assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == 2 * third, 30)
        spooled_in_outage = influx_store.spooled(db)
        assert spooled_in_outage > 0, "the outage must hold points back"
        influx.adapter.stop()
        retries = service.counters.get("influx_retries")
        assert wait_until(lambda: service.counters.get("influx_retries") >= retries + 2, 15)
        assert (
            count(db, "SELECT COUNT(*) FROM fixes") == 2 * third
        )  # ingestion never waited for InfluxDB

        # and both come back while the rest of the stream flows
        influx.engine.start()
        influx.adapter.start()
        publish_all(pub, msgs[2 * third :])
        assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == len(msgs), 30)
        assert wait_until(lambda: influx_store.spooled(db) == 0, 60)
    finally:
        service.stop()

    # then every fix is in InfluxDB once: per tag, as many points and distinct timestamps
    # as published
    per_tag = {
        r["device_id"]: r["count"]
        for r in influx.rows('SELECT count("lat") FROM "tag_fix" GROUP BY "device_id"')
    }
    assert per_tag == {tag: PER_TAG for tag in TAGS}
    for tag in TAGS:
        times = [
            r["time"]
            for r in influx.rows(f'SELECT "lat" FROM "tag_fix" WHERE "device_id" = \'{tag}\'')
        ]
        assert len(set(times)) == PER_TAG
    # and every alert, in its final revision, as in the embedded database
    stored = {
        (r["id"], r["revision"], r["status"])
        for r in db.execute("SELECT id, revision, status FROM alerts")
    }
    assert len(stored) >= 10
    assert {
        (r["id"], r["revision"], r["status"])
        for r in influx.rows('SELECT "id", "revision", "status" FROM "alert"')
    } == stored
    # and nothing was sent twice: the engine acknowledged exactly one line per fix and
    # per alert change
    changes = count(db, "SELECT SUM(revision) FROM alerts")
    assert influx.adapter.lines_acknowledged == len(msgs) + changes
    assert service.counters.get("influx_dropped") == 0
    record(
        "InfluxDB outage mid-stream (engine stopped, then unreachable)",
        sent=len(msgs),
        stored=sum(per_tag.values()),
        lost=len(msgs) - sum(per_tag.values()),
        doubled=influx.adapter.lines_acknowledged - len(msgs) - changes,
    )
    # and history reads the same from InfluxDB as from the embedded database
    history = open_history(settings)
    embedded = SqliteHistory(db, SH)
    assert history.track("TAG-0002", T0, T0 + 3600) == embedded.track("TAG-0002", T0, T0 + 3600)
    assert history.alert_counts(T0 - 86400, T0 + 86400) == embedded.alert_counts(
        T0 - 86400, T0 + 86400
    )
