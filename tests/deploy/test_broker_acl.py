"""Devices bound to their credentials, on a real Mosquitto 2.0 with the shipped
mosquitto.conf, ACL and password script (only ports and paths adapted): an OwnTracks
credential speaks only for itself, a serial never takes over another broker account,
and a deactivated tag's login stops working while the others keep theirs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store import credentials, deadletters, dogs, tag_life
from smartcity_iot.store.broker_users import reserved_names
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from ..support import REPO, TEST_ZONES, Mosquitto, free_port, listening, publish_all, wait_until

SHIPPED = REPO / "deploy" / "mosquitto"
SVC_PASSWORD = "svc-secret"
T0 = 1795399200.0  # 2026-11-23 10:00 Asia/Shanghai, a Monday: school hours
SCHOOL = (28.971, 118.871)  # the test zones' school (no dogs)
HOME = (28.960, 118.875)
CAMERA = "cam-test-01"  # tests/data/zones/cameras/cam-test-01.json


class ShippedBroker:
    """deploy/mosquitto as compose runs it: the password file built by entrypoint.sh from
    the environment, the device list and the portal's tag passwords."""

    def __init__(self, tmp: Path, devices: str = "", tags: str = "") -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp, self.port = tmp, free_port()
        (tmp / "devices.txt").write_text(devices)
        self.write_tags(tags)
        self.build_passwords("--passwd-only")
        text = (SHIPPED / "mosquitto.conf").read_text()
        text = text.replace("listener 1883", f"listener {self.port} 127.0.0.1")
        text = text.replace("/mosquitto/config/acl", str(SHIPPED / "acl"))
        text = text.replace("/mosquitto/data/", f"{tmp}/")
        text += "\nlog_type debug\n"  # a denied PUBLISH is logged at debug level only
        if os.geteuid() == 0:  # pytest's 0700 temp dirs are closed to the user mosquitto drops to
            text += "user root\n"
        (tmp / "mosquitto.conf").write_text(text)
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with open(tmp / "mosquitto.log", "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "-c", str(tmp / "mosquitto.conf")], stdout=log, stderr=log
            )
        assert wait_until(lambda: listening(self.port), 10), self.log

    @property
    def log(self) -> str:
        return (self.tmp / "mosquitto.log").read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"mqtt://smartcity-service:{SVC_PASSWORD}@127.0.0.1:{self.port}"

    def write_tags(self, tags: str) -> None:
        (self.tmp / "tags.passwd").write_text(tags)

    def build_passwords(self, mode: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "MOSQUITTO_PASSWD_FILE": str(self.tmp / "passwd"),
            "MOSQUITTO_DEVICES_FILE": str(self.tmp / "devices.txt"),
            "MOSQUITTO_TAG_PASSWD_FILE": str(self.tmp / "tags.passwd"),
            "MQTT_SERVICE_PASSWORD": SVC_PASSWORD,
            "MQTT_ALERTS_READER_PASSWORD": "reader-secret",
        }
        if mode == "--reload":
            env["MOSQUITTO_PID"] = str(self.proc.pid)
        return subprocess.run(
            ["sh", str(SHIPPED / "entrypoint.sh"), mode],
            env=env,
            check=True,
            timeout=30,
            capture_output=True,
            text=True,
        )

    def password_users(self) -> list[str]:
        return [line.split(":")[0] for line in (self.tmp / "passwd").read_text().splitlines()]

    def connect(self, user: str, password: str) -> tuple[mqtt.Client, mqtt.ReasonCode | None]:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        result: list[mqtt.ReasonCode] = []
        done = threading.Event()

        def on_connect(client, userdata, flags, reason, props):  # type: ignore[no-untyped-def]
            result.append(reason)
            done.set()

        c.on_connect = on_connect
        c.username_pw_set(user, password)
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        done.wait(5)
        return c, (result[0] if result else None)

    def device(self, user: str, password: str) -> mqtt.Client:
        c, reason = self.connect(user, password)
        assert reason is not None and not reason.is_failure, (user, reason)
        return c

    def refused(self, user: str, password: str) -> bool:
        c, reason = self.connect(user, password)
        c.loop_stop()
        c.disconnect()
        return reason is None or reason.is_failure

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def service_on(broker: ShippedBroker, data: Path) -> Service:
    svc = Service(
        Settings(mqtt_url=broker.url, data_dir=data, geofences=TEST_ZONES, mqtt_client_id="x")
    )
    svc.start()
    assert svc.wait_connected(10), broker.log
    return svc


def location(ts: float, at: tuple[float, float]) -> bytes:
    return json.dumps(
        {"_type": "location", "tst": int(ts), "lat": at[0], "lon": at[1], "acc": 5}
    ).encode()


def school_visit(t: float = T0) -> list[tuple[float, tuple[float, float]]]:
    """Three minutes in the school, then home: an alert, were it anybody's fix."""
    return [(t + i * 15, SCHOOL) for i in range(13)] + [(t + 200 + i * 15, HOME) for i in range(8)]


