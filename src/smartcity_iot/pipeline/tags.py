"""The tag path's orchestrator: one batch of MQTT messages through the stages of
pipeline/paths.py as one transaction, and the wall-clock sweep (tags gone quiet,
track retention).

A batch commits its fixes, incident state, alerts and their outbox rows together,
and only then are the messages acknowledged to the broker (ingest/mqtt.py). A crash
before the commit loses nothing (the broker redelivers); a crash after it
redelivers duplicates, which the filter stage drops."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..config import Settings
from ..counters import Counters
from ..geo.zones import Zone
from ..model import Inbound, Rejected
from ..rules.health import is_offline
from ..store import tracks
from ..store.database import Connection, lock
from ..store.sinks import Sinks
from .batch import isolate
from .paths import TAG_PATH
from .tag_stages import TagBatch, TagContext, persist

log = logging.getLogger("smartcity_iot.pipeline")

PRUNE_EVERY_S = 600


class TagPipeline(TagContext):
    def __init__(
        self,
        settings: Settings,
        conn: Connection,
        zones: list[Zone],
        counters: Counters | None = None,
        on_commit: Callable[[], None] = lambda: None,
        sinks: Sinks | None = None,
        shared_state: bool = False,
    ) -> None:
        super().__init__(
            settings, conn, counters, on_commit, sinks, zones=zones, shared_state=shared_state
        )
        self._last_prune = 0.0

    @classmethod
    def serving(
        cls,
        settings: Settings,
        conn: Connection,
        zones: list[Zone],
        counters: Counters,
        on_commit: Callable[[], None],
    ) -> TagPipeline:
        """The pipeline `serve` runs, in its own process or a child (pipeline/process.py):
        points spooled for InfluxDB in each batch's transaction when it is configured, and
        state shared with the other workers when this is one of N."""
        return cls(
            settings,
            conn,
            zones,
            counters,
            on_commit=on_commit,
            sinks=Sinks(conn, influx_spool=bool(settings.influx_url)),
            shared_state=bool(settings.engine_url),
        )

    def process(self, batch: list[Inbound]) -> None:
        """Run one batch through every stage of the tag path as one transaction."""
        work = TagBatch(messages=batch)
        with self.commit(work, on_rollback=self.states.clear):
            if self.shared_state:
                # Another worker's sweep may write these tags' state meanwhile: hold each
                # tag (PostgreSQL; SQLite's one writer needs nothing) before reading it.
                lock(self.conn, *{f"tag:{_tag_of(m.topic)}" for m in batch})
            for stage in TAG_PATH:
                stage(self, work)

    def process_isolating(self, batch: list[Inbound]) -> None:
        """`process`, but a bug triggered by one message costs only that message,
        dead-lettered as internal_error (pipeline/batch.py `isolate`). Store failures
        (disk full, locked) propagate, so the ingest layer keeps the batch unacknowledged."""
        isolate(self.process, batch, self._internal_error)

    def _internal_error(self, msg: Inbound, exc: Exception) -> None:
        log.error("%s failed alone: %r", msg.topic, exc, exc_info=exc)
        self.reject_alone(msg, Rejected("internal_error", repr(exc)))

    def sweep(self, now: float | None = None) -> None:
        """Wall-clock duties: tags that stopped reporting, and track retention."""
        work = TagBatch(now=time.time() if now is None else now)
        after = self.settings.offline_after_s
        silent = tracks.silent_since(self.conn, work.now - after)
        with self.commit(work, on_rollback=self.states.clear):
            if self.shared_state:  # the tags' owners may be handling a fix of theirs now
                lock(self.conn, *(f"tag:{tag_id}" for tag_id in silent))
            self.prepare(set(silent))
            for tag_id in silent:
                state = self.state(tag_id)
                if tag_id not in self.active or state.last_seen is None:
                    continue
                if state.offline_since is None and is_offline(state.last_seen, work.now, after):
                    state.offline_since = state.last_seen
                    where = (state.lat, state.lon)
                    alert = self.alerts.health_opened(
                        "tag_offline", tag_id, state.last_seen, where, self.party(tag_id), work.now
                    )
                    self.emit(work, alert)
                    work.changed[tag_id] = state
            if work.now - self._last_prune >= PRUNE_EVERY_S:  # a full scan: not on every sweep
                tracks.prune(self.conn, work.now - self.settings.track_retention_days * 86400)
                self._last_prune = work.now
            persist(self, work)
        self.reject_log.flush()


def _tag_of(topic: str) -> str:
    """The tag a topic names (tags/{id}/fix, owntracks/{user}/{id}); a bad topic names
    something harmless to lock, and is rejected by the decoder."""
    levels = topic.split("/")
    return (
        levels[2]
        if levels[0] == "owntracks" and len(levels) > 2
        else levels[min(1, len(levels) - 1)]
    )
