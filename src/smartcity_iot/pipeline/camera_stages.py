"""The stages of the fixed-camera path, each one job over one frame, and what they
share between frames (each camera's detector, tracker and stops). Their order is
listed in pipeline/paths.py."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..geo.cameras import Camera
from ..model import Alert, Inbound, Rejected
from ..rules import parking
from ..rules.plate_vote import PlateVotes
from ..store import camera_state
from ..vision.detect import Detections, VehicleDetector
from ..vision.evidence import EvidenceStore
from ..vision.frame import SCALE, decode_small, jpeg_header
from ..vision.plates import PlateReader
from ..vision.track import Box, Track, Tracker, TrackEvents
from ..vision.verify import StopVerifier
from .alerting import ParkingAlerts
from .batch import PathRunner, Work

SAVE_EVERY_S = 5.0  # capture seconds between state saves
LATEST_EVERY_S = 30.0  # capture seconds between refreshes of the "latest" evidence photo
MAX_FRAME_BYTES = 4 * 1024 * 1024
SILENT_S = 120.0  # seconds without a frame after which a camera's stops are closed


@dataclass
class CameraState:
    """One camera's view of its street: what it has learnt and who is parked."""

    camera: Camera
    detector: VehicleDetector
    tracker: Tracker = field(default_factory=Tracker)
    stops: dict[int, parking.Stop] = field(default_factory=dict)  # track id -> its stop
    latest_saved: dict[int, float] = field(default_factory=dict)  # track id -> photo time
    plates: dict[int, PlateVotes] = field(default_factory=dict)  # track id -> its plate reads
    plate_photos: dict[int, dict] = field(default_factory=dict)  # track id -> best close-up
    last_ts: float | None = None
    saved_ts: float = 0.0
    verifier: StopVerifier = field(default_factory=StopVerifier)  # is each stop a vehicle
    verified_ts: float | None = None  # capture time of the last frame verified
    heard_at: float | None = None  # arrival time of that frame


@dataclass
class Frame(Work):
    """One frame on its way through the path, with what each stage found."""

    msg: Inbound | None = None
    properties: list[tuple[str, str]] | None = None
    cam: Any = None  # CameraState once decoded
    ts: float = 0.0  # capture time
    image: np.ndarray | None = None  # decoded at 1/SCALE
    detections: Detections | None = None
    events: TrackEvents | None = None
    opened: list[tuple[Track, parking.Stop, parking.ParkingOpened]] = field(default_factory=list)
    staying: list[tuple[Track, parking.Stop]] = field(
        default_factory=list
    )  # violating, still there
    closed: list[tuple[parking.Stop, parking.ParkingClosed | None]] = field(default_factory=list)
    photos: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # alert id -> evidence
    pending: list[Alert] = field(default_factory=list)  # alert changes to commit
    done: bool = False  # the path ends here for this frame


