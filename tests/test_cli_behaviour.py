"""The command as people run it (issue 12): the installed `smartcity-iot` console
script in a real process, its output a pipe or a file (never a terminal), a real
Mosquitto and real database files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smartcity_iot.model import ALERT_KINDS
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect
from smartcity_iot.tables import display_width

from .support import TEST_ZONES, Mosquitto, free_port, wait_until

SCRIPT = shutil.which("smartcity-iot") or str(Path(sys.executable).parent / "smartcity-iot")
READ_ONLY = [
    ["alerts"],
    ["rejects"],
    ["tags", "list"],
    ["history", "counts"],
    ["history", "track", "QZT-000001"],
    ["users", "tag-passwords"],
]


def run(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def serve_args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [
        "serve",
        "--mqtt-url",
        url,
        "--geofences",
        str(TEST_ZONES),
        "--data-dir",
        str(tmp_path / "data"),
        "--http",
        f"127.0.0.1:{free_port()}",
        *extra,
    ]


# -- serve and its broker ---------------------------------------------------------


def test_serve_stops_with_the_reason_when_nothing_listens_on_the_broker_port(
    tmp_path: Path,
) -> None:
    url = f"mqtt://svc:hunter2-secret@127.0.0.1:{free_port()}"
    began = time.monotonic()
    r = run(*serve_args(tmp_path, url, "--mqtt-connect-timeout-s", "2"), timeout=60)
    assert r.returncode == 1, r.stderr
    assert time.monotonic() - began < 30
    err = r.stderr
    assert "cannot reach the MQTT broker at mqtt://svc:***@127.0.0.1:" in err
    assert "connection refused" in err and "Fix: start the broker" in err
    assert "--mqtt-url" in err and "Traceback" not in err
    assert "hunter2-secret" not in err  # the password is never printed


def test_serve_names_credentials_the_broker_refused(tmp_path: Path) -> None:
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto_passwd is not installed")
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "svc", "right"], check=True)
    passwords.chmod(0o600)
    broker = Mosquitto(tmp_path / "broker")
    broker.conf.write_text(
        broker.conf.read_text().replace(
            "allow_anonymous true", f"allow_anonymous false\npassword_file {passwords}"
        )
    )
    broker.start()
    try:
        url = f"mqtt://svc:wrong@127.0.0.1:{broker.port}"
        r = run(*serve_args(tmp_path, url, "--mqtt-connect-timeout-s", "3"))
    finally:
        broker.stop()
    assert r.returncode == 1, r.stderr
    assert "the broker refused our credentials" in r.stderr, r.stderr
    assert "mqtt://USER:PASSWORD@host:port" in r.stderr and ":wrong@" not in r.stderr


def test_serve_logs_each_lost_and_regained_connection_and_prints_status_lines(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """Output to a file (docker, journald): full status lines, no carriage returns;
    a broker restart is one line when lost and one when regained."""
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [SCRIPT, *serve_args(tmp_path, broker.url)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        text = lambda: log.read_text(errors="replace")  # noqa: E731
        assert wait_until(lambda: "connected to mqtt://" in text(), 30), text()
        assert f"data dir {tmp_path / 'data'}" in text()
        broker.stop()
        assert wait_until(lambda: "lost the broker" in text(), 15), text()
        time.sleep(3)  # a few failed retries while the broker is down
        broker.start()
        assert wait_until(lambda: "reconnected to" in text(), 40), text()
        assert wait_until(lambda: " status: fixes " in text(), 20), text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    out = text()
    assert proc.returncode == 0, out
    assert out.count("lost the broker") == 1 and out.count("reconnected to") == 1, out
    assert "without the broker" in out  # the regained line says how long it was gone
    assert "cannot connect" not in out  # the retries of one outage are not each a line
    assert "\r" not in out
    status = [line for line in out.splitlines() if " status: " in line]
    assert status and all(line.split(" status: ")[1].startswith("fixes ") for line in status)


# -- data dir ----------------------------------------------------------------------


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_reading_command_on_a_missing_database_says_so_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    r = run(*command, "--data-dir", "data", cwd=tmp_path)
    where = tmp_path / "data" / "smartcity.db"
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"no database at {where}" in r.stderr and "--data-dir" in r.stderr
    assert not (tmp_path / "data").exists()  # no empty database to mislead the next run
    assert r.stdout == ""


def test_data_dir_is_resolved_so_the_demo_hint_works_from_anywhere(tmp_path: Path) -> None:
    db = connect(tmp_path / "data" / "smartcity.db")
    register_active_tag(db, "QZT-000001", "旺财", "张三", "13900000001")
    db.close()
    here = run("tags", "list", "--data-dir", "data", cwd=tmp_path)
    elsewhere = run("tags", "list", "--data-dir", str(tmp_path / "data"), cwd=Path("/"))
    assert here.returncode == 0 and here.stdout == elsewhere.stdout and "旺财" in here.stdout


# -- choices -------------------------------------------------------------------------


def test_a_misspelt_alert_kind_lists_the_kinds(tmp_path: Path) -> None:
    r = run("alerts", "--kind", "dog_forbiden", "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "dog_forbiden" in r.stderr
    assert all(kind in r.stderr for kind in ALERT_KINDS), r.stderr


@pytest.mark.parametrize(
    ("flag", "value", "listed"),
    [
        ("--mqtt-protocol", "4", ["'5'", "'3.1.1'"]),
        ("--plate-reader", "ppcor", ["ppocr", "hyperlpr", "none"]),
        ("--detector", "yolo", ["classical"]),
    ],
)
def test_enumerated_settings_list_their_values(
    tmp_path: Path, flag: str, value: str, listed: list[str]
) -> None:
    r = run(*serve_args(tmp_path, f"mqtt://127.0.0.1:{free_port()}", flag, value))
    assert r.returncode == 2, r.stderr
    assert flag in r.stderr or "plate reader" in r.stderr
    assert all(v in r.stderr for v in listed) and "Traceback" not in r.stderr


# -- pipes ---------------------------------------------------------------------------


def _db_with_a_long_track(data: Path) -> None:
    conn = connect(data / "smartcity.db")
    now = time.time()
    rows = [
        ("QZT-000001", round((now - 3600 + i) * 1000), 28.97, 118.87, 5.0, 80.0, i, now, 0)
        for i in range(3000)  # ~190 kB of text: far more than a pipe holds
    ]
    conn.executemany(
        "INSERT INTO fixes(tag_id, ts_ms, lat, lon, acc, batt, seq, received_at, late) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()


@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_history_track_into_head_ends_quietly(tmp_path: Path, json_out: bool) -> None:
    _db_with_a_long_track(tmp_path)
    cmd = [SCRIPT, "history", "track", "QZT-000001", "--data-dir", str(tmp_path)]
    if json_out:
        cmd.append("--json")
    r = subprocess.run(
        [
            "bash",
            "-c",
            '"$@" | head -c 100 >/dev/null; echo "exit ${PIPESTATUS[0]}" >&2',
            "-",
            *cmd,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr
    assert r.stderr.strip() == "exit 1"  # what Python's documentation recommends for EPIPE


# -- tables --------------------------------------------------------------------------


def _column_starts(lines: list[str], values: list[str]) -> list[int]:
    """Terminal columns at which each line's value starts."""
    return [display_width(line[: line.index(v)]) for line, v in zip(lines, values)]