def count(conn: sqlite3.Connection, sql: str, *args: object) -> int:
    return int(conn.execute(sql, args).fetchone()[0])


@pytest.fixture
def registry(tmp_path: Path) -> sqlite3.Connection:
    conn = connect(tmp_path / "data" / "smartcity.db")
    register_active_tag(conn, "TAG-000A", "旺财", "张三", "13900000001")
    register_active_tag(conn, "TAG-000B", "小白", "李四", "13900000002")
    return conn


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    b = ShippedBroker(
        tmp_path / "broker",
        devices=f"TAG-000A:pw-a\nTAG-000B:pw-b\n{CAMERA}:pw-cam\n",
    )
    yield b
    b.stop()


# -- finding 2: OwnTracks is pinned to the credential ------------------------------------


def test_an_owntracks_credential_cannot_post_fixes_as_another_tag(
    tmp_path: Path, shipped: ShippedBroker, registry: sqlite3.Connection
) -> None:
    # given the service on the shipped broker and the owner of TAG-000B (owner #2)
    db, broker = registry, shipped
    svc = service_on(broker, tmp_path / "data")
    try:
        a, camera = broker.device("TAG-000A", "pw-a"), broker.device(CAMERA, "pw-cam")
        # when tag A's and the camera's credentials post a school visit as TAG-000B
        spoof = [("owntracks/TAG-000A/TAG-000B", location(t, p)) for t, p in school_visit()]
        spoof += [(f"owntracks/{CAMERA}/TAG-000B", location(t, p)) for t, p in school_visit()]
        spoof += [("owntracks/TAG-000B/TAG-000B", location(T0 + 400, SCHOOL))]
        publish_all(a, spoof[:21] + spoof[-1:])
        publish_all(camera, spoof[21:])
        # and then each posts as itself (one connection keeps its order: the spoofs came first)
        publish_all(a, [("owntracks/TAG-000A/TAG-000A", location(T0 + 500, HOME))])
        publish_all(camera, [(f"owntracks/{CAMERA}/{CAMERA}", location(T0 + 500, HOME))])
        assert wait_until(
            lambda: count(db, "SELECT COUNT(*) FROM fixes WHERE tag_id = 'TAG-000A'") == 1, 15
        )
        assert wait_until(lambda: deadletters.counts(db).get("unknown_device") == 1, 15)
        # then B's track and B's owner are untouched; A's own fix is A's
        assert count(db, "SELECT COUNT(*) FROM fixes WHERE tag_id = 'TAG-000B'") == 0
        assert count(db, "SELECT COUNT(*) FROM alerts WHERE device_id = 'TAG-000B'") == 0
        assert count(db, "SELECT COUNT(*) FROM alerts WHERE party = 'owner:2'") == 0
        assert deadletters.counts(db) == {"unknown_device": 1}  # the camera is no tag
        assert "Denied PUBLISH from TAG-000A" in broker.log  # the broker refused the spoofs
        assert f"Denied PUBLISH from {CAMERA}" in broker.log
    finally:
        svc.stop()


def test_the_service_drops_an_owntracks_fix_whose_device_is_not_its_user(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    # given a broker with no ACL at all (the conftest broker: anonymous, every topic open)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    # when fixes name TAG-0003 under another user, then one fix under its own name
    spoof = [("owntracks/TAG-0001/TAG-0003", location(t, p)) for t, p in school_visit()]
    publish_all(pub, [*spoof, ("owntracks/TAG-0003/TAG-0003", location(T0 + 500, HOME))])
    # then only the fix whose user and device agree is stored; the rest are counted
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == 1, 15)
    assert wait_until(lambda: deadletters.counts(db).get("device_mismatch") == 21, 10)
    assert wait_until(lambda: service.counters.get("rejected.device_mismatch") == 21, 5)
    assert count(db, "SELECT COUNT(*) FROM alerts") == 0
    assert [r["topic"] for r in deadletters.recent(db, 1)] == ["owntracks/TAG-0001/TAG-0003"]


# -- finding 3: one namespace for every broker user --------------------------------------


