"""History reads (a dog's track, alert counts per day, kind and grid) give the
same answers from InfluxDB and from the embedded database, through the same
interface and the same `smartcity-iot history` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from smartcity_iot.config import Settings
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store import influx as influx_store
from smartcity_iot.store.history import AlertCount, InfluxHistory, SqliteHistory
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sinks import Sinks
from smartcity_iot.store.sqlite import connect

from ..support import TEST_ZONES, fix_payload, free_port
from .conftest import DB, InfluxUnderTest, influx_settings

SH = ZoneInfo("Asia/Shanghai")
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)
CLI = [sys.executable, "-m", "smartcity_iot.cli"]


def school_visits(tag: str, t0: float, visits: int) -> list[Inbound]:
    """Each visit: 3 min in the school (an incident), then 3 min at home (it closes)."""
    out = []
    for v in range(visits):
        base = t0 + v * 360
        out += [
            Inbound(f"tags/{tag}/fix", fix_payload(base + i * 15, *SCHOOL), 0) for i in range(12)
        ]
        out += [
            Inbound(f"tags/{tag}/fix", fix_payload(base + 180 + i * 15, *HOME), 0)
            for i in range(12)
        ]
    return out


def run_stream(settings: Settings, t0: float) -> None:
    conn = connect(settings.db_path)
    register_active_tag(conn, "TAG-0001", "旺财", "张三", "13900000001")
    register_active_tag(conn, "TAG-0002", "小白", "李四", "13900000002")
    pipe = TagPipeline(
        settings, conn, load_zones(TEST_ZONES, SH), sinks=Sinks(conn, influx_spool=True)
    )
    pipe.process(school_visits("TAG-0001", t0, 3) + school_visits("TAG-0002", t0 + 7, 2))


def cli(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SMARTCITY_DATA_DIR": str(settings.data_dir)}
    if settings.influx_url:
        env.update(SMARTCITY_INFLUX_URL=settings.influx_url, SMARTCITY_INFLUX_BUCKET=DB)
    return subprocess.run(
        [*CLI, "history", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_influxdb_and_embedded_history_agree(tmp_path: Path, influx: InfluxUnderTest) -> None:
    # given a stream processed once, its points shipped to InfluxDB
    t0 = datetime(2026, 11, 20, 23, 50, tzinfo=SH).timestamp()  # the visits straddle local midnight
    settings = influx_settings(tmp_path, influx.url)
    run_stream(settings, t0)
    writer = influx_store.InfluxWriter(settings, settings.db_path)
    while writer.drain_once():
        pass
    embedded = SqliteHistory(connect(settings.db_path), SH)
    remote = InfluxHistory(influx.engine.url, DB, None, SH)
    # then tracks and counts are the same, whichever store answers
    track = embedded.track("TAG-0001", t0, t0 + 3600)
    assert len(track) == 72 and track[0].ts == t0 and track[0].acc == 5 and track[0].batt == 80
    assert remote.track("TAG-0001", t0, t0 + 3600) == track
    assert remote.track("TAG-0001", t0 + 60, t0 + 120) == embedded.track(
        "TAG-0001", t0 + 60, t0 + 120
    )
    counts = embedded.alert_counts(t0 - 86400, t0 + 86400)
    assert counts == [
        AlertCount("2026-11-20", "dog_forbidden_zone", "G-01", 4),
        AlertCount("2026-11-21", "dog_forbidden_zone", "G-01", 1),
    ]
    assert remote.alert_counts(t0 - 86400, t0 + 86400) == counts


def test_history_commands_read_the_embedded_database_and_influxdb_alike(
    tmp_path: Path, influx: InfluxUnderTest
) -> None:
    # given recent activity (counts are per local day up to today)
    t0 = time.time() - 7200
    settings = influx_settings(tmp_path, influx.url)
    run_stream(settings, t0)
    writer = influx_store.InfluxWriter(settings, settings.db_path)
    while writer.drain_once():
        pass
    embedded = settings.model_copy(update={"influx_url": None})
    start = datetime.fromtimestamp(t0 - 1, SH).isoformat(timespec="seconds")
    end = (
        datetime.fromtimestamp(t0 + 3600, SH).replace(tzinfo=None).isoformat()
    )  # local time without offset
    # when both run the same commands
    out = {}
    for name, s in (("embedded", embedded), ("influx", settings)):
        track = cli("track", "TAG-0002", "--from", start, "--to", end, "--json", settings=s)
        counts = cli("counts", "--days", "2", "--json", settings=s)
        assert track.returncode == 0 and counts.returncode == 0, track.stderr + counts.stderr
        out[name] = (json.loads(track.stdout), json.loads(counts.stdout))
    # then they agree, and the answers are right
    assert out["influx"] == out["embedded"]
    track, counts = out["embedded"]
    assert len(track) == 48 and track[0]["ts"] == round(t0 + 7, 3)
    assert sum(c["count"] for c in counts) == 5 and {c["kind"] for c in counts} == {
        "dog_forbidden_zone"
    }
    text = cli("counts", settings=embedded)
    assert "dog_forbidden_zone" in text.stdout and "G-01" in text.stdout


def test_history_with_influxdb_unreachable_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, influx_url=f"http://127.0.0.1:{free_port()}")
    r = cli("track", "TAG-0001", settings=settings)
    assert r.returncode == 1 and "unreachable" in r.stderr and "Traceback" not in r.stderr
    bad = cli("track", "TAG-0001", "--from", "yesterday", settings=settings)
    assert bad.returncode == 2 and "--from 'yesterday' is not an ISO date-time" in bad.stderr


def test_the_console_reads_history_from_influxdb_when_configured(
    tmp_path: Path, influx: InfluxUnderTest
) -> None:
    """With --influx-url the operator's track and per-day statistics come from InfluxDB:
    the embedded copies are altered after shipping, and the console does not see it."""
    from fastapi.testclient import TestClient

    from smartcity_iot.store import users
    from smartcity_iot.web.app import create_app
    from smartcity_iot.web.security import Limits

    t0 = time.time() - 7200
    settings = influx_settings(tmp_path, influx.url)
    run_stream(settings, t0)
    writer = influx_store.InfluxWriter(settings, settings.db_path)
    while writer.drain_once():
        pass
    conn = connect(settings.db_path)
    conn.execute("DELETE FROM fixes")  # the embedded track is gone (retention, say)
    conn.execute(
        "INSERT INTO alerts(id, kind, status, device_id, grid, started_at, updated_at) "
        "VALUES ('only-here', 'tag_offline', 'open', 'TAG-0001', 'G-09', ?, ?)",
        (t0, t0),
    )
    users.create_operator(conn, "op1", "correct horse battery staple", "值班员")
    with TestClient(create_app(settings, Limits())) as web:
        me = web.post(
            "/api/auth/login", json={"login": "op1", "password": "correct horse battery staple"}
        ).json()
        web.headers["X-CSRF-Token"] = me["csrf_token"]
        alert = next(
            a
            for a in web.get("/api/operator/alerts").json()
            if a["device_id"] == "TAG-0001" and a["kind"] == "dog_forbidden_zone"
        )
        detail = web.get(f"/api/operator/alerts/{alert['id']}").json()
        assert len(detail["track"]) > 10, "the track came from InfluxDB"
        per_day = web.get("/api/operator/stats?days=2").json()["per_day"]
        assert sum(d["count"] for d in per_day) == 5 and all(d["grid"] != "G-09" for d in per_day)
