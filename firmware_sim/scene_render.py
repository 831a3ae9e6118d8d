"""Paints one camera frame of a simulated street: a static street layer painted once, moving
sprites (cars with their plates in perspective) composited on it, then light (time of day,
building and cloud shadows, street lights, headlights), sensor noise and JPEG.

Light is computed on a quarter-resolution grid and applied as one multiply, which keeps a
720p frame to a few milliseconds.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime
from functools import lru_cache

import cv2
import numpy as np

from .plates import Plate, plate_image
from .scene_events import Cloud, Seen, StreetEvents
from .scene_layout import CarEnd, StreetLayout, car_end

LIGHT_DOWNSCALE = 4
SQUASH_STEP = 0.025  # end-face foreshortening is drawn in steps, so sprites can be cached
NOISE_SIGMA = 3.5
CAR_COLOURS = [(235, 235, 232), (200, 200, 198), (30, 30, 32), (150, 150, 152), (40, 40, 170),
               (120, 60, 20), (60, 60, 62), (210, 215, 220), (30, 90, 160), (90, 40, 30),
               (170, 170, 175), (50, 120, 60)]  # fmt: skip
CLOTHES = [(40, 40, 40), (160, 110, 50), (50, 50, 160), (200, 200, 200), (60, 120, 60),
           (90, 60, 40), (40, 140, 200), (120, 120, 120), (150, 80, 150),
           (30, 60, 110)]  # fmt: skip
FACADES = [(170, 190, 205), (200, 200, 195), (75, 85, 150), (150, 150, 150), (180, 205, 225),
           (160, 170, 165)]  # fmt: skip


def _smooth(a: float, b: float, x: float) -> float:
    t = min(max((x - a) / (b - a), 0.0), 1.0)
    return t * t * (3 - 2 * t)


@lru_cache(maxsize=4)
def _noise_bank(h: int, w: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Two pre-drawn sensor-noise fields split into +/- parts; frames take shifted windows."""
    rng = np.random.default_rng(20261123)
    bank = []
    for _ in range(2):
        n = np.round(rng.normal(0, NOISE_SIGMA, (h + 32, w + 32, 3))).astype(np.int16)
        bank.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
    return tuple(bank)


class Sky:
    """Daylight by local time: elevation proxy, light levels and colours (BGR gains)."""

    def __init__(self, when: datetime, sunniness: float):
        doy = when.timetuple().tm_yday
        day_len = 12 + 2.2 * math.sin(2 * math.pi * (doy - 80) / 365)  # ~29 deg north
        noon = 12.1
        hour = when.hour + when.minute / 60 + when.second / 3600
        rise, sets = noon - day_len / 2, noon + day_len / 2
        if rise <= hour <= sets:
            e = math.sin(math.pi * (hour - rise) / day_len)
        else:
            e = -min(abs(hour - rise), abs(hour - sets), 24 - abs(hour - rise)) / 3
        self.elevation = e
        self.hour, self.noon = hour, noon
        day = _smooth(-0.15, 0.25, e)
        self.night = 1 - _smooth(-0.1, 0.1, e)
        self.sun = 0.5 * _smooth(0.0, 0.3, e) * sunniness
        warm = day * (1 - _smooth(0.1, 0.45, e))
        self.sun_bgr = np.array([1 - 0.3 * warm, 1 - 0.08 * warm, 1 + 0.15 * warm], np.float32)
        sky = 0.12 + 0.43 * day
        cool = np.array([1.2, 1.0, 0.85], np.float32)
        self.sky_bgr = sky * (cool + day * (np.array([1.05, 1.0, 0.95], np.float32) - cool))

    def shadow_edge(self, layout: StreetLayout) -> tuple[float, float]:
        """Lower edge (y at x=0, y at x=width) of the shade cast by the buildings."""
        length = min(120 / max(self.elevation, 0.08), 700) * layout.unit
        slant = 0.6 * (self.hour - self.noon) / 6
        y = layout.road_top - 20 * layout.unit + length
        return y * (1 - slant / 2), y * (1 + slant / 2)