def tag_passwords(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcity_iot.cli", "users", "tag-passwords"],
        env={**os.environ, "SMARTCITY_DATA_DIR": str(data), "SMARTCITY_GEOFENCES": str(TEST_ZONES)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_serial_in_the_database_never_takes_over_the_service_account(
    tmp_path: Path, registry: sqlite3.Connection
) -> None:
    # given rows an earlier version let through: tags named like the service and a camera
    for serial in ("smartcity-service", CAMERA, "TAG-000A"):
        if serial != "TAG-000A":
            register_active_tag(registry, serial, "阿黄", "王五", "13900000003")
        registry.execute(
            "INSERT INTO tag_credentials(tag_id, mqtt_username, password_hash, created_at) "
            "VALUES (?, ?, ?, 0)",
            (serial, serial, credentials.mosquitto_hash("owner-pw")),
        )
    # when the password files are generated as README says
    out = tag_passwords(tmp_path / "data")
    assert [line.split(":")[0] for line in out.stdout.splitlines()] == ["TAG-000A"]
    assert "skipped tag smartcity-service" in out.stderr and f"skipped tag {CAMERA}" in out.stderr
    broker = ShippedBroker(tmp_path / "broker", tags=out.stdout)
    try:
        # then the file has one line per user, the real service logs in, the owner does not
        users = broker.password_users()
        assert sorted(users) == sorted(set(users)) and users.count("smartcity-service") == 1
        svc = service_on(broker, tmp_path / "data")
        svc.stop()
        assert broker.refused("smartcity-service", "owner-pw")
        assert not broker.refused("TAG-000A", "owner-pw")
    finally:
        broker.stop()


def test_the_password_script_keeps_one_line_per_user_and_the_accounts_to_themselves(
    tmp_path: Path,
) -> None:
    # given hand-edited device and tag files naming the service accounts and a tag twice
    owner = credentials.mosquitto_hash("owner-pw")
    broker = ShippedBroker(
        tmp_path / "broker",
        devices="alerts-reader:owner-pw\nsim-tags:owner-pw\nTAG-000A:pw-a\n",
        tags=f"smartcity-service:{owner}\nTAG-000A:{owner}\n$SYS:{owner}\n",
    )
    try:
        # then each user has one line and the accounts keep their own passwords
        assert broker.password_users() == ["smartcity-service", "alerts-reader", "TAG-000A"]
        assert broker.refused("smartcity-service", "owner-pw")
        assert broker.refused("alerts-reader", "owner-pw")
        assert broker.refused("sim-tags", "owner-pw")  # not enabled: nobody may take it
        assert not broker.refused("smartcity-service", SVC_PASSWORD)
        assert not broker.refused("TAG-000A", "pw-a")  # the first line of a user wins
        warnings = broker.build_passwords("--passwd-only").stderr
        assert "skipped user smartcity-service" in warnings and "owner-pw" not in warnings
    finally:
        broker.stop()


# -- deliverable 5: a deactivated tag's credential stops working ---------------------------


def portal_tag(conn: sqlite3.Connection, owner_id: int, serial: str) -> str:
    """A tag through the portal's life: dog, request, approval, shipping, activation."""
    dog = dogs.add_dog(conn, owner_id, {"name": f"犬 {serial}"})
    req = dogs.request_tag(conn, owner_id, dog["id"], "浙江省衢州市柯城区府山街道 1 号")
    code = dogs.approve_request(conn, req["id"], "operator:op1", serial)["activation_code"]
    dogs.ship_request(conn, req["id"])
    return str(credentials.activate_tag(conn, owner_id, serial, code)["mqtt_password"])


def test_a_deactivated_tag_is_locked_out_while_the_others_keep_working(
    tmp_path: Path, registry: sqlite3.Connection
) -> None:
    # given two tags activated in the portal, their passwords on the shipped broker
    db = registry
    pw = {s: portal_tag(db, 1, s) for s in ("DT-LOST0001", "DT-KEPT0001")}
    settings = Settings(data_dir=tmp_path / "data", geofences=TEST_ZONES)
    broker = ShippedBroker(
        tmp_path / "broker",
        tags=credentials.mosquitto_password_file(db, reserved_names(settings)),
    )
    svc = service_on(broker, tmp_path / "data")
    try:
        lost, kept = (
            broker.device("DT-LOST0001", pw["DT-LOST0001"]),
            broker.device("DT-KEPT0001", pw["DT-KEPT0001"]),
        )
        # when an operator deactivates the lost one
        tag_life.deactivate(db, "DT-LOST0001", "operator:op1", "lost")
        # then the service refuses its fixes at once, before the broker knows
        publish_all(
            lost,
            [
                (
                    "tags/DT-LOST0001/fix",
                    json.dumps({"ts": T0, "lat": 28.96, "lon": 118.875}).encode(),
                )
            ],
        )
        assert wait_until(lambda: deadletters.counts(db).get("inactive_device") == 1, 15)
        # and once the password file is rebuilt and the broker reloaded (SIGHUP), its open
        # connection is closed and its login refused; the other tag and the service stay
        broker.write_tags(credentials.mosquitto_password_file(db, reserved_names(settings)))
        broker.build_passwords("--reload")
        assert "DT-LOST0001" not in broker.password_users()
        assert wait_until(lambda: not lost.is_connected(), 10)
        lost.loop_stop()
        assert broker.refused("DT-LOST0001", pw["DT-LOST0001"])
        assert kept.is_connected() and svc.session.connected.is_set()
        publish_all(
            kept,
            [
                (
                    "tags/DT-KEPT0001/fix",
                    json.dumps({"ts": T0, "lat": 28.96, "lon": 118.875}).encode(),
                )
            ],
        )
        assert wait_until(
            lambda: count(db, "SELECT COUNT(*) FROM fixes WHERE tag_id = 'DT-KEPT0001'") == 1, 15
        )
        assert count(db, "SELECT COUNT(*) FROM fixes WHERE tag_id = 'DT-LOST0001'") == 0
    finally:
        svc.stop()
        broker.stop()