class CameraContext(PathRunner):
    """What the camera stages share: the runner, the evidence store, each camera's state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.evidence = EvidenceStore(self.settings.data_dir, self.settings.tz)
        self.parking = ParkingAlerts(self.conn)
        self.plate_reader = PlateReader.create(self.settings.plate_reader)
        conf = self.settings.plate_min_conf
        self.plate_min_conf = self.plate_reader.min_conf if conf is None else conf
        self.state_dir = self.settings.data_dir / "vision"
        self.cameras: dict[str, CameraState] = {}


PROPERTY_CHARS = 32  # a number as text: longer is not a number a camera sends


def property_number(key: str, value: str) -> float:
    """A v5 user property that must be a finite number, or `Rejected` naming it."""
    if len(value) > PROPERTY_CHARS:
        raise Rejected("bad_field", f"user property {key} is {len(value)} characters, not a number")
    try:
        number = float(value)
    except ValueError:
        raise Rejected("bad_field", f"user property {key}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise Rejected("bad_field", f"user property {key}={value!r} must be a finite number")
    return number


def capture_time(
    user_properties: list[tuple[str, str]] | None, received_at: float, tolerance_s: float
) -> float:
    """SPEC 3.3: the v5 user property `ts` (ms since the epoch), else arrival. A frame
    dated more than `tolerance_s` after its arrival is refused: it would make every
    real frame of the camera late."""
    for key, value in user_properties or []:
        if key == "ts":
            ms = property_number("ts", value)
            if ms < 1_420_070_400_000:
                detail = f"user property ts={value!r} is not a plausible capture time (ms)"
                raise Rejected("out_of_range", detail)
            if ms > (received_at + tolerance_s) * 1000:
                ahead = ms / 1000 - received_at
                detail = (
                    f"user property ts={value!r} is {ahead:,.0f} s after the frame arrived; a "
                    f"camera's clock may be at most {tolerance_s:g} s ahead (--future-tolerance-s)"
                )
                raise Rejected("out_of_range", detail)
            return ms / 1000
    return received_at


def decode(ctx: CameraContext, frame: Frame) -> None:
    """Topic, camera file, size and capture time checked; the JPEG decoded at 1/SCALE.
    Raises `Rejected`; a frame older than the camera's last ends the path (counted)."""
    assert frame.msg is not None
    msg = frame.msg
    levels = msg.topic.split("/")
    if len(levels) != 3 or levels[0] != "cameras" or levels[2] != "frame":
        raise Rejected("bad_topic", f"topic {msg.topic!r} is not cameras/{{camera_id}}/frame")
    cam = ctx.cameras.get(levels[1])
    if cam is None:
        where = f"{ctx.settings.geofences}/cameras"
        raise Rejected("unknown_device", f"camera {levels[1]!r} has no file in {where}")
    if len(msg.payload) > MAX_FRAME_BYTES:
        raise Rejected("oversized", f"{len(msg.payload)} bytes > limit {MAX_FRAME_BYTES}")
    jpeg_header(msg.payload)  # before anything else reads it: empty, PNG, BMP, truncated
    frame.ts = capture_time(frame.properties, msg.received_at, ctx.settings.future_tolerance_s)
    frame.image = decode_small(msg.payload, cam.camera.width, cam.camera.height)
    frame.cam = cam
    if cam.last_ts is not None and frame.ts <= cam.last_ts:
        ctx.counters.add("frames_late")  # the scene model only moves forward in time
        frame.done = True
        return
    cam.last_ts = frame.ts


def detect(ctx: CameraContext, frame: Frame) -> None:
    """Vehicles in the frame (the camera's detector, chosen by name)."""
    cam: CameraState = frame.cam
    assert frame.image is not None
    frame.detections = cam.detector.detect(frame.image, frame.ts, cam.tracker.protected())


def track(ctx: CameraContext, frame: Frame) -> None:
    """Vehicles followed from frame to frame: which came to rest, stay, or left."""
    cam: CameraState = frame.cam
    assert frame.detections is not None
    d = frame.detections
    image, ts = frame.image, frame.ts
    assert image is not None
    frame.events = cam.tracker.update(
        d.boxes, d.foreground, ts, vouch=lambda t: cam.verifier.vouches(t, image, ts)
    )
    frame.counts["frames"] += 1


def park(ctx: CameraContext, frame: Frame) -> None:
    """The parking rule (rules/parking.py) over the tracker's events."""
    cam: CameraState = frame.cam
    assert frame.events is not None
    for t in frame.events.came_to_rest:
        assert t.anchor is not None and t.rest_since is not None
        box = full_size(t.anchor)
        foot_x, foot_y = box[0] + box[2] / 2, box[1] + box[3]
        spot = cam.camera.spot_at(foot_x, foot_y)
        on_sidewalk = cam.camera.on_sidewalk(foot_x, foot_y)
        cam.stops[t.id] = parking.Stop(
            t.rest_since, frame.ts, on_sidewalk, spot.id if spot else None
        )
    for t in frame.events.still_at_rest:
        stop = cam.stops.get(t.id)
        if stop is None:
            continue
        opened = parking.at_rest(stop, cam.camera, frame.ts)
        if opened is not None:
            frame.opened.append((t, stop, opened))
        elif stop.violation_at is not None:
            frame.staying.append((t, stop))
    for t in frame.events.left:
        stop = cam.stops.pop(t.id, None)
        cam.latest_saved.pop(t.id, None)
        if stop is not None:
            frame.closed.append((stop, parking.left(stop)))


