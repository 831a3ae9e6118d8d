"""Benchmark of the mobile path (patrol units, SPEC 5.1): frames/s on ONE core through
every stage of MOBILE_PATH as the service runs it (position, place and zone, the plate
prefilter, plate reading where a plate may be, the re-sighting rule, evidence, alerts
and commits in SQLite), against a full JPEG decode alone of the same frames, in the
same run, alternated three times. Target: >= 1/4 of decode. And how many units one
core serves at 2 frames/s.

Frames come from the patrol simulator (two units on their beats past the district's
sidewalk zones, parked cars with plates, loading spots), rendered once before timing.

Run: python bench/mobile.py [--seconds 1200] [--hour 9|22] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware_sim.patrol import PatrolWorld  # noqa: E402
from smartcity_iot.config import Settings  # noqa: E402
from smartcity_iot.geo.cameras import load_mobile_units  # noqa: E402
from smartcity_iot.geo.zones import load_zones  # noqa: E402
from smartcity_iot.model import Inbound  # noqa: E402
from smartcity_iot.pipeline import MobilePipeline  # noqa: E402
from smartcity_iot.store.sqlite import connect  # noqa: E402

GEO = REPO / "geofences"
FPS = 2.0  # a patrol unit's frame rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1200.0, help="simulated span")
    parser.add_argument("--hour", type=int, default=9, help="local start hour (22: night)")
    parser.add_argument("--json", type=Path, help="default bench/results/mobile[_night].json")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # per core, as the vision worker runs
    night = "" if 6 <= args.hour < 18 else "_night"
    args.json = args.json or REPO / "bench" / "results" / f"mobile{night}.json"
    start = datetime(2026, 11, 23, args.hour, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    world = PatrolWorld(GEO, 1, start, args.seconds)
    for unit in ("patrol-01", "patrol-02"):
        world.unit(GEO / "cameras" / f"{unit}.json")
    frames = list(world.messages())
    print(f"{len(frames)} frames, {np.mean([len(f[2]) for f in frames]) / 1024:.0f} KiB each",
          file=sys.stderr)  # fmt: skip
    decode_s, path_s, counts = [], [], Counter[str]()
    for _ in range(3):
        began = time.perf_counter()
        for _, _, jpeg, _ in frames:
            cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        decode_s.append(time.perf_counter() - began)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), geofences=GEO)
            pipe = MobilePipeline(
                settings,
                connect(settings.db_path),
                load_mobile_units(GEO / "cameras", settings.tz),
                load_zones(GEO, settings.tz, settings.dwell_s, settings.grace_s),
            )
            first = cv2.imdecode(np.frombuffer(frames[0][2], np.uint8), cv2.IMREAD_COLOR)
            pipe.plate_reader.read(first)  # the networks load on the first read: not timed
            began = time.perf_counter()
            for ts, topic, jpeg, props in frames:
                pipe.process(Inbound(topic, jpeg, ts), list(props.items()))
            path_s.append(time.perf_counter() - began)
            counts = Counter(pipe.counters.snapshot())
    n = len(frames)
    decode_fps, path_fps = n / float(np.median(decode_s)), n / float(np.median(path_s))
    out = {
        "frames": n,
        "simulated_s": args.seconds,
        "start": start.isoformat(),
        "units": 2,
        "decode_fps": round(decode_fps, 1),
        "mobile_path_fps": round(path_fps, 1),
        "ratio_to_decode": round(path_fps / decode_fps, 3),
        "target_ratio": 0.25,
        "units_per_core_at_2fps": int(path_fps // FPS),
        "frames_off_sidewalk": counts.get("patrol_frames_off_sidewalk", 0),
        "sightings": counts.get("patrol_sightings", 0),
        "plates_unread": counts.get("patrol_plates_unread", 0),
        "alerts_opened": counts.get("alerts_opened", 0),
        "runs_s": {
            "decode": [round(s, 2) for s in decode_s],
            "path": [round(s, 2) for s in path_s],
        },
        "threads": 1,
    }
    print(json.dumps(out, indent=1))
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
