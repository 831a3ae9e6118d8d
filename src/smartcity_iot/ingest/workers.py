"""The session's two consumers: tag messages in batches (handler, then ack, never
before the handler returned) and camera frames one at a time on their own bounded
queue (a frame is a sample: skipped under overload, counted)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings
from ..model import Inbound

log = logging.getLogger("smartcity_iot.mqtt")

Ack = Callable[[list[Inbound]], None]
UserProperties = list[tuple[str, str]]


@dataclass
class FrameRoute:
    """How camera frames are handled: `handler(inbound, user_properties)`. A skipped
    frame is counted at once by `on_skip` (network thread), and later, from the vision
    worker's thread (which owns its database connection), by `record_skipped(n)`,
    where rejects are counted."""

    handler: Callable[[Inbound, list[tuple[str, str]]], None]
    queue_max: int = 8
    on_skip: Callable[[], None] = lambda: None
    on_failure: Callable[[], None] = lambda: None
    record_skipped: Callable[[int], None] = lambda n: None


class BatchWorker:
    """Tag messages in batches of up to `batch_max`, waiting `batch_wait_ms` to fill."""

    def __init__(
        self,
        settings: Settings,
        handler: Callable[[list[Inbound]], None],
        ack: Ack,
        stop: threading.Event,
        on_idle: Callable[[], None] = lambda: None,
        idle_every_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.ack = ack
        self.stop = stop
        self.on_idle = on_idle
        self.idle_every_s = idle_every_s
        self.inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()

    def run(self) -> None:
        last_idle = time.monotonic()
        while not self.stop.is_set():
            batch = self._next_batch()
            if batch:
                self._handle(batch)
            if time.monotonic() - last_idle >= self.idle_every_s:
                last_idle = time.monotonic()
                try:
                    self.on_idle()
                except Exception:
                    log.exception("periodic task failed")

    def _next_batch(self) -> list[Inbound]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_wait_ms / 1000
        while len(batch) < self.settings.batch_max:
            try:
                remaining = deadline - time.monotonic()
                batch.append(
                    self.inbox.get_nowait() if remaining <= 0 else self.inbox.get(timeout=remaining)
                )
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[Inbound]) -> None:
        delay = 0.5
        while not self.stop.is_set():
            try:
                self.handler(batch)
                break
            except Exception as exc:  # disk full, database locked...: keep the batch, ack nothing
                log.error(
                    "store failed (%r); retrying the batch in %.1f s without acknowledging",
                    exc,
                    delay,
                )
                self.stop.wait(delay)
                delay = min(delay * 2, 30)
        else:
            return
        self.ack(batch)


class FrameWorker:
    """Camera frames on their own bounded queue, so tag fixes never wait behind vision."""

    def __init__(self, route: FrameRoute, ack: Ack, stop: threading.Event) -> None:
        self.route = route
        self.ack = ack
        self.stop = stop
        self.queue: queue.Queue[tuple[Inbound, UserProperties]] = queue.Queue(route.queue_max)
        self._skipped = 0  # skipped, not yet recorded
        self._skipped_lock = threading.Lock()

    def offer(self, inbound: Inbound, props: UserProperties) -> bool:
        """Queue a frame; False (and counted as skipped) when the queue is full."""
        try:
            self.queue.put_nowait((inbound, props))
            return True
        except queue.Full:
            with self._skipped_lock:
                self._skipped += 1
            self.route.on_skip()
            return False

    def _record_skipped(self) -> None:
        with self._skipped_lock:
            n, self._skipped = self._skipped, 0
        if not n:
            return
        try:
            self.route.record_skipped(n)
        except Exception:  # the store is failing: keep the count for the next try
            log.exception("recording %d skipped frames failed", n)
            with self._skipped_lock:
                self._skipped += n

    def run(self) -> None:
        while not self.stop.is_set():
            self._record_skipped()
            try:
                inbound, props = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.route.handler(inbound, props)
            except Exception:  # a frame is a sample: log, count, go on
                log.exception("frame from %s failed", inbound.topic)
                self.route.on_failure()
            self.ack([inbound])
