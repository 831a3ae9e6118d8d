"""A lean MQTT 3.1.1 QoS-1 load generator on a raw socket.

Real devices publish from other machines; on a shared 2-core box a paho
publisher (~130 us of CPU per QoS-1 message) would steal the very CPU the
service under test needs. This one pre-encodes PUBLISH packets and reads
PUBACKs in bulk, so the load costs a few microseconds per message. It still
waits for every PUBACK (a bounded in-flight window), so nothing is lost silently.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import struct
import threading
import time
from pathlib import Path
from typing import Any


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    body = _string(topic.encode()) + struct.pack("!H", mid) + payload
    return b"\x32" + _remaining_length(len(body)) + body  # PUBLISH, QoS 1


class LoadGenerator:
    def __init__(self, port: int, client_id: str, window: int = 1000) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        var = _string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60)  # v3.1.1, clean session
        body = var + _string(client_id.encode())
        self.sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        ack = self.sock.recv(4)
        if len(ack) < 4 or ack[0] != 0x20 or ack[3] != 0:
            raise RuntimeError(f"broker refused the load generator: {ack!r}")
        self.window = threading.Semaphore(window)
        self.acked = 0
        self.sent = 0
        self._mid = 0
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()

    def _read_acks(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            n = len(buf) // 4  # PUBACK is 4 bytes: 0x40 0x02 mid
            for _ in range(n):
                self.window.release()
            self.acked += n
            buf = buf[n * 4 :]

    def send(self, topic: str, payload: bytes) -> None:
        self.window.acquire()
        self._mid = self._mid % 65535 + 1
        self.sock.sendall(publish_packet(topic, payload, self._mid))
        self.sent += 1

    def drain(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acked >= self.sent

    def close(self) -> None:
        self.drain()
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()


def latency_load(
    port: int,
    rate: float,
    seconds: float,
    home: list[tuple[str, bytes]],
    trigger_tags: list[str],
    inside: tuple[float, float],
    every_s: float = 0.25,
) -> dict[str, float]:
    """Background fixes at `rate`; every `every_s` one tag of `trigger_tags` proves
    its dwell inside a never-allowed zone. Returns tag -> wall time the dwell-proving
    fix was sent. Runs in its own process so it never competes for the service's GIL."""
    import json

    gen = LoadGenerator(port, f"latency-load-{time.time_ns()}")
    sent: dict[str, float] = {}
    begin, now0 = time.perf_counter(), time.time()
    i = trigger = 0
    while time.perf_counter() - begin < seconds:
        elapsed = time.perf_counter() - begin
        due = int(elapsed * rate)
        while i < due and i < len(home):
            gen.send(*home[i])
            i += 1
        if elapsed >= trigger * every_s + 1 and trigger < len(trigger_tags):
            tag = trigger_tags[trigger]
            for dt in (0.0, 2.5):  # enters, then 2.5 s later (fix time) has proved the 2 s dwell
                doc = {
                    "ts": now0 + elapsed + dt,
                    "lat": inside[1],
                    "lon": inside[0],
                    "acc": 3,
                    "seq": 100_000 + int(dt),
                }
                if dt:
                    sent[tag] = time.time()
                gen.send(f"tags/{tag}/fix", json.dumps(doc).encode())
            trigger += 1
        time.sleep(0.0005)
    gen.close()
    sent["_published"] = float(i)
    return sent


def fleet_latency_load(
    port: int,
    rate: float,
    seconds: float,
    fleet: tuple[int, float, int, int],
    trigger_tags: list[str],
    inside: tuple[float, float],
) -> dict[str, float]:
    """`latency_load` with the background fixes made here, from
    bench/tags_pipeline.make_fixes(*fleet), so the service's process never holds them
    (hundreds of thousands of objects its collector would walk)."""
    from bench.tags_pipeline import make_fixes

    return latency_load(port, rate, seconds, make_fixes(*fleet), trigger_tags, inside)


def latency_parts(db, sent: dict[str, float], received: dict[str, float], proving_seq: int) -> dict:
    """Where an alert's time goes, medians and p99 (ms): publish -> the worker got the
    proving fix (fixes.received_at), -> the alert committed (alerts.updated_at of its
    first revision is the batch's clock), -> on alerts/#."""
    got = {
        r[0]: float(r[1])
        for r in db.execute(
            "SELECT tag_id, received_at FROM fixes WHERE seq = ?", (proving_seq,)
        ).fetchall()
        if r[0] in sent
    }
    made = {
        r[0]: float(r[1])
        for r in db.execute(
            "SELECT device_id, MIN(updated_at) FROM alerts WHERE revision = 1 GROUP BY device_id"
        ).fetchall()
        if r[0] in sent
    }
    tags = [t for t in sent if t in got and t in made and t in received]

    def stat(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "p50_ms": round(statistics.median(xs) * 1000, 1),
            "p99_ms": round(xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000, 1),
        }

    if not tags:
        return {}
    if os.environ.get("SCALE_DUMP"):
        rows = [(sent[t], got[t] - sent[t], made[t] - got[t], received[t] - made[t]) for t in tags]
        Path(os.environ["SCALE_DUMP"]).write_text(json.dumps(sorted(rows)))
    return {
        "to_worker": stat([got[t] - sent[t] for t in tags]),
        "worker_to_commit": stat([made[t] - got[t] for t in tags]),
        "commit_to_alerts_topic": stat([received[t] - made[t] for t in tags]),
    }


def listen(port: int, received: dict[str, float]) -> Any:
    """A paho client on alerts/#, filling `received` with {device_id: wall time its
    first open alert arrived}; returned subscribed, its loop running."""
    import paho.mqtt.client as mqtt

    lis = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    ready = threading.Event()

    def on_alert(c: Any, u: object, m: Any) -> None:
        doc = json.loads(m.payload)
        if doc.get("status") == "open":
            received.setdefault(doc["device_id"], time.time())

    lis.on_message = on_alert
    lis.on_subscribe = lambda *a: ready.set()
    lis.on_connect = lambda c, *a: c.subscribe("alerts/#", qos=1)
    lis.connect("127.0.0.1", port)
    lis.loop_start()
    if not ready.wait(10):
        raise RuntimeError("alert listener did not subscribe")
    return lis


def listen_alerts(port: int, ready, expect, out, wait_s: float = 30.0) -> None:
    """An operator's screen in its own process: subscribes to alerts/#, puts "ready" on
    `ready` once subscribed, takes the list of tags whose alerts to wait for from
    `expect`, and puts {device_id: wall time its open alert arrived} on `out` once all
    have come or `wait_s` has passed. In the service's process its paho thread would
    take the service's interpreter lock."""
    received: dict[str, float] = {}
    lis = listen(port, received)
    ready.put("ready")
    want = set(expect.get())
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not want <= received.keys():
        time.sleep(0.05)
    lis.loop_stop()
    lis.disconnect()
    out.put(dict(received))
