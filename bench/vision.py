"""Benchmark of the camera path: frames/s on ONE core at 1280x720 through
decode + detection + tracking (the service's camera pipeline stages), against
JPEG decode alone of the same frames, in the same run. Target: ≥ 1/3.

Frames come from the camera simulator (a street with traffic, pedestrians,
light changes), rendered once before timing.

Run: python bench/vision.py [--frames 600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware_sim.cameras import CameraScene  # noqa: E402
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
    camera = sorted((REPO / "geofences" / "cameras").glob("*.json"))[0]
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
        results[rep] = (decode, pipeline)
        print(
            f"run {rep}: decode {decode:,.0f} fps, pipeline {pipeline:,.0f} fps, "
            f"ratio {pipeline / decode:.2f}",
            file=sys.stderr,
        )
    decode, pipeline = (float(np.median([r[i] for r in results.values()])) for i in (0, 1))
    out = {
        "frames": len(frames),
        "decode_only_fps": round(decode),
        "pipeline_fps": round(pipeline),
        "ratio": round(pipeline / decode, 2),
        "target": ">= 0.33",
        "threads": 1,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
