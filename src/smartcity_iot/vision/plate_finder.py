"""Where in a moving camera's frame a plate may be, found cheaply on the frame decoded at
1/4, so the plate reader runs only there and only on frames that may hold one.

Mainland plates have a saturated background of one of three colours (blue, yellow,
new-energy green) in a plate-shaped patch: a connected patch of that colour, of a
plate's size and aspect, filled enough. It is a prefilter: it lets through far more
than plates (a blue car's window frame, a green sign), and the reader decides; a
plate it misses stays unread, which never accuses anyone."""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]

# OpenCV HSV (hue 0..179): the plate backgrounds, broad enough for dusk and JPEG
_COLOURS = (
    ((95, 90, 50), (130, 255, 255)),  # blue
    ((12, 90, 90), (38, 255, 255)),  # yellow
    ((35, 35, 90), (90, 255, 255)),  # new-energy green (it fades to near white)
)
_CLOSE = np.ones((3, 5), np.uint8)  # bridges the characters across the patch


def plate_candidates(small: np.ndarray, scale: int, max_regions: int = 4) -> list[Box]:
    """Regions of the full-resolution frame worth reading, from `small` (the frame at
    1/`scale`): each candidate patch grown to hold its plate with margin, overlapping
    ones merged, at most `max_regions`, largest first."""
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    v = hsv[..., 2]
    gain = 220.0 / max(float(np.percentile(v[::2, ::2], 98)), 1.0)
    if gain > 1.3:  # a dark frame (dusk, night): brightness as by day, so dim plates pass
        hsv[..., 2] = cv2.convertScaleAbs(v, alpha=gain)
    found: list[Box] = []
    for low, high in _COLOURS:
        mask = cv2.inRange(hsv, np.array(low, np.uint8), np.array(high, np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _CLOSE)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        for x, y, w, h, area in stats[1:n]:
            if 4 <= h <= 40 and 10 <= w <= 120 and 1.3 <= w / h <= 7 and area >= 0.35 * w * h:
                found.append(_grown((int(x), int(y), int(w), int(h)), scale, small.shape))
    return _merged(found)[:max_regions]


def _grown(box: Box, scale: int, shape: tuple[int, ...]) -> Box:
    """The patch at full resolution with a plate's width of margin a side and twice its
    height above and below (the reader's detector wants context)."""
    x, y, w, h = (v * scale for v in box)
    full_h, full_w = shape[0] * scale, shape[1] * scale
    x0, y0 = max(0, x - w), max(0, y - 2 * h)
    x1, y1 = min(full_w, x + 2 * w), min(full_h, y + 3 * h)
    return (x0, y0, x1 - x0, y1 - y0)


def _merged(boxes: list[Box]) -> list[Box]:
    """Overlapping regions as one, largest first."""
    out: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b[2] * b[3]):
        for i, o in enumerate(out):
            if (
                b[0] < o[0] + o[2]
                and o[0] < b[0] + b[2]
                and b[1] < o[1] + o[3]
                and o[1] < b[1] + b[3]
            ):
                x0, y0 = min(b[0], o[0]), min(b[1], o[1])
                x1, y1 = max(b[0] + b[2], o[0] + o[2]), max(b[1] + b[3], o[1] + o[3])
                out[i] = (x0, y0, x1 - x0, y1 - y0)
                break
        else:
            out.append(b)
    return sorted(out, key=lambda b: -b[2] * b[3])
