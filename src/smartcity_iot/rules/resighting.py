"""SPEC 5.1, as a pure state machine: a vehicle parked on a sidewalk, proven by mobile
patrol units seeing its plate at two captures.

Per plate, one stop at a time. A capture (`Sighting`) of a plate already stopped
inside the same sidewalk zone, within `same_place_m` of its first capture and at most
`max_gap_s` after its latest, belongs to that stop; anything else starts a new stop (a
violation still open for the old one ends). A stop becomes a violation at the first
capture at least the zone's dwell after its first, unless both stand on one loading
spot during its hours and within its longest stop. Later captures update it. Frames of
one unit's pass (captures of one plate less than PASS_S apart) are one sighting: the
best read stands for the pass. A stop ends when a unit passes its place (the camera
looks within `look_m` of it) and no frame of that pass sees the plate. Unread plates
never reach this machine: only confident reads are sightings. Places are metres of
one local projection (geo/metric.py); units may differ, so passes of several units
combine."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

PASS_S = 20.0  # captures of one plate by one unit closer than this are one pass
MAX_SIGHTINGS = 12  # kept per stop: the first, the confirming one, the latest passes


@dataclass(frozen=True, slots=True)
class Sighting:
    plate: str  # normalised, valid, read at or above the threshold
    conf: float
    ts: float  # capture time
    unit_id: str
    x: float  # the vehicle's place, metres (local projection)
    y: float
    lat: float
    lon: float
    zone_id: str  # the sidewalk zone it stands in
    dwell_s: float  # that zone's dwell
    spot_id: str | None = None  # the loading spot it stands on, if any
    spot_allows: bool = False  # that spot's hours allow loading at `ts`
    max_stop_s: float | None = None  # that spot's longest lawful stop
    box: tuple[int, int, int, int] | None = None  # the plate in the frame (x, y, w, h)
    heading: float | None = None  # the unit's, degrees: which way its camera looked


@dataclass(slots=True)
class PlateStop:
    first: Sighting  # the first pass's best capture
    latest: Sighting  # the latest pass's best capture
    started_at: float  # the first capture of the first pass (fixed: it names the alert)
    seen_at: float  # the last capture of the plate, any unit
    seen_by: str  # its unit
    pass_start: float  # the first capture of the current pass
    opened_at: float | None = None  # when it became a violation
    confirm: Sighting | None = None  # the capture that made it one (best of its pass)
    missed: dict[str, float] = field(default_factory=dict)  # unit -> a pass that missed it
    unsure: dict[str, float] = field(default_factory=dict)  # unit -> saw an unread plate there

    @property
    def violating(self) -> bool:
        return self.opened_at is not None

    @property
    def plate(self) -> str:
        return self.first.plate


@dataclass(frozen=True, slots=True)
class Opened:
    stop: PlateStop


@dataclass(frozen=True, slots=True)
class Updated:
    stop: PlateStop
    sighting: Sighting
    better_confirm: bool  # the confirming pass read better: new confirming photo


@dataclass(frozen=True, slots=True)
class Ended:
    stop: PlateStop
    ended_at: float  # the first capture that saw the place without the plate, or the latest
    was_violation: bool


@dataclass(frozen=True, slots=True)
class FirstSeen:
    stop: PlateStop
    replaced: Sighting | None  # the pass's earlier best capture this one replaced


Event = Opened | Updated | Ended | FirstSeen


@dataclass
class Resighting:
    same_place_m: float = 20.0
    max_gap_s: float = 3600.0
    look_m: float = 8.0  # a pass "looks at" a stop whose place is this near the camera's
    stops: dict[str, PlateStop] = field(default_factory=dict)  # plate -> its stop

    def sighted(self, s: Sighting) -> list[Event]:
        """One confident read of a plate by a unit."""
        stop = self.stops.get(s.plate)
        events: list[Event] = []
        if stop is not None and not self._belongs(stop, s):
            events.append(self._end(stop, stop.seen_at))
            stop = None
        if stop is None:
            stop = PlateStop(s, s, s.ts, s.ts, s.unit_id, s.ts)
            self.stops[s.plate] = stop
            events.append(FirstSeen(stop, None))
            return events
        stop.missed.pop(s.unit_id, None)
        same_pass = s.unit_id == stop.seen_by and s.ts - stop.seen_at < PASS_S
        stop.seen_at, stop.seen_by = s.ts, s.unit_id
        if not same_pass:
            stop.pass_start = s.ts
        first_pass = stop.pass_start == stop.started_at
        if first_pass:  # one sighting for the whole pass: its best read
            if s.conf > stop.first.conf:
                replaced, stop.first, stop.latest = stop.first, s, s
                events.append(FirstSeen(stop, replaced))
            return events
        if stop.violating:
            assert stop.confirm is not None and stop.opened_at is not None
            confirming_pass = stop.opened_at >= stop.pass_start
            better = confirming_pass and s.conf > stop.confirm.conf
            if better:
                stop.confirm = s
            if better or not same_pass:
                stop.latest = s
                events.append(Updated(stop, s, better))
            return events
        if not same_pass or s.conf > stop.latest.conf:
            stop.latest = s
        if self._violates(stop, s):
            stop.opened_at, stop.confirm, stop.latest = s.ts, s, s
            events.append(Opened(stop))
        return events

    def passed(
        self,
        unit_id: str,
        ts: float,
        x: float,
        y: float,
        seen: set[str],
        unsure: bool = False,
        zone_id: str | None = None,
        heading: float | None = None,
    ) -> list[Event]:
        """A frame of `unit_id` looking at (x, y) in sidewalk zone `zone_id`, heading
        `heading`, with the plates it read confidently (`unsure`: it also found a plate
        it could not read): a stop there whose plate this pass does not see has ended.
        Only a frame looking the way the stop was seen looks at it (a unit driving the
        other way, its camera on the far side of the street, sees nothing of it), and a
        pass that found an unreadable plate there proves nothing (it may be this one,
        dirty or half hidden): neither ends anything."""
        events: list[Event] = []
        for plate, stop in list(self.stops.items()):
            near = (
                zone_id == stop.first.zone_id
                and _same_way(heading, stop.first.heading)
                and math.hypot(stop.first.x - x, stop.first.y - y) <= self.look_m
            )
            if plate in seen or (near and unsure):
                stop.missed.pop(unit_id, None)
                if near and unsure and plate not in seen:
                    stop.unsure[unit_id] = ts
                continue
            missed_at = stop.missed.get(unit_id)
            if near:
                recent_doubt = ts - stop.unsure.get(unit_id, -math.inf) < PASS_S
                if ts - stop.seen_at >= PASS_S and missed_at is None and not recent_doubt:
                    stop.missed[unit_id] = ts  # looking at it now; not seen (yet) this pass
                continue
            if missed_at is not None:  # the pass has gone by without seeing the plate
                del self.stops[plate]
                events.append(Ended(stop, missed_at, stop.violating))
            elif ts - stop.seen_at > self.max_gap_s:  # nobody came by again: forget it
                del self.stops[plate]
                events.append(Ended(stop, stop.seen_at, stop.violating))
        return events

    def _belongs(self, stop: PlateStop, s: Sighting) -> bool:
        return (
            s.zone_id == stop.first.zone_id
            and math.hypot(s.x - stop.first.x, s.y - stop.first.y) <= self.same_place_m
            and s.ts - stop.seen_at <= self.max_gap_s
        )

    def _violates(self, stop: PlateStop, s: Sighting) -> bool:
        first = stop.first
        if s.ts - first.ts < first.dwell_s:
            return False
        exempt = (
            first.spot_id is not None
            and s.spot_id == first.spot_id
            and first.spot_allows
            and s.spot_allows
            and s.max_stop_s is not None
            and s.ts - first.ts <= s.max_stop_s
        )
        return not exempt

    def _end(self, stop: PlateStop, at: float) -> Ended:
        self.stops.pop(stop.plate, None)
        return Ended(stop, at, stop.violating)

    # -- state across restarts -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {plate: _stop_dict(st) for plate, st in self.stops.items()}

    def restore(self, state: dict[str, Any]) -> None:
        self.stops = {plate: _stop_from(d) for plate, d in state.items()}


def _same_way(a: float | None, b: float | None, within: float = 60.0) -> bool:
    """Headings (degrees) less than `within` apart; unknown ones agree."""
    if a is None or b is None:
        return True
    return abs((a - b + 180) % 360 - 180) < within


def _stop_dict(st: PlateStop) -> dict[str, Any]:
    d = {
        "first": asdict(st.first),
        "latest": asdict(st.latest),
        "confirm": asdict(st.confirm) if st.confirm else None,
    }
    for name in ("started_at", "seen_at", "seen_by", "pass_start", "opened_at", "missed", "unsure"):
        d[name] = getattr(st, name)
    return d


def _sighting(d: dict[str, Any]) -> Sighting:
    box = d.get("box")
    return Sighting(**(d | {"box": tuple(box) if box else None}))


def _stop_from(d: dict[str, Any]) -> PlateStop:
    return PlateStop(
        first=_sighting(d["first"]),
        latest=_sighting(d["latest"]),
        started_at=d["started_at"],
        seen_at=d["seen_at"],
        seen_by=d["seen_by"],
        pass_start=d["pass_start"],
        opened_at=d["opened_at"],
        confirm=_sighting(d["confirm"]) if d["confirm"] else None,
        missed=dict(d["missed"]),
        unsure=dict(d.get("unsure", {})),
    )
