"""The stages of the tag path, each one job over a batch of MQTT messages, and what
they share between batches (registry cache, per-tag state, the zone index).
Their order is listed in pipeline/paths.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..geo.index import IN, OUT, ZoneIndex
from ..geo.zones import Zone
from ..ingest.codec import decode_fix
from ..model import Fix, Inbound, Rejected
from ..rules.dog import IncidentEvent, IncidentOpened, Observation, ZoneTrack, step
from ..rules.health import battery_change
from ..store import registry, tracks
from .batch import Culprit, PathRunner, Work, blame
from .tag_state import TagState

log = logging.getLogger("smartcity_iot.pipeline")

_OBSERVATION: dict[int, Observation] = {IN: "in", OUT: "out"}


@dataclass(slots=True)
class TagBatch(Work):
    messages: list[Inbound] = field(default_factory=list)
    fixes: list[tuple[Inbound, Fix]] = field(default_factory=list)  # in capture order per tag
    membership: dict[int, dict[int, int]] = field(default_factory=dict)  # fix -> {zone: IN|HOLD}
    changed: dict[str, TagState] = field(default_factory=dict)


class TagContext(PathRunner):
    """What the tag stages share: the runner's connection, sinks and alert maker, the
    dog zones and their index, the batch's active tags and each tag's state (cached;
    dropped when a batch rolls back)."""

    def __init__(
        self, *args: Any, zones: list[Zone], shared_state: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dog_zones = [z for z in zones if z.rule == "dogs"]
        self.index = ZoneIndex(self.dog_zones)
        self.zone_pos = {z.id: i for i, z in enumerate(self.dog_zones)}
        self.states: dict[str, TagState] = {}
        self.active: dict[str, registry.ActiveTag] = {}
        # Other workers write tags' state too (a partition that moved, another worker's
        # sweep): read it from the store inside each batch's transaction, never from memory.
        self.shared_state = shared_state

    def state(self, tag_id: str) -> TagState:
        state = self.states.get(tag_id)
        if state is None:
            state = self.states[tag_id] = TagState.load(self.conn, tag_id)
        return state

    def prepare(self, tag_ids: set[str]) -> None:
        """Inside the transaction: these tags' registry entries, read fresh in one
        statement, since the console and the CLI change them (a batch's tags, never the
        whole registry); with shared state (one of N workers) their states too, since
        other workers change those."""
        self.active = registry.active_tags(self.conn, tag_ids)
        if self.shared_state:
            self.states = TagState.load_many(self.conn, tag_ids)

    def party(self, tag_id: str) -> str | None:
        active = self.active.get(tag_id)
        return active.party if active else None


def decode(ctx: TagContext, work: TagBatch) -> None:
    """Payloads to `Fix`es (SPEC 3.1, 3.2); bad ones rejected and counted. A payload
    that trips a bug in the decoder costs that message alone (internal_error), not
    its batch."""
    s = ctx.settings
    for msg in work.messages:
        try:
            fix = decode_fix(
                msg.topic,
                msg.payload,
                arrival(msg, work),
                s.max_payload_bytes,
                s.future_tolerance_s,
            )
        except Rejected as rej:
            ctx.reject(work, msg, rej)
            continue
        except Exception as exc:  # a decoder bug: logged loudly, fuzz tests keep it at zero
            log.exception("decoding a message on %s failed", msg.topic)
            ctx.reject(work, msg, Rejected("internal_error", repr(exc)))
            continue
        if fix is None:
            work.counts["ignored"] += 1  # well-formed, not a fix (OwnTracks non-location)
            continue
        work.fixes.append((msg, fix))


def arrival(msg: Inbound, work: TagBatch) -> float:
    """When the message reached us; one replayed without it (0: a file, a test) is
    judged against the batch's processing time instead."""
    return msg.received_at or work.now


def filter_fixes(ctx: TagContext, work: TagBatch) -> None:
    """Registered active tags only; duplicates dropped; late fixes kept in the track
    but never allowed to drive zone state or the latest position."""
    in_order, rows = [], []
    pending: set[tuple[str, int]] = set()  # in `rows`, not yet in the store
    ctx.prepare({fix.tag_id for _, fix in work.fixes})
    # A batch is a small reorder window: each tag's fixes are judged in capture order.
    for msg, fix in sorted(work.fixes, key=lambda mf: (mf[1].tag_id, mf[1].ts)):
        with blame(msg):
            if fix.tag_id not in ctx.active:
                status = registry.tag_status(ctx.conn, fix.tag_id)
                reason = "unknown_device" if status is None else "inactive_device"
                detail = f"tag {fix.tag_id} is {status or 'not registered'}"
                ctx.reject(work, msg, Rejected(reason, detail))
                continue
            state = ctx.state(fix.tag_id)
            late = state.is_late(fix, arrival(msg, work) + ctx.settings.future_tolerance_s)
            # The same fix twice in one batch (a QoS 1 re-send; OwnTracks has no seq): the
            # first is still pending, so the store cannot know the second for a duplicate.
            again = late and (fix.tag_id, fix.ts_ms) in pending
            if (
                state.seq_seen(fix)
                or again
                or (late and not ctx.sinks.late_fix(fix, msg.received_at))
            ):
                work.counts["duplicate"] += 1
                continue
            state.remember_seq(fix)
            state.last_seen = max(state.last_seen or 0.0, msg.received_at)
            work.changed[fix.tag_id] = state
            if late:
                work.counts["late"] += 1
                continue
            rows.append((fix, msg.received_at, False))
            pending.add((fix.tag_id, fix.ts_ms))
            state.last_ts = fix.ts
            work.counts["accepted"] += 1
            in_order.append((msg, fix))
    ctx.sinks.fixes(rows)
    work.fixes = in_order


