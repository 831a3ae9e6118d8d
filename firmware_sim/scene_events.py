"""What happens in front of a simulated camera: staged sidewalk stops with their exact ground
truth, passing cars, pedestrians, cyclists and cloud shadows, all seeded; every car has a plate.

The truth mirrors the service's rule (SPEC 5): a vehicle at rest with its box bottom-centre
inside the sidewalk is stopped on the sidewalk; a violation opens once it has rested for the
dwell and is not exempt at that moment; a loading spot exempts a stop while the local time is
within the spot's hours and the stop has lasted <= max_stop. Every stop keeps MARGIN_S away
from each decision edge, so a correct service alerts exactly the staged violations.
"""

from __future__ import annotations

import bisect
import re
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from .plates import Plate, plate_issue, random_plate, random_style
from .scene_layout import CarEnd, SpotArea, StreetLayout, car_end

MARGIN_S = 60.0
MAX_AMBIENT_S = 45.0  # no pedestrian, cyclist or passing car stays in view longer
SCENARIOS: dict[str, dict[str, float]] = {
    "mixed": {"short": 3, "violation": 3, "loading_lawful": 2, "loading_overstay": 1,
              "loading_off_hours": 2},
    "lawful": {"short": 3, "loading_lawful": 3},
    "violations": {"violation": 3, "loading_overstay": 1, "loading_off_hours": 1},
    "traffic": {},
}  # fmt: skip
VIOLATING = {"violation", "loading_overstay", "loading_off_hours"}
# How a staged stop's plate is meant to be seen; the truth is then judged from what is drawn
# (a spot may narrow the car, a camera may see an end face too edge-on: "oblique").
PLATE_CASES = {"readable": 0.8, "small": 0.07, "dirty": 0.07, "occluded": 0.06}
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class Seen(NamedTuple):
    """One thing in one frame: its box in image pixels and how to draw it."""

    kind: str  # "car", "pedestrian" or "cyclist"
    id: int
    x: float
    y: float
    w: float
    h: float
    heading: int  # +1 facing right, -1 facing left
    moving: bool
    look: int  # appearance seed
    plate: Plate | None = None  # cars only


