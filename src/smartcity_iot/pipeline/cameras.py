"""The fixed-camera path's orchestrator: one frame through the stages of
pipeline/paths.py, and each camera's state restored at start.

Frames are samples of a scene, not records: a frame may be skipped under load
(counted), and the tracker's state is saved every few seconds of capture time and
with every alert change, in the same transaction. After a restart the vehicles
being timed are restored with their rest time, and the background (saved beside
the database) still excludes them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import Settings, SettingsError
from ..counters import Counters
from ..geo.cameras import Camera, CameraFileError
from ..model import Inbound
from ..rules import parking
from ..rules.plate_vote import PlateVotes
from ..store import camera_state
from ..store.database import Connection
from ..store.sinks import Sinks
from ..vision.detect import VehicleDetector
from .camera_stages import CameraContext, CameraState, Frame
from .paths import CAMERA_PATH

log = logging.getLogger("smartcity_iot.cameras")


class CameraPipeline(CameraContext):
    def __init__(
        self,
        settings: Settings,
        conn: Connection,
        cameras: list[Camera],
        counters: Counters | None = None,
        on_commit: Callable[[], None] = lambda: None,
        sinks: Sinks | None = None,
    ) -> None:
        super().__init__(settings, conn, counters, on_commit, sinks)
        self.cameras = {c.id: self._restore(c) for c in cameras}

    def process(self, msg: Inbound, user_properties: list[tuple[str, str]] | None = None) -> None:
        """Run one frame through every stage of the camera path."""
        self.run(CAMERA_PATH, Frame(msg=msg, properties=user_properties), msg)

    def _restore(self, camera: Camera) -> CameraState:
        name = camera.detector or self.settings.detector
        try:
            detector = VehicleDetector.create(name, camera.width, camera.height)
        except ValueError as exc:
            if camera.detector:
                raise CameraFileError(camera.source, camera.id, f"field detector: {exc}") from None
            raise SettingsError(f"--detector / SMARTCITY_DETECTOR: {exc}") from None
        cam = CameraState(camera, detector)
        saved = camera_state.load(self.conn, camera.id)
        background = camera_state.load_background(self.state_dir, camera.id)
        if saved is None or background is None:
            return cam
        cam.last_ts = saved["last_ts"]
        cam.saved_ts = saved["last_ts"] or 0.0
        cam.tracker.restore(saved)
        cam.stops = {int(k): parking.Stop(**v) for k, v in saved["stops"].items()}
        plates = saved.get("plates", {})  # absent in the state of earlier versions
        cam.plates = {int(k): PlateVotes.from_dict(v) for k, v in plates.items()}
        cam.plate_photos = {int(k): v for k, v in saved.get("plate_photos", {}).items()}
        cam.detector.restore(background, cam.last_ts)
        log.info("camera %s: restored %d vehicles at rest", camera.id, len(cam.tracker.tracks))
        return cam
