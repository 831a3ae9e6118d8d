"""The patrol unit simulator (SPEC 5.1): units looping past the sidewalk zones, frames that
carry the unit's fix (MQTT 5 user properties and EXIF GPS), and a truth that follows the
rule over the captures in which a unit saw each staged car's plate.

Scenario judged here: patrol-01 and patrol-02 over 08:30-10:00 local time (seed 1), a span
that crosses the loading spots' hours edges (ls-fushanlu-01 closes 09:00, ls-fangmen-01
opens 09:00), with the "mixed" cars.
"""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from PIL import Image
from shapely.geometry import Point, shape

from firmware_sim.__main__ import main
from firmware_sim.patrol import MAX_GAP_S, PatrolScene, PatrolWorld, Stage
from firmware_sim.patrol_render import read_gps_exif
from firmware_sim.publisher import parse_mqtt_url, publish_stream

REPO = Path(__file__).resolve().parents[2]
ZONES = REPO / "geofences"
UNIT_1 = ZONES / "cameras" / "patrol-01.json"
UNIT_2 = ZONES / "cameras" / "patrol-02.json"
TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)
M_PER_DEG = 6371008.8 * math.pi / 180


@cache
def two_units(seed: int = 1) -> PatrolWorld:
    world = PatrolWorld(ZONES, seed, MORNING, 5400)
    world.unit(UNIT_1)
    world.unit(UNIT_2)  # a third of a loop behind patrol-01 at sw-fangmen-n
    world.truth()
    return world


@cache
def zone_shapes() -> dict[str, dict]:
    doc = json.loads((ZONES / "kecheng-sidewalks.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["id"]: f for f in doc["features"]}


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """lat, lon moved by metres (equirectangular, good to mm over tens of metres)."""
    return (
        lat + north_m / M_PER_DEG,
        lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))),
    )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    kx = M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * kx, (lat2 - lat1) * M_PER_DEG)


def passes_of(row: dict) -> list[list[dict]]:
    """A truth row's captures grouped into passes: one unit, frames <= 3 s apart."""
    out: list[list[dict]] = []
    for p in sorted(row["passes"], key=lambda p: (p["unit_id"], p["ts"])):
        if out and out[-1][-1]["unit_id"] == p["unit_id"] and p["ts"] - out[-1][-1]["ts"] <= 3:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def in_hours(spot_id: str, ts: float) -> bool:
    props = zone_shapes()[spot_id]["properties"]
    t = datetime.fromtimestamp(ts, TZ)
    minute = t.hour * 60 + t.minute + t.second / 60
    for w in props["hours"]:
        a, b = w.split("-")
        lo = int(a[:2]) * 60 + int(a[3:])
        hi = int(b[:2]) * 60 + int(b[3:])
        if lo <= minute < hi:
            return True
    return False


def spec_confirm(row: dict) -> float | None:
    """SPEC 5.1 over a truth row's captures: the first capture that, with an earlier one,
    is dwell..max_gap later and not exempt on a loading spot."""
    times = sorted(p["ts"] for p in row["passes"])
    spot = row["spot_id"]
    max_stop = zone_shapes()[spot]["properties"]["max_stop_min"] * 60 if spot else 0
    for k, tk in enumerate(times):
        for ti in times[:k]:
            exempt = spot and in_hours(spot, ti) and in_hours(spot, tk) and tk - ti <= max_stop
            if row["dwell_s"] <= tk - ti <= MAX_GAP_S and not exempt:
                return tk
    return None


# -- determinism ---------------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_truth_and_the_same_frames():
    a = PatrolScene(UNIT_1, ZONES, 7, MORNING, 900)
    b = PatrolScene(UNIT_1, ZONES, 7, MORNING, 900)
    assert a.truth() == b.truth() and a.truth()
    i = a.unit.index(a.truth()[0]["passes"][0]["ts"])
    assert a.unit.jpeg(i) == b.unit.jpeg(i)
    assert a.unit.fix(i) == b.unit.fix(i)


def test_another_seed_stages_other_cars():
    a = PatrolScene(UNIT_1, ZONES, 7, MORNING, 900)
    c = PatrolScene(UNIT_1, ZONES, 8, MORNING, 900)
    assert {r["plate"] for r in a.truth()} != {r["plate"] for r in c.truth()}


