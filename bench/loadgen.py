"""A lean MQTT 3.1.1 QoS-1 load generator on a raw socket.

Real devices publish from other machines; on a shared 2-core box a paho
publisher (~130 us of CPU per QoS-1 message) would steal the very CPU the
service under test needs. This one pre-encodes PUBLISH packets and reads
PUBACKs in bulk, so the load costs a few microseconds per message. It still
waits for every PUBACK (a bounded in-flight window), so nothing is lost silently.
"""

from __future__ import annotations

import socket
import struct
import threading
import time


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
