"""The street a simulated camera sees, derived from its configuration (SPEC 5): sidewalk and
loading-spot masks, the kerb line, road lanes and the perspective scale of things on them.

Image pixels, x right, y down. The camera looks across a street: buildings at the top, the
road below them, the monitored sidewalk in the lower part of the image.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from .plates import CHAR_SHARE, plate_width

GRADE_DWELL_S = {"model": 120.0, "secondary": 300.0, "alley": 600.0}
# Plate height / car length in the picture: ~2.9 times life size (a plate is ~3 % of a car's
# length), so that the cars nearest the camera carry plates of reader size (SPEC 5 reads them
# from the frames); at life size every plate of this wide street view would be ~6 px tall.
PLATE_H_FRAC = 0.09
PLATE_FACE_SHARE = 0.62  # plate width / width of the car's end face
PLATE_CENTRE = 0.63  # plate centre, down the car's box height (between lamps and bumper)
# Enforcement cameras look along the street at an angle, so that cars show a plate: the foot
# of the lens lies beside the picture (left or right by camera), LENS_DEPTH half-widths from
# the cars; the end faces then turn 35..70 degrees towards it.
LENS_FOOT = 0.35  # image widths beyond the picture's edge
LENS_DEPTH = 1.0


class CameraConfigError(ValueError):
    """A camera file the simulator cannot stage a street for; names the file and field."""


@dataclass(frozen=True)
class SpotArea:
    id: str
    contour: np.ndarray  # int32 (n, 1, 2), for cv2.pointPolygonTest and fillPoly
    hours: tuple[str, ...]
    max_stop_s: float

    @property
    def x_range(self) -> tuple[float, float]:
        xs = self.contour[:, 0, 0]
        return float(xs.min()), float(xs.max())

    @property
    def y_range(self) -> tuple[float, float]:
        ys = self.contour[:, 0, 1]
        return float(ys.min()), float(ys.max())

    def depth(self, x: float, y: float) -> float:
        """Signed distance of a point to the outline: > 0 inside."""
        return float(cv2.pointPolygonTest(self.contour, (float(x), float(y)), True))


class CarEnd(NamedTuple):
    """The end of a car the camera sees and its plate, in the car box's own pixels."""

    side: int  # +1: the box's right end is seen, -1: its left end
    squash: float  # foreshortening of the end face, 0 edge-on .. 1 face-on
    face_x: float  # left edge of the end face
    face_w: float
    plate_h: int  # plate height (not foreshortened: the face turns about a vertical axis)
    plate_w: int  # plate width face-on; seen as plate_w * squash
    plate_cx: float
    plate_cy: float

    @property
    def char_px(self) -> float:
        return self.plate_h * CHAR_SHARE


def car_end(w: float, h: float, style: str, side: int, squash: float) -> CarEnd:
    """Where the plate sits on a car of box size w x h whose `side` end the camera sees."""
    ph = max(2, round(PLATE_H_FRAC * w))
    pw = plate_width(style, ph)
    fw = min(0.4 * w, pw / PLATE_FACE_SHARE * squash)
    x0 = w - fw if side > 0 else 0.0
    return CarEnd(side, squash, x0, fw, ph, pw, x0 + fw / 2, PLATE_CENTRE * h)