# -- the fix of each frame -------------------------------------------------------------------------
def test_each_frame_carries_its_fix_in_the_exif_gps_ifd():
    scene = PatrolScene(UNIT_1, ZONES, 1, MORNING, 60)
    frames = scene.frames()
    for _ in range(3):
        ts, jpeg, fix = next(frames)
        gps = Image.open(BytesIO(jpeg)).getexif().get_ifd(0x8825)
        assert gps[1] == "N" and gps[3] == "E" and gps[16] == "T" and gps[12] == "K"
        back = read_gps_exif(jpeg)
        assert distance_m(back["lat"], back["lon"], fix["lat"], fix["lon"]) < 0.5
        assert abs(back["heading"] - fix["heading"]) < 0.01
        assert abs(back["speed"] - fix["speed"]) < 0.01
        assert Image.open(BytesIO(jpeg)).size == (1280, 720)


def test_the_reported_fix_is_the_true_position_with_bounded_gps_noise():
    unit = two_units().units[0]
    err = np.hypot(unit.rep_x - unit.x, unit.rep_y - unit.y)
    assert 0.8 < float(np.sqrt((err**2).mean())) < 3.0  # ~1.5 m per axis
    assert float(err.max()) <= 2 * 1.5 * math.sqrt(2) + 1e-9


def test_a_loop_passes_each_zone_again_between_the_dwell_and_the_max_gap():
    for unit in two_units().units:
        assert 300 < unit.route.period < 0.2 * MAX_GAP_S


# -- where the cars stand --------------------------------------------------------------------------
def test_a_seen_car_stands_side_offset_to_the_right_of_the_unit():
    world = two_units()
    units = {u.unit_id: u for u in world.units}
    for s in world.staged():
        for cap in s.captures:
            u = units[cap.unit_id]
            i = u.index(cap.ts)
            h = math.radians(u.heading[i])
            ahead = np.array([math.sin(h), math.cos(h)])
            right = np.array([math.cos(h), -math.sin(h)])
            d = np.array([s.car.x - u.x[i], s.car.y - u.y[i]])
            assert d @ right == pytest.approx(4.0, abs=0.05)
            assert 0 < d @ ahead < 15  # the camera looks ahead of square-on


def test_the_place_the_service_derives_from_each_capture_lies_in_the_cars_zone():
    world = two_units()
    units = {u.unit_id: u for u in world.units}
    for row in world.truth():
        zone = shape(zone_shapes()[row["zone_id"]]["geometry"])
        spot = shape(zone_shapes()[row["spot_id"]]["geometry"]) if row["spot_id"] else None
        for p in row["passes"]:
            u = units[p["unit_id"]]
            fix = u.fix(u.index(p["ts"]))
            h = math.radians(fix["heading"])
            lat, lon = offset(fix["lat"], fix["lon"], 4.0 * math.cos(h), -4.0 * math.sin(h))
            assert zone.contains(Point(lon, lat)), (row["plate"], p)
            if spot is not None:
                assert spot.contains(Point(lon, lat))
        assert shape(zone_shapes()[row["zone_id"]]["geometry"]).contains(
            Point(row["lon"], row["lat"])
        )


# -- the staged cases ------------------------------------------------------------------------------
def test_the_mixed_scenario_stages_every_case():
    truth = two_units().truth()
    cases = {r["case"] for r in truth}
    assert {"violation", "short", "loading_lawful", "loading_off_hours"} <= cases
    assert all(r["violation"] for r in truth if r["case"] == "violation")
    assert not any(r["violation"] for r in truth if r["case"] in ("short", "loading_lawful"))
    assert all(len(passes_of(r)) >= 2 for r in truth if r["violation"])
    lawful = [r for r in truth if r["case"] == "loading_lawful"]
    assert all(r["spot_id"] and in_hours(r["spot_id"], r["passes"][0]["ts"]) for r in lawful)
    off = [r for r in truth if r["case"] == "loading_off_hours"]
    assert off and all(r["violation"] and not in_hours(r["spot_id"], r["confirm_at"]) for r in off)
    unread = [r for r in truth if not r["plate_readable"]]
    assert {r["plate_issue"] for r in unread} >= {"dirty", "occluded"}


def test_a_short_stop_leaves_before_a_second_pass_dwell_later():
    for r in two_units().truth():
        if r["case"] == "short":
            times = [p["ts"] for p in r["passes"]]
            assert max(times) - min(times) < r["dwell_s"]


