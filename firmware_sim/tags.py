"""A seeded fleet of simulated dog tags: homes, walks, staged violations, and their MQTT messages.

Every violation is staged on purpose with a margin that makes it unambiguous, and every
other fix keeps away from forbidden zones, so `truth()` is exactly what a correct service
alerts. Deterministic: the same arguments give byte-identical messages and truth.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from shapely.geometry import Point

from .district import District, DogZone
from .routes import Pt, RoutePlanner
from .staging import (
    ACC_MAX,
    CLEARANCE_M,
    DEPTH_M,
    EDGE_S,
    STAGED_ACC_MAX,
    WALK_MAX_S,
    StagedViolation,
    ViolationStager,
    Walk,
    close_knots,
    timed,
)

__all__ = ["ACC_MAX", "DEPTH_M", "EDGE_S", "STAGED_ACC_MAX", "StagedViolation", "TagFleet"]

REST_FIX_S = 120  # fix interval while resting at home
HOME_CLEAR_M = 100.0

DOG_NAMES = [
    "旺财",
    "豆豆",
    "小白",
    "球球",
    "可乐",
    "雪球",
    "大黄",
    "毛毛",
    "团团",
    "乐乐",
    "花花",
    "布丁",
    "阿福",
    "来福",
    "黑豆",
    "年糕",
]
SURNAMES = [
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "徐",
    "吴",
    "周",
    "郑",
    "毛",
    "方",
    "祝",
    "余",
    "汪",
    "叶",
]
GIVEN = [
    "伟",
    "芳",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
]


@dataclass
class _Tag:
    tag_id: str
    dog: str
    owner: str
    phone: str
    transport: str
    home: Pt
    rng: np.random.Generator
    first_fix: float = 0.0
    walks: list[Walk] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    fixes: list[dict] = field(default_factory=list)
    messages: list[tuple[float, str, bytes]] = field(default_factory=list)


class TagFleet:
    """A fleet of simulated tags over [start, start + duration_s]."""

    def __init__(
        self,
        geofences_dir: str | Path,
        n_tags: int,
        seed: int,
        start: datetime,
        duration_s: float,
        fix_interval_s: float = 10,
        violation_share: float = 0.3,
        owntracks_share: float = 0.0,
        tz: str = "Asia/Shanghai",
    ):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not 1 <= fix_interval_s <= REST_FIX_S:
            raise ValueError(f"fix_interval_s must be within 1..{REST_FIX_S}, got {fix_interval_s}")
        self.district = District.load(geofences_dir, tz)
        self.planner = RoutePlanner(self.district, clearance_m=CLEARANCE_M)
        self.seed = seed
        self.t_start = float(math.ceil(start.timestamp()))
        self.t_end = self.t_start + float(duration_s)
        self.fix_interval = int(round(fix_interval_s))
        self.violation_share = violation_share
        self.owntracks_share = owntracks_share
        self.stager = ViolationStager(self.district, self.planner, self.fix_interval, self._blocked)
        self._tags = self._make_fleet(n_tags)
        self._by_id = {t.tag_id: t for t in self._tags}
        for tag in self._tags:
            self._simulate(tag)
            self._emit(tag)
        self._messages = sorted(
            (m for tag in self._tags for m in tag.messages), key=lambda m: (m[0], m[1])
        )

    # -- public API ---------------------------------------------------------------------
    def fleet(self) -> list[dict]:
        return [
            {"tag_id": t.tag_id, "dog": t.dog, "owner": t.owner, "phone": t.phone,
             "transport": t.transport}
            for t in self._tags
        ]  # fmt: skip

    def messages(self) -> list[tuple[float, str, bytes]]:
        return list(self._messages)

    def staged(self) -> list[StagedViolation]:
        out = [w.violation for t in self._tags for w in t.walks if w.violation]
        return sorted(out, key=lambda v: (v.start, v.tag_id))

    def truth(self) -> list[dict]:
        return [v.truth() for v in self.staged()]

    def true_track(self, tag_id: str) -> list[dict]:
        """Every fix of a tag with its true position: ts, x, y, lon, lat, acc, staged."""
        return [dict(f) for f in self._by_id[tag_id].fixes]

    def write_truth(self, path: str | Path) -> None:
        lines = [json.dumps(row, ensure_ascii=False) for row in self.truth()]
        Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def write_fleet(self, path: str | Path) -> None:
        text = json.dumps(self.fleet(), ensure_ascii=False, indent=2)
        Path(path).write_text(text + "\n", encoding="utf-8")

    # -- fleet and homes ----------------------------------------------------------------
    def _make_fleet(self, n: int) -> list[_Tag]:
        rng = np.random.default_rng([self.seed, 7])
        serials = sorted(rng.choice(900_000, size=n, replace=False) + 100)
        pairs = 2 if n >= 6 else (1 if n >= 3 else 0)
        n_owners = n - pairs
        n_ot = int(round(n * self.owntracks_share))
        ot = set(rng.choice(n, size=n_ot, replace=False).tolist()) if n_ot else set()
        owners = []
        phones: set[str] = set()
        for _ in range(n_owners):
            phone = "139" + "".join(str(d) for d in rng.integers(0, 10, 8))
            while phone in phones:
                phone = "139" + "".join(str(d) for d in rng.integers(0, 10, 8))
            phones.add(phone)
            name = str(rng.choice(SURNAMES)) + str(rng.choice(GIVEN))
            owners.append((name, phone, self._home(rng)))
        owner_of = list(range(n_owners)) + list(range(pairs))  # the first owners own two dogs
        tags = []
        for i in range(n):
            name, phone, home = owners[owner_of[i]]
            tags.append(
                _Tag(
                    tag_id=f"QZT-{int(serials[i]):06d}",
                    dog=str(DOG_NAMES[int(rng.integers(len(DOG_NAMES)))]),
                    owner=name,
                    phone=phone,
                    transport="owntracks" if i in ot else "tags",
                    home=home,
                    rng=np.random.default_rng([self.seed, 11, i]),
                )
            )
        return tags

    def _home(self, rng: np.random.Generator) -> Pt:
        zones = self.district.zones
        minx, miny, maxx, maxy = self.district.bounds
        every = [z.id for z in zones]
        while True:
            p = (
                float(rng.uniform(minx + 120, maxx - 120)),
                float(rng.uniform(miny + 120, maxy - 120)),
            )
            if self.district.distance_to(zones, *p) >= HOME_CLEAR_M and self.planner.point_clear(
                p, every
            ):
                return p

    # -- one tag's day ------------------------------------------------------------------
    def _simulate(self, tag: _Tag) -> None:
        rng = tag.rng
        t = tag.first_fix = self.t_start + float(rng.integers(0, REST_FIX_S))
        first = True
        while True:
            rest = rng.uniform(0, 90 * 60) if first else rng.uniform(20 * 60, 150 * 60)
            first = False
            earliest = float(math.ceil(t + rest))
            if earliest + 15 * 60 > self.t_end:
                break
            walk = None
            if rng.random() < self.violation_share:
                walk = self.stager.plan(tag.tag_id, tag.home, rng, earliest)
            if walk is None:
                walk = self._plan_walk(tag, earliest)
            if walk is None or walk.t1 + 60 > self.t_end:
                t = earliest
                continue
            tag.walks.append(walk)
            t = walk.t1
        # Offline gaps: only while resting at home, well inside a long rest.
        if rng.random() < 0.3:
            rests = self._rests(tag)
            for a, b in rests:
                if b - a >= 55 * 60 and len(tag.gaps) < 2 and rng.random() < 0.6:
                    g0 = a + 5 * 60 + float(rng.integers(0, 300))
                    longest = int(min(40 * 60, b - g0 - 5 * 60))
                    g1 = g0 + float(rng.integers(5 * 60, longest + 1))
                    tag.gaps.append((g0, g1))

    def _rests(self, tag: _Tag) -> list[tuple[float, float]]:
        edges = [self.t_start] + [x for w in tag.walks for x in (w.t0, w.t1)] + [self.t_end]
        return list(zip(edges[::2], edges[1::2], strict=True))

    def _blocked(self, a: float, b: float) -> set[str]:
        return {z.id for z in self.district.forbidding(a - EDGE_S, b + EDGE_S)}

    def _plan_walk(self, tag: _Tag, t0: float) -> Walk | None:
        """A lawful walk: home, one or two destinations, home; allowed zones only."""
        rng = tag.rng
        blocked = self._blocked(t0, t0 + WALK_MAX_S)
        open_zones = [
            z
            for z in self.district.zones
            if z.id not in blocked and z.id not in self.district.parent
        ]
        for _ in range(4):
            maybe = [
                self._destination(tag, blocked, open_zones) for _ in range(int(rng.integers(1, 3)))
            ]
            stops = [s for s in maybe if s is not None]
            if len(stops) < len(maybe):
                continue
            speed = rng.uniform(1.0, 1.6)
            knots = [(t0, *tag.home)]
            t, here, ok = t0, tag.home, True
            for stop in [*stops, tag.home]:
                path = self.planner.route(here, stop, blocked, rng)
                if path is None:
                    ok = False
                    break
                ks, t = timed(path, t, speed, rng)
                knots += ks
                if stop is not tag.home:
                    t += float(rng.uniform(0, 6 * 60))  # sniffing around, standing still
                    knots.append((t, *stop))
                here = stop
            if ok and t - t0 <= WALK_MAX_S:
                return Walk(close_knots(knots))
        return None

    def _destination(self, tag: _Tag, blocked: set[str], open_zones: list[DogZone]) -> Pt | None:
        rng = tag.rng
        for _ in range(30):
            if open_zones and rng.random() < 0.45:
                z = open_zones[int(rng.integers(len(open_zones)))]
                minx, miny, maxx, maxy = z.metric.bounds
                p = (float(rng.uniform(minx, maxx)), float(rng.uniform(miny, maxy)))
                if not z.metric.buffer(-8).contains(Point(p)):
                    continue
            else:
                ang, r = rng.uniform(0, 2 * math.pi), rng.uniform(250, 850)
                p = (tag.home[0] + r * math.cos(ang), tag.home[1] + r * math.sin(ang))
            if (
                math.dist(p, tag.home) < 1100
                and self.planner.in_bounds(p, 30)
                and self.planner.point_clear(p, blocked)
            ):
                return p
        return None

    # -- fixes and messages -------------------------------------------------------------
    def _emit(self, tag: _Tag) -> None:
        rng = np.random.default_rng([self.seed, 13, int(tag.tag_id[4:])])
        knots = [(self.t_start, *tag.home)]
        for w in tag.walks:
            knots += w.knots
        knots.append((self.t_end + REST_FIX_S, *tag.home))
        kt = np.array([k[0] for k in knots])
        kx = np.array([k[1] for k in knots])
        ky = np.array([k[2] for k in knots])
        times: list[float] = []
        edges = (
            [tag.first_fix]
            + [x for w in tag.walks for x in (w.t0, float(math.ceil(w.t1)))]
            + [self.t_end]
        )
        for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False)):
            step = self.fix_interval if i % 2 else REST_FIX_S
            times += list(np.arange(a, b, step, dtype=float))
        times = [t for t in times if not any(g0 <= t < g1 for g0, g1 in tag.gaps)]
        exempt = [w.violation.exempt for w in tag.walks if w.violation]
        walking = [(w.t0, w.t1) for w in tag.walks]
        owntracks = tag.transport == "owntracks"
        batt0 = rng.uniform(21, 27) if rng.random() < 0.3 else rng.uniform(40, 100)
        drain = rng.uniform(0.5, 0.9) / 3600
        user = tag.tag_id  # a phone logs in as its tag: owntracks/{serial}/{serial}
        walked = 0.0
        prev = self.t_start
        proj = self.district.projection
        for seq, t in enumerate(times):
            if not owntracks:
                t = round(t + float(rng.uniform(0, 0.9)), 3)
            x, y = float(np.interp(t, kt, kx)), float(np.interp(t, kt, ky))
            staged = any(a <= t <= b for a, b in exempt)
            acc = round(float(rng.uniform(4, STAGED_ACC_MAX)) if staged else _acc(rng), 1)
            r = abs(rng.normal(0, acc / 2))
            while r > acc - 0.02:
                r = abs(rng.normal(0, acc / 2))
            ang = rng.uniform(0, 2 * math.pi)
            lon, lat = proj.to_lonlat(x + r * math.cos(ang), y + r * math.sin(ang))
            lon, lat = round(float(lon), 7), round(float(lat), 7)
            if any(a <= prev < b or a < t <= b for a, b in walking):
                walked += t - prev
            prev = t
            batt = max(1, int(round(batt0 - drain * (t - self.t_start) - 2.0 * walked / 3600)))
            tlon, tlat = proj.to_lonlat(x, y)
            tag.fixes.append(
                {"ts": t, "x": x, "y": y, "lon": float(tlon), "lat": float(tlat),
                 "acc": acc, "staged": staged}
            )  # fmt: skip
            if owntracks:
                topic = f"owntracks/{user}/{tag.tag_id}"
                body = {"_type": "location", "lat": lat, "lon": lon, "tst": int(t), "acc": acc,
                        "batt": batt, "tid": tag.tag_id[-2:]}  # fmt: skip
            else:
                topic = f"tags/{tag.tag_id}/fix"
                body = {"ts": t, "lat": lat, "lon": lon, "acc": acc, "batt": batt, "seq": seq}
            tag.messages.append((t, topic, _dump(body)))
        if owntracks:
            self._owntracks_extras(tag, user)

    def _owntracks_extras(self, tag: _Tag, user: str) -> None:
        """Non-location OwnTracks messages the service must ignore."""
        topic = f"owntracks/{user}/{tag.tag_id}"
        lon, lat = (float(v) for v in self.district.projection.to_lonlat(*tag.home))
        extra = []
        for w in tag.walks if int(tag.tag_id[-1]) % 2 == 0 else []:  # a few phones report regions
            body = {"_type": "transition", "event": "leave", "desc": "家", "t": "c",
                    "tst": int(w.t0), "wtst": int(self.t_start), "lat": round(lat, 7),
                    "lon": round(lon, 7), "acc": 10, "tid": tag.tag_id[-2:]}  # fmt: skip
            extra.append((float(int(w.t0)) + 0.5, topic, _dump(body)))
        for g0, _ in tag.gaps:
            extra.append(
                (
                    g0 + 0.5,
                    f"owntracks/{user}/{tag.tag_id}",
                    _dump({"_type": "lwt", "tst": int(g0)}),
                )
            )
        tag.messages = sorted(tag.messages + extra, key=lambda m: m[0])


def _acc(rng: np.random.Generator) -> float:
    return float(4.0 + (ACC_MAX - 4.0) * rng.beta(1.6, 4.0))


def _dump(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
