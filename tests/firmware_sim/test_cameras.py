"""The camera simulator: deterministic JPEG frames of a street, staged sidewalk stops whose
truth follows the SPEC 5 rule with margins, and frames published per SPEC 3.3.

Scenario judged here: the three sample cameras over 08:30-11:30 local time (seed 1), a span
that crosses loading-spot hours edges (10:00, 09:00, 09:30, 11:00), with the "mixed" stops.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from firmware_sim.__main__ import main
from firmware_sim.cameras import GRADE_DWELL_S, CameraScene, pacing_warning, publish_frames
from firmware_sim.publisher import parse_mqtt_url

CAMERAS = sorted(
    Path(__file__).resolve().parents[2].joinpath("geofences", "cameras").glob("cam-*.json")
)
TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)


@cache
def scene(path: Path, seed: int = 1, start: datetime = MORNING, hours: float = 3.0) -> CameraScene:
    return CameraScene(path, seed, start, hours * 3600)


def in_hours(spot: dict, ts: float) -> bool:
    t = datetime.fromtimestamp(ts, TZ)
    minute = t.hour * 60 + t.minute + t.second / 60 + t.microsecond / 6e7
    for text in spot["hours"]:
        a, b = ((int(h) * 60 + int(m)) for h, m in (p.split(":") for p in text.split("-")))
        if (a <= minute < b) if a < b else (minute >= a or minute < b):
            return True
    return False


def rule_violation_start(camera: dict, stop: dict) -> float | None:
    """SPEC 5, evaluated independently second by second over the stop."""
    dwell = camera.get("dwell_s") or GRADE_DWELL_S[camera["grade"]]
    spot = next((s for s in camera.get("loading_spots", []) if s["id"] == stop["spot_id"]), None)
    for t in np.arange(stop["arrive"], stop["leave"], 0.5):
        rested = t - stop["arrive"]
        exempt = spot is not None and in_hours(spot, t) and rested <= spot["max_stop_min"] * 60
        if rested >= dwell and not exempt:
            return float(t)
    return None


def inside(polygon: list, x: float, y: float) -> float:
    return cv2.pointPolygonTest(np.asarray(polygon, np.float32), (x, y), True)


@pytest.mark.parametrize("path", CAMERAS, ids=lambda p: p.stem)
def test_sample_cameras_follow_spec5(path):
    camera = json.loads(path.read_text(encoding="utf-8"))
    assert camera["image"] == {"width": 1280, "height": 720}
    assert camera["grade"] in GRADE_DWELL_S and camera["grid"].startswith("G-0")
    for spot in camera.get("loading_spots", []):
        assert all(max(inside(r, *p) for r in camera["sidewalk"]) >= 0 for p in spot["polygon"])
    grades = {json.loads(p.read_text())["grade"] for p in CAMERAS}
    assert grades == {"model", "secondary", "alley"}
    assert sum(bool(json.loads(p.read_text()).get("loading_spots")) for p in CAMERAS) >= 2


def test_same_seed_gives_identical_jpegs_and_another_seed_does_not():
    start = datetime(2026, 11, 23, 7, 0, tzinfo=TZ)
    a = CameraScene(CAMERAS[0], 7, start, 600)
    b = CameraScene(CAMERAS[0], 7, start, 600)
    c = CameraScene(CAMERAS[0], 8, start, 600)
    first = [f for _, f in zip(range(6), a.frames())]
    assert first == [f for _, f in zip(range(6), b.frames())]
    assert first != [f for _, f in zip(range(6), c.frames())]
    assert a.truth() == b.truth()


def test_frames_decode_to_720p_in_capture_order_with_bounded_jitter():
    fps = 2.0
    s = CameraScene(CAMERAS[1], 3, MORNING, 60, fps=fps)
    frames = list(s.frames())
    assert len(frames) == s.frame_count() == 120
    for i, (ts, jpeg) in enumerate(frames[:10]):
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (720, 1280, 3)
        assert 0 <= ts - (s.t_start + i / fps) < 0.2 / fps + 1e-3
    gaps = np.diff([ts for ts, _ in frames])
    assert gaps.min() >= 0.8 / fps - 1e-3 and gaps.max() <= 1.2 / fps + 1e-3
    assert gaps.std() > 0.01  # frames arrive irregularly


@pytest.mark.parametrize("path", CAMERAS, ids=lambda p: p.stem)
def test_truth_follows_the_rule_with_margins(path):
    s = scene(path)
    camera = s.camera
    dwell = camera.get("dwell_s") or GRADE_DWELL_S[camera["grade"]]
    spots = {x["id"]: x for x in camera.get("loading_spots", [])}
    rows = s.truth()
    assert rows
    for row, stop in zip(rows, s.stops()):
        x, y, w, h = row["box"]
        bx, by = x + w / 2, y + h
        assert max(inside(r, bx, by) for r in camera["sidewalk"]) > 10
        in_spot = [i for i, sp in spots.items() if inside(sp["polygon"], bx, by) > 0]
        assert in_spot == ([row["spot_id"]] if row["spot_id"] else [])
        expected = rule_violation_start(camera, row)
        assert row["violation"] == (expected is not None)
        if expected is not None:
            assert abs(expected - row["violation_start"]) <= 0.5
            assert row["leave"] - row["violation_start"] >= 60
        elif row["spot_id"] is None:
            assert row["leave"] <= row["arrive"] + dwell - 60
        else:  # a lawful loading stop leaves 60 s before its exemption would end
            spot = spots[row["spot_id"]]
            assert row["leave"] + 60 <= row["arrive"] + spot["max_stop_min"] * 60
            assert in_hours(spot, row["leave"] + 60)
        if row["spot_id"]:  # no stop starts or ends within 60 s of an hours edge
            for t in (row["arrive"], row["leave"]):
                assert in_hours(spots[row["spot_id"]], t - 60) == in_hours(
                    spots[row["spot_id"]], t + 60
                )
        # Drives in and out over a few seconds, at rest exactly on the truth box in between.
        act = stop.actor
        assert 3 <= row["arrive"] - act.t0 <= 6 and 3 <= act.t1 - row["leave"] <= 6.5
        for t in (row["arrive"] + 1, (row["arrive"] + row["leave"]) / 2, row["leave"] - 1):
            seen = next(o for o in s.seen_at(t) if o.id == row["vehicle"])
            assert not seen.moving and [round(v) for v in seen[2:6]] == row["box"]
        assert next(o for o in s.seen_at(row["arrive"] - 1) if o.id == row["vehicle"]).moving


@pytest.mark.parametrize("path", CAMERAS, ids=lambda p: p.stem)
def test_at_most_two_cars_on_the_sidewalk_and_never_overlapping(path):
    stops = scene(path).stops()
    for a in stops:  # the most cars at once is reached when one arrives
        assert sum(b.actor.t0 <= a.actor.t0 <= b.actor.t1 for b in stops) <= 2
        busy = [
            b for b in stops if b is not a and b.actor.t0 < a.actor.t1 and a.actor.t0 < b.actor.t1
        ]
        for b in busy:
            assert a.box[0] + a.box[2] < b.box[0] or b.box[0] + b.box[2] < a.box[0]


def test_a_few_hours_stage_every_kind_of_stop_and_traffic():
    cases = Counter(r["case"] for p in CAMERAS for r in scene(p).truth())
    assert set(cases) == {"short", "violation", "loading_lawful", "loading_overstay",
                          "loading_off_hours"}, cases  # fmt: skip
    s = scene(CAMERAS[0])
    kinds: Counter[str] = Counter()
    for t in np.arange(s.t_start, s.t_start + 1800, 7.0):
        kinds.update(o.kind for o in s.seen_at(float(t)))
    assert kinds["pedestrian"] > 100 and kinds["cyclist"] > 10 and kinds["car"] > 100
    staged = {st.vehicle for st in s.stops()}
    passing = [a for a in s.events.ambient if a.kind == "car" and a.id not in staged]
    assert len(passing) > 300
    for car in passing[:200]:  # passing cars never touch the sidewalk with their bottom-centre
        for t in np.linspace(car.t0, car.t1, 7):
            o = car.seen(float(t), s.layout)
            assert s.layout.sidewalk_depth(o.x + o.w / 2, o.y + o.h) < 0


def occlusion(s: CameraScene, ts: float) -> tuple[float, int | None]:
    """Largest share of a parked car's box hidden by people drawn in front of it."""
    seen = s.seen_at(ts)
    best, who = 0.0, None
    for i, car in enumerate(seen):
        if car.kind != "car" or car.moving:
            continue
        cover = np.zeros((int(car.h) + 1, int(car.w) + 1), bool)
        for o in seen[i + 1 :]:
            if o.kind in ("pedestrian", "cyclist"):
                x0, y0 = max(0, int(o.x - car.x)), max(0, int(o.y - car.y))
                x1, y1 = int(o.x + o.w - car.x), int(o.y + o.h - car.y)
                if x1 > 0 and y1 > 0:
                    cover[y0:y1, x0:x1] = True
        if cover.mean() > best:
            best, who = float(cover.mean()), car.id
    return best, who


