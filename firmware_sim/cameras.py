"""Simulated enforcement cameras: a seeded street scene per camera file (SPEC 5), its JPEG
frame stream with capture times, the ground truth of the sidewalk stops it staged, and
publishing on `cameras/{camera_id}/frame` (SPEC 3.3).

Deterministic: the same arguments give byte-identical JPEGs and truth, and any frame can be
rendered on its own (`render(ts)`), so a test need not play hours of video.
"""

from __future__ import annotations

import heapq
import json
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from .publisher import publish_stream
from .scene_events import MARGIN_S, SCENARIOS, Seen, StagedStop, StreetEvents
from .scene_layout import GRADE_DWELL_S, CameraConfigError, StreetLayout
from .scene_render import StreetRenderer

__all__ = ["GRADE_DWELL_S", "MARGIN_S", "SCENARIOS", "CameraConfigError", "CameraScene",
           "camera_messages", "pacing_warning", "publish_frames"]  # fmt: skip

JPEG_QUALITY = 80
FRAME_QUEUE_LIMIT = 64  # frames are ~100 KiB: keep paho's queue to a few MiB
Frame = tuple[float, bytes]


class CameraScene:
    """One camera's street over [start, start + duration_s], captured at `fps` frames/s."""

    def __init__(self, camera_json: str | Path, seed: int, start: datetime, duration_s: float,
                 fps: float = 1.0, tz: str = "Asia/Shanghai", scenario: str = "mixed",
                 jpeg_quality: int = JPEG_QUALITY):  # fmt: skip
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not 0 < fps <= 30:
            raise ValueError(f"fps {fps}: must be within (0, 30]")
        if duration_s <= 0:
            raise ValueError(f"duration {duration_s}: must be positive")
        self.layout = StreetLayout.load(camera_json)
        self.camera = self.layout.camera
        self.camera_id = self.layout.id
        self.seed, self.fps, self.jpeg_quality = seed, float(fps), int(jpeg_quality)
        self.t_start = start.timestamp()
        self.t_end = self.t_start + float(duration_s)
        self.events = StreetEvents(self.layout, seed, self.t_start, self.t_end, tz, scenario)
        self.renderer = StreetRenderer(self.layout, self.events, seed)

    # -- frames --------------------------------------------------------------------------
    def frame_count(self) -> int:
        return int(math.floor((self.t_end - self.t_start) * self.fps))

    def frame_times(self) -> Iterator[float]:
        """Capture times: start + (i + jitter_i) / fps, jitter in [0, 0.2): never reordered."""
        rng = np.random.default_rng([*self.events._key, 21])
        n = self.frame_count()
        for i0 in range(0, n, 4096):
            jitter = rng.uniform(0, 0.2, min(4096, n - i0))
            for k, j in enumerate(jitter):
                yield round(self.t_start + (i0 + k + float(j)) / self.fps, 3)

    def frames(self) -> Iterator[Frame]:
        """(capture ts, JPEG bytes) in capture order, rendered one at a time."""
        for ts in self.frame_times():
            yield ts, self.jpeg(ts)

    def render(self, ts: float) -> np.ndarray:
        """The BGR frame at capture time `ts` (before JPEG)."""
        return self.renderer.render(ts)

    def jpeg(self, ts: float) -> bytes:
        ok, buf = cv2.imencode(
            ".jpg", self.render(ts), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        )
        if not ok:
            raise RuntimeError("cv2.imencode failed to encode a frame")
        return buf.tobytes()

    def seen_at(self, ts: float) -> list[Seen]:
        """Every car, pedestrian and cyclist in view at `ts` with its box, back to front."""
        return self.events.seen_at(ts)

    # -- truth ---------------------------------------------------------------------------
    def stops(self) -> list[StagedStop]:
        return sorted(self.events.stops, key=lambda s: (s.arrive, s.vehicle))

    def truth(self) -> list[dict]:
        """Every staged sidewalk stop, whether (and from when) it is a violation, and its car's
        plate with whether a reader should read it."""
        return [s.truth(self.camera_id) for s in self.stops()]

    def vehicles(self) -> list[dict]:
        """Every car of the span, staged or passing, with its plate and whether it is readable."""
        return [{"camera_id": self.camera_id} | v for v in self.events.vehicles()]

    def write_truth(self, path: str | Path) -> None:
        write_truth(path, [self])


def write_truth(path: str | Path, scenes: Iterable[CameraScene]) -> None:
    rows = sorted(
        (r for s in scenes for r in s.truth()), key=lambda r: (r["arrive"], r["camera_id"])
    )
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def camera_messages(scenes: Iterable[CameraScene]) -> Iterator[tuple[float, str, bytes]]:
    """Frames of several cameras merged in capture order as (ts, topic, jpeg)."""
    return heapq.merge(*(_topic_frames(s) for s in scenes), key=lambda m: m[0])


def _topic_frames(scene: CameraScene) -> Iterator[tuple[float, str, bytes]]:
    # A function, not a nested generator expression: that would bind `scene` late,
    # and every frame would carry the last camera's topic.
    topic = f"cameras/{scene.camera_id}/frame"
    for ts, jpeg in scene.frames():
        yield ts, topic, jpeg


def pacing_warning(protocol: str, speed: float | None) -> str | None:
    if protocol == "3.1.1" and speed is not None and speed > 1:
        return (f"--speed {speed:g} with MQTT 3.1.1: frames carry no capture time (no user "
                "properties), so the service times them by arrival and dwell runs at wall-clock "
                "pace; use --protocol 5")  # fmt: skip
    return None


def publish_frames(
    frames: Iterable[Frame],
    mqtt_url: str,
    camera_id: str,
    *,
    protocol: str = "5",
    qos: int = 1,
    speed: float | None = None,
    rate: float | None = None,
    client_id: str = "firmware-sim-cameras",
    progress: Callable[[dict], None] | None = None,
    total: int | None = None,
) -> dict:
    """Publish JPEG frames on `cameras/{camera_id}/frame`; with MQTT 5 each carries the user
    property `ts` = capture time in ms. Returns {published, acked, failed, seconds, rate}."""
    if (why := pacing_warning(protocol, speed)) is not None:
        warnings.warn(why, stacklevel=2)
    topic = f"cameras/{camera_id}/frame"
    return publish_stream(((ts, topic, jpeg) for ts, jpeg in frames), mqtt_url,
                          protocol=protocol, qos=qos, rate=rate, speed=speed, client_id=client_id,
                          progress=progress, total=total, ts_property=True,
                          queue_limit=FRAME_QUEUE_LIMIT)  # fmt: skip
