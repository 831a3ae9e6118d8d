"""The classical detector and tracker on synthetic scenes: a stop is one vehicle
at rest from the moment it stopped, through passers-by, shadows and light change."""

from __future__ import annotations

from smartcity_iot.vision.detect import ClassicalDetector
from smartcity_iot.vision.frame import decode_small
from smartcity_iot.vision.track import Tracker

from .scenes import H, W, car, encode, person, street

BASE = street()


def run(frames: list[tuple[float, bytes]]) -> list[tuple[float, str, int]]:
    det, tracker, log = ClassicalDetector(W, H), Tracker(), []
    for ts, jpeg in frames:
        d = det.detect(decode_small(jpeg, W, H), ts, tracker.protected())
        ev = tracker.update(d.boxes, d.foreground, ts)
        log += [(ts, "rest", t.id) for t in ev.came_to_rest] + [(ts, "left", t.id) for t in ev.left]
    return log


def stop_scene(
    stay_s: int, passers: bool = True, light: bool = True, shadow: bool = True
) -> list[tuple[float, bytes]]:
    frames = []
    for t in range(0, 40 + stay_s + 40):
        img = BASE.copy()
        if 20 <= t < 26:  # drives in from the right onto the sidewalk
            car(img, 1280 - (t - 20) * 140, 360 + (t - 20) * 25)
        elif 26 <= t < 26 + stay_s:
            car(img, 440, 510)
        elif 26 + stay_s <= t < 32 + stay_s:  # and away
            car(img, 440 - (t - 26 - stay_s) * 150, 510 - (t - 26 - stay_s) * 25)
        if passers and t % 15 < 8:  # pedestrians walking along the sidewalk, in front of the car
            person(img, 300 + (t % 15) * 60, 560)
        gain = 1.0 - 0.4 * (t / (80 + stay_s)) if light else 1.0  # dusk falling
        band = (400 + (t % 30) * 20, 700 + (t % 30) * 20) if shadow and (t // 30) % 2 else None
        frames.append((1000.0 + t, encode(img, gain, seed=t, shadow=band)))
    return frames


def test_a_car_that_stops_is_at_rest_once_then_leaves() -> None:
    log = run(stop_scene(120))
    rests = [e for e in log if e[1] == "rest"]
    lefts = [e for e in log if e[1] == "left"]
    assert len(rests) == 1 and len(lefts) == 1, log
    assert 26 <= rests[0][0] - 1000 <= 32  # noticed within a few seconds of stopping
    assert 26 + 120 <= lefts[0][0] - 1000 <= 26 + 120 + 15


def test_pedestrians_alone_are_not_vehicles() -> None:
    frames = []
    for t in range(120):
        img = BASE.copy()
        person(img, 100 + (t % 40) * 25, 560)
        person(img, 900 - (t % 30) * 20, 600)
        frames.append((1000.0 + t, encode(img, seed=t)))
    assert run(frames) == []


def test_a_passing_car_never_comes_to_rest() -> None:
    frames = []
    for t in range(60):
        img = BASE.copy()
        car(img, 1280 - (t % 20) * 90, 300)
        frames.append((1000.0 + t, encode(img, seed=t)))
    assert [e for e in run(frames) if e[1] == "rest"] == []