@dataclass(frozen=True)
class Actor:
    """A thing moving along a piecewise-linear path of its bottom-centre (t, x, y knots)."""

    kind: str
    id: int
    t: tuple[float, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    w: float  # base size, before the perspective scale
    h: float
    heading: int
    look: int
    plate: Plate | None = None  # cars only

    @property
    def t0(self) -> float:
        return self.t[0]

    @property
    def t1(self) -> float:
        return self.t[-1]

    def seen(self, ts: float, layout: StreetLayout) -> Seen:
        i = min(max(bisect.bisect_right(self.t, ts) - 1, 0), len(self.t) - 2)
        t0, t1 = self.t[i], self.t[i + 1]
        f = 0.0 if t1 <= t0 else min(max((ts - t0) / (t1 - t0), 0.0), 1.0)
        if self.kind == "car":
            f = f * f * (3 - 2 * f)  # ease in and out: cars brake and accelerate
        x = self.x[i] + f * (self.x[i + 1] - self.x[i])
        y = self.y[i] + f * (self.y[i + 1] - self.y[i])
        moving = (self.x[i], self.y[i]) != (self.x[i + 1], self.y[i + 1])
        return Seen(self.kind, self.id, *layout.box(x, y, self.w, self.h), self.heading,
                    moving, self.look, self.plate)  # fmt: skip


@dataclass(frozen=True)
class StagedStop:
    """A car staged to stop on the sidewalk, with the alert a correct service must raise."""

    vehicle: int
    case: str  # short, violation, loading_lawful, loading_overstay, loading_off_hours
    arrive: float  # came to rest
    leave: float  # starts moving away
    box: tuple[int, int, int, int]
    spot_id: str | None
    violation_start: float | None
    actor: Actor
    plate_issue: str | None = None  # why it cannot be read: small, oblique, dirty, occluded
    plate_char_px: float = 0.0  # character height at rest, full-resolution pixels

    @property
    def plate(self) -> Plate:
        assert self.actor.plate is not None
        return self.actor.plate

    def truth(self, camera_id: str) -> dict:
        return {"camera_id": camera_id, "vehicle": self.vehicle, "arrive": round(self.arrive, 3),
                "leave": round(self.leave, 3), "box": list(self.box), "spot_id": self.spot_id,
                "violation": self.violation_start is not None,
                "violation_start": None if self.violation_start is None
                else round(self.violation_start, 3), "case": self.case,
                **_plate_truth(self.plate, self.plate_issue, self.plate_char_px)}  # fmt: skip


def _plate_truth(plate: Plate, issue: str | None, char_px: float) -> dict:
    return {"plate": plate.text, "plate_style": plate.style, "plate_readable": issue is None,
            "plate_issue": issue, "plate_char_px": round(char_px, 1),
            "plate_dirt": round(plate.dirt, 2)}  # fmt: skip


@dataclass(frozen=True)
class Cloud:
    t0: float
    t1: float
    depth: float  # share of sunlight it takes away, 0.2..0.4
    heading: int
    look: int


class SpotHours:
    """A loading spot's local-time windows as absolute intervals over the simulated span."""

    def __init__(self, hours: tuple[str, ...], tz: str, t0: float, t1: float, where: str):
        zone = ZoneInfo(tz)
        day = datetime.fromtimestamp(t0, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(t1, zone).date() + timedelta(days=1)
        spans: list[tuple[float, float]] = []
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for text in hours:
                a, b = _window(text, where)
                end = b if b > a else b + 1440
                spans.append(((midnight + timedelta(minutes=a)).timestamp(),
                              (midnight + timedelta(minutes=end)).timestamp()))  # fmt: skip
            day += timedelta(days=1)
        spans.sort()
        merged: list[list[float]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.spans = [(lo, hi) for lo, hi in merged]

    def window_at(self, t: float) -> tuple[float, float] | None:
        return next(((a, b) for a, b in self.spans if a <= t < b), None)

    def edges(self, a: float, b: float) -> list[float]:
        return [e for span in self.spans for e in span if a <= e <= b]


def _window(text: str, where: str) -> tuple[int, int]:
    m = _WINDOW.match(text)
    if not m:
        raise ValueError(f"{where}: hours {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    return h1 * 60 + m1, h2 * 60 + m2


class StreetEvents:
    """Everything staged in front of one camera over [t_start, t_end]."""

    def __init__(self, layout: StreetLayout, seed: int, t_start: float, t_end: float, tz: str,
                 scenario: str = "mixed"):  # fmt: skip
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
        self.layout = layout
        self.t_start, self.t_end = t_start, t_end
        self.tz = ZoneInfo(tz)
        self._key = [seed, zlib.crc32(layout.id.encode())]
        self.hours = {s.id: SpotHours(s.hours, tz, t_start, t_end,
                                      f"camera {layout.id} spot {s.id}")
                      for s in layout.spots}  # fmt: skip
        self._next_id = 1
        self._attempts = 0
        self._plates: set[str] = set()
        self.stops: list[StagedStop] = []
        self.standers: list[Actor] = []  # people standing in front of a plate for a whole stop
        self._plan_stops(SCENARIOS[scenario])
        ambient = self._passing_cars() + self._pedestrians() + self._cyclists() + self._occluders()
        self.ambient = sorted(ambient, key=lambda a: (a.t0, a.id))
        self._ambient_t0 = [a.t0 for a in self.ambient]
        self.clouds = self._clouds()

    def _rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng([*self._key, stream])

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def local_hour(self, ts: float) -> float:
        t = datetime.fromtimestamp(ts, self.tz)
        return t.hour + t.minute / 60 + t.second / 3600

    # -- per frame ---------------------------------------------------------------------------
    def seen_at(self, ts: float) -> list[Seen]:
        """Everything in view at `ts`, back to front (by bottom y)."""
        lay = self.layout
        actors = [s.actor for s in self.stops if s.actor.t0 <= ts <= s.actor.t1]
        actors += [a for a in self.standers if a.t0 <= ts <= a.t1]
        lo = bisect.bisect_left(self._ambient_t0, ts - MAX_AMBIENT_S)
        hi = bisect.bisect_right(self._ambient_t0, ts)
        actors += [a for a in self.ambient[lo:hi] if a.t1 >= ts]
        seen = [a.seen(ts, lay) for a in actors]
        return sorted(seen, key=lambda s: (s.y + s.h, s.id))

    def vehicles(self) -> list[dict]:
        """Every car of the span with its plate: staged stops (readability at rest) and passing
        cars (readability at their best view, near an image edge; passers-by aside)."""
        out = []
        for stop in self.stops:
            row = {"vehicle": stop.vehicle, "staged": True, "t0": round(stop.actor.t0, 3),
                   "t1": round(stop.actor.t1, 3)}  # fmt: skip
            out.append(row | _plate_truth(stop.plate, stop.plate_issue, stop.plate_char_px))
        for a in self.ambient:
            if a.kind != "car" or a.plate is None:
                continue
            s = a.seen((a.t0 + a.t1) / 2, self.layout)
            end = car_end(s.w, s.h, a.plate.style, 1, 1.0)
            row = {"vehicle": a.id, "staged": False, "t0": round(a.t0, 3), "t1": round(a.t1, 3)}
            issue = plate_issue(end.char_px, 1.0, a.plate.dirt)
            out.append(row | _plate_truth(a.plate, issue, end.char_px))
        return sorted(out, key=lambda r: (r["t0"], r["vehicle"]))

    def _new_plate(self, rng: np.random.Generator, dirt: float) -> Plate:
        """A plate no other car of this camera carries."""
        while True:
            style = random_style(rng)
            text = random_plate(rng, style)
            if text not in self._plates:
                self._plates.add(text)
                return Plate(text, style, dirt, int(rng.integers(1 << 30)))

    def clouds_at(self, ts: float) -> list[tuple[Cloud, float]]:
        """Clouds over the scene and how far across they are (0..1)."""
        return [(c, (ts - c.t0) / (c.t1 - c.t0)) for c in self.clouds if c.t0 <= ts <= c.t1]

    # -- staged sidewalk stops -----------------------------------------------------------------
    def _plan_stops(self, weights: dict[str, float]) -> None:
        if not weights:
            return
        rng = self._rng(1)
        cases = list(weights)
        p = np.array([weights[c] for c in cases], float)
        t = self.t_start + float(rng.uniform(30, 120))
        while t < self.t_end - 120:
            for _ in range(8):
                stop = self._try_stop(str(rng.choice(cases, p=p / p.sum())), t, rng)
                if stop is not None:
                    self.stops.append(stop)
                    t += 60 + float(rng.exponential(150))
                    break
            else:
                t += 45

    def _try_stop(self, case: str, arrive: float, rng: np.random.Generator) -> StagedStop | None:
        lay, dwell = self.layout, self.layout.dwell_s
        # The plate's own stream: drawing plates leaves the stops' random sequence alone.
        prng = np.random.default_rng([*self._key, 7, self._attempts])
        self._attempts += 1
        names = list(PLATE_CASES)
        p = np.array([PLATE_CASES[c] for c in names])
        plate_case = names[int(prng.choice(len(names), p=p / p.sum()))]
        t_in, t_out = float(rng.uniform(3, 6)), float(rng.uniform(4, 6))
        w = float(rng.uniform(230, 330))
        # A compact car's plate is below reader size; the others' plates are well above it.
        w = (0.65 * w if plate_case == "small" else 290 + 0.4 * (w - 230)) * lay.unit
        h = w * float(rng.uniform(0.42, 0.5))
        spot: SpotArea | None = None
        violation_start: float | None = None
        allowed_edge = None
        if case == "short":
            if dwell < MARGIN_S + 30:
                return None
            rest = float(rng.uniform(20, dwell - MARGIN_S - 5))
        elif case == "violation":
            rest = dwell + float(rng.uniform(MARGIN_S + 5, MARGIN_S + 5 + min(600, 1.5 * dwell)))
            violation_start = arrive + dwell
        else:
            inside = case != "loading_off_hours"
            fits = [s for s in lay.spots
                    if (self.hours[s.id].window_at(arrive) is not None) == inside]  # fmt: skip
            if not fits:
                return None
            spot = fits[int(rng.integers(len(fits)))]
            window = self.hours[spot.id].window_at(arrive)
            if window is None:
                rest = dwell + float(rng.uniform(MARGIN_S + 5, MARGIN_S + 500))
                violation_start = arrive + dwell
            else:
                exempt_end = min(window[1], arrive + spot.max_stop_s)
                if case == "loading_lawful":
                    lo, hi = dwell + MARGIN_S, exempt_end - MARGIN_S - arrive
                    if hi < lo:
                        return None
                    rest = float(rng.uniform(lo, min(hi, lo + 900)))
                else:
                    violation_start = max(arrive + dwell, exempt_end)
                    rest = violation_start - arrive + float(rng.uniform(MARGIN_S + 5, 400))
                    if exempt_end == window[1]:
                        allowed_edge = window[1]
        leave = arrive + rest
        if arrive - t_in < self.t_start + 2 or leave + t_out > self.t_end - 2:
            return None
        if spot is not None:
            edges = self.hours[spot.id].edges(arrive - MARGIN_S, leave + MARGIN_S)
            for e in edges:
                if e != allowed_edge or min(e - arrive, leave - e) < MARGIN_S:
                    return None
        place = self._place(spot, w, h, rng)
        if place is None:
            return None
        x, y, w = place
        box = lay.box(x, y, w, h)
        busy = [s for s in self.stops
                if s.actor.t0 < leave + t_out and s.actor.t1 > arrive - t_in]  # fmt: skip
        if len(busy) > 1:
            return None  # at most two cars on the sidewalk at once
        for other in busy:
            ox, _, ow, _ = other.box
            if box[0] < ox + ow + 30 and ox < box[0] + box[2] + 30:
                return None  # parked cars never overlap each other
        vehicle = self._new_id()
        dirt = float(prng.uniform(0.55, 0.85) if plate_case == "dirty" else prng.uniform(0, 0.15))
        plate = self._new_plate(prng, dirt)
        actor = self._stop_path(vehicle, x, y, w, h, arrive, leave, t_in, t_out, rng, plate)
        side, squash = lay.end_view(box[0], box[2])
        end = car_end(box[2], box[3], plate.style, side, squash)
        issue = plate_issue(end.char_px, squash, dirt)
        if issue is None and plate_case == "occluded":
            stander = self._stander(box, end, arrive, leave, prng)
            if stander is not None:
                self.standers.append(stander)
                issue = "occluded"
        return StagedStop(vehicle, case, arrive, leave,
                          (round(box[0]), round(box[1]), round(box[2]), round(box[3])),
                          spot.id if spot else None, violation_start, actor, issue,
                          end.char_px)  # fmt: skip

    def _stander(self, box: tuple[float, float, float, float], end: CarEnd, arrive: float,
                 leave: float, rng: np.random.Generator) -> Actor | None:  # fmt: skip
        """Someone who walks up and stands in front of the plate, their torso over it, from
        the car's arrival until it leaves; None when nobody fits between the car and the lens."""
        lay = self.layout
        bx, by, bw, bh = box
        top, bottom = by + end.plate_cy - end.plate_h / 2, by + end.plate_cy + end.plate_h / 2
        for _ in range(8):
            base = float(rng.uniform(88, 112)) * lay.unit
            y = max(by + bh + 4 * lay.unit, bottom + 0.45 * base + 2)
            h_px = base * lay.scale(y)
            # The torso spans 0.2..0.55 of the figure's height (_draw_pedestrian).
            if y - 0.8 * h_px <= top - 2 and y - 0.45 * h_px >= bottom + 1 and y <= lay.height:
                break
        else:
            return None
        x = bx + end.plate_cx
        heading = 1 if rng.random() < 0.5 else -1
        x_in, x_out = x - heading * 160 * lay.unit, x + heading * 160 * lay.unit
        t = (arrive - 4.0, arrive - 0.5, leave + 1.0, leave + 5.0)
        w = base * float(rng.uniform(0.30, 0.36))
        return Actor("pedestrian", self._new_id(), t, (x_in, x, x, x_out), (y, y, y, y), w, base,
                     heading, int(rng.integers(1 << 30)))  # fmt: skip

    def _place(self, spot: SpotArea | None, w: float, h: float,
               rng: np.random.Generator) -> tuple[float, float, float] | None:  # fmt: skip
        """Bottom-centre x, y of a car at rest (and its width, narrowed to fit a spot)."""
        lay = self.layout
        u = lay.unit
        if spot is not None:
            (x0, x1), (_, y1) = spot.x_range, spot.y_range
            y = y1 - float(rng.uniform(14, 26)) * u
            w = min(w, (x1 - x0 - 24 * u) / lay.scale(y))
            x = (x0 + x1) / 2 + float(rng.uniform(-10, 10)) * u
            return (x, y, w) if spot.depth(x, y) >= 12 * u else None
        for _ in range(30):
            y = float(rng.uniform(lay.height - 120 * u, lay.height - 16 * u))
            half = w * lay.scale(y) / 2
            x = float(rng.uniform(half + 12 * u, lay.width - half - 12 * u))
            if y - 0.8 * h * lay.scale(y) < lay.kerb(x) or lay.sidewalk_depth(x, y) < 20 * u:
                continue
            clear = all(s.depth(x, y) < -30 * u and (x + half + 12 * u < s.x_range[0]
                        or x - half - 12 * u > s.x_range[1]) for s in lay.spots)  # fmt: skip
            if clear:
                return x, y, w
        return None

    def _stop_path(
        self,
        vehicle: int,
        x: float,
        y: float,
        w: float,
        h: float,
        arrive: float,
        leave: float,
        t_in: float,
        t_out: float,
        rng: np.random.Generator,
        plate: Plate,
    ) -> Actor:
        """Drive in along the kerb lane, up onto the sidewalk, rest, drive off forwards."""
        lay = self.layout
        heading = 1 if x < lay.width / 2 else -1
        off = w * lay.scale(lay.kerb(x)) / 2 + 20
        x_in = -off if heading > 0 else lay.width + off
        x_out = lay.width + off if heading > 0 else -off
        x_a, x_b = x - heading * 70 * lay.unit, x + heading * 70 * lay.unit
        knots = [(arrive - t_in, x_in, lay.near_lane(x_in)),
                 (arrive - 0.35 * t_in, x_a, lay.near_lane(x_a)), (arrive, x, y), (leave, x, y),
                 (leave + 0.4 * t_out, x_b, lay.near_lane(x_b)),
                 (leave + t_out, x_out, lay.near_lane(x_out))]  # fmt: skip
        t, xs, ys = zip(*knots, strict=True)
        return Actor("car", vehicle, t, xs, ys, w, h, heading, int(rng.integers(1 << 30)), plate)

    # -- ambient traffic -----------------------------------------------------------------------
    def _busy(self, t: float) -> float:
        """Traffic level by local hour: 1 by day, ~0.3 at night."""
        h = self.local_hour(t)
        return 1.0 if 7 <= h < 21 else 0.3

    def _crossing(self, kind: str, rng: np.random.Generator, t: float, y_of, speed: float,
                  heading: int, w: float, h: float) -> Actor:  # fmt: skip
        lay = self.layout
        off = w * lay.scale(y_of(lay.width / 2)) / 2 + 15
        xa, xb = (-off, lay.width + off) if heading > 0 else (lay.width + off, -off)
        t1 = t + (lay.width + 2 * off) / speed
        return Actor(kind, self._new_id(), (t, t1), (xa, xb), (y_of(xa), y_of(xb)), w, h, heading,
                     int(rng.integers(1 << 30)))  # fmt: skip

    def _passing_cars(self) -> list[Actor]:
        rng, lay, out = self._rng(2), self.layout, list[Actor]()
        prng = self._rng(8)  # plates apart, so the traffic itself stays as it was
        last: dict[int, tuple[float, float, float]] = {}  # lane -> (enter, speed, exit)
        t = self.t_start - 10
        while True:
            t += float(rng.exponential(9 / self._busy(t)))
            if t > self.t_end:
                return out
            lane = int(rng.integers(2))
            w = float(rng.uniform(220, 330)) * lay.unit
            h = w * float(rng.uniform(0.42, 0.5))
            speed = float(rng.uniform(260, 450)) * lay.unit
            start = t
            if lane in last:  # never catch up with the car ahead in the same lane
                enter, v, leave = last[lane]
                span = (lay.width + w) / speed
                start = max(t, enter + (w + 80 * lay.unit) / min(v, speed), leave + 1.0 - span)
            y_of = lay.near_lane if lane == 0 else lay.far_lane
            car = self._crossing("car", rng, start, y_of, speed, 1 if lane == 0 else -1, w, h)
            dirty = prng.random() < 0.08
            dirt = float(prng.uniform(0.5, 0.85) if dirty else prng.uniform(0, 0.15))
            car = replace(car, plate=self._new_plate(prng, dirt))
            last[lane] = (car.t0, speed, car.t1)
            out.append(car)

    def _walker(self, rng: np.random.Generator) -> tuple[float, float]:
        h = float(rng.uniform(78, 112)) * self.layout.unit
        return h * float(rng.uniform(0.30, 0.36)), h

    def _pedestrians(self) -> list[Actor]:
        rng, lay, out = self._rng(3), self.layout, list[Actor]()
        u = lay.unit
        t = self.t_start - 30
        while True:
            t += float(rng.exponential(7 / self._busy(t)))
            if t > self.t_end:
                return out
            w, h = self._walker(rng)
            speed = float(rng.uniform(55, 95)) * u
            heading = 1 if rng.random() < 0.5 else -1
            r = rng.random()
            if r < 0.7:  # along the sidewalk
                depth = float(rng.uniform(0.06, 0.98))
                y_of = _along(lay, depth)
                out.append(self._crossing("pedestrian", rng, t, y_of, speed, heading, w, h))
            elif r < 0.85:  # along the far pavement, small and beyond the road
                y_top = lay.road_top - 3 * u
                out.append(self._crossing("pedestrian", rng, t, lambda _x, y=y_top: y, speed,
                                          heading, w, h))  # fmt: skip
            else:  # across the sidewalk, between the kerb and the camera
                x = float(rng.uniform(40, lay.width - 40)) * 1.0
                ya, yb = lay.kerb(x) + 8 * u, lay.height + h * 1.05
                if heading < 0:
                    ya, yb = yb, ya
                dur = abs(yb - ya) / speed
                out.append(Actor("pedestrian", self._new_id(), (t, t + dur), (x, x), (ya, yb),
                                 w, h, heading, int(rng.integers(1 << 30))))  # fmt: skip

    def _cyclists(self) -> list[Actor]:
        rng, lay, out = self._rng(4), self.layout, list[Actor]()
        t = self.t_start - 20
        while True:
            t += float(rng.exponential(40 / self._busy(t)))
            if t > self.t_end:
                return out
            h = float(rng.uniform(72, 90)) * lay.unit
            w = h * float(rng.uniform(0.62, 0.7))
            speed = float(rng.uniform(140, 240)) * lay.unit
            heading = 1 if rng.random() < 0.5 else -1
            if rng.random() < 0.55:
                y_of = _along(lay, float(rng.uniform(0.1, 0.9)))
            else:
                y_of = lambda x: lay.kerb(x) - 6 * lay.unit  # noqa: E731
            out.append(self._crossing("cyclist", rng, t, y_of, speed, heading, w, h))

    def _occluders(self) -> list[Actor]:
        """People walking past in front of each parked car, hiding up to ~40 % of it."""
        rng, lay, out = self._rng(5), self.layout, list[Actor]()
        u = lay.unit
        for stop in self.stops:
            rest = stop.leave - stop.arrive
            if rest < 40:
                continue
            bx, by, bw, bh = stop.box
            groups = 1 + (rest > 150) + (rest > 600)
            for _ in range(groups):
                tc = float(rng.uniform(stop.arrive + 15, stop.leave - 15))
                y = min(by + bh + float(rng.uniform(8, 35)) * u, lay.height - 4 * u)
                heading = 1 if rng.random() < 0.5 else -1
                speed = float(rng.uniform(55, 90)) * u
                members = [self._walker(rng) for _ in range(int(rng.integers(1, 4)))]
                while len(members) > 1 and _hidden(lay, members, y, bx, by, bw, bh) > 0.4:
                    members.pop()
                xc, gap = bx + bw / 2, 0.0
                for w, h in members:
                    x = xc - heading * gap  # the group walks in a row
                    gap += w * lay.scale(y) + 6 * u
                    start, end = (-40 * u, lay.width + 40 * u)
                    if heading < 0:
                        start, end = end, start
                    ta = tc + (start - x) / (heading * speed)
                    tb = tc + (end - x) / (heading * speed)
                    out.append(Actor("pedestrian", self._new_id(), (ta, tb), (start, end), (y, y),
                                     w, h, heading, int(rng.integers(1 << 30))))  # fmt: skip
        return out

    def _clouds(self) -> list[Cloud]:
        rng, out = self._rng(6), list[Cloud]()
        t = self.t_start - 60
        while True:
            t += float(rng.exponential(300))
            if t > self.t_end:
                return out
            dur = float(rng.uniform(20, 60))
            out.append(Cloud(t, t + dur, float(rng.uniform(0.2, 0.4)),
                             1 if rng.random() < 0.5 else -1,
                             int(rng.integers(1 << 30))))  # fmt: skip


def _along(lay: StreetLayout, depth: float):
    """Bottom y of a walk along the sidewalk at `depth` (0 kerb .. 1 bottom of the image)."""
    u = lay.unit

    def y_of(x: float) -> float:
        top = lay.kerb(x) + 14 * u
        return top + depth * (lay.height - 4 * u - top)

    return y_of


def _hidden(lay: StreetLayout, members: list[tuple[float, float]], y: float, bx: float,
            by: float, bw: float, bh: float) -> float:  # fmt: skip
    """Share of a car box hidden by a row of people standing in front of it at its centre."""
    s = lay.scale(y)
    width = sum(w * s for w, _ in members) + 6 * lay.unit * (len(members) - 1)
    tall = max(h * s for _, h in members)
    ov_w = min(width, bw)
    ov_h = max(0.0, min(y, by + bh) - max(y - tall, by))
    return ov_w * ov_h / (bw * bh)
