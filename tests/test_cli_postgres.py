"""The command line on PostgreSQL (--database-url / SMARTCITY_DATABASE_URL), run as a
user runs it: a real process, a real server (the session's), nothing in the data dir."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from smartcity_iot.config import Settings
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store.database import connect
from smartcity_iot.store.registry import register_active_tag

from .support import TEST_ZONES, fix_payload, free_port
from .test_cli import run


def test_tags_registered_and_listed_in_postgresql(tmp_path: Path, postgres_url: str) -> None:
    for tag, dog in (("QZT-000001", "旺财"), ("QZT-000002", "小白")):
        r = run(
            "tags", "register", tag, "--dog", dog, "--owner", "张三", "--phone", "13900000001",
            "--data-dir", str(tmp_path), "--database-url", postgres_url,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    by_env = run("tags", "list", "--json", env={"SMARTCITY_DATABASE_URL": postgres_url})
    assert [t["tag_id"] for t in json.loads(by_env.stdout)] == ["QZT-000001", "QZT-000002"]
    conn = connect(postgres_url)
    assert conn.execute("SELECT COUNT(*) FROM owners").fetchone()[0] == 1
    assert not (tmp_path / "smartcity.db").exists()


def test_alerts_lists_postgresqls_alerts_newest_first(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data_dir=tmp_path, geofences=TEST_ZONES, database_url=postgres_url)
    conn = connect(settings.database)
    register_active_tag(conn, "TAG-0001", "旺财", "张三", "13900000001")
    pipe = TagPipeline(settings, conn, load_zones(TEST_ZONES, settings.tz))
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    for start in (t0, t0 + 3600):
        inside = [(start + i * 15, 28.971, 118.871) for i in range(6)]
        home = [(start + 100 + i * 15, 28.960, 118.875) for i in range(6)]
        pipe.process([Inbound("tags/TAG-0001/fix", fix_payload(*p), 0) for p in inside + home])
    out = run("alerts", "--json", "--database-url", postgres_url, "--data-dir", str(tmp_path))
    alerts = json.loads(out.stdout)
    assert [a["started_at"] for a in alerts] == [t0 + 3600, t0]
    assert [a["escalation"] for a in alerts] == ["warning", "education"]
    text = run("alerts", "--database-url", postgres_url).stdout.splitlines()
    assert len(text) == 3 and "测试小学" in text[1]


def test_a_bad_or_unreachable_database_url_says_what_to_fix() -> None:
    bad = run("alerts", "--database-url", "mysql://x@h/db")
    assert bad.returncode != 0
    assert "--database-url / SMARTCITY_DATABASE_URL" in bad.stderr and "postgresql://" in bad.stderr
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/smartcity"
    gone = run("alerts", "--database-url", url)
    assert gone.returncode != 0
    assert "cannot reach the PostgreSQL database" in gone.stderr, gone.stderr
    assert "secret" not in gone.stderr and "nobody:***@127.0.0.1" in gone.stderr