def photograph(ctx: CameraContext, frame: Frame) -> None:
    """Evidence photos (vision/evidence.py): first seen for a stop on the sidewalk, dwell
    exceeded and latest when it violates, latest again every LATEST_EVERY_S while it
    stays; a lawful stop leaves no photos behind."""
    cam: CameraState = frame.cam
    assert frame.events is not None and frame.msg is not None
    jpeg, ts, camera = frame.msg.payload, frame.ts, cam.camera
    for t in frame.events.came_to_rest:
        stop = cam.stops[t.id]
        if stop.on_sidewalk:  # kept only if the stop becomes a violation
            aid = ParkingAlerts.alert_id(camera, stop)
            ctx.evidence.save(camera.id, aid, "first_seen", jpeg, full_size(t.anchor or t.box), ts)
            cam.latest_saved[t.id] = ts
    for t, stop, _ in frame.opened:
        aid, box = ParkingAlerts.alert_id(camera, stop), full_size(t.anchor or t.box)
        first = ctx.evidence.path(camera.id, aid, "first_seen")
        photos = []
        if first.exists():
            where = str(first.relative_to(ctx.evidence.root))
            ts0 = stop.rest_since
            photos.append(
                {"type": "image", "role": "first_seen", "path": where, "ts": ts0, "box": list(box)}
            )
        photos.append(ctx.evidence.save(camera.id, aid, "dwell_exceeded", jpeg, box, ts))
        photos.append(ctx.evidence.save(camera.id, aid, "latest", jpeg, box, ts))
        frame.photos[aid] = photos
        cam.latest_saved[t.id] = ts
    for t, stop in frame.staying:
        if ts - cam.latest_saved.get(t.id, 0) >= LATEST_EVERY_S:
            aid, box = ParkingAlerts.alert_id(camera, stop), full_size(t.anchor or t.box)
            ctx.evidence.save(camera.id, aid, "latest", jpeg, box, ts)
            cam.latest_saved[t.id] = ts
    for stop, ended in frame.closed:
        if ended is None:
            ctx.evidence.discard(camera.id, ParkingAlerts.alert_id(camera, stop))


def alert(ctx: CameraContext, frame: Frame) -> None:
    """Stops that became violations open alerts; violations that ended close theirs."""
    camera = frame.cam.camera
    for t, stop, opened in frame.opened:
        aid = ParkingAlerts.alert_id(camera, stop)
        closeup = frame.cam.plate_photos.get(t.id)
        photos = frame.photos[aid] + ([closeup] if closeup else [])
        verdict = frame.cam.plates.get(t.id, PlateVotes()).verdict(ctx.plate_min_conf)
        frame.pending.append(ctx.parking.opened(camera, stop, opened, photos, verdict, frame.now))
        frame.counts["alerts_opened"] += 1
    for stop, ended in frame.closed:
        if ended is None:
            continue
        closed = ctx.parking.closed(camera, stop, ended, frame.now)
        if closed is not None:
            frame.pending.append(closed)
            frame.counts["alerts_closed"] += 1


def full_size(box: Box) -> Box:
    """A box of the 1/SCALE image in the camera's full-resolution pixels."""
    x, y, w, h = box
    return (x * SCALE, y * SCALE, w * SCALE, h * SCALE)


def persist(ctx: CameraContext, frame: Frame) -> None:
    """Alert changes and the camera's state in one transaction, when anything changed
    or every SAVE_EVERY_S of capture time; the background at most once a minute."""
    cam: CameraState = frame.cam
    assert frame.events is not None
    changed = frame.pending or frame.events.came_to_rest or frame.events.left
    if not changed and frame.ts - cam.saved_ts < SAVE_EVERY_S:
        ctx.counters.merge(frame.counts)
        return
    with ctx.commit(frame):
        for a in frame.pending:
            ctx.emit(frame, a)
        camera_state.save(ctx.conn, cam.camera.id, snapshot(cam))
    background = cam.detector.snapshot()
    if background is not None and (frame.ts - cam.saved_ts >= 60 or frame.pending):
        camera_state.save_background(ctx.state_dir, cam.camera.id, background)
    cam.saved_ts = frame.ts


def snapshot(cam: CameraState) -> dict[str, Any]:
    """The camera's state as plain data (earlier versions' format, plus plate reads)."""
    stops = {str(k): s.to_dict() for k, s in cam.stops.items()}
    plates = {str(k): v.to_dict() for k, v in cam.plates.items()}
    photos = {str(k): v for k, v in cam.plate_photos.items()}
    return {
        "last_ts": cam.last_ts,
        **cam.tracker.snapshot(),
        "stops": stops,
        "plates": plates,
        "plate_photos": photos,
    }