def test_pedestrians_walk_in_front_of_parked_cars_hiding_up_to_40_percent():
    s = scene(CAMERAS[0])
    occluded = 0
    for stop in s.stops():
        shares = [occlusion(s, float(t))[0]
                  for t in np.arange(stop.arrive + 1, stop.leave - 1, 1.0)]  # fmt: skip
        occluded += max(shares, default=0) > 0.1
        assert max(shares, default=0) < 0.6
    assert occluded >= len(s.stops()) // 2


def test_render_cost_per_frame(capsys):
    s = scene(CAMERAS[1])
    times = [s.t_start + 600 + i for i in range(40)]
    s.render(times[0])
    t0 = time.perf_counter()
    for ts in times:
        s.render(ts)
    render_ms = (time.perf_counter() - t0) / len(times) * 1000
    t0 = time.perf_counter()
    sizes = [len(s.jpeg(ts)) for ts in times]
    total_ms = (time.perf_counter() - t0) / len(times) * 1000
    with capsys.disabled():
        print(
            f"\ncamera frame 1280x720: render {render_ms:.1f} ms, render + JPEG {total_ms:.1f} ms, "
            f"{np.mean(sizes) / 1024:.0f} KiB"
        )


def test_light_follows_the_time_of_day():
    s = CameraScene(CAMERAS[2], 1, datetime(2026, 11, 23, 0, 0, tzinfo=TZ), 86400)
    mean = {h: float(s.render(s.t_start + h * 3600 + 5).mean()) for h in (3, 7, 12, 17, 22)}
    assert mean[12] > mean[7] > mean[3] and mean[12] > mean[17]
    assert mean[12] > 1.8 * max(mean[3], mean[22])  # street lights do not make a day


