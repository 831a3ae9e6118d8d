"""Test harness: a real Mosquitto on a free port, the service in-process or as a
subprocess, and small MQTT helpers. Nothing here fakes a component."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parents[1]
TEST_ZONES = REPO / "tests" / "data" / "zones"

# Queue limits sized for tests that build backlogs: Mosquitto's default of 1000
# queued messages silently drops a slow subscriber's QoS-1 backlog.
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {data}/
autosave_interval 1
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 1000
message_size_limit 10485760
log_dest file {data}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def listening(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed: run scripts/test.sh, which installs it")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        conf = MOSQUITTO_CONF.format(port=self.port, data=workdir)
        if os.geteuid() == 0:
            # As root, mosquitto drops to user "mosquitto", which cannot write pytest's 0700
            # temp dirs: persistence would silently fail and a restart would lose every session.
            conf += "user root\n"
        self.conf.write_text(conf)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(lambda: listening(self.port), 10):
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


def client(url_port: int, client_id: str = "", v5: bool = True) -> mqtt.Client:
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    c.max_queued_messages_set(1000)
    c.connect("127.0.0.1", url_port)
    c.loop_start()
    return c


def publish_all(
    c: mqtt.Client, messages: list[tuple[str, bytes]], qos: int = 1, timeout: float = 60
) -> None:
    """Publish and wait for every PUBACK; fails loudly instead of losing a message."""
    infos = []
    for topic, payload in messages:
        while True:
            info = c.publish(topic, payload, qos=qos)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                break
            if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                raise RuntimeError(f"publish failed rc={info.rc}")
            time.sleep(0.01)
        infos.append(info)
    for info in infos:
        info.wait_for_publish(timeout)
        assert info.is_published()


class AlertListener:
    """Subscribes to alerts/# and keeps every message, as an external system would."""

    def __init__(self, port: int) -> None:
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe("alerts/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10), "alert listener did not subscribe"

    def _on_message(self, c, userdata, msg) -> None:
        doc = json.loads(msg.payload)
        doc["_topic"] = msg.topic
        doc["_received"] = time.time()
        with self._lock:
            self.messages.append(doc)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def fix_payload(
    ts: float,
    lat: float,
    lon: float,
    acc: float = 5,
    batt: float | None = 80,
    seq: int | None = None,
) -> bytes:
    doc = {"ts": ts, "lat": lat, "lon": lon, "acc": acc}
    if batt is not None:
        doc["batt"] = batt
    if seq is not None:
        doc["seq"] = seq
    return json.dumps(doc).encode()


def service_process(settings_env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **settings_env, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity_iot.cli", "serve"],
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