class StreetRenderer:
    def __init__(self, layout: StreetLayout, events: StreetEvents, seed: int):
        self.layout, self.events, self.seed = layout, events, seed
        self.key = events._key
        rng = np.random.default_rng([*self.key, 9])
        self.sunniness = float(rng.uniform(0.7, 1.0))
        h, w = layout.height, layout.width
        self.lh, self.lw = h // LIGHT_DOWNSCALE, w // LIGHT_DOWNSCALE
        self.lamps: list[tuple[int, int, int, int]] = []  # base x, y, head x, y
        self.emissive = np.zeros((h, w, 3), np.uint8)
        self.background = self._paint_street(rng)
        self.pools = self._street_light_pools()
        self._sprites: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._plates: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._clouds: dict[int, np.ndarray] = {}

    # -- per frame ---------------------------------------------------------------------------
    def render(self, ts: float) -> np.ndarray:
        lay = self.layout
        frame = self.background.copy()
        seen = self.events.seen_at(ts)
        poles = iter(self.lamps)
        pole = next(poles, None)
        for s in seen:
            while pole is not None and pole[1] <= s.y + s.h:  # a lamp post in front of s
                self._draw_pole(frame, pole)
                pole = next(poles, None)
            if s.kind == "car":
                self._paste_car(frame, s)
            elif s.kind == "pedestrian":
                _draw_pedestrian(frame, s, ts)
            else:
                _draw_cyclist(frame, s, ts)
        while pole is not None:
            self._draw_pole(frame, pole)
            pole = next(poles, None)
        sky = Sky(datetime.fromtimestamp(ts, self.events.tz), self.sunniness)
        light = self._light(ts, sky, seen)
        full = cv2.resize(light, (lay.width, lay.height), interpolation=cv2.INTER_LINEAR)
        cv2.multiply(frame, full, dst=frame, scale=1 / 128)
        if sky.night > 0.02:
            cv2.addWeighted(frame, 1.0, self.emissive, sky.night, 0, dst=frame)
            for s in seen:
                if s.kind == "car" and s.moving:
                    _draw_car_lamps(frame, s, sky.night)
        rng = np.random.default_rng([*self.key, int(round(ts * 1000))])
        bank = _noise_bank(lay.height, lay.width)
        for _ in range(2 if sky.night > 0.5 else 1):  # more gain at night, more noise
            pos, neg = bank[int(rng.integers(len(bank)))]
            dy, dx = (int(v) for v in rng.integers(0, 32, 2))
            cv2.add(frame, pos[dy : dy + lay.height, dx : dx + lay.width], dst=frame)
            cv2.subtract(frame, neg[dy : dy + lay.height, dx : dx + lay.width], dst=frame)
        return frame

    def _light(self, ts: float, sky: Sky, seen: list[Seen]) -> np.ndarray:
        """Illumination on the quarter grid, 128 = 1.0."""
        lay, lh, lw, k = self.layout, self.lh, self.lw, LIGHT_DOWNSCALE
        sunlit = np.full((lh, lw), 255, np.uint8)
        y0, y1 = sky.shadow_edge(lay)
        shade = np.array([[0, 0], [lw, 0], [lw, y1 / k], [0, y0 / k]], np.int32)
        cv2.fillPoly(sunlit, [shade], 0)
        for cloud, f in self.events.clouds_at(ts):
            self._cloud_shadow(sunlit, cloud, f)
        s = cv2.blur(sunlit, (5, 5)).astype(np.float32) * (1 / 255)
        light = s[..., None] * (sky.sun * sky.sun_bgr) + sky.sky_bgr
        if sky.night > 0.02:
            light += self.pools * sky.night
            beams = np.zeros((lh, lw), np.uint8)
            for c in seen:
                if c.kind == "car" and c.moving:
                    front = c.x + c.w if c.heading > 0 else c.x
                    centre = ((front + c.heading * c.w * 0.55) / k, (c.y + c.h * 0.75) / k)
                    axes = (max(1, int(c.w * 0.55 / k)), max(1, int(c.h * 0.3 / k)))
                    cv2.ellipse(beams, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, 255, -1)
            if beams.any():
                glow = cv2.GaussianBlur(beams, (0, 0), 3).astype(np.float32)
                light += (glow * (0.9 * sky.night / 255))[..., None] * \
                    np.array([0.9, 1.0, 1.05], np.float32)  # fmt: skip
        return np.clip(light * 128, 0, 255).astype(np.uint8)

    def _cloud_shadow(self, sunlit: np.ndarray, cloud: Cloud, f: float) -> None:
        mask = self._clouds.get(cloud.look)
        if mask is None:
            mask = self._clouds[cloud.look] = _cloud_mask(cloud.look, self.lw, self.lh)
            if len(self._clouds) > 16:
                self._clouds.pop(next(iter(self._clouds)))
        ch, cw = mask.shape
        x = (
            int(-cw + f * (self.lw + cw))
            if cloud.heading > 0
            else int(self.lw - f * (self.lw + cw))
        )
        y = (self.lh - ch) // 2
        a, b = max(0, x), min(self.lw, x + cw)
        if a >= b:
            return
        roi = sunlit[y : y + ch, a:b]
        # Clouds take away `depth` of the total light, i.e. most of the direct sun.
        keep = 255 - (mask[:, a - x : b - x] * (2.2 * cloud.depth)).clip(0, 255).astype(np.uint8)
        np.minimum(roi, keep, out=roi)

    def _paste_car(self, frame: np.ndarray, s: Seen) -> None:
        bw, bh = int(round(s.w)), int(round(s.h))
        x0, y0 = int(round(s.x)), int(round(s.y))
        side, squash = self.layout.end_view(s.x, s.w)
        squash = round(squash / SQUASH_STEP) * SQUASH_STEP
        key = (s.id, bw, bh, side, squash)
        sprite = self._sprites.get(key)
        if sprite is None:
            end = plate = None
            if s.plate is not None:
                end = car_end(s.w, s.h, s.plate.style, side, squash)
                plate = self._plate(s.id, s.plate, end.plate_h)
            sprite = self._sprites[key] = _car_sprite(s.look, bw, bh, s.heading, end, plate)
            if len(self._sprites) > 48:
                self._sprites.popitem(last=False)
        img, mask = sprite
        h, w = frame.shape[:2]
        a, b = max(0, x0), min(w, x0 + bw)
        c, d = max(0, y0), min(h, y0 + bh)
        if a >= b or c >= d:
            return
        np.copyto(frame[c:d, a:b], img[c - y0 : d - y0, a - x0 : b - x0],
                  where=mask[c - y0 : d - y0, a - x0 : b - x0, None])  # fmt: skip

    def _plate(self, vehicle: int, plate: Plate, height: int) -> np.ndarray:
        key = (vehicle, height)
        img = self._plates.get(key)
        if img is None:
            img = self._plates[key] = plate_image(plate.text, plate.style, height, plate.dirt,
                                                  plate.seed)  # fmt: skip
            if len(self._plates) > 32:
                self._plates.popitem(last=False)
        return img

    # -- painted once --------------------------------------------------------------------------
    def _paint_street(self, rng: np.random.Generator) -> np.ndarray:
        lay = self.layout
        h, w, u = lay.height, lay.width, lay.unit
        img = np.zeros((h, w, 3), np.uint8)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self._paint_buildings(img, rng)
        top = int(lay.road_top)
        pave = int(lay.road_top - 24 * u)
        img[pave:top] = (160, 163, 163)
        img[pave:top, :: int(30 * u) or 1] = (120, 122, 122)
        img[top - 3 : top] = (185, 188, 188)
        # Asphalt: coarse patches, fine grain, cracks.
        coarse = cv2.resize(rng.normal(0, 1, (h // 24 + 2, w // 24 + 2)).astype(np.float32),
                            (w, h), interpolation=cv2.INTER_CUBIC)  # fmt: skip
        grain = rng.normal(0, 1, (h, w)).astype(np.float32)
        asphalt = 88 + 5 * coarse + 6 * grain
        road = np.clip(asphalt[..., None] + np.array([2, 0, -2], np.float32), 0, 255)
        below = (yy >= top)[..., None]
        img[:] = np.where(below, road.astype(np.uint8), img)
        for _ in range(6):
            x, y = rng.uniform(0, w), rng.uniform(top, lay.kerb_y.min())
            pts = np.cumsum(rng.normal(0, 14 * u, (8, 2)), axis=0) + (x, y)
            cv2.polylines(img, [pts.astype(np.int32)], False, (58, 58, 58), 1)
        xs = np.arange(0, w + 64, 64)
        kerb = np.array([lay.kerb(float(x)) for x in xs])
        centre = lay.road_top + 0.5 * (kerb - lay.road_top)
        for off in (-4 * u, 4 * u):
            pts = np.stack([xs, centre + off], 1).astype(np.int32)
            cv2.polylines(img, [pts], False, (40, 170, 205), max(2, int(3 * u)))
        edge = np.stack([xs, kerb - 12 * u], 1).astype(np.int32)
        cv2.polylines(img, [edge], False, (215, 218, 218), max(2, int(3 * u)))
        self._paint_sidewalk(img, rng, xx, yy)
        vignette = 1 - 0.12 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 2
        return np.clip(img * vignette[..., None], 0, 255).astype(np.uint8)

    def _paint_buildings(self, img: np.ndarray, rng: np.random.Generator) -> None:
        lay = self.layout
        u = lay.unit
        bottom = int(lay.road_top - 24 * u)
        x = int(-rng.uniform(0, 120) * u)
        while x < lay.width:
            bw = int(rng.uniform(170, 360) * u)
            colour = np.array(FACADES[int(rng.integers(len(FACADES)))], np.float32)
            block = colour + rng.normal(0, 4, (bottom, bw, 1)).astype(np.float32)
            a, b = max(0, x), min(lay.width, x + bw)
            img[:bottom, a:b] = np.clip(block[:, a - x : b - x], 0, 255).astype(np.uint8)
            cv2.line(img, (a, 0), (a, bottom), (90, 95, 100), 2)
            shop_top = bottom - int(52 * u)
            for wy in range(int(10 * u), shop_top - int(30 * u), int(40 * u)):
                for wx in range(x + int(16 * u), x + bw - int(30 * u), int(42 * u)):
                    p, q = (wx, wy), (wx + int(22 * u), wy + int(26 * u))
                    cv2.rectangle(img, p, q, (95, 85, 75), -1)
                    cv2.rectangle(img, p, q, (190, 190, 190), 1)
                    if rng.random() < 0.35:
                        cv2.rectangle(self.emissive, p, q, (90, 190, 235), -1)
            sign = tuple(int(v) for v in rng.integers(30, 230, 3))
            cv2.rectangle(img, (x + 6, shop_top), (x + bw - 6, shop_top + int(14 * u)), sign, -1)
            glass = (x + 10, shop_top + int(16 * u)), (x + bw - 10, bottom - 2)
            cv2.rectangle(img, *glass, (70, 72, 68), -1)
            cv2.rectangle(self.emissive, *glass, (110, 180, 220), -1)
            x += bw

    def _paint_sidewalk(self, img: np.ndarray, rng: np.random.Generator, xx: np.ndarray,
                        yy: np.ndarray) -> None:  # fmt: skip
        lay = self.layout
        u = lay.unit
        inside = lay.sidewalk_mask > 0
        scale = 0.55 + 0.45 * yy / lay.height  # lay.scale() on the whole grid
        depth = yy - lay.kerb_y[None, :].astype(np.float32)
        v = depth / (34 * u * scale)
        row = np.floor(v)
        col = (xx - lay.width / 2) / (56 * u * scale) + 0.5 * (row % 2)
        tile = (np.floor(col).astype(np.int64) * 73856093) ^ (row.astype(np.int64) * 19349663)
        shade = ((tile & 0xFFFF) / 65535.0 - 0.5).astype(np.float32) * 22
        grout = (np.minimum(v - row, col - np.floor(col)) < 0.07).astype(np.float32)
        base = np.array([138, 148, 160], np.float32) + shade[..., None]
        base += rng.normal(0, 5, (lay.height, lay.width, 1)).astype(np.float32)
        tactile = (row == 2)[..., None]
        base = np.where(tactile, np.array([45, 175, 215], np.float32) + shade[..., None] * 0.5,
                        base)  # fmt: skip
        base *= (1 - 0.35 * grout)[..., None]
        img[inside] = np.clip(base[inside], 0, 255).astype(np.uint8)
        for contour in lay.sidewalks:
            pts = contour[:, 0, :]
            for p, q in zip(pts, np.roll(pts, -1, axis=0)):
                if _on_border(p, q, lay.width, lay.height):
                    continue
                a, b = (int(p[0]), int(p[1])), (int(q[0]), int(q[1]))
                cv2.line(img, (a[0], a[1] - int(6 * u)), (b[0], b[1] - int(6 * u)),
                         (55, 55, 55), max(2, int(3 * u)))  # fmt: skip
                cv2.line(img, a, b, (178, 182, 182), max(3, int(9 * u)))
        for spot in lay.spots:
            mask = np.zeros(inside.shape, np.uint8)
            cv2.fillPoly(mask, [spot.contour], 255)
            sel = mask > 0
            blue = np.array([165, 95, 35], np.float32)
            img[sel] = (img[sel] * 0.35 + blue * 0.65).astype(np.uint8)
            cv2.polylines(img, [spot.contour], True, (235, 235, 235), max(3, int(4 * u)))
        x = rng.uniform(90, 300) * u
        while x < lay.width - 40 * u:
            base_y = int(lay.kerb(x) + 14 * u)
            if inside[min(base_y, lay.height - 1), int(x)]:
                top = int(base_y - 300 * u)
                head = (int(x - 40 * u), top + int(6 * u))
                cv2.ellipse(self.emissive, head, (int(14 * u), int(5 * u)), 0, 0, 360,
                            (200, 235, 255), -1)  # fmt: skip
                self.lamps.append((int(x), base_y, head[0], head[1]))
            x += rng.uniform(380, 470) * u
        self.lamps.sort(key=lambda p: p[1])
        for pole in self.lamps:
            self._draw_pole(img, pole)

    def _draw_pole(self, img: np.ndarray, pole: tuple[int, int, int, int]) -> None:
        """A street lamp post; drawn in depth order so cars on the road pass behind it."""
        u = self.layout.unit
        x, base_y, hx, hy = pole
        top = hy - int(6 * u)
        cv2.line(img, (x, base_y), (x, top), (72, 72, 78), max(3, int(7 * u)))
        cv2.line(img, (x, top), (hx, hy), (72, 72, 78), max(2, int(4 * u)))
        cv2.ellipse(img, (hx, hy), (int(16 * u), int(6 * u)), 0, 0, 360, (90, 90, 95), -1)

    def _street_light_pools(self) -> np.ndarray:
        lay, k = self.layout, LIGHT_DOWNSCALE
        yy, xx = np.mgrid[0 : self.lh, 0 : self.lw].astype(np.float32) * k
        pool = np.zeros((self.lh, self.lw), np.float32)
        for bx, by, _, _ in self.lamps:
            cx, cy = bx - 20 * lay.unit, by + 30 * lay.unit
            d2 = ((xx - cx) / (230 * lay.unit)) ** 2 + ((yy - cy) / (150 * lay.unit)) ** 2
            pool += np.exp(-d2 * 1.6)
        return (np.minimum(pool, 1.2) * 0.8)[..., None] * np.array([0.85, 0.95, 1.0], np.float32)


def _on_border(p: np.ndarray, q: np.ndarray, w: int, h: int) -> bool:
    for axis, limit in ((0, 0), (0, w), (1, 0), (1, h)):
        if abs(p[axis] - limit) <= 1 and abs(q[axis] - limit) <= 1:
            return True
    return False


def _cloud_mask(look: int, lw: int, lh: int) -> np.ndarray:
    """A soft cloud shadow blob on the quarter grid, 0..255 float32."""
    rng = np.random.default_rng(look)
    cw, ch = int(lw * rng.uniform(0.5, 0.9)), int(lh * rng.uniform(0.7, 1.0))
    m = np.zeros((ch, cw), np.uint8)
    for _ in range(int(rng.integers(3, 7))):
        c = (int(rng.uniform(0.2, 0.8) * cw), int(rng.uniform(0.25, 0.75) * ch))
        axes = (int(rng.uniform(0.15, 0.35) * cw), int(rng.uniform(0.15, 0.35) * ch))
        cv2.ellipse(m, c, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return cv2.GaussianBlur(m, (0, 0), max(2.0, cw / 14)).astype(np.float32)


def _car_sprite(look: int, w: int, h: int, heading: int, end: CarEnd | None = None,
                plate: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A car seen from the side, and the end of it the camera sees turned towards the lens
    with its plate in perspective; and its mask."""
    fw = int(round(end.face_w)) if end is not None else 0
    if end is None or fw < 2:
        return _side_view(look, w, h, heading)[:2]
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), bool)
    side_w = w - fw
    x0 = side_w if end.side > 0 else 0
    sx = 0 if end.side > 0 else fw
    body, body_mask, colour = _side_view(look, side_w, h, heading)
    img[:, sx : sx + side_w], mask[:, sx : sx + side_w] = body, body_mask
    _draw_end_face(img, mask, x0, fw, h, colour, end, front=(heading > 0) == (end.side > 0))
    if plate is not None:
        _warp_plate(img, plate, end)
    return img, mask


def _draw_end_face(img: np.ndarray, mask: np.ndarray, x0: int, fw: int, h: int,
                   colour: np.ndarray, end: CarEnd, front: bool) -> None:  # fmt: skip
    """Bumper, lamps and grille of the car's front or back, foreshortened to fw pixels."""
    near, far = (x0, x0 + fw - 1) if end.side > 0 else (x0 + fw - 1, x0)
    k = 0.02 * h  # the far corner is further from the lens: a little shorter
    panel = np.array([[near, 0.40 * h], [far, 0.40 * h + k], [far, 0.86 * h - k],
                      [near, 0.86 * h]], np.int32)  # fmt: skip
    # The cabin's end above it: its roof line meets the side view's, glass inside the pillars.
    ins = 0.12 * (far - near)
    cabin = np.array([[near, 0.40 * h], [near + ins, 0.16 * h], [far - 2 * ins, 0.16 * h + k],
                      [far, 0.40 * h + k]], np.int32)  # fmt: skip
    glass = np.array([[near + ins, 0.38 * h], [near + 1.8 * ins, 0.21 * h],
                      [far - 2.6 * ins, 0.21 * h + k], [far - ins, 0.38 * h + k]],
                     np.int32)  # fmt: skip
    cv2.fillPoly(img, [cabin], tuple(float(v) for v in colour * 0.8))
    cv2.fillPoly(img, [glass], (62, 56, 50))
    cv2.fillPoly(img, [panel], tuple(float(v) for v in np.clip(colour * 0.92, 0, 255)))
    m = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(m, [panel, cabin], 255)
    mask |= m > 0
    cv2.line(img, (near, int(0.40 * h)), (near, int(0.86 * h)),
             tuple(float(v) for v in colour * 0.6), 1)  # fmt: skip
    lamp = (200, 225, 235) if front else (40, 40, 150)
    y0, y1 = int(0.44 * h), int(0.53 * h)
    for a, b in ((0.05, 0.24), (0.76, 0.95)):
        cv2.rectangle(img, (int(x0 + a * fw), y0), (int(x0 + b * fw), y1), lamp, -1)
    if front:
        cv2.rectangle(img, (int(x0 + 0.3 * fw), y0 + 1), (int(x0 + 0.7 * fw), y1),
                      (40, 40, 42), -1)  # fmt: skip
    cv2.rectangle(img, (x0, int(0.78 * h)), (x0 + fw - 1, int(0.86 * h - k)), (35, 35, 35), -1)


def _warp_plate(img: np.ndarray, plate: np.ndarray, end: CarEnd) -> None:
    """The face-on plate image drawn onto the turned end face (a homography)."""
    ph, pw = plate.shape[:2]
    half = pw * end.squash / 2
    left, right = end.plate_cx - half, end.plate_cx + half
    near_h, far_h = ph / 2, ph / 2 * 0.94
    lh, rh = (near_h, far_h) if end.side > 0 else (far_h, near_h)
    cy = end.plate_cy
    dst = np.array(
        [[left, cy - lh], [right, cy - rh], [right, cy + rh], [left, cy + lh]], np.float32
    )
    xa, ya = int(np.floor(dst[:, 0].min())), int(np.floor(dst[:, 1].min()))
    xb, yb = int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1
    xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, img.shape[1]), min(yb, img.shape[0])
    if xb - xa < 1 or yb - ya < 1:
        return
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst - np.array([xa, ya], np.float32))
    roi = img[ya:yb, xa:xb].copy()
    cv2.warpPerspective(plate, m, (xb - xa, yb - ya), dst=roi, flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_TRANSPARENT)  # fmt: skip
    img[ya:yb, xa:xb] = roi


def _side_view(
    look: int, w: int, h: int, heading: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A car seen from above-ish, facing right (flipped for left), its mask and body colour."""
    rng = np.random.default_rng(look)
    colour = np.array(CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))], np.float32)
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    body_top, body_bot = int(0.36 * h), int(0.86 * h)
    grad = np.linspace(1.15, 0.8, body_bot - body_top, dtype=np.float32)[:, None, None]
    img[body_top:body_bot] = np.clip(colour * grad, 0, 255).astype(np.uint8)
    cv2.rectangle(mask, (int(0.02 * w), body_top), (int(0.98 * w), body_bot), 255, -1)
    roof = float(rng.uniform(0.02, 0.1))
    cabin = np.array([[0.2 * w, 0.4 * h], [0.3 * w, roof * h], [0.72 * w, roof * h],
                      [0.84 * w, 0.4 * h]], np.int32)  # fmt: skip
    cv2.fillPoly(img, [cabin], tuple(float(v) for v in colour * 0.8))
    cv2.fillPoly(mask, [cabin], 255)
    glass = np.array([[0.24 * w, 0.37 * h], [0.32 * w, (roof + 0.07) * h],
                      [0.7 * w, (roof + 0.07) * h], [0.8 * w, 0.37 * h]], np.int32)  # fmt: skip
    cv2.fillPoly(img, [glass], (62, 56, 50))
    cv2.line(img, (int(0.52 * w), int((roof + 0.07) * h)), (int(0.52 * w), int(0.37 * h)),
             tuple(float(v) for v in colour * 0.7), max(2, w // 60))  # fmt: skip
    cv2.line(img, (int(0.05 * w), int(0.56 * h)), (int(0.95 * w), int(0.56 * h)),
             tuple(float(v) for v in colour * 0.65), 1)  # fmt: skip
    cv2.rectangle(img, (int(0.05 * w), int(0.78 * h)), (int(0.95 * w), body_bot), (35, 35, 35), -1)
    for cx in (0.2, 0.8):
        centre, axes = (int(cx * w), int(0.84 * h)), (int(0.085 * w), int(0.16 * h))
        cv2.ellipse(img, centre, axes, 0, 0, 360, (22, 22, 22), -1)
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
        cv2.ellipse(img, centre, (axes[0] // 2, axes[1] // 2), 0, 0, 360, (120, 120, 125), -1)
    cv2.rectangle(img, (int(0.94 * w), int(0.44 * h)), (int(0.98 * w), int(0.54 * h)),
                  (200, 225, 235), -1)  # fmt: skip
    cv2.rectangle(img, (int(0.02 * w), int(0.44 * h)), (int(0.06 * w), int(0.54 * h)),
                  (40, 40, 150), -1)  # fmt: skip
    if heading < 0:
        img, mask = img[:, ::-1].copy(), mask[:, ::-1].copy()
    return img, mask > 0, colour


def _draw_car_lamps(frame: np.ndarray, c: Seen, night: float) -> None:
    front = c.x + c.w * (0.96 if c.heading > 0 else 0.04)
    rear = c.x + c.w * (0.04 if c.heading > 0 else 0.96)
    y = int(c.y + 0.49 * c.h)
    rx, ry = max(3, int(c.w * 0.035)), max(3, int(c.h * 0.07))
    cv2.ellipse(frame, (int(front), y), (rx * 2, ry * 2), 0, 0, 360, (150, 210, 240), -1)
    cv2.ellipse(frame, (int(front), y), (rx, ry), 0, 0, 360, (245, 252, 255), -1)
    cv2.ellipse(frame, (int(rear), y), (rx, ry), 0, 0, 360, (40, 40, 235), -1)


def _draw_pedestrian(frame: np.ndarray, p: Seen, ts: float) -> None:
    x, y, w, h = p.x, p.y, p.w, p.h
    cx = x + w / 2
    look = p.look
    shirt, trousers = CLOTHES[look % len(CLOTHES)], CLOTHES[(look >> 5) % len(CLOTHES)]
    swing = math.sin(2 * math.pi * (ts * 1.8 + (look & 255) / 255)) * 0.3 * w if p.moving else 0
    hip = y + 0.55 * h
    lw = max(2, int(0.28 * w))
    for side in (-1, 1):
        foot = (int(cx + side * 0.15 * w + side * swing), int(y + h - lw / 2))
        cv2.line(frame, (int(cx + side * 0.15 * w), int(hip)), foot, trousers, lw)
    cv2.rectangle(frame, (int(x + 0.12 * w), int(y + 0.2 * h)), (int(x + 0.88 * w), int(hip)),
                  shirt, -1)  # fmt: skip
    for side in (-1, 1):
        hand = (int(cx + side * 0.42 * w - side * swing * 0.6), int(y + 0.52 * h))
        cv2.line(frame, (int(cx + side * 0.38 * w), int(y + 0.24 * h)), hand, shirt,
                 max(2, int(0.15 * w)))  # fmt: skip
    r = max(3, int(0.1 * h))
    cv2.circle(frame, (int(cx), int(y + r + 1)), r, (120, 160, 200), -1)
    cv2.ellipse(frame, (int(cx), int(y + r * 0.8)), (r, int(r * 0.7)), 0, 180, 360, (25, 25, 30),
                -1)  # fmt: skip


def _draw_cyclist(frame: np.ndarray, c: Seen, ts: float) -> None:
    x, y, w, h = c.x, c.y, c.w, c.h
    r = max(4, int(min(0.27 * w, 0.2 * h)))
    back = (int(x + r), int(y + h - r))
    front = (int(x + w - r), int(y + h - r))
    if c.heading < 0:
        back, front = front, back
    for wheel in (back, front):
        cv2.circle(frame, wheel, r, (30, 30, 30), max(2, r // 4))
    crank = (int(x + w / 2), int(y + h - r))
    saddle = (int(x + w / 2 - c.heading * 0.12 * w), int(y + h - 2.3 * r))
    bar = (int(front[0] - c.heading * 0.15 * w), int(y + h - 2.5 * r))
    colour = CLOTHES[c.look % len(CLOTHES)]
    for p, q in ((back, crank), (crank, saddle), (saddle, bar), (bar, front), (back, saddle)):
        cv2.line(frame, p, q, (40, 40, 140), 2)
    shoulder = (int(x + w / 2 + c.heading * 0.08 * w), int(y + 0.28 * h))
    cv2.line(frame, saddle, shoulder, colour, max(3, int(0.22 * w)))
    cv2.line(frame, shoulder, bar, colour, max(2, int(0.08 * w)))
    a = 2 * math.pi * ts * 1.2
    pedal = (int(crank[0] + 0.4 * r * math.cos(a)), int(crank[1] + 0.4 * r * math.sin(a)))
    cv2.line(frame, saddle, pedal, (50, 50, 50), max(2, int(0.1 * w)))
    hr = max(3, int(0.1 * h))
    cv2.circle(frame, (shoulder[0] + c.heading * hr // 2, int(y + hr + 1)), hr, (120, 160, 200),
               -1)  # fmt: skip
