"""The stages of the mobile path (patrol units, SPEC 5.1), each one job over one frame,
and what they share between frames: the units' routes and the re-sighting rule over
every unit's captures. Their order is listed in pipeline/paths.py.

A moving camera has no background to learn, so the plate detector is the vehicle
finder: every frame taken beside a sidewalk zone is searched for plates; a plate
read at or above the threshold is a sighting at the vehicle's place (the unit's
position moved `side_offset_m` to its side); an unread one is counted and never
confirms anything."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..geo.cameras import MobileUnit
from ..geo.places import Place, PlaceIndex
from ..geo.zones import Zone
from ..model import Alert, Inbound, Rejected
from ..rules.resighting import (
    Ended,
    Event,
    FirstSeen,
    Opened,
    PlateStop,
    Resighting,
    Sighting,
    Updated,
)
from ..store import camera_state
from ..vision.closeup import save_closeup
from ..vision.evidence import EvidenceStore
from ..vision.frame import SCALE, decode_full, decode_small, exif_position, jpeg_header
from ..vision.plate_finder import plate_candidates
from ..vision.plates import PlateRead, PlateReader
from .alerting import PatrolAlerts
from .batch import PathRunner, Work
from .camera_stages import MAX_FRAME_BYTES, capture_time, property_number

STATE_KEY = "_patrols"  # camera_state row of the rule and the units' routes
EVIDENCE_DIR = "patrols"  # evidence/patrols/{alert}-{role}.jpg: one stop, several units
ROUTE_POINTS = 240  # recent positions kept per unit for the console's map
ROUTE_EVERY_S = 5.0  # capture seconds between kept route points
SAVE_EVERY_S = 5.0


@dataclass
class UnitState:
    unit: MobileUnit
    last_ts: float | None = None
    route: deque[list[float]] = field(default_factory=lambda: deque(maxlen=ROUTE_POINTS))


@dataclass
class PatrolFrame(Work):
    msg: Inbound | None = None
    properties: list[tuple[str, str]] | None = None
    unit: Any = None  # UnitState once decoded
    ts: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    heading: float = 0.0
    small: np.ndarray | None = None  # decoded at 1/SCALE: where plates may be
    image: np.ndarray | None = None  # full resolution, decoded only to read plates
    place: Place | None = None
    unsure: bool = False  # a plate found but not read confidently
    reads: list[PlateRead] = field(default_factory=list)
    sightings: list[Sighting] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    pending: list[Alert] = field(default_factory=list)
    done: bool = False


class MobileContext(PathRunner):
    """What the mobile stages share."""

    def __init__(
        self,
        *args: Any,
        zones: list[Zone],
        places: PlaceIndex,
        plate_reader: PlateReader | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.evidence = EvidenceStore(self.settings.data_dir, self.settings.tz)
        self.patrols = PatrolAlerts(self.conn)
        self.plate_reader = plate_reader or PlateReader.create(self.settings.plate_reader)
        conf = self.settings.plate_min_conf
        self.plate_min_conf = self.plate_reader.min_conf if conf is None else conf
        self.zones = {z.id: z for z in zones}
        self.places = places
        self.rule = Resighting(
            same_place_m=self.settings.patrol_same_place_m,
            max_gap_s=self.settings.patrol_max_gap_s,
        )
        self.units: dict[str, UnitState] = {}
        self.saved_ts = 0.0


def decode(ctx: MobileContext, frame: PatrolFrame) -> None:
    """Unit, size, capture time and position (SPEC 3.3: the v5 user properties lat, lon,
    heading; without them the JPEG's EXIF GPS block). Raises `Rejected`."""
    assert frame.msg is not None
    msg = frame.msg
    unit = ctx.units[msg.topic.split("/")[1]]
    if len(msg.payload) > MAX_FRAME_BYTES:
        raise Rejected("oversized", f"{len(msg.payload)} bytes > limit {MAX_FRAME_BYTES}")
    jpeg_header(msg.payload)  # before the EXIF reader or OpenCV sees it
    frame.ts = capture_time(frame.properties, msg.received_at, ctx.settings.future_tolerance_s)
    frame.lat, frame.lon, frame.heading = position(frame.properties, msg.payload)
    frame.small = decode_small(msg.payload, unit.unit.width, unit.unit.height)
    frame.unit = unit
    if unit.last_ts is not None and frame.ts <= unit.last_ts:
        ctx.counters.add("frames_late")
        frame.done = True
        return
    unit.last_ts = frame.ts


def position(properties: list[tuple[str, str]] | None, jpeg: bytes) -> tuple[float, float, float]:
    """(lat, lon, heading) from the user properties, else from EXIF; checked."""
    props = dict(properties or [])
    where = "user property"
    raw: dict[str, Any] = {k: props[k] for k in ("lat", "lon", "heading") if k in props}
    if not raw:
        raw, where = dict(exif_position(jpeg) or {}), "EXIF GPS"
    missing = [k for k in ("lat", "lon", "heading") if k not in raw]
    if missing:
        raise Rejected(
            "missing_field",
            f"a mobile unit's frame needs its position: {', '.join(missing)} missing "
            "(MQTT v5 user properties lat, lon, heading, SPEC 3.3, or an EXIF GPS block)",
        )
    values = {}
    for key, low, high in (("lat", -90, 90), ("lon", -180, 180), ("heading", 0, 360)):
        value = raw[key]  # text from a user property, a float from EXIF
        v = property_number(key, value) if isinstance(value, str) else float(value)
        if not (math.isfinite(v) and low <= v <= high):
            raise Rejected("bad_field", f"{where} {key}={v} is outside {low}..{high}")
        values[key] = v
    if "speed" in props:  # SPEC 3.3: optional, m/s; unused, but a bad one is still bad input
        speed = property_number("speed", props["speed"])
        if not 0 <= speed <= 150:
            raise Rejected("bad_field", f"user property speed={speed} is outside 0..150 m/s")
    return values["lat"], values["lon"], values["heading"] % 360


def locate(ctx: MobileContext, frame: PatrolFrame) -> None:
    """The place the camera looks at: where a vehicle it photographs stands, and the
    sidewalk zone and loading spot there (geo/places.py)."""
    unit: UnitState = frame.unit
    frame.place = ctx.places.vehicle_place(
        frame.lat, frame.lon, frame.heading, unit.unit.side, unit.unit.side_offset_m
    )
    if not unit.route or frame.ts - unit.route[-1][0] >= ROUTE_EVERY_S:
        unit.route.append([frame.ts, round(frame.lat, 7), round(frame.lon, 7), frame.heading])
    frame.counts["frames"] += 1
    frame.counts["patrol_frames"] += 1


def find_plates(ctx: MobileContext, frame: PatrolFrame) -> None:
    """Plates in a frame taken beside a sidewalk zone; confident valid reads become
    sightings, the rest are counted unread."""
    place = frame.place
    assert place is not None and frame.small is not None and frame.msg is not None
    if place.sidewalk is None:
        frame.counts["patrol_frames_off_sidewalk"] += 1
        return
    regions = plate_candidates(frame.small, SCALE)
    if not regions:
        return
    frame.image = decode_full(frame.msg.payload)
    best: dict[str, PlateRead] = {}  # plate -> its best read in this frame
    for region in regions:
        for r in ctx.plate_reader.read(frame.image, region, once=True):
            if r.plate is None or r.conf < ctx.plate_min_conf:
                frame.unsure = True
                frame.counts["patrol_plates_unread"] += 1
            elif r.plate not in best or r.conf > best[r.plate].conf:
                best[r.plate] = r
    frame.reads = list(best.values())
    zone, spot = place.sidewalk, place.spot
    for r in frame.reads:
        assert r.plate is not None
        frame.sightings.append(
            Sighting(
                plate=r.plate,
                conf=round(float(r.conf), 4),
                ts=frame.ts,
                unit_id=frame.unit.unit.id,
                x=place.x,
                y=place.y,
                lat=place.lat,
                lon=place.lon,
                zone_id=zone.id,
                dwell_s=zone.dwell_s,
                spot_id=spot.id if spot else None,
                spot_allows=_loading_allowed(spot, frame.ts),
                max_stop_s=spot.max_stop_s if spot else None,
                box=r.box,
                heading=frame.heading,
            )
        )
        frame.counts["patrol_sightings"] += 1


def _loading_allowed(spot: Zone | None, ts: float) -> bool:
    return bool(spot and spot.loading_hours and spot.loading_hours.allows(ts))


def resight(ctx: MobileContext, frame: PatrolFrame) -> None:
    """The re-sighting rule (rules/resighting.py): stops passed without their plate end,
    then each sighting joins or starts its plate's stop."""
    place = frame.place
    assert place is not None
    seen = {s.plate for s in frame.sightings}
    unit_id = frame.unit.unit.id
    zone_id = place.sidewalk.id if place.sidewalk else None
    frame.events = ctx.rule.passed(
        unit_id, frame.ts, place.x, place.y, seen, frame.unsure, zone_id, frame.heading
    )
    for s in frame.sightings:
        frame.events.extend(ctx.rule.sighted(s))


def photograph(ctx: MobileContext, frame: PatrolFrame) -> None:
    """Evidence, then alerts: the first capture's photo and close-up kept while a stop
    waits for its second capture; the confirming capture's photo when it becomes a
    violation; the latest on later passes; nothing kept of a stop that ended lawful."""
    assert frame.msg is not None
    for ev in frame.events:
        if isinstance(ev, FirstSeen):
            aid = PatrolAlerts.patrol_alert_id(ev.stop)
            _photo(ctx, frame, aid, "first_seen", ev.stop.first)
            _closeup(ctx, frame, aid, ev.stop.first)
        elif isinstance(ev, Opened):
            stop = ev.stop
            assert stop.confirm is not None
            aid = PatrolAlerts.patrol_alert_id(stop)
            photos = [_first_photo(ctx, frame, stop, aid)]
            photos.append(_photo(ctx, frame, aid, "dwell_exceeded", stop.confirm))
            photos.append(_photo(ctx, frame, aid, "latest", stop.confirm))
            if stop.confirm.conf > stop.first.conf:
                photos.append(_closeup(ctx, frame, aid, stop.confirm))
            else:
                photos.append(_closeup_item(ctx, aid, stop))
            zone = ctx.zones[stop.first.zone_id]
            frame.pending.append(ctx.patrols.patrol_opened(stop, zone, photos, frame.now))
            frame.counts["alerts_opened"] += 1
        elif isinstance(ev, Updated):
            aid = PatrolAlerts.patrol_alert_id(ev.stop)
            photos = [_photo(ctx, frame, aid, "latest", ev.sighting)]
            if ev.better_confirm:
                photos.append(_photo(ctx, frame, aid, "dwell_exceeded", ev.sighting))
                if ev.sighting.conf > ev.stop.first.conf:
                    photos.append(_closeup(ctx, frame, aid, ev.sighting))
            updated = ctx.patrols.patrol_updated(ev.stop, photos, frame.now)
            if updated is not None:
                frame.pending.append(updated)
        elif isinstance(ev, Ended):
            aid = PatrolAlerts.patrol_alert_id(ev.stop)
            if not ev.was_violation:
                ctx.evidence.discard(EVIDENCE_DIR, aid)
                continue
            closed = ctx.patrols.patrol_closed(ev.stop, ev.ended_at, frame.now)
            if closed is not None:
                frame.pending.append(closed)
                frame.counts["alerts_closed"] += 1


def persist(ctx: MobileContext, frame: PatrolFrame) -> None:
    """Alert changes with the rule's state and the units' routes, in one transaction."""
    if not frame.pending and not frame.events and frame.ts - ctx.saved_ts < SAVE_EVERY_S:
        ctx.counters.merge(frame.counts)
        return
    with ctx.commit(frame):
        for a in frame.pending:
            ctx.emit(frame, a)
        camera_state.save(ctx.conn, STATE_KEY, snapshot(ctx))
    ctx.saved_ts = frame.ts


def snapshot(ctx: MobileContext) -> dict[str, Any]:
    units = {uid: {"last_ts": u.last_ts, "route": list(u.route)} for uid, u in ctx.units.items()}
    return {"rule": ctx.rule.to_dict(), "units": units}


# -- evidence -------------------------------------------------------------------------


def vehicle_box(
    plate: tuple[int, int, int, int], width: int, height: int
) -> tuple[int, int, int, int]:
    """The vehicle's box estimated from its plate: a car's end is about four plates wide
    (1.8 m to 0.44 m) and nine plates tall above the plate's lower edge."""
    x, y, w, h = plate
    cx, bottom = x + w / 2, y + h
    vw, vh = 4.2 * w, 9.0 * h
    x0, y0 = max(0, round(cx - vw / 2)), max(0, round(bottom + 2.5 * h - vh))
    x1, y1 = min(width, round(cx + vw / 2)), min(height, round(bottom + 2.5 * h))
    return (x0, y0, x1 - x0, y1 - y0)


def _photo(
    ctx: MobileContext, frame: PatrolFrame, aid: str, role: str, s: Sighting
) -> dict[str, Any]:
    assert frame.msg is not None and frame.image is not None and s.box is not None
    box = vehicle_box(s.box, frame.image.shape[1], frame.image.shape[0])
    where = f"{frame.lat:.6f}, {frame.lon:.6f}  H{frame.heading:03.0f}"  # position, heading
    item = ctx.evidence.save(
        EVIDENCE_DIR, aid, role, frame.msg.payload, box, s.ts, where, name=s.unit_id
    )
    item["device_id"] = s.unit_id
    return item


def _first_photo(
    ctx: MobileContext, frame: PatrolFrame, stop: PlateStop, aid: str
) -> dict[str, Any]:
    """The first capture's photo, saved when it was taken."""
    first = stop.first
    path = ctx.evidence.path(EVIDENCE_DIR, aid, "first_seen")
    assert first.box is not None and frame.image is not None
    box = vehicle_box(first.box, frame.image.shape[1], frame.image.shape[0])
    return {
        "type": "image",
        "role": "first_seen",
        "path": str(path.relative_to(ctx.evidence.root)),
        "ts": first.ts,
        "box": list(box),
        "device_id": first.unit_id,
    }


def _closeup(ctx: MobileContext, frame: PatrolFrame, aid: str, s: Sighting) -> dict[str, Any]:
    assert frame.image is not None and s.box is not None
    return save_closeup(ctx.evidence, EVIDENCE_DIR, aid, frame.image, s.box, s.ts, s.plate, s.conf)


def _closeup_item(ctx: MobileContext, aid: str, stop: PlateStop) -> dict[str, Any]:
    """The close-up saved from the first capture (it read better than the confirming)."""
    first = stop.first
    path = ctx.evidence.path(EVIDENCE_DIR, aid, "plate")
    return {
        "type": "image",
        "role": "plate",
        "path": str(path.relative_to(ctx.evidence.root)),
        "ts": first.ts,
        "box": list(first.box or ()),
        "text": first.plate,
        "conf": round(first.conf, 3),
    }
