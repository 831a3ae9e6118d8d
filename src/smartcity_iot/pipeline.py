"""The tag pipeline, in the order a fix travels:

    decode -> filter -> evaluate -> incident -> alert -> sinks

One batch of MQTT messages is one database transaction: fixes, incident state,
alerts and their outbox rows commit together, and only then are the messages
acknowledged to the broker (see ingest/mqtt.py). A crash before the commit
loses nothing (the broker redelivers); a crash after it redelivers duplicates,
which the filter stage drops."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import Settings
from .counters import Counters, RejectLog
from .geo.index import IN, OUT, ZoneIndex
from .geo.zones import Zone
from .ingest.codec import decode_fix
from .model import Alert, Fix, Inbound, Rejected
from .rules.dog import IncidentEvent, IncidentOpened, Observation, ZoneTrack, step
from .rules.escalation import escalation_step
from .rules.health import battery_change, is_offline
from .store import alerts as alert_store
from .store import deadletters, registry, tracks
from .store.sinks import Sinks
from .store.tracks import TagState

log = logging.getLogger("smartcity_iot.pipeline")

TRACK_EVIDENCE_MARGIN_S = 300
PRUNE_EVERY_S = 600
_OBSERVATION: dict[int, Observation] = {IN: "in", OUT: "out"}


@dataclass(slots=True)
class _Batch:
    now: float
    counts: Counter[str] = field(default_factory=Counter)
    changed: dict[str, TagState] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)


class TagPipeline:
    def __init__(
        self,
        settings: Settings,
        conn: sqlite3.Connection,
        zones: list[Zone],
        counters: Counters | None = None,
        on_commit: Callable[[], None] = lambda: None,
        sinks: Sinks | None = None,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.sinks = sinks or Sinks(conn)
        self.dog_zones = [z for z in zones if z.rule == "dogs"]
        self.index = ZoneIndex(self.dog_zones)
        self.zone_pos = {z.id: i for i, z in enumerate(self.dog_zones)}
        self.counters = counters or Counters()
        self.on_commit = on_commit
        self.reject_log = RejectLog()
        self.states: dict[str, TagState] = {}
        self._registry_version = -1
        self._last_prune = 0.0
        self._active: dict[str, registry.ActiveTag] = {}

    # -- the stages, in order -------------------------------------------------

    def process(self, batch: list[Inbound]) -> None:
        """Run one batch through every stage as one transaction."""
        work = _Batch(now=time.time())
        self._refresh_registry()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            fixes = self._decode(batch, work)
            fixes = self._filter(fixes, work)
            membership = self._evaluate(fixes)
            for i, (msg, fix) in enumerate(fixes):
                self._incidents(fix, membership.get(i, {}), work)
                self._health(fix, msg.received_at, work)
            self._sinks(work)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.states.clear()  # memory may be ahead of the rolled-back database
            raise
        self.counters.merge(work.counts)
        self.on_commit()

    def process_isolating(self, batch: list[Inbound]) -> None:
        """`process`, but a bug triggered by one message costs only that message:
        the batch is retried one by one and the culprit dead-lettered as internal_error.
        Database errors propagate, so the ingest layer keeps the batch unacknowledged."""
        try:
            self.process(batch)
            return
        except sqlite3.Error:
            raise
        except Exception:
            log.exception("batch failed; retrying its %d messages one by one", len(batch))
        for msg in batch:
            try:
                self.process([msg])
            except sqlite3.Error:
                raise
            except Exception as exc:
                work = _Batch(now=time.time())
                self.conn.execute("BEGIN IMMEDIATE")
                self._reject(msg, Rejected("internal_error", repr(exc)), work)
                deadletters.bump_counts(self.conn, {"internal_error": 1})
                self.conn.execute("COMMIT")
                self.counters.merge(work.counts)

    def _decode(self, batch: list[Inbound], work: _Batch) -> list[tuple[Inbound, Fix]]:
        out = []
        s = self.settings
        for msg in batch:
            try:
                fix = decode_fix(
                    msg.topic, msg.payload, work.now, s.max_payload_bytes, s.future_tolerance_s
                )
            except Rejected as rej:
                self._reject(msg, rej, work)
                continue
            if fix is None:
                work.counts["ignored"] += 1  # well-formed, not a fix (OwnTracks non-location)
                continue
            out.append((msg, fix))
        return out

    def _filter(self, fixes: list[tuple[Inbound, Fix]], work: _Batch) -> list[tuple[Inbound, Fix]]:
        """Registered active tags only; duplicates dropped; late fixes kept in the
        track but never allowed to drive zone state or the latest position."""
        in_order, rows = [], []
        # A batch is a small reorder window: each tag's fixes are judged in capture order.
        for msg, fix in sorted(fixes, key=lambda mf: (mf[1].tag_id, mf[1].ts)):
            if fix.tag_id not in self._active:
                status = registry.tag_status(self.conn, fix.tag_id)
                reason = "unknown_device" if status is None else "inactive_device"
                self._reject(
                    msg, Rejected(reason, f"tag {fix.tag_id} is {status or 'not registered'}"), work
                )
                continue
            state = self._state(fix.tag_id)
            late = state.last_ts is not None and fix.ts <= state.last_ts
            if tracks.seq_seen(state, fix) or (
                late and not self.sinks.late_fix(fix, msg.received_at)
            ):
                work.counts["duplicate"] += 1
                continue
            tracks.remember_seq(state, fix)
            state.last_seen = max(state.last_seen or 0.0, msg.received_at)
            work.changed[fix.tag_id] = state
            if late:
                work.counts["late"] += 1
                continue
            rows.append((fix, msg.received_at, False))
            state.last_ts = fix.ts
            work.counts["accepted"] += 1
            in_order.append((msg, fix))
        self.sinks.fixes(rows)
        return in_order

    def _evaluate(self, fixes: list[tuple[Inbound, Fix]]) -> dict[int, dict[int, int]]:
        """Zone membership of every fix at once (vectorised): fix -> {zone: IN|HOLD}."""
        if not fixes:
            return {}
        s = self.settings
        lon = np.fromiter((f.lon for _, f in fixes), float, len(fixes))
        lat = np.fromiter((f.lat for _, f in fixes), float, len(fixes))
        acc = np.fromiter(
            (s.default_accuracy_m if f.acc is None else f.acc for _, f in fixes), float, len(fixes)
        )
        m = self.index.classify(lon, lat, acc + s.hysteresis_m)
        out: dict[int, dict[int, int]] = {}
        for fi, zi, st in zip(m.fix.tolist(), m.zone.tolist(), m.state.tolist(), strict=True):
            out.setdefault(fi, {})[zi] = st
        return out

    def _incidents(self, fix: Fix, seen: dict[int, int], work: _Batch) -> None:
        state = self.states[fix.tag_id]
        state.lat, state.lon, state.acc = fix.lat, fix.lon, fix.acc
        zone_ids = {self.dog_zones[zi].id for zi in seen} | set(state.zones)
        for zone_id in zone_ids:
            pos = self.zone_pos.get(zone_id)
            if pos is None:  # zone removed from the files since the state was saved
                state.zones.pop(zone_id, None)
                continue
            zone = self.dog_zones[pos]
            track = state.zones.get(zone_id) or ZoneTrack()
            observation = _OBSERVATION.get(seen.get(pos, OUT), "hold")
            dwell = zone.dwell_s or self.settings.dwell_s
            grace = self.settings.grace_s if zone.grace_s is None else zone.grace_s
            for event in step(track, fix.ts, observation, zone.schedule, dwell, grace):
                self._alert_for(event, fix, zone, work)
            if track.idle:
                state.zones.pop(zone_id, None)
            else:
                state.zones[zone_id] = track

    def _alert_for(self, event: IncidentEvent, fix: Fix, zone: Zone, work: _Batch) -> None:
        kind = zone.alert_kind
        aid = alert_store.alert_id(kind, fix.tag_id, zone.id, event.started_at)
        if isinstance(event, IncidentOpened):
            party = self._active[fix.tag_id].party
            offence = alert_store.offences_in_year(self.conn, party, event.started_at) + 1
            alert = Alert(
                id=aid,
                kind=kind,
                status="open",
                device_id=fix.tag_id,
                zone_id=zone.id,
                grid=zone.grid,
                started_at=event.started_at,
                ended_at=None,
                lat=fix.lat,
                lon=fix.lon,
                escalation=escalation_step(offence),
                offence_number=offence,
                party=party,
                zone_name=zone.name,
                opened_at=event.opened_at,
                updated_at=work.now,
                evidence=[
                    {
                        "type": "track",
                        "device_id": fix.tag_id,
                        "from": event.started_at - TRACK_EVIDENCE_MARGIN_S,
                        "to": None,
                    }
                ],
            )
            work.counts["alerts_opened"] += 1
        else:
            existing = alert_store.get_alert(self.conn, aid)
            if existing is None:
                return
            alert = existing
            alert.status, alert.ended_at = "closed", event.ended_at
            alert.revision += 1
            alert.updated_at = work.now
            for item in alert.evidence:
                if item.get("type") == "track":
                    item["to"] = event.ended_at + TRACK_EVIDENCE_MARGIN_S
            work.counts["alerts_closed"] += 1
        self._emit(alert, work)

    def _emit(self, alert: Alert, work: _Batch) -> None:
        self.sinks.alert(alert)
        work.alerts.append(alert)

    def _health(self, fix: Fix, received_at: float, work: _Batch) -> None:
        state = self.states[fix.tag_id]
        s = self.settings
        if fix.batt is not None:
            state.batt = fix.batt
        change = battery_change(
            state.low_battery_since is not None, fix.batt, s.low_battery_pct, s.battery_recover_pct
        )
        if change == "open":
            state.low_battery_since = fix.ts
            self._emit(self._health_alert("tag_low_battery", fix.tag_id, fix.ts, work, fix), work)
        elif change == "close" and state.low_battery_since is not None:
            self._close_health("tag_low_battery", fix.tag_id, state.low_battery_since, fix.ts, work)
            state.low_battery_since = None
        if state.offline_since is not None:
            self._close_health("tag_offline", fix.tag_id, state.offline_since, received_at, work)
            state.offline_since = None

    def _sinks(self, work: _Batch) -> None:
        if work.changed:
            tracks.save_states(self.conn, list(work.changed.values()))
        counts = {
            k.removeprefix("rejected."): v
            for k, v in work.counts.items()
            if k.startswith("rejected.")
        }
        if counts:
            deadletters.bump_counts(self.conn, counts)
            deadletters.trim(self.conn, self.settings.dead_letter_max)

    # -- timers ---------------------------------------------------------------

    def sweep(self, now: float | None = None) -> None:
        """Wall-clock duties: tags that stopped reporting, and track retention."""
        work = _Batch(now=time.time() if now is None else now)
        self._refresh_registry()
        rows = self.conn.execute(
            "SELECT tag_id FROM tag_state WHERE offline_since IS NULL AND last_seen IS NOT NULL AND last_seen <= ?",
            (work.now - self.settings.offline_after_s,),
        ).fetchall()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                state = self._state(row["tag_id"])
                if row["tag_id"] not in self._active or state.last_seen is None:
                    continue
                if state.offline_since is None and is_offline(
                    state.last_seen, work.now, self.settings.offline_after_s
                ):
                    state.offline_since = state.last_seen
                    self._emit(
                        self._health_alert("tag_offline", state.tag_id, state.last_seen, work), work
                    )
                    work.changed[state.tag_id] = state
            if work.now - self._last_prune >= PRUNE_EVERY_S:  # a full scan: not on every sweep
                tracks.prune(self.conn, work.now - self.settings.track_retention_days * 86400)
                self._last_prune = work.now
            self._sinks(work)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.states.clear()
            raise
        self.counters.merge(work.counts)
        if work.alerts:
            self.on_commit()
        self.reject_log.flush()

    # -- helpers --------------------------------------------------------------

    def _reject(self, msg: Inbound, rej: Rejected, work: _Batch) -> None:
        work.counts["rejected." + rej.reason] += 1
        deadletters.add(self.conn, msg.received_at, msg.topic, rej.reason, rej.detail, msg.payload)
        self.reject_log.rejected(rej.reason, msg.topic, rej.detail)

    def _state(self, tag_id: str) -> TagState:
        state = self.states.get(tag_id)
        if state is None:
            state = self.states[tag_id] = tracks.load_state(self.conn, tag_id)
        return state

    def _refresh_registry(self) -> None:
        # data_version moves when another connection (CLI, web portal) commits.
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._registry_version:
            self._registry_version = version
            self._active = registry.active_tags(self.conn)

    def _health_alert(
        self, kind: str, tag_id: str, started_at: float, work: _Batch, fix: Fix | None = None
    ) -> Alert:
        state = self.states.get(tag_id)
        lat = fix.lat if fix else (state.lat if state else None)
        lon = fix.lon if fix else (state.lon if state else None)
        active = self._active.get(tag_id)
        return Alert(
            id=alert_store.alert_id(kind, tag_id, None, started_at),
            kind=kind,
            status="open",
            device_id=tag_id,
            zone_id=None,
            grid=None,
            started_at=started_at,
            ended_at=None,
            lat=lat,
            lon=lon,
            party=active.party if active else None,
            opened_at=work.now,
            updated_at=work.now,
        )

    def _close_health(
        self, kind: str, tag_id: str, started_at: float, ended_at: float, work: _Batch
    ) -> None:
        alert = alert_store.get_alert(
            self.conn, alert_store.alert_id(kind, tag_id, None, started_at)
        )
        if alert is None or alert.status == "closed":
            return
        alert.status, alert.ended_at, alert.updated_at = "closed", ended_at, work.now
        alert.revision += 1
        self._emit(alert, work)