def evaluate(ctx: TagContext, work: TagBatch) -> None:
    """Zone membership of every fix at once (vectorised, accuracy-aware, in metres).
    Should the vectorised call fail, the fix that trips it is named (`Culprit`)."""
    if not work.fixes:
        return
    s, n = ctx.settings, len(work.fixes)
    lon = np.fromiter((f.lon for _, f in work.fixes), float, n)
    lat = np.fromiter((f.lat for _, f in work.fixes), float, n)
    acc = np.fromiter(
        (s.default_accuracy_m if f.acc is None else f.acc for _, f in work.fixes), float, n
    )
    r = acc + s.hysteresis_m
    try:
        m = ctx.index.classify(lon, lat, r)
    except Exception as exc:
        # Classifying has no side effects: halve the fixes down to the one that trips it.
        lo, hi = 0, n
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                ctx.index.classify(lon[lo:mid], lat[lo:mid], r[lo:mid])
                lo = mid
            except Exception:
                hi = mid
        raise Culprit(work.fixes[lo][0], exc) from exc
    for fi, zi, st in zip(m.fix.tolist(), m.zone.tolist(), m.state.tolist(), strict=True):
        work.membership.setdefault(fi, {})[zi] = st


def incidents(ctx: TagContext, work: TagBatch) -> None:
    """Each fix steps the dog rule of every zone it is in or was in; its events become alerts."""
    for i, (msg, fix) in enumerate(work.fixes):
        with blame(msg):
            seen = work.membership.get(i, {})
            state = ctx.states[fix.tag_id]
            state.lat, state.lon, state.acc = fix.lat, fix.lon, fix.acc
            for zone_id in {ctx.dog_zones[zi].id for zi in seen} | set(state.zones):
                pos = ctx.zone_pos.get(zone_id)
                if pos is None:  # zone removed from the files since the state was saved
                    state.zones.pop(zone_id, None)
                    continue
                zone = ctx.dog_zones[pos]
                track = state.zones.get(zone_id) or ZoneTrack()
                observation = _OBSERVATION.get(seen.get(pos, OUT), "hold")
                for event in step(
                    track, fix.ts, observation, zone.schedule, zone.dwell_s, zone.grace_s
                ):
                    _incident_alert(ctx, work, event, fix, zone)
                if track.idle:
                    state.zones.pop(zone_id, None)
                else:
                    state.zones[zone_id] = track


def _incident_alert(
    ctx: TagContext, work: TagBatch, event: IncidentEvent, fix: Fix, zone: Zone
) -> None:
    if isinstance(event, IncidentOpened):
        party = ctx.active[fix.tag_id].party
        ctx.emit(work, ctx.alerts.incident_opened(event, fix, zone, party, work.now))
        work.counts["alerts_opened"] += 1
        return
    alert = ctx.alerts.incident_closed(event, fix.tag_id, zone, work.now)
    if alert is not None:
        ctx.emit(work, alert)
        work.counts["alerts_closed"] += 1


def health(ctx: TagContext, work: TagBatch) -> None:
    """Owners' notices: low battery (with hysteresis), and back online after a silence."""
    s = ctx.settings
    for msg, fix in work.fixes:
        with blame(msg):
            state = ctx.states[fix.tag_id]
            if fix.batt is not None:
                state.batt = fix.batt
            is_low = state.low_battery_since is not None
            change = battery_change(is_low, fix.batt, s.low_battery_pct, s.battery_recover_pct)
            if change == "open":
                state.low_battery_since = fix.ts
                where = (fix.lat, fix.lon)
                party = ctx.party(fix.tag_id)
                alert = ctx.alerts.health_opened(
                    "tag_low_battery", fix.tag_id, fix.ts, where, party, work.now
                )
                ctx.emit(work, alert)
            elif change == "close" and state.low_battery_since is not None:
                since = state.low_battery_since
                ctx.emit(
                    work,
                    ctx.alerts.health_closed(
                        "tag_low_battery", fix.tag_id, since, fix.ts, work.now
                    ),
                )
                state.low_battery_since = None
            if state.offline_since is not None:
                since, back = state.offline_since, msg.received_at
                ctx.emit(
                    work, ctx.alerts.health_closed("tag_offline", fix.tag_id, since, back, work.now)
                )
                state.offline_since = None


def persist(ctx: TagContext, work: TagBatch) -> None:
    """Tag states of the batch, in its transaction (fixes and alerts went in as they came)."""
    if work.changed:
        tracks.save_states(ctx.conn, [s.stored() for s in work.changed.values()])
