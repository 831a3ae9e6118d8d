"""What a patrol unit's side camera sees (SPEC 5.1), and the JPEG it writes: a pinhole camera
turned towards the kerb, the street as textured ground and facade planes warped per frame,
parked and moving cars as boxes with their plates in true perspective, people as figures;
the unit's GPS fix goes into the JPEG's EXIF too, since an MQTT 3.1.1 frame has no properties.

World coordinates are metres east (x), north (y) and up (z); headings are degrees clockwise
from north. Street textures are periodic along the street, painted once and cached.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from .plates import CHAR_SHARE, Plate, plate_image, random_plate, random_style
from .scene_events import Seen
from .scene_layout import CarEnd
from .scene_render import (
    FACADES,
    Sky,
    _draw_cyclist,
    _draw_end_face,
    _draw_pedestrian,
    _noise_bank,
    _side_view,
)

# The camera looks YAW_DEG forward of square-on (30 degrees off the direction of travel):
# square-on, a plate 3-4 m away turns edge-on within a metre of travel; this far forward it
# stays in view, >= SEEN_CHAR_PX tall and not too oblique, for ~6.5 m, i.e. >= 3 frames at
# 2 fps along a zone at the scanning pace (4 m/s).
YAW_DEG = 60.0
HFOV_DEG = 28.0
PITCH_DEG = 6.0
MOUNT_SIDE_M = 0.8  # camera beside the GPS antenna, towards the kerb
MOUNT_HEIGHT_M = 1.4
CAR_L, CAR_W, CAR_H = 4.5, 1.8, 1.45
PLATE_H_M = 0.14
PLATE_Z_M = 0.52  # plate centre above the ground
SEEN_CHAR_PX = 22.0  # a frame "sees" a plate when its characters are at least this tall,
SEEN_SQUASH = 0.6  # it is turned at most ~53 degrees away, and it lies wholly in the image
LOOSE_CHAR_PX, LOOSE_SQUASH = 10.0, 0.35  # what a keen reader might still try to read
TEXTURE_PERIOD_M = 24.0
GROUND_PPM, FACADE_PPM = 40.0, 40.0
AHEAD_M = 62.0  # texture reach beyond its period
NOISE_LAYERS_NIGHT = 2
NEAR_M = 0.5


@dataclass(frozen=True)
class Optics:
    """The unit's camera: image size, which side it faces (+1 right, -1 left), and its lens."""

    width: int = 1280
    height: int = 720
    side: int = 1
    yaw_deg: float = YAW_DEG
    hfov_deg: float = HFOV_DEG
    pitch_deg: float = PITCH_DEG

    @property
    def focal(self) -> float:
        return self.width / 2 / math.tan(math.radians(self.hfov_deg / 2))

    def poses(self, x, y, heading_deg) -> tuple[np.ndarray, np.ndarray]:
        """Camera centres (n, 3) and rotations (n, 3, 3) (rows: image right, down, forward)
        for unit positions x, y (metres) and headings."""
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        t = np.radians(np.atleast_1d(np.asarray(heading_deg, float)))
        hx, hy = np.sin(t), np.cos(t)
        sx, sy = self.side * hy, -self.side * hx  # towards the camera's side
        a, b = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        ax, ay = sx * math.cos(a) + hx * math.sin(a), sy * math.cos(a) + hy * math.sin(a)
        zero, one = np.zeros_like(ax), np.ones_like(ax)
        right = np.stack([ay, -ax, zero], -1)
        axis = np.stack([ax, ay, zero], -1)
        up = np.stack([zero, zero, one], -1)
        down = -(up * math.cos(b) + axis * math.sin(b))
        fwd = axis * math.cos(b) - up * math.sin(b)
        centre = np.stack(
            [x + sx * MOUNT_SIDE_M, y + sy * MOUNT_SIDE_M, np.full_like(x, MOUNT_HEIGHT_M)], -1
        )
        return centre, np.stack([right, down, fwd], 1)

    def project(self, centre: np.ndarray, rot: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """Points (..., 3) seen from one camera -> (..., 3): u, v pixels and depth."""
        cam = (pts - centre) @ rot.T
        z = cam[..., 2]
        safe = np.where(z > 1e-6, z, 1e-6)
        f = self.focal
        return np.stack(
            [self.width / 2 + f * cam[..., 0] / safe, self.height / 2 + f * cam[..., 1] / safe, z],
            -1,
        )


@dataclass(frozen=True)
class Car:
    """A car standing (or driving) with its centre at x, y and its front towards (ox, oy)."""

    vehicle: int
    x: float
    y: float
    ox: float
    oy: float
    plate: Plate
    look: int
    covered: bool = False  # a cloth hangs over the plate (SPEC 5: an unread plate)
    arrive: float = -math.inf
    leave: float = math.inf

    def plate_corners(self) -> tuple[np.ndarray, np.ndarray]:
        """Corners (2 ends, 4, 3) of its two plates as a viewer facing each end sees them (top
        left, top right, bottom right, bottom left), and the ends' outward normals (2, 2)."""
        o = np.array([self.ox, self.oy])
        cw = np.array([o[1], -o[0]])  # the car's right
        half_w = (0.48 if self.plate.style == "green" else 0.44) / 2
        out, normals = [], []
        for sign in (-1.0, 1.0):  # rear, front
            n = sign * o
            c = np.array([self.x, self.y]) + n * (CAR_L / 2 + 0.02)
            right = -sign * cw  # a viewer looking at this end along -n has this on the right
            rows = []
            for du, z in ((-1, 0.5), (1, 0.5), (1, -0.5), (-1, -0.5)):
                p = c + right * du * half_w
                rows.append([p[0], p[1], PLATE_Z_M + z * PLATE_H_M])
            out.append(rows)
            normals.append(n)
        return np.array(out), np.array(normals)


class PlateViews:
    """How a camera sees a car's plate over many frames: character height, foreshortening,
    and whether it lies wholly (or its centre) in the image."""

    def __init__(self, optics: Optics, car: Car, x, y, heading) -> None:
        centre, rot = optics.poses(x, y, heading)
        corners, normals = car.plate_corners()
        n = len(centre)
        self.char_px = np.zeros(n)
        self.squash = np.zeros(n)
        self.inside = np.zeros(n, bool)
        self.centre_in = np.zeros(n, bool)
        for end in range(2):
            pc = corners[end].mean(0)
            to_cam = centre[:, :2] - pc[:2]
            dist = np.hypot(to_cam[:, 0], to_cam[:, 1])
            sq = (to_cam @ normals[end]) / np.maximum(dist, 1e-6)
            facing = sq > 0
            if not facing.any():
                continue
            d = corners[end][None] - centre[:, None, :]  # (n, 4, 3)
            cam = np.einsum("nij,nkj->nki", rot, d)
            z = cam[..., 2]
            ok_z = (z > 0.5).all(1)
            safe = np.where(z > 1e-6, z, 1e-6)
            u = optics.width / 2 + optics.focal * cam[..., 0] / safe
            v = optics.height / 2 + optics.focal * cam[..., 1] / safe
            m = 4
            inside = (
                ok_z
                & (u.min(1) >= m)
                & (u.max(1) <= optics.width - m)
                & (v.min(1) >= m)
                & (v.max(1) <= optics.height - m)
            )
            uc, vc = u.mean(1), v.mean(1)
            centre_in = ok_z & (uc >= 0) & (uc < optics.width) & (vc >= 0) & (vc < optics.height)
            char = ((v[:, 3] - v[:, 0]) + (v[:, 2] - v[:, 1])) / 2 * CHAR_SHARE
            sel = facing & ok_z
            self.char_px = np.where(sel, char, self.char_px)
            self.squash = np.where(sel, sq, self.squash)
            self.inside |= sel & inside
            self.centre_in |= sel & centre_in

    @property
    def seen(self) -> np.ndarray:
        """A reader can read it here (the frames a truth lists)."""
        return self.inside & (self.char_px >= SEEN_CHAR_PX) & (self.squash >= SEEN_SQUASH)

    @property
    def glimpsed(self) -> np.ndarray:
        """A keen reader might try: the truth is staged to hold either way."""
        return self.centre_in & (self.char_px >= LOOSE_CHAR_PX) & (self.squash >= LOOSE_SQUASH)


@dataclass(frozen=True)
class Leg:
    """A straight stretch of a patrol route; `s` runs from the unit towards its camera side."""

    key: int
    x0: float
    y0: float
    hx: float
    hy: float
    length: float
    speed: float
    kind: str  # "zone" (a sidewalk zone on the camera's side) or "street"
    zone_id: str | None
    kerb_s: float
    facade_s: float
    look: int


@dataclass(frozen=True)
class Mover:
    """Something walking, riding or driving along a leg: f = f0 + v * (t - t0) while alive."""

    kind: str  # pedestrian, cyclist, car
    id: int
    t0: float
    f0: float
    v: float
    s: float
    look: int
    plate: Plate | None = None

    def f(self, t: float) -> float:
        return self.f0 + self.v * (t - self.t0)


class Ambient:
    """People walking the sidewalk, cyclists and cars passing in the next lane, drawn lazily
    per leg and minute from the seed; never staged, never in front of a staged plate."""

    BUCKET_S, LIFE_S = 60.0, 120.0

    def __init__(self, seed: int, legs: list[Leg], tz: ZoneInfo, reserved: set[str]) -> None:
        self.seed, self.legs, self.tz, self.reserved = seed, legs, tz, reserved
        self._cache: OrderedDict[tuple[int, int], list[Mover]] = OrderedDict()

    def near(self, leg: Leg, ts: float) -> list[Mover]:
        out: list[Mover] = []
        b1 = math.floor(ts / self.BUCKET_S)
        for b in range(b1 - math.ceil(self.LIFE_S / self.BUCKET_S), b1 + 1):
            out += [m for m in self._bucket(leg, b) if m.t0 <= ts <= m.t0 + self.LIFE_S]
        return out

    def _bucket(self, leg: Leg, b: int) -> list[Mover]:
        key = (leg.key, b)
        got = self._cache.get(key)
        if got is not None:
            return got
        rng = np.random.default_rng([self.seed, 7717, leg.key, b])
        hour = datetime.fromtimestamp(b * self.BUCKET_S, self.tz).hour
        busy = 1.0 if 7 <= hour < 21 else 0.3
        t0 = b * self.BUCKET_S
        movers: list[Mover] = []
        zone = leg.kind == "zone"
        kinds = [("pedestrian", leg.length / 25)]
        if not zone:
            kinds += [("cyclist", leg.length / 90), ("car", leg.length / 70)]
        for kind, rate in kinds:
            for _ in range(int(rng.poisson(rate * busy))):
                t = t0 + float(rng.uniform(0, self.BUCKET_S))
                f0 = float(rng.uniform(-30, leg.length + 30))
                look = int(rng.integers(1 << 30))
                plate = None
                if kind == "pedestrian":
                    lo = leg.kerb_s + (CAR_W + 1.2 if zone else 0.6)
                    s = float(rng.uniform(lo, leg.facade_s - 0.4))
                    v = float(rng.uniform(1.0, 1.6)) * (1 if rng.random() < 0.5 else -1)
                elif kind == "cyclist":
                    s, v = leg.kerb_s - 0.8, float(rng.uniform(3.5, 5.5))
                else:
                    s, v = 3.2, float(rng.uniform(6.0, 9.0))
                    plate = self._plate(rng)
                movers.append(Mover(kind, look, t, f0, v, s, look, plate))
        self._cache[key] = movers
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return movers

    def _plate(self, rng: np.random.Generator) -> Plate:
        while True:
            style = random_style(rng)
            text = random_plate(rng, style)
            if text not in self.reserved:  # never a staged car's plate
                return Plate(text, style, float(rng.uniform(0, 0.15)), int(rng.integers(1 << 30)))


class PatrolRenderer:
    """Paints one unit's frames: `render(ts, x, y, heading, leg, f)` -> BGR image."""

    def __init__(
        self,
        optics: Optics,
        legs: list[Leg],
        cars: list[Car],
        spots: list[np.ndarray],
        seed: int,
        tz: ZoneInfo,
        reserved: set[str],
    ) -> None:
        self.optics, self.legs, self.cars, self.spots = optics, legs, cars, spots
        self.seed, self.tz = seed, tz
        self.ambient = Ambient(seed, legs, tz, reserved)
        self._car_xy = np.array([[c.x, c.y] for c in cars]).reshape(-1, 2)
        self._textures: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._faces: OrderedDict[tuple[int, bool], tuple] = OrderedDict()
        self._plates: OrderedDict[tuple, np.ndarray] = OrderedDict()
        rng = np.random.default_rng([seed, 9])
        self.sunniness = float(rng.uniform(0.7, 1.0))

    def render(
        self, ts: float, x: float, y: float, heading: float, leg: Leg, f_along: float
    ) -> np.ndarray:
        op = self.optics
        centre, rot = (a[0] for a in op.poses(x, y, heading))
        k = np.array([[op.focal, 0, op.width / 2], [0, op.focal, op.height / 2], [0, 0, 1]])
        frame = self._background(leg, f_along, centre, k @ rot)
        for spot in self.spots:
            self._ground_outline(frame, centre, rot, spot)
        things: list[tuple[float, object]] = []
        if len(self._car_xy):
            near = np.hypot(*(self._car_xy - [x, y]).T) < 45
            for i in np.flatnonzero(near):
                car = self.cars[int(i)]
                if car.arrive <= ts <= car.leave:
                    things.append((self._depth(centre, rot, car.x, car.y), car))
        side = self._side_vec(leg)
        for m in self.ambient.near(leg, ts):
            f = m.f(ts)
            if -10 < f - f_along < 45:
                wx, wy = leg.x0 + leg.hx * f + side[0] * m.s, leg.y0 + leg.hy * f + side[1] * m.s
                if m.kind == "car":
                    assert m.plate is not None
                    sgn = 1.0 if m.v > 0 else -1.0
                    car = Car(m.id, wx, wy, leg.hx * sgn, leg.hy * sgn, m.plate, m.look)
                    things.append((self._depth(centre, rot, wx, wy), car))
                else:
                    things.append((self._depth(centre, rot, wx, wy), (m, wx, wy, leg)))
        for z, thing in sorted(things, key=lambda t: -t[0]):
            if z < 0.8:
                continue
            if isinstance(thing, Car):
                self._draw_car(frame, centre, rot, thing)
            else:
                self._draw_figure(frame, centre, rot, thing, ts)  # type: ignore[arg-type]
        return self._expose(frame, ts)

    # -- background --------------------------------------------------------------------------
    def _side_vec(self, leg: Leg) -> tuple[float, float]:
        s = self.optics.side
        return s * leg.hy, -s * leg.hx

    def _background(
        self, leg: Leg, f_along: float, centre: np.ndarray, kr: np.ndarray
    ) -> np.ndarray:
        op = self.optics
        ground, facade = self._texture(leg)
        f_lo = math.floor(f_along / TEXTURE_PERIOD_M) * TEXTURE_PERIOD_M - 10.0
        sx, sy = self._side_vec(leg)
        h = np.array([leg.hx, leg.hy, 0.0])
        s = np.array([sx, sy, 0.0])
        origin = np.array([leg.x0, leg.y0, 0.0]) + h * f_lo
        s_lo = -2.0
        g = kr @ np.column_stack([h / GROUND_PPM, s / GROUND_PPM, origin + s * s_lo - centre])
        frame = cv2.warpPerspective(
            ground,
            g,
            (op.width, op.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        top = facade.shape[0] / FACADE_PPM
        up = np.array([0.0, 0.0, 1.0])
        q = origin + s * leg.facade_s + up * top
        fm = kr @ np.column_stack([h / FACADE_PPM, -up / FACADE_PPM, q - centre])
        cv2.warpPerspective(
            facade,
            fm,
            (op.width, op.height),
            dst=frame,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_TRANSPARENT,
        )
        return frame

    def _texture(self, leg: Leg) -> tuple[np.ndarray, np.ndarray]:
        key = (leg.kind, round(leg.kerb_s, 2), round(leg.facade_s, 2), leg.look % 3)
        got = self._textures.get(key)
        if got is None:
            rng = np.random.default_rng([self.seed, 31, leg.look % 3, leg.kind == "zone"])
            got = self._textures[key] = (_ground_texture(leg, rng), _facade_texture(leg, rng))
        return got

    def _ground_outline(
        self, frame: np.ndarray, centre: np.ndarray, rot: np.ndarray, ring: np.ndarray
    ) -> None:
        """A loading spot's painted outline (ring: closed, (n, 2) metres) where in view."""
        if np.hypot(*(ring.mean(0) - centre[:2])) > 60:
            return
        pts = np.column_stack([ring, np.zeros(len(ring))])
        z = (pts - centre) @ rot[2]
        lim = 4 * self.optics.width
        for i in range(len(pts) - 1):
            a, b, za, zb = pts[i], pts[i + 1], z[i], z[i + 1]
            if za < NEAR_M and zb < NEAR_M:
                continue
            if za < NEAR_M:  # clip at the near plane, in 3D, before projecting
                a = a + (b - a) * (NEAR_M - za) / (zb - za)
            elif zb < NEAR_M:
                b = b + (a - b) * (NEAR_M - zb) / (za - zb)
            uv = np.clip(self.optics.project(centre, rot, np.stack([a, b]))[:, :2], -lim, lim)
            p, q = (tuple(int(v) for v in w) for w in uv)
            cv2.line(frame, p, q, (40, 200, 235), 5, cv2.LINE_AA)

    # -- things --------------------------------------------------------------------------------
    @staticmethod
    def _depth(centre: np.ndarray, rot: np.ndarray, x: float, y: float) -> float:
        return float((np.array([x, y, 0.7]) - centre) @ rot[2])

    def _draw_car(self, frame: np.ndarray, centre: np.ndarray, rot: np.ndarray, car: Car) -> None:
        op = self.optics
        o = np.array([car.ox, car.oy])
        r = np.array([o[1], -o[0]])  # the car's right
        c = np.array([car.x, car.y])
        cam = centre[:2]
        # The end and the side that face the camera.
        e = 1.0 if (cam - c) @ o > 0 else -1.0
        sd = 1.0 if (cam - c) @ r > 0 else -1.0
        end_c = c + e * o * CAR_L / 2
        side_c = c + sd * r * CAR_W / 2
        # The side view's body spans 2..98 % of its sprite: stretch it to the car's length.
        half = CAR_L / 2 / 0.96
        side_pts = [side_c - o * half, side_c + o * half]  # rear, front on that side
        end_right = -e * r  # viewer facing this end sees this on the right
        end_pts = [end_c - end_right * CAR_W / 2, end_c + end_right * CAR_W / 2]
        foot = [
            c + o * CAR_L * 0.53 + r * CAR_W * 0.56,
            c - o * CAR_L * 0.53 + r * CAR_W * 0.56,
            c - o * CAR_L * 0.53 - r * CAR_W * 0.56,
            c + o * CAR_L * 0.53 - r * CAR_W * 0.56,
        ]
        shadow = op.project(centre, rot, np.column_stack([foot, np.zeros(4)]))
        if (shadow[:, 2] > 0.5).all():
            _darken(frame, shadow[:, :2], 0.55)
        side_img, side_mask, end_img, end_mask = self._face_images(car, front=e > 0)

        def quad(p, q):
            pts = np.array([[*p, CAR_H], [*q, CAR_H], [*q, 0.0], [*p, 0.0]])
            return op.project(centre, rot, pts)

        sq = quad(*side_pts)
        if (sq[:, 2] > 0.5).all():
            _warp_into(frame, side_img, side_mask, sq[:, :2])
        eq = quad(*end_pts)
        if (eq[:, 2] > 0.5).all():
            _warp_into(frame, end_img, end_mask, eq[:, :2])
            corners, _ = car.plate_corners()
            pq = op.project(centre, rot, corners[0 if e < 0 else 1])
            if (pq[:, 2] > 0.5).all():
                h_px = float(np.hypot(*(pq[3, :2] - pq[0, :2])))
                _warp_into(frame, self._plate_img(car, h_px), None, pq[:, :2])

    def _face_images(self, car: Car, front: bool) -> tuple:
        got = self._faces.get((car.vehicle, front))
        if got is None:
            w, h, fw = 450, 145, 180
            side_img, side_mask, colour = _side_view(car.look, w, h, 1)
            end_img = np.zeros((h, fw, 3), np.uint8)
            end_mask = np.zeros((h, fw), bool)
            end = CarEnd(1, 1.0, 0.0, float(fw), 0, 0, fw / 2, 0.64 * h)
            _draw_end_face(end_img, end_mask, 0, fw, h, colour, end, front=front)
            # Wheels under the bumper, so that an end seen square-on still stands on the road.
            for cx in (0.14, 0.86):
                cv2.rectangle(
                    end_img,
                    (int(cx * fw - 12), int(0.84 * h)),
                    (int(cx * fw + 12), h - 1),
                    (22, 22, 22),
                    -1,
                )
                end_mask[int(0.84 * h) :, int(cx * fw - 12) : int(cx * fw + 12)] = True
            got = self._faces[(car.vehicle, front)] = (side_img, side_mask, end_img, end_mask)
            if len(self._faces) > 32:
                self._faces.popitem(last=False)
        return got

    def _plate_img(self, car: Car, h_px: float) -> np.ndarray:
        height = int(min(max(round(h_px * 1.3 / 4) * 4, 8), 96))
        key = (car.vehicle, height)
        img = self._plates.get(key)
        if img is None:
            p = car.plate
            img = plate_image(p.text, p.style, height, p.dirt, p.seed)
            if car.covered:
                img = _cloth(img, car.look)
            self._plates[key] = img
            if len(self._plates) > 48:
                self._plates.popitem(last=False)
        return img

    def _draw_figure(
        self,
        frame: np.ndarray,
        centre: np.ndarray,
        rot: np.ndarray,
        thing: tuple[Mover, float, float, Leg],
        ts: float,
    ) -> None:
        m, wx, wy, leg = thing
        tall = 1.45 if m.kind == "cyclist" else 1.5 + (m.look % 40) / 100
        pts = np.array(
            [
                [wx, wy, 0.0],
                [wx, wy, tall],
                [wx + leg.hx * np.sign(m.v), wy + leg.hy * np.sign(m.v), 0.0],
            ]
        )
        uvz = self.optics.project(centre, rot, pts)
        if (uvz[:, 2] < 0.8).any():
            return
        h = float(uvz[0, 1] - uvz[1, 1])
        if h < 4:
            return
        w = h * (0.68 if m.kind == "cyclist" else 0.33)
        x = float(uvz[0, 0]) - w / 2
        if x > self.optics.width or x + w < 0:
            return
        heading = 1 if uvz[2, 0] > uvz[0, 0] else -1
        seen = Seen(m.kind, m.id, x, float(uvz[1, 1]), w, h, heading, True, m.look)
        (_draw_cyclist if m.kind == "cyclist" else _draw_pedestrian)(frame, seen, ts)

    # -- light and sensor ----------------------------------------------------------------------
    def _expose(self, frame: np.ndarray, ts: float) -> np.ndarray:
        sky = Sky(datetime.fromtimestamp(ts, self.tz), self.sunniness)
        light = sky.sky_bgr + sky.sun * sky.sun_bgr
        # Auto exposure keeps the picture bright; night shows as tint and sensor noise.
        gain = light * min(3.0, 0.95 / float(light.mean()))
        scalar = tuple(float(g) for g in gain) + (0.0,)
        cv2.multiply(frame, scalar, dst=frame)  # type: ignore[call-overload]
        op = self.optics
        rng = np.random.default_rng([self.seed, int(round(ts * 1000))])
        bank = _noise_bank(op.height, op.width)
        for _ in range(NOISE_LAYERS_NIGHT if sky.night > 0.5 else 1):
            pos, neg = bank[int(rng.integers(len(bank)))]
            dy, dx = (int(v) for v in rng.integers(0, 32, 2))
            cv2.add(frame, pos[dy : dy + op.height, dx : dx + op.width], dst=frame)
            cv2.subtract(frame, neg[dy : dy + op.height, dx : dx + op.width], dst=frame)
        return frame


# -- drawing helpers ---------------------------------------------------------------------------
def _warp_into(
    frame: np.ndarray, src: np.ndarray, mask: np.ndarray | None, quad: np.ndarray
) -> None:
    """Draw `src` (its corners TL, TR, BR, BL) onto the image quad, through `mask` if given."""
    fh, fw = frame.shape[:2]
    x0, y0 = (int(math.floor(v)) for v in quad.min(0))
    x1, y1 = (int(math.ceil(v)) + 1 for v in quad.max(0))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    h, w = src.shape[:2]
    s = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(s, (quad - [x0, y0]).astype(np.float32))
    size = (x1 - x0, y1 - y0)
    roi = frame[y0:y1, x0:x1]
    if mask is None:
        out = roi.copy()
        cv2.warpPerspective(
            src, m, size, dst=out, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
        )
        roi[:] = out
        return
    img = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR)
    a = cv2.warpPerspective(mask.astype(np.uint8) * 255, m, size, flags=cv2.INTER_LINEAR)
    np.copyto(roi, img, where=(a > 127)[..., None])


def _darken(frame: np.ndarray, poly: np.ndarray, keep: float) -> None:
    fh, fw = frame.shape[:2]
    x0, y0 = (max(int(v), 0) for v in poly.min(0))
    x1, y1 = (int(v) + 1 for v in poly.max(0))
    x1, y1 = min(x1, fw), min(y1, fh)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(m, np.round(poly - [x0, y0]).astype(np.int32), 255, cv2.LINE_AA)
    m = cv2.blur(m, (9, 9))
    roi = frame[y0:y1, x0:x1]
    f = 1 - (1 - keep) * (m.astype(np.float32) / 255)
    roi[:] = (roi * f[..., None]).astype(np.uint8)


def _cloth(plate: np.ndarray, look: int) -> np.ndarray:
    """A cloth hung over most of the plate's characters (a common dodge)."""
    img = plate.copy()
    h, w = img.shape[:2]
    rng = np.random.default_rng(look)
    x0 = int(w * rng.uniform(0.22, 0.32))
    colour = tuple(int(v) for v in rng.integers(30, 200, 3))
    pts = np.array([[x0, 0], [w, 0], [w, int(h * 0.95)], [int(x0 + 0.1 * w), h]], np.int32)
    cv2.fillPoly(img, [pts], colour)
    for k in range(3):
        x = x0 + int((k + 1) * (w - x0) / 4)
        cv2.line(img, (x, 0), (x + 2, h), tuple(int(c * 0.75) for c in colour), 1)
    return img


def _ground_texture(leg: Leg, rng: np.random.Generator) -> np.ndarray:
    """Road, kerb and paving in leg coordinates: columns along the street (one period plus
    the reach ahead), rows from 2 m on the far side of the unit to beyond the facade."""
    ppm = GROUND_PPM
    span = TEXTURE_PERIOD_M + AHEAD_M
    rows = int((leg.facade_s + 0.5 + 2.0) * ppm)
    cols = int(TEXTURE_PERIOD_M * ppm)
    s = -2.0 + (np.arange(rows) + 0.5) / ppm
    f = (np.arange(cols) + 0.5) / ppm
    ff, ss = np.meshgrid(f, s)
    grain = rng.normal(0, 1, (rows, cols)).astype(np.float32)
    img = np.empty((rows, cols, 3), np.float32)
    road = ss < leg.kerb_s
    img[:] = (88, 90, 92)
    img += (5 * grain)[..., None]
    # Paving: 0.4 m slabs, each its own shade, with grout.
    u, v = ff / 0.4, (ss - leg.kerb_s) / 0.4
    slab = (np.floor(u).astype(np.int64) * 73856093) ^ (np.floor(v).astype(np.int64) * 19349663)
    shade = ((slab & 0xFFFF) / 65535.0 - 0.5).astype(np.float32) * 20
    grout = np.minimum(u - np.floor(u), v - np.floor(v)) < 0.06
    pave = np.array([140, 150, 162], np.float32) + shade[..., None] + (4 * grain)[..., None]
    pave[grout] *= 0.78
    tactile = (ss > leg.kerb_s + 0.9) & (ss < leg.kerb_s + 1.2)
    pave[tactile] = np.array([40, 170, 210], np.float32) + (6 * grain[tactile])[..., None]
    img = np.where(road[..., None], img, pave)
    kerb = (ss >= leg.kerb_s) & (ss < leg.kerb_s + 0.15)
    img[kerb] = (185, 188, 190)
    line = (ss > leg.kerb_s - 0.75) & (ss < leg.kerb_s - 0.6)
    img[line] = (215, 218, 218)  # the edge of the cycle lane
    for _ in range(3):  # a crack or two
        x, y = rng.uniform(0, cols), rng.uniform(0, max(1, leg.kerb_s + 2.0) * ppm)
        pts = np.cumsum(rng.normal(0, 12, (8, 2)), axis=0) + (x, y)
        cv2.polylines(img, [pts.astype(np.int32)], False, (60, 60, 60), 2)
    tile = np.clip(img, 0, 255).astype(np.uint8)
    reps = math.ceil(span / TEXTURE_PERIOD_M) + 1
    return np.ascontiguousarray(np.tile(tile, (1, reps, 1))[:, : int(span * ppm)])


def _facade_texture(leg: Leg, rng: np.random.Generator) -> np.ndarray:
    """Shop fronts along the street: wall, glass, a sign band, windows above; one period."""
    ppm = FACADE_PPM
    top = 7.0
    rows, cols = int(top * ppm), int(TEXTURE_PERIOD_M * ppm)
    img = np.zeros((rows, cols, 3), np.uint8)
    x = 0
    while x < cols:
        w = int(rng.uniform(4.0, 8.0) * ppm)
        if cols - (x + w) < 3 * ppm:
            w = cols - x
        wall = np.array(FACADES[int(rng.integers(len(FACADES)))], np.float32)
        block = wall + rng.normal(0, 4, (rows, w, 1)).astype(np.float32)
        img[:, x : x + w] = np.clip(block, 0, 255).astype(np.uint8)
        y_ground = rows - 1
        glass_top = y_ground - int(2.8 * ppm)
        cv2.rectangle(
            img, (x + 8, glass_top), (x + w - 8, y_ground - int(0.3 * ppm)), (70, 72, 68), -1
        )
        door = x + int(w * rng.uniform(0.2, 0.7))
        cv2.rectangle(
            img, (door, glass_top + 6), (door + int(0.9 * ppm), y_ground), (45, 48, 50), -1
        )
        sign = tuple(int(v) for v in rng.integers(30, 230, 3))
        sign_top = glass_top - int(0.9 * ppm)
        cv2.rectangle(img, (x + 4, sign_top), (x + w - 4, glass_top - 4), sign, -1)
        for wy in range(sign_top - int(1.6 * ppm), 0, -int(1.5 * ppm)):
            for wx in range(x + int(0.6 * ppm), x + w - int(1.2 * ppm), int(1.6 * ppm)):
                cv2.rectangle(
                    img, (wx, wy), (wx + int(0.9 * ppm), wy + int(1.0 * ppm)), (95, 85, 75), -1
                )
        cv2.line(img, (x, 0), (x, rows), (90, 95, 100), 2)
        x += w
    reps = math.ceil((TEXTURE_PERIOD_M + AHEAD_M) / TEXTURE_PERIOD_M) + 1
    return np.ascontiguousarray(
        np.tile(img, (1, reps, 1))[:, : int((TEXTURE_PERIOD_M + AHEAD_M) * ppm)]
    )


# -- the JPEG and its EXIF ---------------------------------------------------------------------
def _dms(value: float) -> tuple:
    from PIL.TiffImagePlugin import IFDRational

    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    sec = (value - deg - minutes / 60) * 3600
    return IFDRational(deg, 1), IFDRational(minutes, 1), IFDRational(round(sec * 10000), 10000)


def gps_exif(lat: float, lon: float, heading: float, speed_mps: float, ts: float) -> bytes:
    """An APP1 Exif payload (b"Exif\\0\\0" + TIFF) whose GPS IFD holds the fix at capture."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    utc = datetime.fromtimestamp(ts, UTC)
    gps = {
        0: b"\x02\x03\x00\x00",  # GPSVersionID 2.3
        1: "N" if lat >= 0 else "S",
        2: _dms(lat),
        3: "E" if lon >= 0 else "W",
        4: _dms(lon),
        7: (
            IFDRational(utc.hour, 1),
            IFDRational(utc.minute, 1),
            IFDRational(round((utc.second + utc.microsecond / 1e6) * 1000), 1000),
        ),
        12: "K",
        13: IFDRational(round(speed_mps * 3.6 * 100), 100),
        16: "T",
        17: IFDRational(round((heading % 360) * 100), 100),
        29: utc.strftime("%Y:%m:%d"),
    }
    exif = Image.Exif()
    exif[0x8825] = gps
    return exif.tobytes()


def with_exif(jpeg: bytes, exif: bytes) -> bytes:
    """`jpeg` with an APP1 segment holding `exif` right after its SOI marker."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: no SOI marker")
    if len(exif) + 2 > 0xFFFF:
        raise ValueError(f"EXIF of {len(exif)} bytes does not fit one APP1 segment")
    return jpeg[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + jpeg[2:]


def read_gps_exif(jpeg: bytes) -> dict[str, float]:
    """lat, lon, heading (degrees) and speed (m/s) back from a frame's EXIF GPS IFD."""
    from PIL import Image

    gps = Image.open(BytesIO(jpeg)).getexif().get_ifd(0x8825)

    def deg(v, ref: str, neg: str) -> float:
        d = float(v[0]) + float(v[1]) / 60 + float(v[2]) / 3600
        return -d if ref == neg else d

    return {
        "lat": deg(gps[2], gps[1], "S"),
        "lon": deg(gps[4], gps[3], "W"),
        "heading": float(gps[17]),
        "speed": float(gps[13]) / 3.6,
    }
