"""Publish a simulated message stream to an MQTT broker, paced, and wait for every ack.

paho's client queue is unbounded and QoS-1 publishes past 65,535 in flight are dropped,
so the queue is capped and a full queue means "wait and retry", never "lose the fix".
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

Message = tuple[float, str, bytes]
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
    messages: Sequence[Message],
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
) -> dict:
    """Publish `messages` in order; returns {published, acked, failed, seconds, rate}.

    `rate` paces by messages per wall second; `speed` by the messages' own timestamps
    (simulated seconds per wall second); neither means as fast as the broker acks.
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
    client.max_queued_messages_set(QUEUE_LIMIT)
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
        return _pump(client, messages, qos, rate, speed, progress, acked, lock, drain_timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()


def _pump(client, messages, qos, rate, speed, progress, acked, lock, drain_timeout_s) -> dict:
    infos: list[mqtt.MQTTMessageInfo] = []
    failed = 0
    wall0 = time.monotonic()
    ts0 = messages[0][0] if messages else 0.0
    last_report = 0.0

    def stats(final: bool = False) -> dict:
        seconds = time.monotonic() - wall0
        with lock:
            n_acked = acked[0]
        return {
            "published": len(infos),
            "acked": n_acked,
            "failed": failed,
            "total": len(messages),
            "seconds": round(seconds, 3),
            "rate": round(len(infos) / seconds, 1) if seconds > 0 else 0.0,
            "final": final,
        }

    for i, (ts, topic, payload) in enumerate(messages):
        due = None
        if speed:
            due = wall0 + (ts - ts0) / speed
        elif rate:
            due = wall0 + i / rate
        if due is not None and (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        while True:
            info = client.publish(topic, payload, qos=qos)
            if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                break
            time.sleep(0.002)  # paho's queue is full: let acks drain it
        if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            infos.append(info)  # NO_CONN: queued, sent after paho reconnects
        else:
            failed += 1
        now = time.monotonic()
        if progress and now - last_report >= 0.5:
            last_report = now
            progress(stats())
    deadline = time.monotonic() + drain_timeout_s
    for info in infos:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with contextlib.suppress(RuntimeError, ValueError):  # raised for never-queued messages
            info.wait_for_publish(timeout=left)
        if progress and time.monotonic() - last_report >= 0.5:
            last_report = time.monotonic()
            progress(stats())
    unacked = sum(not info.is_published() for info in infos)
    out = stats(final=True)
    out["acked"] = len(infos) - unacked
    out["failed"] = failed + unacked
    if progress:
        progress(out)
    return out
