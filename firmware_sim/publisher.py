"""Publish a simulated message stream to an MQTT broker, paced, and wait for every ack.

paho's client queue is unbounded and QoS-1 publishes past 65,535 in flight are dropped,
so the queue is capped and a full queue means "wait and retry", never "lose the fix".
Messages may come from a generator (camera frames are rendered while they are published),
and may carry their own MQTT 5 user properties (a patrol unit's position, SPEC 3.3).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sized
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

Message = tuple[float, str, bytes]
# (ts, topic, payload, user properties): the properties go out with MQTT 5 only.
PropertiedMessage = tuple[float, str, bytes, Mapping[str, str]]
QUEUE_LIMIT = 1000


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """`mqtt://[user:pass@]host:port` -> (host, port, user, password)."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"--mqtt-url {url!r}: expected mqtt://[user:pass@]host:port")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ValueError(f"--mqtt-url {url!r}: bad port") from exc
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, user, password


def publish_stream(
    messages: Iterable[Message | PropertiedMessage],
    mqtt_url: str,
    *,
    protocol: str = "5",
    qos: int = 1,
    rate: float | None = None,
    speed: float | None = None,
    client_id: str = "firmware-sim-tags",
    progress: Callable[[dict], None] | None = None,
    connect_timeout_s: float = 10.0,
    drain_timeout_s: float = 60.0,
    total: int | None = None,
    ts_property: bool = False,
    queue_limit: int = QUEUE_LIMIT,
) -> dict:
    """Publish `messages` in order; returns {published, acked, failed, seconds, rate}.

    `rate` paces by messages per wall second; `speed` by the messages' own timestamps
    (simulated seconds per wall second); neither means as fast as the broker acks.
    `ts_property` adds the MQTT 5 user property `ts` (message time in ms, SPEC 3.3);
    a message's own 4th element, a name -> value mapping, adds its user properties (MQTT 5;
    MQTT 3.1.1 cannot carry them); `total` is reported in progress when `messages` has no
    length.
    """
    if rate is not None and speed is not None:
        raise ValueError("give either rate or speed, not both")
    if protocol not in ("5", "3.1.1"):
        raise ValueError(f"--protocol {protocol!r}: expected 5 or 3.1.1")
    host, port, user, password = parse_mqtt_url(mqtt_url)
    v5 = protocol == "5"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else True,  # MQTT 5 has clean_start on connect instead
    )
    if user is not None:
        client.username_pw_set(user, password)
    client.max_queued_messages_set(queue_limit)
    client.max_inflight_messages_set(100)
    connected = threading.Event()
    refused: list[str] = []
    lock = threading.Lock()
    acked = [0]

    def on_connect(_c, _u, _flags, reason, _props):
        if reason.is_failure:
            refused.append(str(reason))
        connected.set()

    def on_publish(_c, _u, _mid, _reason, _props):
        with lock:
            acked[0] += 1

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot reach MQTT broker at {mqtt_url}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(connect_timeout_s) or refused:
            why = refused[0] if refused else f"no CONNACK within {connect_timeout_s:.0f} s"
            raise ConnectionError(f"MQTT broker at {mqtt_url} refused the connection: {why}")
        if total is None and isinstance(messages, Sized):
            total = len(messages)
        pump = _Pump(client, qos, rate, speed, progress, acked, lock, total, ts_property and v5, v5)
        return pump.run(messages, drain_timeout_s)
    finally:
        # Stop the network thread before disconnecting: after disconnect() the thread
        # exits by itself, and paho 2.2's loop_stop() then reads a None thread (a race
        # that failed CI once). DISCONNECT is written from this thread instead.
        client.loop_stop()
        client.disconnect()


class _Pump:
    def __init__(
        self,
        client: mqtt.Client,
        qos: int,
        rate: float | None,
        speed: float | None,
        progress: Callable[[dict], None] | None,
        acked: list[int],
        lock: threading.Lock,
        total: int | None,
        ts_property: bool,
        user_properties: bool = False,
    ) -> None:
        self.client, self.qos, self.rate, self.speed = client, qos, rate, speed
        self.progress, self.acked, self.lock = progress, acked, lock
        self.total, self.ts_property, self.user_properties = total, ts_property, user_properties
        self.infos: list[mqtt.MQTTMessageInfo] = []
        self.failed = 0
        self.wall0 = time.monotonic()
        self.last_report = 0.0

    def stats(self, final: bool = False) -> dict:
        seconds = time.monotonic() - self.wall0
        with self.lock:
            n_acked = self.acked[0]
        n = len(self.infos)
        return {
            "published": n,
            "acked": n_acked,
            "failed": self.failed,
            "total": self.total if self.total is not None else n + self.failed,
            "seconds": round(seconds, 3),
            "rate": round(n / seconds, 1) if seconds > 0 else 0.0,
            "final": final,
        }

    def report(self) -> None:
        now = time.monotonic()
        if self.progress and now - self.last_report >= 0.5:
            self.last_report = now
            self.progress(self.stats())

    def properties(self, ts: float, own: Mapping[str, str] | None) -> Properties | None:
        pairs = [("ts", str(int(round(ts * 1000))))] if self.ts_property else []
        if own and self.user_properties:
            skip = "ts" if self.ts_property else None  # never twice
            pairs += [(str(k), str(v)) for k, v in own.items() if k != skip]
        if not pairs:
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = pairs
        return props

    def run(self, messages: Iterable[Message | PropertiedMessage], drain_timeout_s: float) -> dict:
        client = self.client
        ts0 = None
        for i, message in enumerate(messages):
            ts, topic, payload = message[0], message[1], message[2]
            own = message[3] if len(message) == 4 else None
            if ts0 is None:
                ts0 = ts
                self.wall0 = time.monotonic()
            due = None
            if self.speed:
                due = self.wall0 + (ts - ts0) / self.speed
            elif self.rate:
                due = self.wall0 + i / self.rate
            if due is not None and (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            props = self.properties(ts, own)
            while True:
                info = client.publish(topic, payload, qos=self.qos, properties=props)
                if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                    break
                time.sleep(0.002)  # paho's queue is full: let acks drain it
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self.infos.append(info)  # NO_CONN: queued, sent after paho reconnects
            else:
                self.failed += 1
            self.report()
        deadline = time.monotonic() + drain_timeout_s
        for info in self.infos:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(RuntimeError, ValueError):  # raised for never-queued messages
                info.wait_for_publish(timeout=left)
            self.report()
        unacked = sum(not info.is_published() for info in self.infos)
        out = self.stats(final=True)
        out["acked"] = len(self.infos) - unacked
        out["failed"] = self.failed + unacked
        if self.progress:
            self.progress(out)
        return out