class StreetLayout:
    """Geometry shared by the stager (where cars may stop) and the renderer (what to paint)."""

    def __init__(self, camera: dict, source: str = "camera"):
        self.camera = camera
        try:
            self.id = str(camera["id"])
            self.width = int(camera["image"]["width"])
            self.height = int(camera["image"]["height"])
            rings = camera["sidewalk"]
            self.grade = str(camera["grade"])
            dwell = camera.get("dwell_s")
            self.dwell_s = float(dwell) if dwell is not None else GRADE_DWELL_S[self.grade]
            self.sidewalks = [np.asarray(r, dtype=np.int32).reshape(-1, 1, 2) for r in rings]
            self.spots = [
                SpotArea(str(s["id"]), np.asarray(s["polygon"], dtype=np.int32).reshape(-1, 1, 2),
                         tuple(str(h) for h in s.get("hours", [])), float(s["max_stop_min"]) * 60)
                for s in camera.get("loading_spots", [])
            ]  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise CameraConfigError(
                f"{source}: missing or bad field ({exc!r}); see SPEC 5 for the camera file format"
            ) from None
        if not self.sidewalks or any(len(r) < 3 for r in self.sidewalks):
            raise CameraConfigError(f"{source}: field sidewalk needs polygons of >= 3 points")
        # Sizes of cars and people are tuned to 1280x720; other frame heights scale them.
        self.unit = self.height / 720.0
        self.sidewalk_mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(self.sidewalk_mask, self.sidewalks, 255)
        self.spot_mask = np.zeros_like(self.sidewalk_mask)
        for spot in self.spots:
            cv2.fillPoly(self.spot_mask, [spot.contour], 255)
        self.kerb_y = self._kerb_line()
        foot = -LENS_FOOT if zlib.crc32(self.id.encode()) % 2 else 1 + LENS_FOOT
        self.lens_x = foot * self.width
        self.road_top = float(np.clip(self.kerb_y.min() - 255 * self.unit, 60 * self.unit,
                                      0.45 * self.height))  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> StreetLayout:
        path = Path(path)
        try:
            camera = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CameraConfigError(f"{path}: not a readable camera JSON file: {exc}") from None
        if not isinstance(camera, dict):
            raise CameraConfigError(f"{path}: expected a JSON object (SPEC 5)")
        return cls(camera, str(path))

    def _kerb_line(self) -> np.ndarray:
        """Top edge of the sidewalk per image column; gaps (driveways) are interpolated."""
        cols = self.sidewalk_mask.any(axis=0)
        top = np.argmax(self.sidewalk_mask > 0, axis=0).astype(float)
        xs = np.arange(self.width)
        if not cols.any():
            raise CameraConfigError(
                f"camera {self.id}: field sidewalk covers no pixel of the image"
            )
        return np.interp(xs, xs[cols], top[cols])

    # -- queries ---------------------------------------------------------------------------
    def kerb(self, x: float) -> float:
        return float(self.kerb_y[int(np.clip(round(x), 0, self.width - 1))])

    def scale(self, y: float) -> float:
        """Mild perspective: things further up the image are smaller."""
        return 0.55 + 0.45 * y / self.height

    def near_lane(self, x: float) -> float:
        """Bottom y of a car on the road lane next to the kerb."""
        return self.kerb(x) - 22 * self.unit

    def far_lane(self, x: float) -> float:
        return self.road_top + 0.44 * (self.kerb(x) - self.road_top)

    def sidewalk_depth(self, x: float, y: float) -> float:
        """Signed distance to the nearest sidewalk outline: > 0 inside a sidewalk polygon."""
        pt = (float(x), float(y))
        return max(float(cv2.pointPolygonTest(c, pt, True)) for c in self.sidewalks)

    def spot_at(self, x: float, y: float) -> SpotArea | None:
        return next((s for s in self.spots if s.depth(x, y) > 0), None)

    def end_view(self, x: float, w: float) -> tuple[int, float]:
        """Which end of a car with box columns x..x+w the camera sees (+1 right, -1 left) and
        the end face's foreshortening: the sine of its turn towards the lens (0 edge-on)."""
        dx = x + w / 2 - self.lens_x
        turn = math.atan(abs(dx) / (LENS_DEPTH * self.width / 2))
        return (1 if dx < 0 else -1), math.sin(turn)

    def box(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Box (x, y, w, h) of a thing of base size w x h standing with bottom-centre at x, y."""
        s = self.scale(y)
        return (x - w * s / 2, y - h * s, w * s, h * s)
