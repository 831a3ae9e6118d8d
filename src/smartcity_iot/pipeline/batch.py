"""What every device path shares: one unit of work committed as one transaction,
counted rejections, alerts emitted through the sinks, counters merged and the
alert publisher woken only after the commit; and `isolate`, which keeps a message
that trips a bug from costing more than itself."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..counters import Counters, RejectLog
from ..model import Alert, Inbound, Rejected
from ..store import database, deadletters
from ..store.database import Connection, transaction
from ..store.sinks import Sinks
from .alerting import AlertMaker

log = logging.getLogger("smartcity_iot.pipeline")

# The store failing (disk full, locked, I/O, corrupt, the server gone): the caller keeps
# the batch and retries. Other database errors (a constraint, a value the engine cannot
# hold) are bugs a message tripped, isolated like any other.
store_failed = database.store_failed


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
        conn: Connection,
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
            self.reject_alone(msg, rej)
        except Exception as exc:  # a bug this message tripped: it alone pays, counted
            if store_failed(exc):
                raise  # the store, not the message: the caller decides (retry, count a failure)
            log.exception("%s failed", msg.topic)
            self.reject_alone(msg, Rejected("internal_error", repr(exc)))

    def reject_alone(self, msg: Inbound, rej: Rejected) -> None:
        """`reject`, in a transaction of its own."""
        rejected = Work()
        with self.commit(rejected):
            self.reject(rejected, msg, rej)

    def reject(self, work: Work, msg: Inbound, rej: Rejected) -> None:
        """Bad input: counted under its reason and dead-lettered; the path goes on."""
        work.counts["rejected." + rej.reason] += 1
        deadletters.add(self.conn, msg.received_at, msg.topic, rej.reason, rej.detail, msg.payload)
        self.reject_log.rejected(rej.reason, msg.topic, rej.detail)

    def count_rejects(self, reason: str, n: int) -> None:
        """Input dropped without a payload worth keeping (frames skipped under
        overload): counted where rejects are, in a transaction of its own."""
        work = Work()
        work.counts["rejected." + reason] += n
        with self.commit(work):
            pass

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


class Culprit(Exception):
    """A bug a stage could pin on one message (`blame`): `isolate` drops that message
    and runs the batch once more, without searching for it."""

    def __init__(self, msg: Inbound, error: Exception) -> None:
        super().__init__(f"{msg.topic}: {error!r}")
        self.msg = msg
        self.error = error


class blame:  # noqa: N801 - used as `with blame(msg):`, like a function
    """Inside a stage's per-message loop: a bug raised here is this message's. A class,
    not a @contextmanager: it runs for every fix of every stage, and a generator-based
    manager costs about three times as much per use (profiled in bench/live.py)."""

    __slots__ = ("msg",)

    def __init__(self, msg: Inbound) -> None:
        self.msg = msg

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        # Rejections, culprits already named, store failures and non-Exceptions pass on
        if exc is None or isinstance(exc, Rejected | Culprit) or not isinstance(exc, Exception):
            return
        if store_failed(exc):
            return
        raise Culprit(self.msg, exc) from exc


def isolate(
    process: Callable[[list[Inbound]], None],
    batch: list[Inbound],
    culprit: Callable[[Inbound, Exception], None],
    parts: int = 8,
) -> None:
    """`process(batch)`; when a bug (not a store failure, which propagates so the
    batch stays unacknowledged) fails it, the message that tripped it goes to
    `culprit` and the rest commit. A stage that knows the message (`blame`) costs
    the batch one more run; otherwise the batch is run again in `parts` pieces, the
    failing pieces likewise, down to the message: about two runs and some 25
    transactions for a batch of 1,000, never one transaction per message."""
    try:
        process(batch)
        return
    except Culprit as found:
        rest = [m for m in batch if m is not found.msg]
        if len(rest) < len(batch):
            culprit(found.msg, found.error)
            if rest:
                isolate(process, rest, culprit, parts)
            return
        exc: Exception = found  # blamed on a message of no batch: search as for any bug
        if len(batch) == 1:
            culprit(batch[0], exc)
            return
    except Exception as exc:
        if store_failed(exc):
            raise
        if len(batch) == 1:
            culprit(batch[0], exc)
            return
        log.warning("a batch of %d failed (%r); running it in parts", len(batch), exc)
    size = -(-len(batch) // parts)
    for i in range(0, len(batch), size):
        isolate(process, batch[i : i + size], culprit, parts)
