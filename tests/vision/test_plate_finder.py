"""The patrol path's plate prefilter (vision/plate_finder.py) on the patrol simulator's
frames, by day and by night: in every pass over a readable plate, some frame has a
candidate region in which the reader reads that plate, or the pass would go unread."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from firmware_sim.patrol import PatrolWorld
from smartcity_iot.vision.frame import SCALE
from smartcity_iot.vision.plate_finder import plate_candidates
from smartcity_iot.vision.plates import PlateReader

from ..support import REPO

GEO = REPO / "geofences"


@pytest.mark.parametrize("hour", [9, 22])
def test_every_pass_over_a_readable_plate_has_a_candidate_frame(hour: int) -> None:
    start = datetime(2026, 11, 23, hour, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    world = PatrolWorld(GEO, 1, start, 900, scenario="violations")
    unit = world.unit(GEO / "cameras" / "patrol-01.json")
    reader = PlateReader.create("ppocr")
    passes = 0
    for car in (r for r in world.truth() if r["plate_readable"]):
        frames = [p["ts"] for p in car["passes"] if p["unit_id"] == unit.unit_id]
        for _, group in groupby(frames, key=lambda ts: round(ts // 20)):
            passes += 1
            found = set()
            for ts in group:
                jpeg = np.frombuffer(unit.jpeg(unit.index(ts)), np.uint8)
                small = cv2.imdecode(jpeg, cv2.IMREAD_REDUCED_COLOR_4)
                full = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
                for region in plate_candidates(small, SCALE):
                    found |= {r.plate for r in reader.read(full, region, once=True)}
            assert car["plate"] in found, (car["plate"], ts - start.timestamp(), found)
    assert passes >= 4
