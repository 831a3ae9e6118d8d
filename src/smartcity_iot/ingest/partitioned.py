"""Tag fixes from a RabbitMQ cluster's partition queues, for one of N workers
(docs/scale.md); ingest/ alone touches pika.

Devices keep publishing MQTT 3.1.1 to any node. The MQTT plugin puts each message on
`amq.topic`, a consistent-hash exchange spreads them over `engine_partitions` quorum
queues by topic (so by tag), and each queue has a single active consumer: one
worker at a time, in order. Around that:

* which worker consumes which partition: every worker announces itself on a fanout
  exchange every `lease_ttl_s / 4`; the live workers (heard within `lease_ttl_s`)
  split the partitions by rendezvous hashing, which every worker computes alike;
* a worker that loses a partition lowers its window to one and stops acking (so
  nothing more comes), commits what it was given, then closes the channel: the
  unacknowledged come back in one go, first in line, as doubles the next worker's
  filter drops. A worker that dies closes nothing: the broker takes its
  unacknowledged messages back when the connection drops, and the others take its
  partitions once it has not been heard for `lease_ttl_s`;
* a worker subscribes to a partition only once its queue has no consumer left, so
  the previous consumer's unacknowledged messages are back, first in line;
  single active consumer is the safety net should two workers ever disagree;
* acknowledgements after the commit, as on the MQTT session; a message redelivered
  after a crash is dropped by the tag path's duplicate filter.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions

from ..config import Settings, parse_engine_url
from ..model import Inbound
from .workers import BatchWorker

log = logging.getLogger("smartcity_iot.engine")

# Names of the topology every worker declares (idempotently) at connect.
HASH_EXCHANGE = "smartcity.ingest"
PRESENCE_EXCHANGE = "smartcity.workers"
TAG_ROUTING_KEYS = ("tags.*.fix", "owntracks.*.*")  # MQTT topics, "/" -> "."
# the MQTT plugin swaps "/" and "." between a topic and its routing key; swap them back
_KEY_TO_TOPIC = str.maketrans("./", "/.")
# pika logs every lost connection at ERROR with a stack; the source logs it once, briefly
logging.getLogger("pika").setLevel(logging.CRITICAL)


def partition_queue(p: int) -> str:
    return f"smartcity.ingest.{p}"


def owner(partition: int, workers: list[str]) -> str:
    """Rendezvous hashing: the worker with the highest score owns the partition. When a
    worker comes or goes, only the partitions it gains or held move."""
    return max(workers, key=lambda w: hashlib.blake2b(f"{partition}/{w}".encode()).digest())


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Members:
    """Who is alive, from the announcements: a worker heard within `ttl` seconds."""

    me: str
    ttl: float
    heard: dict[str, float] = field(default_factory=dict)

    def announce(self, worker: str, leaving: bool, now: float) -> None:
        if leaving:
            self.heard.pop(worker, None)
        else:
            self.heard[worker] = now

    def live(self, now: float) -> list[str]:
        return sorted({w for w, t in self.heard.items() if now - t <= self.ttl} | {self.me})


@dataclass
class Subscription:
    """One owned partition on its own channel. `revoked` once we are giving it up:
    its window is down to one and acks stop, so nothing more comes; what it was given
    is still processed and committed, then the channel closes."""

    partition: int
    channel: Any
    revoked: bool = False
    settled: bool = False  # revoked, and every delivery sent before that dispatched
    delivered: int = 0  # last delivery tag handed to the batch worker
    committed: int = 0  # last delivery tag whose batch committed


class PartitionedSource:
    """The engine's counterpart of MqttSession: messages of the partitions this worker
    owns go to the same BatchWorker, acked after the handler returned."""

    def __init__(
        self,
        settings: Settings,
        handler: Callable[[list[Inbound]], None],
        on_idle: Callable[[], None] = lambda: None,
        idle_every_s: float = 5.0,
    ) -> None:
        assert settings.engine_url
        self.settings = settings
        self.target = parse_engine_url(settings.engine_url)
        self.me = settings.worker_id or default_worker_id()
        self.members = Members(self.me, settings.lease_ttl_s)
        self.heartbeat_s = settings.lease_ttl_s / 4
        self.handler = handler
        self._stop = threading.Event()  # the batch worker's: set last, after the hand-over
        self._leaving = threading.Event()
        self.batches = BatchWorker(
            settings, self._handle, self._ack, self._stop, on_idle, idle_every_s
        )
        self.connected = threading.Event()
        self._subs: dict[int, Subscription] = {}  # subscription id -> subscription
        self._next_sub = 0
        self._guard = threading.Lock()  # _subs' revoked flags and _in_batch
        self._in_batch: set[int] = set()  # subscriptions with messages in the running batch
        # acks handed to the engine thread, not yet sent: a channel closes only after them
        self._acks_queued: Counter[int] = Counter()
        self._conn: Any = None
        self._control: Any = None  # the connection's channel for topology and announcements
        self._last_claim = 0.0
        self._threads: list[threading.Thread] = []
        self.handovers = 0  # partitions given up (counted for the tests and the log)

    # -- the two threads ----------------------------------------------------------

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run_engine, name="engine", daemon=True),
            threading.Thread(target=self.batches.run, name="ingest-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Leave cleanly: tell the others, finish the running batch, hand every
        partition over, then stop the batch worker."""
        self._leaving.set()
        self._threads[0].join(timeout=timeout)
        self._stop.set()
        self._threads[1].join(timeout=10)

    @property
    def partitions(self) -> set[int]:
        """The partitions this worker consumes now (not those being handed over)."""
        with self._guard:
            return {s.partition for s in self._subs.values() if not s.revoked}

    def _run_engine(self) -> None:
        attempt = 0
        while not self._leaving.is_set():
            try:
                self._session(attempt)
                return
            except Exception as exc:  # never let the engine thread die: the worker would idle
                self.connected.clear()
                with self._guard:
                    self._subs.clear()  # the broker returned their unacknowledged messages
                    self._acks_queued.clear()
                if isinstance(exc, pika.exceptions.AMQPError | OSError):
                    log.warning("engine connection lost (%r); reconnecting", exc)
                else:
                    log.exception("engine session failed; reconnecting")
                attempt += 1
                self._leaving.wait(min(1.0 * attempt, 5.0))

    def _connect(self, attempt: int) -> tuple[Any, tuple[str, int]]:
        """The cluster's nodes in turn, from a different one on each attempt."""
        t = self.target
        creds = pika.PlainCredentials(t.username, t.password)
        start = attempt % len(t.hosts)
        error: Exception | None = None
        for host, port in t.hosts[start:] + t.hosts[:start]:
            params = pika.ConnectionParameters(
                host,
                port,
                t.vhost,
                creds,
                heartbeat=10,
                connection_attempts=1,
                socket_timeout=3,
                blocked_connection_timeout=30,
            )
            try:
                return pika.BlockingConnection(params), (host, port)
            except pika.exceptions.AMQPConnectionError as exc:
                error = exc
        raise pika.exceptions.AMQPConnectionError(f"no node of {t.hosts} answered ({error!r})")

    def _session(self, attempt: int) -> None:
        conn, node = self._connect(attempt)
        self._conn = conn
        try:
            control = self._control = conn.channel()
            self._declare(control)
            presence = control.queue_declare("", exclusive=True, auto_delete=True).method.queue
            control.queue_bind(presence, PRESENCE_EXCHANGE)
            control.basic_consume(presence, self._on_presence, auto_ack=True)
            self._announce(control)
            joined = last_beat = time.monotonic()
            self.connected.set()
            log.info("worker %s joined the engine at %s:%d", self.me, *node)
            while not self._leaving.is_set():
                conn.process_data_events(time_limit=0.1)
                self._settle()
                now = time.monotonic()
                if now - last_beat >= self.heartbeat_s:
                    self._announce(control)
                    last_beat = now
                # listen one round of announcements before claiming anything
                if now - joined >= 2.5 * self.heartbeat_s:
                    self._rebalance(conn, now)
                self._close_handed_over()
            self._leave(conn, control)
        finally:
            self.connected.clear()
            if conn.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError):
                    conn.close()

    # -- topology and membership ---------------------------------------------------

    def _declare(self, ch: Any) -> None:
        ch.exchange_declare(HASH_EXCHANGE, "x-consistent-hash", durable=True)
        for key in TAG_ROUTING_KEYS:
            ch.exchange_bind(HASH_EXCHANGE, "amq.topic", routing_key=key)
        ch.exchange_declare(PRESENCE_EXCHANGE, "fanout", durable=True)
        for p in range(self.settings.engine_partitions):
            ch.queue_declare(
                partition_queue(p),
                durable=True,
                arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
            )
            ch.queue_bind(partition_queue(p), HASH_EXCHANGE, routing_key="1")  # weight 1

    def _announce(self, ch: Any, leaving: bool = False) -> None:
        body = json.dumps({"worker": self.me, "leaving": leaving}).encode()
        ch.basic_publish(PRESENCE_EXCHANGE, "", body)

    def _on_presence(self, ch: Any, method: Any, props: Any, body: bytes) -> None:
        try:
            doc = json.loads(body)
            self.members.announce(str(doc["worker"]), bool(doc.get("leaving")), time.monotonic())
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a bad worker announcement: %r", body[:200])

    def _rebalance(self, conn: Any, now: float) -> None:
        live = self.members.live(now)
        wanted = {p for p in range(self.settings.engine_partitions) if owner(p, live) == self.me}
        with self._guard:
            held = {s.partition: sid for sid, s in self._subs.items()}
            giving = [
                self._subs[sid]
                for p, sid in held.items()
                if p not in wanted and not self._subs[sid].revoked
            ]
        for sub in giving:
            log.info("handing partition %d over (%d workers live)", sub.partition, len(live))
            self._revoke(sub)
        if now - self._last_claim < self.heartbeat_s / 2:
            return
        self._last_claim = now
        for p in sorted(wanted - held.keys()):
            # Only a queue with no consumer at all: a standby would be activated by the
            # broker while the previous consumer's unacknowledged messages are still on
            # their way back, and would receive newer fixes first (RabbitMQ 3.10 quorum
            # queues; docs/scale.md). Once the previous consumer is gone, they come first.
            free = self._control.queue_declare(partition_queue(p), passive=True)
            if free.method.consumer_count == 0:
                self._subscribe(conn, p)

    def _subscribe(self, conn: Any, p: int) -> None:
        ch = conn.channel()
        ch.basic_qos(prefetch_count=self.settings.batch_max)
        sid, self._next_sub = self._next_sub, self._next_sub + 1
        sub = Subscription(p, ch)
        with self._guard:
            self._subs[sid] = sub

        def deliver(ch: Any, method: Any, props: Any, body: bytes) -> None:
            topic = method.routing_key.translate(_KEY_TO_TOPIC)
            sub.delivered = method.delivery_tag
            self.batches.inbox.put(Inbound(topic, body, time.time(), (sid, method.delivery_tag)))

        ch.basic_consume(partition_queue(p), deliver)
        log.info("worker %s consuming partition %d", self.me, p)

    def _revoke(self, sub: Subscription) -> None:
        """Stop the inflow without letting go: with a window of one and no more acks,
        the broker sends nothing further, and we stay the queue's consumer until we
        close. Not a cancel: pika requeues what is on its way after a cancel, and
        RabbitMQ 3.10 puts requeued messages behind newer ones
        (bench/engines/qq_handover.py)."""
        sub.revoked = True
        if sub.channel.is_open:
            sub.channel.basic_qos(prefetch_count=1)  # deliveries sent before it arrive first

    def _close_handed_over(self) -> None:
        """A revoked partition whose every delivery is committed: closing returns the
        unacknowledged ones in one go, first in line for the next worker (they are
        doubles there, dropped by the tag path's filter); then the newer ones."""
        with self._guard:
            done = [
                sid
                for sid, s in self._subs.items()
                if s.settled
                and s.committed >= s.delivered
                and sid not in self._in_batch
                and not self._acks_queued[sid]
            ]
            closing = [self._subs.pop(sid) for sid in done]
        for sub in closing:
            if sub.channel.is_open:
                sub.channel.close()
            self.handovers += 1

    def _settle(self) -> None:
        """Called after a dispatch pass: deliveries that came before a revoke's
        qos-ok are now in the inbox, so `delivered` is final."""
        with self._guard:
            for sub in self._subs.values():
                if sub.revoked:
                    sub.settled = True

    def _leave(self, conn: Any, control: Any) -> None:
        self._announce(control, leaving=True)
        with self._guard:
            subs = list(self._subs.values())
        for sub in subs:
            self._revoke(sub)
        deadline = time.monotonic() + 10  # a store that stays down: close, they come back
        while self._subs and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
            self._settle()
            self._close_handed_over()
        log.info("worker %s left the engine", self.me)

    # -- the batch worker's side -----------------------------------------------------

    def _handle(self, batch: list[Inbound]) -> None:
        """Messages of the subscriptions this connection holds (a partition being
        handed over included: what it was given is ours to finish); those of a lost
        connection went back to the broker and come again."""
        with self._guard:
            kept = [m for m in batch if m.token[0] in self._subs]
            self._in_batch = {m.token[0] for m in kept}
        if kept:
            self.handler(kept)

    def _ack(self, batch: list[Inbound]) -> None:
        """After the commit: per partition, the batch's last delivery acknowledges it and
        every earlier one (they were all in this batch or an earlier, committed one)."""
        with self._guard:
            handled, self._in_batch = self._in_batch, set()
            last: dict[int, int] = {}
            for m in batch:
                sid, tag = m.token
                if sid in handled and sid in self._subs:
                    last[sid] = max(last.get(sid, 0), tag)
            acks = [(sid, self._subs[sid].channel, tag) for sid, tag in last.items()]
            subs = {sid: self._subs[sid] for sid in last}
            self._acks_queued.update(sid for sid, _, _ in acks)
        conn = self._conn
        if conn is None or not acks:
            return

        def send() -> None:
            for sid, ch, tag in acks:
                try:
                    sub = subs[sid]
                    sub.committed = max(sub.committed, tag)
                    # a revoked partition's acks would open its window again: the
                    # close returns them instead, and the next worker drops them
                    if ch.is_open and not sub.revoked:  # closed: they went back
                        ch.basic_ack(delivery_tag=tag, multiple=True)
                except pika.exceptions.AMQPError:
                    log.warning("acknowledging partition messages failed; they come again")
                finally:
                    with self._guard:
                        self._acks_queued[sid] -= 1

        # connection gone: the broker redelivers, the filter drops the doubles
        with contextlib.suppress(pika.exceptions.AMQPError):
            conn.add_callback_threadsafe(send)
