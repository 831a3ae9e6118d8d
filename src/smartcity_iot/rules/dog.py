"""Dog-zone incidents as a pure state machine: (state, observation) -> (state, events).

Per (tag, zone) we keep whether the dog is in, since when the violating
condition (in AND the schedule forbids dogs) has held, and since when it has
stopped holding while an incident is open. An incident opens once the
condition has held for the dwell, and closes after the grace period without it.
Schedule edges between two fixes count at their own instant, so a dog still in
a zone when its walking window closes is in violation from the close."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..geo.schedule import WalkingSchedule

Observation = Literal["in", "out", "hold"]


@dataclass(slots=True)
class ZoneTrack:
    inside: bool = False
    cond_since: float | None = None
    clear_since: float | None = None
    incident_started: float | None = None  # set while an incident is open
    last_ts: float | None = None

    @property
    def idle(self) -> bool:
        return not self.inside and self.cond_since is None and self.incident_started is None

    def to_list(self) -> list[float | bool | None]:
        return [self.inside, self.cond_since, self.clear_since, self.incident_started, self.last_ts]

    @classmethod
    def from_list(cls, v: list) -> ZoneTrack:
        return cls(bool(v[0]), v[1], v[2], v[3], v[4])


@dataclass(frozen=True, slots=True)
class IncidentOpened:
    started_at: float  # when the violating condition began
    opened_at: float  # the instant the dwell was reached (fix time)


@dataclass(frozen=True, slots=True)
class IncidentClosed:
    started_at: float
    ended_at: float  # when the violating condition stopped


IncidentEvent = IncidentOpened | IncidentClosed


def step(
    track: ZoneTrack,
    ts: float,
    observation: Observation,
    schedule: WalkingSchedule,
    dwell_s: float,
    grace_s: float,
) -> list[IncidentEvent]:
    """Advance `track` to fix time `ts` (which must not be older than track.last_ts)."""
    events: list[IncidentEvent] = []
    last = track.last_ts if track.last_ts is not None else ts
    if track.inside:
        # Schedule edges between the previous fix and this one, while the dog was in.
        for edge in schedule.changes(last, ts):
            _timers(track, edge, dwell_s, grace_s, events)
            _condition(track, not schedule.allows(edge), edge)
    if observation == "out" and track.inside:
        # Credit the dwell only up to the last fix that saw the dog in.
        _timers(track, last, dwell_s, grace_s, events)
        track.inside = False
    else:
        if observation == "in":
            track.inside = True
        _timers(track, ts, dwell_s, grace_s, events)
    _condition(track, track.inside and not schedule.allows(ts), ts)
    _timers(track, ts, dwell_s, grace_s, events)
    track.last_ts = ts
    return events


def _condition(track: ZoneTrack, violating: bool, at: float) -> None:
    if violating:
        if track.cond_since is None:
            track.cond_since = at
        track.clear_since = None
    else:
        track.cond_since = None
        if track.incident_started is not None and track.clear_since is None:
            track.clear_since = at


def _timers(
    track: ZoneTrack, now: float, dwell_s: float, grace_s: float, events: list[IncidentEvent]
) -> None:
    if track.incident_started is None:
        if track.cond_since is not None and now - track.cond_since >= dwell_s:
            track.incident_started = track.cond_since
            events.append(IncidentOpened(track.cond_since, now))
    elif track.clear_since is not None and now - track.clear_since >= grace_s:
        events.append(IncidentClosed(track.incident_started, track.clear_since))
        track.incident_started = None
        track.clear_since = None
