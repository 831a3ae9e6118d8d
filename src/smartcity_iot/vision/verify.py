"""A stop is a vehicle: each box at rest checked against the street as it looked before the
arrival and against its own first look, by normalised cross-correlation of edge patches."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .track import Box, Track, Tracker, TrackEvents

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
    to_street: list[Track]  # of those, the ones whose box shows the empty street again
    hidden: list[Track]  # at rest, but not visible in this frame: no photo, no timing now


@dataclass
class StopVerifier:
    """Per camera: the evidence of each box at rest. `distinct` is the most a vehicle may
    look like the street it stands on; `street` the least the box must look like the
    street, for `gone_s`, for the stop to have ended; `replaced_s` how long the box may
    look like neither (a passer-by, a passing bus) before its vehicle is taken as gone."""

    distinct: float = 0.5
    street: float = 0.7
    visible: float = 0.45
    gone_s: float = 3.0
    replaced_s: float = 30.0
    evidence: dict[int, Evidence] = field(default_factory=dict)

    def check(
        self, events: TrackEvents, image: np.ndarray, background: np.ndarray | None, ts: float
    ) -> Verdict:
        if background is None:  # a detector without a street model: nothing to check against
            return Verdict(events, [], {}, [], [])
        now = edges(gray(image))
        rested, phantoms = [], []
        street_edges = None
        for t in events.came_to_rest:
            assert t.anchor is not None
            if street_edges is None:
                street_edges = edges(cv2.cvtColor(background, cv2.COLOR_BGR2GRAY))
            street = patch(street_edges, t.anchor)
            seen = patch(now, t.anchor)
            if ncc(seen, street) >= self.distinct:
                phantoms.append(t)  # the box holds only the street (a ghost of light or of
                continue  # a car gone): not a vehicle
            self.evidence[t.id] = Evidence(t.anchor, street.copy(), seen.copy())
            rested.append(t)
        still, left, hidden, ended, to_street = [], list(events.left), [], {}, []
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
            elif v >= self.visible:
                ev.street_since = ev.unlike_since = None
            else:  # hidden behind something, or another vehicle took the place
                ev.street_since = None
                ev.unlike_since = ev.unlike_since or ts
            if ev.street_since is not None and ts - ev.street_since >= self.gone_s:
                ended[t.id] = ev.street_since
                left.append(t)
                to_street.append(t)
            elif ev.unlike_since is not None and ts - ev.unlike_since >= self.replaced_s:
                ended[t.id] = ev.unlike_since
                left.append(t)
            elif ev.street_since is not None or ev.unlike_since is not None:
                hidden.append(t)  # still timed by the tracker, but no photo or alert now
            else:
                still.append(t)
        for t in left:
            self.evidence.pop(t.id, None)
        # KNOWN DEFECT, kept on purpose for now (see the issue 9 note): the two lists are
        # crossed, so the street is relearnt under stops that are only hidden rather than
        # under those gone back to the street. Uncrossing them alone lets the shadow frozen
        # under a departed car's anchor become a phantom (test_real_simulator, fangmen
        # seed 5): it must land with a clean-up of vacated anchors.
        return Verdict(
            TrackEvents(rested, still, left),
            phantoms=phantoms,
            ended_at=ended,
            to_street=hidden,
            hidden=to_street,
        )

    def forget_all(self) -> None:
        self.evidence.clear()


def release(tracker: Tracker, tracks: list[Track]) -> None:
    """Take tracks off the tracker: no longer at rest, no longer protected."""
    gone = {t.id for t in tracks}
    for t in tracks:
        t.anchor = t.rest_since = None
    tracker.tracks = [t for t in tracker.tracks if t.id not in gone]
