"""The command line, run as a user runs it: a real process, a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from smartcity_iot.store.sqlite import connect

from .support import TEST_ZONES

CLI = [sys.executable, "-m", "smartcity_iot.cli"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_register_twice_with_one_phone_makes_one_owner(tmp_path: Path) -> None:
    a = run(
        "tags",
        "register",
        "QZT-000001",
        "--dog",
        "旺财",
        "--owner",
        "张三",
        "--phone",
        "13900000001",
        "--data-dir",
        str(tmp_path),
    )
    b = run(
        "tags",
        "register",
        "QZT-000002",
        "--dog",
        "小白",
        "--owner",
        "张三",
        "--phone",
        "13900000001",
        "--data-dir",
        str(tmp_path),
    )
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    conn = connect(tmp_path / "smartcity.db")
    assert conn.execute("SELECT COUNT(*) FROM owners").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM tags WHERE status = 'active'").fetchone()[0] == 2
    listed = json.loads(run("tags", "list", "--json", "--data-dir", str(tmp_path)).stdout)
    assert [t["tag_id"] for t in listed] == ["QZT-000001", "QZT-000002"]


def test_environment_variables_set_options(tmp_path: Path) -> None:
    r = run(
        "tags",
        "register",
        "QZT-000003",
        "--dog",
        "d",
        "--owner",
        "o",
        "--phone",
        "13900000003",
        env={"SMARTCITY_DATA_DIR": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "smartcity.db").exists()


def test_bad_tag_id_is_a_readable_error(tmp_path: Path) -> None:
    r = run(
        "tags",
        "register",
        "bad id!",
        "--dog",
        "d",
        "--owner",
        "o",
        "--phone",
        "139",
        "--data-dir",
        str(tmp_path),
    )
    assert r.returncode == 2 and "tag id 'bad id!'" in r.stderr and "Traceback" not in r.stderr


def test_bad_settings_name_the_flag_and_the_variable(tmp_path: Path) -> None:
    r = run("alerts", "--timezone", "Mars/Olympus", "--data-dir", str(tmp_path))
    assert (
        r.returncode == 2
        and "--timezone / SMARTCITY_TIMEZONE" in r.stderr
        and "Mars/Olympus" in r.stderr
    )


def test_bad_zone_file_stops_serve_with_the_file_and_feature(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "oops.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "z", "rule": "dogs", "walking_hours": ["8-9"]},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[118, 28], [118.1, 28], [118.1, 28.1], [118, 28]]],
                        },
                    }
                ],
            }
        )
    )
    r = run("serve", "--geofences", str(zones), "--data-dir", str(tmp_path), timeout=30)
    assert r.returncode == 2 and "oops.geojson" in r.stderr and "feature #0 (z)" in r.stderr


def test_alerts_lists_newest_first_and_as_json(tmp_path: Path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from smartcity_iot.config import Settings
    from smartcity_iot.geo.zones import load_zones
    from smartcity_iot.model import Inbound
    from smartcity_iot.pipeline import TagPipeline
    from smartcity_iot.store.registry import register_active_tag

    from .support import fix_payload

    settings = Settings(data_dir=tmp_path, geofences=TEST_ZONES)
    conn = connect(settings.db_path)
    register_active_tag(conn, "TAG-0001", "旺财", "张三", "13900000001")
    pipe = TagPipeline(settings, conn, load_zones(TEST_ZONES, settings.tz))
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    for start in (t0, t0 + 3600):
        inside = [(start + i * 15, 28.971, 118.871) for i in range(6)]
        home = [
            (start + 100 + i * 15, 28.960, 118.875) for i in range(6)
        ]  # leaves: the incident closes
        pipe.process([Inbound("tags/TAG-0001/fix", fix_payload(*p), 0) for p in inside + home])
    out = json.loads(run("alerts", "--json", "--data-dir", str(tmp_path)).stdout)
    assert [a["started_at"] for a in out] == [t0 + 3600, t0]
    assert [a["escalation"] for a in out] == ["warning", "education"]
    text = run("alerts", "--data-dir", str(tmp_path)).stdout.splitlines()
    assert text[0].split() == [
        "STARTED",
        "ENDED",
        "KIND",
        "DEVICE",
        "WHERE",
        "GRID",
        "STEP",
        "STATUS",
    ]
    assert len(text) == 3 and "测试小学" in text[1] and "warning" in text[1]
    # the Chinese zone name is two columns a character: STEP starts at one column in every row
    from smartcity_iot.tables import display_width

    starts = {
        display_width(line[: line.index(step)])
        for line, step in zip(text, ("STEP", "warning", "education"))
    }
    assert len(starts) == 1, text
    counts = run("history", "counts", "--days", "30000", "--data-dir", str(tmp_path)).stdout
    assert counts.splitlines()[0].split() == ["DAY", "KIND", "GRID", "ALERTS"]
    assert "dog_forbidden_zone" in counts, counts


def test_help_lists_every_setting_with_its_variable() -> None:
    r = run("serve", "--help")
    assert r.returncode == 0
    for flag in (
        "--mqtt-url",
        "--geofences",
        "--data-dir",
        "--influx-url",
        "--http",
        "--timezone",
        "--dwell-s",
    ):
        assert flag in r.stdout
    assert "SMARTCITY_MQTT_URL" in r.stdout


def test_demo_shows_alerts_within_a_minute(tmp_path: Path) -> None:
    """The embedded demo: amqtt broker, service and simulated tags in one process."""
    r = run("demo", "--duration", "60", "--tags", "40", "--data-dir", str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "embedded MQTT broker" in r.stderr
    # not a terminal: full status lines every 10 s, no carriage returns piling them up
    status = [line for line in r.stderr.splitlines() if " status: sim " in line]
    assert "\r" not in r.stderr and 4 <= len(status) <= 7, r.stderr[-2000:]
    assert f"database {tmp_path / 'smartcity.db'}" in r.stderr  # the resolved data dir
    opened = [line for line in r.stderr.splitlines() if line.startswith("OPEN ")]
    assert opened, r.stderr[-2000:]
    conn = connect(tmp_path / "smartcity.db")
    assert (
        conn.execute("SELECT COUNT(*) FROM alerts WHERE kind LIKE 'dog_%'").fetchone()[0]
        >= len(opened)
        > 0
    )


def test_the_readme_demo_script_passes_its_flags_to_the_demo() -> None:
    """./scripts/demo.sh is the README's first command; its flags must reach
    `smartcity-iot demo`."""
    from .support import REPO

    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh"), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage: smartcity-iot demo" in r.stdout and "--tags" in r.stdout
