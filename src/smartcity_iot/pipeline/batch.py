"""What every device path shares: one unit of work committed as one transaction,
counted rejections, alerts emitted through the sinks, counters merged and the
alert publisher woken only after the commit."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..counters import Counters, RejectLog
from ..model import Alert, Inbound, Rejected
from ..store import deadletters
from ..store.sinks import Sinks
from ..store.sqlite import transaction
from .alerting import AlertMaker


@dataclass(slots=True)
class Work:
    """The effects of one batch (or frame) so far; they commit together."""

    now: float = field(default_factory=time.time)
    counts: Counter[str] = field(default_factory=Counter)
    alerts: list[Alert] = field(default_factory=list)


class PathRunner:
    """The scaffolding of a path: its connection, sinks and alert maker, and `commit`."""

    def __init__(
        self,
        settings: Settings,
        conn: sqlite3.Connection,
        counters: Counters | None = None,
        on_commit: Callable[[], None] = lambda: None,
        sinks: Sinks | None = None,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.sinks = sinks or Sinks(conn)
        self.counters = counters or Counters()
        self.on_commit = on_commit
        self.alerts = AlertMaker(conn)
        self.reject_log = RejectLog()

    @contextlib.contextmanager
    def commit(self, work: Work, on_rollback: Callable[[], None] = lambda: None) -> Iterator[Work]:
        """Everything done inside commits as one transaction, or nothing does (then
        `on_rollback` drops memory that ran ahead of the database)."""
        try:
            with transaction(self.conn):
                yield work
                self._store_reject_counts(work)
        except BaseException:
            on_rollback()
            raise
        self.counters.merge(work.counts)
        if work.alerts:
            self.on_commit()

    def run(self, stages: Sequence[Callable[[Any, Any], None]], work: Any, msg: Inbound) -> None:
        """One message (a frame) through a path's `stages` in order, until one marks the
        work `done`; bad input is rejected and counted in its own transaction."""
        try:
            for stage in stages:
                stage(self, work)
                if work.done:
                    return
        except Rejected as rej:
            rejected = Work()
            with self.commit(rejected):
                self.reject(rejected, msg, rej)

    def reject(self, work: Work, msg: Inbound, rej: Rejected) -> None:
        """Bad input: counted under its reason and dead-lettered; the path goes on."""
        work.counts["rejected." + rej.reason] += 1
        deadletters.add(self.conn, msg.received_at, msg.topic, rej.reason, rej.detail, msg.payload)
        self.reject_log.rejected(rej.reason, msg.topic, rej.detail)

    def emit(self, work: Work, alert: Alert | None) -> None:
        """An alert opened or changed: stored, queued for alerts/{kind}, counted once committed."""
        if alert is None:
            return
        self.sinks.alert(alert)
        work.alerts.append(alert)

    def _store_reject_counts(self, work: Work) -> None:
        counts = {
            k.removeprefix("rejected."): v
            for k, v in work.counts.items()
            if k.startswith("rejected.")
        }
        if counts:
            deadletters.bump_counts(self.conn, counts)
            deadletters.trim(self.conn, self.settings.dead_letter_max)