def test_tags_list_is_a_table_aligned_for_chinese_names(tmp_path: Path) -> None:
    db = connect(tmp_path / "smartcity.db")
    register_active_tag(db, "QZT-000001", "旺财", "张三丰", "13900000001")
    register_active_tag(db, "QZT-000002", "Rex", "Li Wei", "13900000002")
    register_active_tag(db, "QZT-000003", "大黄狗狗", "O", "13900000003")
    db.close()
    r = run("tags", "list", "--data-dir", str(tmp_path))
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[0].split() == ["TAG", "STATUS", "DOG", "OWNER", "PHONE"]
    assert len(set(_column_starts(lines, ["OWNER", "张三丰", "Li Wei", "O "]))) == 1, r.stdout
    assert len(set(_column_starts(lines, ["PHONE", "139", "139", "139"]))) == 1, r.stdout


def test_rejects_lists_dead_letters_under_a_header(tmp_path: Path) -> None:
    from smartcity_iot.store import deadletters

    db = connect(tmp_path / "smartcity.db")
    for topic in ("tags/QZT-000001/fix", "tags/狗/fix"):
        deadletters.add(db, time.time(), topic, "bad_json", "line 1\nline 2", b"{not json")
    deadletters.bump_counts(db, {"bad_json": 2})
    db.commit()
    r = run("rejects", "--data-dir", str(tmp_path))
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stderr
    assert lines[0] == "rejects by reason: bad_json 2"
    assert lines[1].split() == ["RECEIVED", "REASON", "TOPIC", "BYTES", "DETAIL"]
    assert len(lines) == 4 and all("line 1 line 2" in line for line in lines[2:])
    assert len(set(_column_starts(lines[1:], ["DETAIL", "line 1", "line 1"]))) == 1, r.stdout


# -- zone files ------------------------------------------------------------------------


def _three_defect_zones(zones: Path) -> None:
    square = [[[118, 28], [118.1, 28], [118.1, 28.1], [118, 28]]]
    features = [
        {"id": "a", "rule": "dogs", "walking_hours": ["8-9"]},
        {"id": "b", "rule": "cats"},
        {"id": "c", "rule": "loading_spot"},
    ]
    zones.mkdir()
    (zones / "three.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": p,
                        "geometry": {"type": "Polygon", "coordinates": square},
                    }
                    for p in features
                ],
            }
        )
    )


def _assert_zone_defects(stderr: str) -> None:
    for label, problem in (("#0 (a)", "HH:MM-HH:MM"), ("#1 (b)", "rule"), ("#2 (c)", "max_stop")):
        assert any(f"feature {label}" in ln and problem in ln for ln in stderr.splitlines())


def test_serve_names_every_defect_of_a_zone_file_in_one_run(tmp_path: Path) -> None:
    _three_defect_zones(tmp_path / "zones")
    r = run("serve", "--geofences", str(tmp_path / "zones"), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2, r.stderr
    assert "3 problems in the zone and camera files" in r.stderr
    _assert_zone_defects(r.stderr)


@pytest.mark.parametrize("command", ["serve", "check"])
def test_zone_and_camera_defects_are_named_together_in_one_run(
    tmp_path: Path, command: str
) -> None:
    zones = tmp_path / "zones"
    _three_defect_zones(zones)
    (zones / "cameras").mkdir()
    good = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())
    (zones / "cameras" / "bad.json").write_text(json.dumps(dict(good, lat=128, grade="highway")))
    r = run(command, "--geofences", str(zones), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2, r.stderr
    _assert_zone_defects(r.stderr)
    camera_lines = [ln for ln in r.stderr.splitlines() if "bad.json" in ln]
    assert any("lat" in ln for ln in camera_lines) and any("grade" in ln for ln in camera_lines)
    assert not (tmp_path / "d").exists() or command == "serve"


def test_check_says_what_it_found_in_good_files(tmp_path: Path) -> None:
    r = run("check", "--geofences", str(TEST_ZONES), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: ") and "zones" in r.stdout and "fixed cameras" in r.stdout
    assert not (tmp_path / "d").exists()  # a check writes nothing
