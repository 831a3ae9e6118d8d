"""A stop is a vehicle: each box at rest checked against the street as it looked before the
arrival and against its own first look, by normalised cross-correlation of edge patches."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .track import Box, Track, Tracker, TrackEvents, covered

FLAT = 3.0  # grey levels of standard deviation: below it a patch has no texture to compare


def gray(image: np.ndarray) -> np.ndarray:
    """The frame as the scene model sees it (same blur), in grey levels."""
    return cv2.cvtColor(cv2.GaussianBlur(image, (5, 5), 0), cv2.COLOR_BGR2GRAY).astype(np.float32)


def edges(grey: np.ndarray) -> np.ndarray:
    """Gradient magnitude: what a vehicle brings (outline, wheels, windows) and light and
    shade only scale, so the street under new light still correlates with itself."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def patch(image: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    return image[max(y, 0) : y + h, max(x, 0) : x + w]


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Zero-mean normalised cross-correlation: 1 for the same scene under any brightness
    or contrast (light, shadow, dusk), about 0 for unrelated content. Two flat patches
    (bare pavement in two lights) count as the same; flat against textured does not."""
    if a.shape != b.shape or a.size == 0:
        return 0.0
    sa, sb = float(a.std()), float(b.std())
    if sa < FLAT and sb < FLAT:
        return 1.0
    if sa < FLAT or sb < FLAT:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


@dataclass
class Evidence:
    """What a stop's box showed: the street before the arrival, the vehicle at rest."""

    box: Box
    street: np.ndarray
    vehicle: np.ndarray
    street_since: float | None = None  # first capture time the box looked like the street
    unlike_since: float | None = None  # first capture time it looked like neither


@dataclass(frozen=True, slots=True)
class Verdict:
    events: TrackEvents  # the tracker's events, less phantoms, plus stops that ended here
    phantoms: list[Track]  # came to rest on what is only the street: never a stop
    ended_at: dict[int, float]  # track id -> when its stop ended (the tracker still had it)
    to_street: list[Box]  # boxes of stops that ended showing the empty street again
    hidden: list[Track]  # at rest, but not visible in this frame: no photo, no timing now