def test_publish_frames_carries_the_capture_time_as_a_user_property(broker):
    s = CameraScene(CAMERAS[0], 1, MORNING, 5)
    frames = list(s.frames())
    host, port, _, _ = parse_mqtt_url(broker.url)
    got: list[tuple[str, bytes, dict]] = []
    done, ready = threading.Event(), threading.Event()
    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="test-cam-sub", protocol=mqtt.MQTTv5
    )
    sub.on_connect = lambda c, *_: c.subscribe("cameras/#", qos=1)
    sub.on_subscribe = lambda *_: ready.set()

    def on_message(_c, _u, msg):
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        got.append((msg.topic, msg.payload, props))
        if len(got) >= len(frames):
            done.set()

    sub.on_message = on_message
    sub.connect(host, port)
    sub.loop_start()
    try:
        assert ready.wait(10)
        stats = publish_frames(frames, broker.url, s.camera_id, rate=50)
        assert done.wait(10)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert stats["published"] == stats["acked"] == len(frames) and stats["failed"] == 0
    assert [p for _, p, _ in got] == [f for _, f in frames]
    assert {t for t, _, _ in got} == {f"cameras/{s.camera_id}/frame"}
    assert [int(p["ts"]) for _, _, p in got] == [round(ts * 1000) for ts, _ in frames]


def test_speed_with_mqtt_311_warns_that_capture_times_are_lost():
    assert pacing_warning("3.1.1", 10) is not None and "3.1.1" in pacing_warning("3.1.1", 10)
    assert pacing_warning("5", 10) is None and pacing_warning("3.1.1", 1) is None
    with pytest.warns(UserWarning, match="arrival"), pytest.raises(ConnectionError):
        publish_frames([], "mqtt://127.0.0.1:1", "cam-x", protocol="3.1.1", speed=10)


def test_cli_dry_run_writes_truth_and_sample_frames(tmp_path, capsys):
    rc = main(["cameras", "--camera", str(CAMERAS[0]), "--camera", str(CAMERAS[1]), "--dry-run",
               "--start", "2026-11-23T07:00:00+08:00", "--duration", "1h", "--truth",
               str(tmp_path / "t.jsonl"), "--save-frames", str(tmp_path / "frames")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "7200 frames" in out
    rows = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert {r["camera_id"] for r in rows} == {"cam-fangmen-01", "cam-fushan-01"}
    assert [r["arrive"] for r in rows] == sorted(r["arrive"] for r in rows)
    jpegs = list((tmp_path / "frames").glob("*.jpg"))
    assert 2 <= len(jpegs) <= 10 and all(j.read_bytes()[:2] == b"\xff\xd8" for j in jpegs)


def test_cli_publishes_frames_of_two_cameras(broker, capsys):
    start = (datetime.now(TZ) - timedelta(minutes=5)).isoformat()
    rc = main(["cameras", "--camera", str(CAMERAS[0]), "--camera", str(CAMERAS[2]), "--mqtt-url",
               broker.url, "--start", start, "--duration", "15", "--fps", "1"])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0 and "published 30, acked 30, failed 0" in captured.out
    assert "published" in captured.err


def test_cli_errors_name_the_flag_and_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["cameras", "--dry-run", "--camera", str(tmp_path / "none.json")])
    assert "--camera" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "cam-bad", "image": {"width": 1280, "height": 720}}))
    with pytest.raises(SystemExit):
        main(["cameras", "--dry-run", "--camera", str(bad)])
    assert "bad.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cameras", "--dry-run", "--camera", str(CAMERAS[0]), "--fps", "0"])
    assert "--fps" in capsys.readouterr().err


def test_merged_streams_keep_each_camera_on_its_own_topic() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from firmware_sim.cameras import CameraScene, camera_messages

    start = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    cams = sorted(
        (Path(__file__).resolve().parents[2] / "geofences" / "cameras").glob("cam-*.json")
    )[:2]
    scenes = [CameraScene(c, 1, start, 3) for c in cams]
    topics = {topic for _, topic, _ in camera_messages(scenes)}
    assert topics == {f"cameras/{s.camera_id}/frame" for s in scenes}
