"""Live counts of what the service did, shared by the CLI progress line and the web console."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

log = logging.getLogger("smartcity_iot.rejects")


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def merge(self, counts: Counter[str] | dict[str, int]) -> None:
        with self._lock:
            self._counts.update(counts)

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def rejected(self) -> dict[str, int]:
        return {
            k.removeprefix("rejected."): v
            for k, v in self.snapshot().items()
            if k.startswith("rejected.")
        }


class RejectLog:
    """Logs the first rejection of each reason at once, then one summary per interval:
    never a flood."""

    def __init__(self, interval_s: float = 30.0) -> None:
        self.interval_s = interval_s
        self._seen: set[str] = set()
        self._pending: Counter[str] = Counter()
        self._last = time.monotonic()

    def rejected(self, reason: str, topic: str, detail: str) -> None:
        if reason not in self._seen:
            self._seen.add(reason)
            log.warning(
                "rejected %s on %s: %s (further %s rejects are summarised)",
                reason,
                topic,
                detail,
                reason,
            )
        else:
            self._pending[reason] += 1
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._pending and (force or now - self._last >= self.interval_s):
            summary = ", ".join(f"{n} {r}" for r, n in sorted(self._pending.items()))
            log.warning("rejected in the last %.0f s: %s", now - self._last, summary)
            self._pending.clear()
            self._last = now