@dataclass
class StopVerifier:
    """Per camera: the evidence of each box at rest. `distinct` is the most a vehicle may
    look like the street it stands on; `street` the least the box must look like the
    street, for `gone_s`, for the stop to have ended; `kept` the least likeness to its
    first look for its vehicle to be still there (passers-by in front lower it);
    A vehicle brings edges to the pavement (outline, wheels, windows): a box come to rest
    with less than `brings_edges` times the edges the street model has there holds
    something taken away, not brought: a ghost where the model still shows a vehicle that
    left (measured over the simulator's cameras and vtest.avi: vehicles 1.35-16x, ghosts
    0.1-0.9x). Where a stop ended less than `vacated_s` ago, a box that did not move in
    needs `vacated_edges` (the one ghost measured above 1x, 1.2x, stood there).
    `replaced_s` how long the box may look like neither the street nor its vehicle (a bus
    in front, another car) before its vehicle is taken as gone; `vacated_s` how long a
    place where a stop ended is watched for what its vehicle left behind."""

    distinct: float = 0.5
    street: float = 0.7
    kept: float = 0.3
    brings_edges: float = 1.0
    vacated_edges: float = 1.5
    gone_s: float = 3.0
    replaced_s: float = 30.0
    vacated_s: float = 180.0
    evidence: dict[int, Evidence] = field(default_factory=dict)
    vacated: list[tuple[Box, float]] = field(default_factory=list)  # where stops just ended
    _edges: tuple[float, np.ndarray] | None = None  # this frame's edges, computed once

    def frame_edges(self, image: np.ndarray, ts: float) -> np.ndarray:
        if self._edges is None or self._edges[0] != ts:
            self._edges = (ts, edges(gray(image)))
        return self._edges[1]

    def vouches(self, track: Track, image: np.ndarray, ts: float) -> bool:
        """The box of a stop does not show the street it hid: a dim or low-contrast vehicle
        that the background model barely tells apart from the pavement is still there even
        when little of its box is foreground, if the box still shows much of it (`kept`: a
        passer-by in front lowers the likeness, a departed vehicle leaves almost none)."""
        ev = self.evidence.get(track.id)
        if ev is None:
            return False
        seen = patch(self.frame_edges(image, ts), ev.box)
        return ncc(seen, ev.street) < self.distinct and ncc(seen, ev.vehicle) >= self.kept

    def _ghost_of_departure(self, track: Track, ts: float, edges_ratio: float) -> bool:
        """Came to rest, without having been seen moving in, where a stop just ended, and
        with few edges more than the street model has there: what a departed vehicle
        leaves behind under a box the street model could not learn while it stood there
        (the light changed beneath it). A vehicle parking there again brings many more
        edges (measured 1.8x and up) even when its track began in place."""
        self.vacated = [(b, at) for b, at in self.vacated if ts - at <= self.vacated_s]
        assert track.anchor is not None
        return (
            not track.moved_in
            and edges_ratio < self.vacated_edges
            and any(covered(track.anchor, box) >= 0.5 for box, _ in self.vacated)
        )

    def _shows_street(self, track_id: int, now: np.ndarray) -> bool:
        ev = self.evidence.get(track_id)
        if ev is None:
            return False
        seen = patch(now, ev.box)
        s = ncc(seen, ev.street)
        return s >= self.street and s > ncc(seen, ev.vehicle)

    def check(
        self, events: TrackEvents, image: np.ndarray, background: np.ndarray | None, ts: float
    ) -> Verdict:
        if background is None:  # a detector without a street model: nothing to check against
            return Verdict(events, [], {}, [], [])
        now = self.frame_edges(image, ts)
        rested, phantoms = [], []
        street_edges = None
        for t in events.came_to_rest:
            assert t.anchor is not None
            if street_edges is None:
                street_edges = edges(cv2.cvtColor(background, cv2.COLOR_BGR2GRAY))
            street = patch(street_edges, t.anchor)
            seen = patch(now, t.anchor)
            edges_ratio = float(seen.mean()) / max(float(street.mean()), 1e-3)
            if (
                ncc(seen, street) >= self.distinct  # only the street, in another light
                or edges_ratio < self.brings_edges  # took edges away: a ghost
                or self._ghost_of_departure(t, ts, edges_ratio)
            ):
                phantoms.append(t)
                continue
            self.evidence[t.id] = Evidence(t.anchor, street.copy(), seen.copy())
            rested.append(t)
        still, left, hidden, ended = [], list(events.left), [], {}
        # A stop the tracker saw leave, whose box shows the street it hid: the street is
        # relearnt there, or the light that changed under the protected box stays behind
        # as a ghost that comes to rest on its own.
        to_street = [self.evidence[t.id].box for t in events.left if self._shows_street(t.id, now)]
        for t in events.still_at_rest:
            ev = self.evidence.get(t.id)
            if ev is None:  # at rest from before a restart: its first look is now
                assert t.anchor is not None
                seen = patch(now, t.anchor)
                ev = self.evidence[t.id] = Evidence(t.anchor, seen.copy(), seen.copy())
            seen = patch(now, ev.box)
            s, v = ncc(seen, ev.street), ncc(seen, ev.vehicle)
            if s >= self.street and s > v:  # looks like the street again
                ev.street_since = ev.street_since or ts
                ev.unlike_since = None
            elif v >= self.kept:  # itself, or partly hidden by passers-by: still there
                ev.street_since = ev.unlike_since = None
            else:  # hidden behind something, or another vehicle took the place
                ev.street_since = None
                ev.unlike_since = ev.unlike_since or ts
            if ev.street_since is not None and ts - ev.street_since >= self.gone_s:
                ended[t.id] = ev.street_since
                left.append(t)
                to_street.append(ev.box)
            elif ev.unlike_since is not None and ts - ev.unlike_since >= self.replaced_s:
                ended[t.id] = ev.unlike_since
                left.append(t)
            elif ev.street_since is not None or ev.unlike_since is not None:
                hidden.append(t)  # still timed by the tracker, but no photo or alert now
            else:
                still.append(t)
        for t in left:
            ev = self.evidence.pop(t.id, None)
            if ev is not None:
                self.vacated.append((ev.box, ts))
        return Verdict(
            TrackEvents(rested, still, left),
            phantoms=phantoms,
            ended_at=ended,
            to_street=to_street,
            hidden=hidden,
        )

    def forget_all(self) -> None:
        self.evidence.clear()


def release(tracker: Tracker, tracks: list[Track]) -> None:
    """Take tracks off the tracker: no longer at rest, no longer protected."""
    gone = {t.id for t in tracks}
    for t in tracks:
        t.anchor = t.rest_since = None
    tracker.tracks = [t for t in tracker.tracks if t.id not in gone]
