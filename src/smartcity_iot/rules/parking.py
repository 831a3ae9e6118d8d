"""Sidewalk parking as a pure state machine over capture time: (stop, frame) -> events.

A vehicle at rest with its footprint (box bottom-centre) on the sidewalk is
timed from the instant it came to rest. It violates once it has rested for
the camera's dwell and is not exempt at that moment; a stop in a loading spot
is exempt while the spot's hours allow loading and the stop is within the
spot's maximum. One stop = one incident, closed when the vehicle leaves."""

from __future__ import annotations

from dataclasses import dataclass

from ..geo.cameras import Camera, LoadingSpot


@dataclass(slots=True)
class Stop:
    rest_since: float  # capture time the vehicle came to rest
    last_at_rest: float
    on_sidewalk: bool
    spot_id: str | None = None
    violation_at: float | None = None  # set once the incident opened

    def to_dict(self) -> dict:
        return {
            "rest_since": self.rest_since,
            "last_at_rest": self.last_at_rest,
            "on_sidewalk": self.on_sidewalk,
            "spot_id": self.spot_id,
            "violation_at": self.violation_at,
        }


@dataclass(frozen=True, slots=True)
class ParkingOpened:
    started_at: float  # came to rest
    opened_at: float  # dwell exceeded, not exempt


@dataclass(frozen=True, slots=True)
class ParkingClosed:
    started_at: float
    ended_at: float  # last capture time seen at rest


def exempt(spot: LoadingSpot | None, rest_since: float, now: float) -> bool:
    return spot is not None and spot.schedule.allows(now) and now - rest_since <= spot.max_stop_s


def at_rest(stop: Stop, camera: Camera, now: float) -> ParkingOpened | None:
    """The vehicle is still at rest at capture time `now`."""
    stop.last_at_rest = now
    if stop.violation_at is not None or not stop.on_sidewalk:
        return None
    spot = next((s for s in camera.loading_spots if s.id == stop.spot_id), None)
    if now - stop.rest_since >= camera.dwell_s and not exempt(spot, stop.rest_since, now):
        stop.violation_at = now
        return ParkingOpened(stop.rest_since, now)
    return None


def left(stop: Stop) -> ParkingClosed | None:
    """The vehicle moved off or is gone: close its incident if it had one."""
    if stop.violation_at is None:
        return None
    return ParkingClosed(stop.rest_since, stop.last_at_rest)
