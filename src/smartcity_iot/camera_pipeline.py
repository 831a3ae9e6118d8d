"""The camera pipeline, in the order a frame travels:

    decode -> detect -> track -> parking rule -> alert (+ evidence) -> sinks

Frames are samples of a scene, not records: a frame may be skipped under load
(counted), and the tracker's state is saved every few seconds of capture time
and with every alert change, in the same transaction. After a restart the
vehicles being timed are restored with their rest time, and the background
(saved beside the database) still excludes them."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Settings
from .counters import Counters, RejectLog
from .geo.cameras import Camera
from .model import Alert, Inbound, Rejected
from .rules import parking
from .store import alerts as alert_store
from .store import deadletters
from .store.sinks import Sinks
from .vision.detect import ClassicalDetector, VehicleDetector
from .vision.evidence import EvidenceStore
from .vision.frame import SCALE, decode_small
from .vision.track import Box, Track, Tracker

log = logging.getLogger("smartcity_iot.cameras")

KIND = "sidewalk_parking"
SAVE_EVERY_S = 5.0  # capture seconds between state saves
LATEST_EVERY_S = 30.0  # capture seconds between refreshes of the "latest" evidence photo
MAX_FRAME_BYTES = 4 * 1024 * 1024

CAMERA_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS camera_state (
    camera_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


@dataclass
class CameraState:
    camera: Camera
    detector: VehicleDetector
    tracker: Tracker = field(default_factory=Tracker)
    stops: dict[int, parking.Stop] = field(default_factory=dict)
    latest_saved: dict[int, float] = field(default_factory=dict)
    last_ts: float | None = None
    saved_ts: float = 0.0


def capture_time(user_properties: list[tuple[str, str]] | None, received_at: float) -> float:
    """SPEC 3.3: the v5 user property `ts` (ms since the epoch), else arrival."""
    for key, value in user_properties or []:
        if key == "ts":
            try:
                ms = float(value)
            except ValueError:
                raise Rejected(
                    "bad_field", f"user property ts={value!r} is not milliseconds since the epoch"
                ) from None
            if not 1_420_070_400_000 <= ms <= (received_at + 86400) * 1000:
                raise Rejected(
                    "out_of_range", f"user property ts={value!r} is not a plausible capture time"
                )
            return ms / 1000
    return received_at


class CameraPipeline:
    def __init__(
        self,
        settings: Settings,
        conn: sqlite3.Connection,
        cameras: list[Camera],
        counters: Counters | None = None,
        on_commit: Callable[[], None] = lambda: None,
        sinks: Sinks | None = None,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.conn.executescript(CAMERA_STATE_SCHEMA)
        self.counters = counters or Counters()
        self.on_commit = on_commit
        self.sinks = sinks or Sinks(conn)
        self.evidence = EvidenceStore(settings.data_dir, settings.tz)
        self.state_dir = settings.data_dir / "vision"
        self.reject_log = RejectLog()
        self.cameras = {c.id: self._restore(c) for c in cameras}

    # -- the stages, in order ---------------------------------------------------

    def process(self, msg: Inbound, user_properties: list[tuple[str, str]] | None = None) -> None:
        counts: Counter[str] = Counter()
        try:
            cam, ts, small = self._decode(msg, user_properties)
        except Rejected as rej:
            self._reject(msg, rej)
            return
        if cam.last_ts is not None and ts <= cam.last_ts:
            self.counters.add("frames_late")  # the scene model only moves forward in time
            return
        cam.last_ts = ts
        detections = cam.detector.detect(small, ts, cam.tracker.protected())
        events = cam.tracker.update(detections.boxes, detections.foreground, ts)
        alerts: list[Alert] = []
        for track in events.came_to_rest:
            self._came_to_rest(cam, track, msg.payload, ts)
        for track in events.still_at_rest:
            alerts += self._still_at_rest(cam, track, msg.payload, ts, counts)
        for track in events.left:
            alerts += self._left(cam, track, counts)
        counts["frames"] += 1
        if alerts or events.came_to_rest or events.left or ts - cam.saved_ts >= SAVE_EVERY_S:
            self._commit(cam, alerts, ts)
        self.counters.merge(counts)
        if alerts:
            self.on_commit()

    def _decode(
        self, msg: Inbound, props: list[tuple[str, str]] | None
    ) -> tuple[CameraState, float, np.ndarray]:
        levels = msg.topic.split("/")
        if len(levels) != 3 or levels[0] != "cameras" or levels[2] != "frame":
            raise Rejected("bad_topic", f"topic {msg.topic!r} is not cameras/{{camera_id}}/frame")
        cam = self.cameras.get(levels[1])
        if cam is None:
            raise Rejected(
                "unknown_device",
                f"camera {levels[1]!r} has no file in {self.settings.geofences}/cameras",
            )
        if len(msg.payload) > MAX_FRAME_BYTES:
            raise Rejected("oversized", f"{len(msg.payload)} bytes > limit {MAX_FRAME_BYTES}")
        ts = capture_time(props, msg.received_at)
        return cam, ts, decode_small(msg.payload, cam.camera.width, cam.camera.height)

    def _came_to_rest(self, cam: CameraState, track: Track, jpeg: bytes, ts: float) -> None:
        assert track.anchor is not None and track.rest_since is not None
        box = _full(track.anchor)
        foot_x, foot_y = box[0] + box[2] / 2, box[1] + box[3]
        on_sidewalk = cam.camera.on_sidewalk(foot_x, foot_y)
        spot = cam.camera.spot_at(foot_x, foot_y)
        stop = parking.Stop(track.rest_since, ts, on_sidewalk, spot.id if spot else None)
        cam.stops[track.id] = stop
        if on_sidewalk:  # first-seen photo now; kept only if the stop becomes a violation
            aid = self._alert_id(cam, stop)
            self.evidence.save(cam.camera.id, aid, "first_seen", jpeg, box, ts)
            cam.latest_saved[track.id] = ts

    def _still_at_rest(
        self, cam: CameraState, track: Track, jpeg: bytes, ts: float, counts: Counter[str]
    ) -> list[Alert]:
        stop = cam.stops.get(track.id)
        if stop is None:
            return []
        opened = parking.at_rest(stop, cam.camera, ts)
        aid = self._alert_id(cam, stop)
        box = _full(track.anchor or track.box)
        if opened is not None:
            first = self.evidence.path(cam.camera.id, aid, "first_seen")
            evidence = (
                [
                    {
                        "type": "image",
                        "role": "first_seen",
                        "path": str(first.relative_to(self.evidence.root)),
                        "ts": stop.rest_since,
                        "box": list(box),
                    }
                ]
                if first.exists()
                else []
            )
            evidence.append(self.evidence.save(cam.camera.id, aid, "dwell_exceeded", jpeg, box, ts))
            evidence.append(self.evidence.save(cam.camera.id, aid, "latest", jpeg, box, ts))
            cam.latest_saved[track.id] = ts
            counts["alerts_opened"] += 1
            return [self._new_alert(cam, stop, aid, opened, evidence)]
        if (
            stop.violation_at is not None
            and ts - cam.latest_saved.get(track.id, 0) >= LATEST_EVERY_S
        ):
            self.evidence.save(cam.camera.id, aid, "latest", jpeg, box, ts)
            cam.latest_saved[track.id] = ts
        return []

    def _left(self, cam: CameraState, track: Track, counts: Counter[str]) -> list[Alert]:
        stop = cam.stops.pop(track.id, None)
        cam.latest_saved.pop(track.id, None)
        if stop is None:
            return []
        aid = self._alert_id(cam, stop)
        closed = parking.left(stop)
        if closed is None:
            self.evidence.discard(cam.camera.id, aid)  # a lawful stop leaves no photos behind
            return []
        alert = alert_store.get_alert(self.conn, aid)
        if alert is None or alert.status == "closed":
            return []
        alert.status, alert.ended_at, alert.updated_at = "closed", closed.ended_at, time.time()
        alert.revision += 1
        counts["alerts_closed"] += 1
        return [alert]

    def _commit(self, cam: CameraState, alerts: list[Alert], ts: float) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for alert in alerts:
                self.sinks.alert(alert)
            self._save_state(cam)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        if ts - cam.saved_ts >= 60 or alerts:
            self._save_background(cam)
        cam.saved_ts = ts

    # -- alerts -------------------------------------------------------------------

    def _alert_id(self, cam: CameraState, stop: parking.Stop) -> str:
        return alert_store.alert_id(KIND, cam.camera.id, _zone(cam.camera, stop), stop.rest_since)

    def _new_alert(
        self,
        cam: CameraState,
        stop: parking.Stop,
        aid: str,
        opened: parking.ParkingOpened,
        evidence: list[dict],
    ) -> Alert:
        c = cam.camera
        return Alert(
            id=aid,
            kind=KIND,
            status="open",
            device_id=c.id,
            zone_id=_zone(c, stop),
            grid=c.grid,
            started_at=opened.started_at,
            ended_at=None,
            lat=c.lat,
            lon=c.lon,
            # The party is the vehicle, known once a plate is read: until then no escalation step.
            escalation=None,
            offence_number=None,
            party=None,
            zone_name=c.name,
            opened_at=opened.opened_at,
            updated_at=time.time(),
            evidence=evidence,
        )

    # -- persistence --------------------------------------------------------------

    def _save_state(self, cam: CameraState) -> None:
        state = {
            "last_ts": cam.last_ts,
            "tracks": [t.to_dict() for t in cam.tracker.tracks if t.at_rest],
            "stops": {str(k): s.to_dict() for k, s in cam.stops.items()},
            "next_id": cam.tracker._next_id,
        }
        self.conn.execute(
            "INSERT INTO camera_state(camera_id, state, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (cam.camera.id, json.dumps(state), time.time()),
        )

    def _background_path(self, camera_id: str) -> Path:
        return self.state_dir / f"{camera_id}.background.npy"

    def _save_background(self, cam: CameraState) -> None:
        scene = getattr(cam.detector, "scene", None)
        if scene is None or scene.background is None:
            return
        path = self._background_path(cam.camera.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, scene.background)
        tmp.replace(path)

    def _restore(self, camera: Camera) -> CameraState:
        cam = CameraState(camera, ClassicalDetector(camera.width, camera.height))
        row = self.conn.execute(
            "SELECT state FROM camera_state WHERE camera_id = ?", (camera.id,)
        ).fetchone()
        path = self._background_path(camera.id)
        if row is None or not path.exists():
            return cam
        state = json.loads(row["state"])
        cam.last_ts = state["last_ts"]
        cam.saved_ts = state["last_ts"] or 0.0
        cam.tracker.tracks = [Track.from_dict(t) for t in state["tracks"]]
        cam.tracker._next_id = state["next_id"]
        cam.stops = {int(k): parking.Stop(**v) for k, v in state["stops"].items()}
        scene = cam.detector.scene  # type: ignore[attr-defined]
        scene.background = np.load(path)
        scene.last_ts, scene.frames = cam.last_ts, 100
        log.info("camera %s: restored %d vehicles at rest", camera.id, len(cam.tracker.tracks))
        return cam

    def _reject(self, msg: Inbound, rej: Rejected) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        deadletters.add(self.conn, msg.received_at, msg.topic, rej.reason, rej.detail, msg.payload)
        deadletters.bump_counts(self.conn, {rej.reason: 1})
        deadletters.trim(self.conn, self.settings.dead_letter_max)
        self.conn.execute("COMMIT")
        self.counters.add("rejected." + rej.reason)
        self.reject_log.rejected(rej.reason, msg.topic, rej.detail)


def _full(box: Box) -> Box:
    x, y, w, h = box
    return (x * SCALE, y * SCALE, w * SCALE, h * SCALE)


def _zone(camera: Camera, stop: parking.Stop) -> str:
    return stop.spot_id or f"{camera.id}/sidewalk"
