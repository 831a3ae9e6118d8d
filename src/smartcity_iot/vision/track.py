"""Vehicles followed from frame to frame, and the question the parking rule asks:
is this vehicle at rest, and since when (capture time)?

A vehicle is at rest once its box has stayed put for `settle_s`. While at rest,
its box (the anchor) is protected from the background, and its presence is
confirmed by the foreground inside the anchor: a pedestrian passing in front
merges with it or splits it, but the anchor stays mostly foreground, so the
stop goes on (one vehicle, one alert). It ends when the box moves off, or when
the anchor has looked like the empty street for `lost_s` (a vehicle hidden
behind a passer-by or a bus still differs from the empty street)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]
MOVED_IOU = 0.5  # a first box overlapping its place of rest less than this moved in


def iou(a: Box, b: Box) -> float:
    inter = _inter(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def _inter(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return float(max(w, 0) * max(h, 0))


def covered(inner: Box, outer: Box) -> float:
    """Share of `inner` lying inside `outer`."""
    area = inner[2] * inner[3]
    return _inter(inner, outer) / area if area else 0.0


@dataclass
class Track:
    id: int
    box: Box
    first_seen: float
    last_seen: float
    history: deque[tuple[float, Box]] = field(default_factory=lambda: deque(maxlen=40))
    anchor: Box | None = None  # box while at rest
    rest_since: float | None = None
    last_at_rest: float | None = None
    first_box: Box | None = None  # where it was first seen: did it move in?

    @property
    def moved_in(self) -> bool:
        """It came from elsewhere: its first box lies mostly off its place of rest. What
        appears in place (a ghost of a departed car, a patch of changed light) did not."""
        ref = self.anchor or self.box
        return self.first_box is None or iou(self.first_box, ref) < MOVED_IOU

    @property
    def at_rest(self) -> bool:
        return self.anchor is not None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "box": list(self.box),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "anchor": list(self.anchor) if self.anchor else None,
            "rest_since": self.rest_since,
            "last_at_rest": self.last_at_rest,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Track:
        t = cls(d["id"], tuple(d["box"]), d["first_seen"], d["last_seen"])  # type: ignore[arg-type]
        t.anchor = tuple(d["anchor"]) if d["anchor"] else None  # type: ignore[assignment]
        t.rest_since, t.last_at_rest = d["rest_since"], d["last_at_rest"]
        return t


@dataclass(frozen=True, slots=True)
class TrackEvents:
    came_to_rest: list[Track]
    still_at_rest: list[Track]
    left: list[Track]  # were at rest, now moved off or gone


class Tracker:
    def __init__(
        self,
        settle_s: float = 3.0,
        settle_iou: float = 0.85,
        keep_iou: float = 0.6,
        presence: float = 0.45,
        lost_s: float = 4.0,
        drop_moving_s: float = 4.0,
    ) -> None:
        self.tracks: list[Track] = []
        self.settle_s, self.settle_iou, self.keep_iou = settle_s, settle_iou, keep_iou
        self.presence, self.lost_s, self.drop_moving_s = presence, lost_s, drop_moving_s
        self._next_id = 1

    def snapshot(self) -> dict:
        """The vehicles at rest and the id counter: what a restart must keep."""
        return {
            "tracks": [t.to_dict() for t in self.tracks if t.at_rest],
            "next_id": self._next_id,
        }

    def restore(self, snapshot: dict) -> None:
        self.tracks = [Track.from_dict(t) for t in snapshot["tracks"]]
        self._next_id = snapshot["next_id"]

    def protected(self) -> list[Box]:
        return [t.anchor for t in self.tracks if t.anchor is not None]

    def update(
        self,
        boxes: list[Box],
        foreground: np.ndarray,
        ts: float,
        vouch: Callable[[Track], bool] | None = None,
    ) -> TrackEvents:
        """`vouch` may confirm a vehicle at rest that neither a box nor the foreground
        shows (the stop verifier's look at its box: a dim car on grey pavement)."""
        rested, still, left = [], [], []
        unmatched = list(boxes)
        for track in sorted(self.tracks, key=lambda t: not t.at_rest):
            match = self._match(track, unmatched)
            if match is not None:
                unmatched.remove(match)
            if track.at_rest:
                assert track.anchor is not None
                # Its own box (or merged with a passer-by), or the anchor still unlike the empty
                # street: a headlight sweeping past or a bus in front does not make it leave.
                stays = (
                    (match is not None and self._same_place(match, track.anchor))
                    or self._present(track.anchor, foreground)
                    or (vouch is not None and vouch(track))
                )
                if stays:
                    track.last_seen = track.last_at_rest = ts
                    if match is not None:
                        track.box = match
                    still.append(track)
                    # a partial blob of this vehicle (split by a passer-by) is not a new vehicle
                    unmatched = [b for b in unmatched if covered(b, track.anchor) < 0.5]
                    continue
                if ts - (track.last_at_rest or ts) < self.lost_s:
                    # the empty street for a moment only (a glitch): confirm before deciding
                    continue
                left.append(track)
                track.anchor = track.rest_since = None
            if match is not None:
                track.box, track.last_seen = match, ts
                track.history.append((ts, match))
                if self._settled(track, ts):
                    rested.append(track)
        self.tracks = [
            t
            for t in self.tracks
            if t not in left and (t.at_rest or ts - t.last_seen < self.drop_moving_s)
        ]
        for box in unmatched:
            t = Track(self._next_id, box, ts, ts, first_box=box)
            t.history.append((ts, box))
            self._next_id += 1
            self.tracks.append(t)
        return TrackEvents(rested, still, left)

    def _match(self, track: Track, boxes: list[Box]) -> Box | None:
        ref = track.anchor or track.box
        best = max(boxes, key=lambda b: iou(b, ref), default=None)
        return best if best is not None and iou(best, ref) >= 0.3 else None

    def _same_place(self, box: Box, anchor: Box) -> bool:
        # its own box, the box merged with a passer-by, or a part of it
        return iou(box, anchor) >= self.keep_iou or covered(anchor, box) >= 0.85

    def _present(self, anchor: Box, foreground: np.ndarray) -> bool:
        x, y, w, h = anchor
        patch = foreground[max(y, 0) : y + h, max(x, 0) : x + w]
        return patch.size > 0 and float(np.count_nonzero(patch)) / patch.size >= self.presence

    def _settled(self, track: Track, ts: float) -> bool:
        """At rest once its boxes have overlapped the current one closely for `settle_s`;
        it came to rest at the first of those boxes."""
        if track.at_rest:
            return False
        since, run = ts, []
        for t, b in reversed(track.history):
            if iou(b, track.box) < self.settle_iou:
                break
            since = t
            run.append(b)
        if ts - since < self.settle_s:
            return False
        track.anchor = tuple(int(v) for v in np.median(np.array(run), axis=0))  # type: ignore[assignment]
        track.rest_since = track.last_at_rest = since
        return True