def test_the_first_violation_confirms_within_a_quarter_of_an_hour():
    world = two_units()
    first = min(r["confirm_at"] for r in world.truth() if r["violation"])
    assert first - world.t_start < 15 * 60


def test_the_truth_follows_the_spec_rule_over_its_passes():
    for r in two_units().truth():
        assert spec_confirm(r) == r["confirm_at"], r["plate"]
        assert r["violation"] == (r["confirm_at"] is not None)
        if r["violation"]:
            assert (
                r["unit_id"]
                == next(p for p in r["passes"] if p["ts"] == r["confirm_at"])["unit_id"]
            )
        assert r["arrive"] < r["passes"][0]["ts"] and r["passes"][-1]["ts"] < r["leave"]


def test_passes_of_two_units_combine():
    truth = two_units().truth()
    shared = [r for r in truth if len({p["unit_id"] for p in r["passes"]}) == 2]
    assert shared
    assert any(r["violation"] for r in shared)


def test_every_pass_sees_the_plate_in_at_least_three_frames_at_reader_size():
    for r in two_units().truth():
        for one in passes_of(r):
            assert len(one) >= 3, (r["plate"], one)
            assert all(p["char_px"] >= 22 for p in one)


def test_a_pass_frame_shows_the_plate_where_the_camera_sees_it():
    world = two_units()
    units = {u.unit_id: u for u in world.units}
    s = next(s for s in world.staged() if s.plate_issue is None and s.car.plate.style == "blue")
    cap = s.captures[len(s.captures) // 2]
    u = units[cap.unit_id]
    i = u.index(cap.ts)
    frame = u.render(i)
    centre, rot = (a[0] for a in u.optics.poses(u.x[i], u.y[i], u.heading[i]))
    corners, normals = s.car.plate_corners()
    end = 0 if (centre[:2] - [s.car.x, s.car.y]) @ normals[0] > 0 else 1
    uv = u.optics.project(centre, rot, corners[end])[:, :2]
    x0, y0 = uv.min(0).astype(int) + 3
    x1, y1 = uv.max(0).astype(int) - 3
    b, g, r = frame[y0:y1, x0:x1].reshape(-1, 3).mean(0)
    assert b > r + 30  # a blue plate there


def test_explicit_stages_are_staged_as_asked():
    scene = PatrolScene(
        UNIT_1, ZONES, 3, MORNING, 1800, stage=[Stage("violation", "dirty", "sw-fangmen-n")]
    )
    (row,) = scene.truth()
    assert row["zone_id"] == "sw-fangmen-n" and row["violation"]
    assert row["plate_issue"] == "dirty" and not row["plate_readable"]


def test_a_second_pass_beyond_the_max_gap_is_a_new_first_sighting():
    # The unit goes off duty for 65 min after 20 min: a car still there when it returns was
    # last seen more than max_gap_s ago.
    scene = PatrolScene(
        UNIT_1, ZONES, 1, MORNING, 2 * 3600, scenario="max_gap", breaks=[(1200, 3900)]
    )
    (row,) = [r for r in scene.truth() if r["case"] == "max_gap"]
    times = sorted(p["ts"] for p in row["passes"])
    assert not row["violation"] and row["confirm_at"] is None
    assert max(np.diff(times)) > MAX_GAP_S
    assert scene.unit.frame_count() < 2 * 3600 * 2 - 3900 * 2 + 2


# -- command line and broker -----------------------------------------------------------------------
def test_cli_dry_run_writes_the_truth_and_sample_frames(tmp_path, capsys):
    truth, frames = tmp_path / "truth.jsonl", tmp_path / "frames"
    argv = ["patrol", "--unit", str(UNIT_1), "--unit", str(UNIT_2), "--geofences", str(ZONES),
            "--start", MORNING.isoformat(), "--duration", "20m",
            "--truth", str(truth), "--save-frames", str(frames), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    rows = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()]
    assert rows and any(r["violation"] for r in rows)
    fields = {
        "plate",
        "plate_style",
        "plate_readable",
        "plate_issue",
        "zone_id",
        "spot_id",
        "lat",
        "lon",
        "arrive",
        "leave",
        "passes",
        "violation",
        "confirm_at",
        "unit_id",
    }
    assert fields <= set(rows[0])
    saved = sorted(frames.glob("*.jpg"))
    assert saved and read_gps_exif(saved[0].read_bytes())["lat"] > 28
    out = capsys.readouterr().out
    assert "patrol-01" in out and "patrol-02" in out


def test_cli_rejects_a_fixed_camera_as_a_unit(capsys):
    with pytest.raises(SystemExit):
        main(["patrol", "--unit", str(ZONES / "cameras" / "cam-fushan-01.json"), "--dry-run"])
    assert "mobile" in capsys.readouterr().err


def subscribe(url: str, v5: bool) -> tuple[mqtt.Client, list[mqtt.MQTTMessage]]:
    host, port, _, _ = parse_mqtt_url(url)
    got: list[mqtt.MQTTMessage] = []
    ready = threading.Event()
    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"test-patrol-sub-{v5}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    sub.on_connect = lambda c, *_: c.subscribe("cameras/#", qos=1)
    sub.on_subscribe = lambda *_: ready.set()
    sub.on_message = lambda _c, _u, msg: got.append(msg)
    sub.connect(host, port)
    sub.loop_start()
    assert ready.wait(10)
    return sub, got


def wait_for(got: list, n: int, timeout: float = 20) -> None:
    deadline = threading.Event()
    for _ in range(int(timeout * 20)):
        if len(got) >= n:
            return
        deadline.wait(0.05)
    raise AssertionError(f"{len(got)} of {n} messages arrived")


def test_published_frames_carry_the_fix_as_mqtt5_user_properties(broker):
    scene = PatrolScene(UNIT_1, ZONES, 1, MORNING, 10)
    expected = list(scene.messages())
    sub, got = subscribe(broker.url, v5=True)
    try:
        stats = publish_stream(iter(expected), broker.url, client_id="sim-patrol")
        wait_for(got, len(expected))
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert stats["acked"] == len(expected) == 20 and stats["failed"] == 0
    for (ts, topic, jpeg, props), msg in zip(expected, got):
        user = dict(msg.properties.UserProperty)
        assert msg.topic == topic == "cameras/patrol-01/frame" and msg.payload == jpeg
        assert user == props and set(user) == {"ts", "lat", "lon", "heading", "speed"}
        assert int(user["ts"]) == round(ts * 1000)
        back = read_gps_exif(msg.payload)
        assert distance_m(float(user["lat"]), float(user["lon"]), back["lat"], back["lon"]) < 0.5


def test_over_mqtt_311_the_position_still_travels_in_the_exif(broker):
    scene = PatrolScene(UNIT_1, ZONES, 1, MORNING, 3)
    expected = list(scene.messages())
    sub, got = subscribe(broker.url, v5=False)
    try:
        stats = publish_stream(iter(expected), broker.url, protocol="3.1.1", client_id="sim-311")
        wait_for(got, len(expected))
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert stats["acked"] == len(expected)
    for (_, _, jpeg, props), msg in zip(expected, got):
        assert msg.payload == jpeg
        back = read_gps_exif(msg.payload)
        assert distance_m(float(props["lat"]), float(props["lon"]), back["lat"], back["lon"]) < 0.5


def test_plain_and_propertied_messages_mix_and_ts_is_never_sent_twice(broker):
    messages = [(1000.0, "cameras/x/frame", b"a"),
                (1001.0, "cameras/x/frame", b"b", {"ts": "1001000", "lat": "28.9"})]  # fmt: skip
    sub, got = subscribe(broker.url, v5=True)
    try:
        publish_stream(messages, broker.url, ts_property=True, client_id="sim-mix")
        wait_for(got, 2)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert got[0].properties.UserProperty == [("ts", "1000000")]
    assert got[1].properties.UserProperty == [("ts", "1001000"), ("lat", "28.9")]


def test_cli_publishes_every_frame_of_every_unit_with_its_fix(broker, tmp_path):
    sub, got = subscribe(broker.url, v5=True)
    argv = ["patrol", "--unit", str(UNIT_1), "--unit", str(UNIT_2), "--geofences", str(ZONES),
            "--start", MORNING.isoformat(), "--duration", "5", "--mqtt-url", broker.url,
            "--truth", str(tmp_path / "truth.jsonl")]  # fmt: skip
    try:
        assert main(argv) == 0
        wait_for(got, 20)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert {m.topic for m in got} == {"cameras/patrol-01/frame", "cameras/patrol-02/frame"}
    for m in got:
        user = dict(m.properties.UserProperty)
        back = read_gps_exif(m.payload)
        assert distance_m(float(user["lat"]), float(user["lon"]), back["lat"], back["lon"]) < 0.5
