"""Benchmark of the camera path: frames/s on ONE core at 1280x720 through
decode + detection + tracking (the service's camera pipeline stages), against
JPEG decode alone of the same frames, in the same run. Target: ≥ 1/3.
Also the whole path as the service runs it (pipeline/cameras.py: every stage of
CAMERA_PATH, the parking rule, evidence photos and commits in SQLite).

Frames come from the camera simulator (a street with traffic, pedestrians,
light changes), rendered once before timing.

Run: python bench/vision.py [--frames 600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware_sim.cameras import CameraScene  # noqa: E402
from smartcity_iot.config import Settings  # noqa: E402
from smartcity_iot.geo.cameras import load_camera  # noqa: E402
from smartcity_iot.model import Inbound  # noqa: E402
from smartcity_iot.pipeline import CameraPipeline  # noqa: E402
from smartcity_iot.store.sqlite import connect  # noqa: E402
from smartcity_iot.vision.detect import ClassicalDetector  # noqa: E402
from smartcity_iot.vision.frame import decode_small  # noqa: E402
from smartcity_iot.vision.track import Tracker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # per core
    camera = sorted((REPO / "geofences" / "cameras").glob("cam-*.json"))[0]
    start = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    scene = CameraScene(camera, seed=3, start=start, duration_s=args.frames, fps=1.0)
    captured = [frame for _, frame in zip(range(args.frames), scene.frames(), strict=False)]
    frames = [jpeg for _, jpeg in captured]
    print(
        f"{len(frames)} frames of {camera.name}, "
        f"{np.mean([len(f) for f in frames]) / 1024:.0f} KiB each",
        file=sys.stderr,
    )
    results = {}
    for rep in range(3):
        began = time.perf_counter()
        for jpeg in frames:
            cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        decode = len(frames) / (time.perf_counter() - began)
        detector, tracker = ClassicalDetector(1280, 720), Tracker()
        began = time.perf_counter()
        for ts, jpeg in captured:
            d = detector.detect(decode_small(jpeg, 1280, 720), ts, tracker.protected())
            tracker.update(d.boxes, d.foreground, ts)
        pipeline = len(frames) / (time.perf_counter() - began)
        path = whole_path(camera, captured)
        results[rep] = (decode, pipeline, path)
        print(
            f"run {rep}: decode {decode:,.0f} fps, pipeline {pipeline:,.0f} fps, "
            f"ratio {pipeline / decode:.2f}; whole path {path:,.0f} fps",
            file=sys.stderr,
        )
    decode, pipeline, path = (float(np.median([r[i] for r in results.values()])) for i in (0, 1, 2))
    out = {
        "frames": len(frames),
        "decode_only_fps": round(decode),
        "pipeline_fps": round(pipeline),
        "ratio": round(pipeline / decode, 2),
        "target": ">= 0.33",
        "whole_path_fps": round(path),
        "whole_path_ratio": round(path / decode, 2),
        "threads": 1,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def whole_path(camera_file: Path, captured: list[tuple[float, bytes]]) -> float:
    """Frames/s through CameraPipeline.process, as the service's vision worker calls it."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), geofences=REPO / "geofences")
        cameras = [load_camera(camera_file, settings.tz)]
        pipe = CameraPipeline(settings, connect(settings.db_path), cameras)
        topic = f"cameras/{cameras[0].id}/frame"
        messages = [
            (Inbound(topic, jpeg, ts), [("ts", str(round(ts * 1000)))]) for ts, jpeg in captured
        ]
        began = time.perf_counter()
        for msg, props in messages:
            pipe.process(msg, props)
        return len(messages) / (time.perf_counter() - began)


if __name__ == "__main__":
    main()
