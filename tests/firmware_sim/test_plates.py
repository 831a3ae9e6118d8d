"""Licence plates of the camera simulator: valid mainland numbers, real colours and layout, drawn
on every car, and the staged stops' truth saying which plates a reader should read."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from firmware_sim.cameras import CameraScene
from firmware_sim.plates import (
    DIRTY,
    MIN_CHAR_PX,
    Plate,
    is_valid,
    plate_image,
    random_plate,
    random_style,
)
from firmware_sim.scene_layout import car_end

CAMERAS = sorted(
    Path(__file__).resolve().parents[2].joinpath("geofences", "cameras").glob("cam-*.json")
)
TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)
# Written out again on purpose: the format of SPEC 5, not the simulator's own constants.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
FORMAT = {
    "blue": re.compile(f"^[{PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{5}}$"),
    "yellow": re.compile(f"^[{PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{5}}$"),
    "green": re.compile(f"^[{PROVINCES}][A-HJ-NP-Z][DF][A-HJ-NP-Z0-9]{{5}}$"),
}


@cache
def scene(path: Path, seed: int = 1) -> CameraScene:
    return CameraScene(path, seed, MORNING, 3 * 3600)


@pytest.mark.parametrize("style", ["blue", "yellow", "green"])
def test_random_plates_follow_the_mainland_format_mostly_from_quzhou(style):
    rng = np.random.default_rng(5)
    plates = [random_plate(rng, style) for _ in range(3000)]
    assert all(FORMAT[style].match(p) for p in plates), [
        p for p in plates if not FORMAT[style].match(p)
    ][:5]
    assert all(is_valid(p, style) for p in plates)
    assert len({p[0] for p in plates}) > 20  # cars from all over the country
    local = sum(p.startswith("浙H") for p in plates) / len(plates)
    assert 0.35 < local < 0.7 and Counter(p[0] for p in plates).most_common(1)[0][0] == "浙"


def test_styles_are_drawn_by_share_and_bad_numbers_are_refused():
    rng = np.random.default_rng(1)
    styles = Counter(random_style(rng) for _ in range(2000))
    assert styles["blue"] > styles["green"] > styles["yellow"] > 0
    bad = [("浙HA1234", "green"), ("浙HD12345", "blue"), ("浙HI1234", "blue"),
           ("浙0A1234", "blue"), ("XXA1234", "blue"), ("浙HA1234", "red")]  # fmt: skip
    for text, style in bad:
        with pytest.raises(ValueError):
            plate_image(text, style, 40)
    # The printed form with its dot and a lower-case letter reads as the same plate.
    assert np.array_equal(plate_image("浙h·a1234", "blue", 40), plate_image("浙HA1234", "blue", 40))


def region(img: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    h, w = img.shape[:2]
    return img[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)].reshape(-1, 3).astype(float)


def test_plate_colours_and_layout_follow_ga36():
    blue = plate_image("浙HA1234", "blue", 140)
    yellow = plate_image("浙HA1234", "yellow", 140)
    green = plate_image("浙HD12345", "green", 140)
    assert blue.shape == yellow.shape == (140, 440, 3) and green.shape == (140, 480, 3)
    # Background between the 2nd character and the dot, text colour inside the characters.
    for img, bg, ink in ((blue, (150, 60, 0), (235, 235, 235)), (yellow, (0, 170, 230), (0, 0, 0))):
        gap = np.median(region(img, 0.27, 0.29, 0.25, 0.4), axis=0)
        assert np.all(np.abs(gap - bg) < 30), gap
        text = region(img, 0.4, 0.95, 0.2, 0.8)
        near_ink = np.abs(text - ink).max(axis=1) < 40
        assert 0.15 < near_ink.mean() < 0.6  # strokes cover a share of the character boxes
    frame = region(blue, 0.3, 0.7, 0.029, 0.04)  # the white border line, 3.5..5.5 mm in
    assert np.median(frame, axis=0).min() > 220
    top = np.median(region(green, 0.3, 0.32, 0.12, 0.18), axis=0)
    bottom = np.median(region(green, 0.3, 0.32, 0.82, 0.88), axis=0)
    assert top.min() > 200  # near white at the top
    assert bottom[1] > bottom[2] + 60 and bottom[1] > bottom[0] + 40  # green at the bottom
    dark = np.abs(region(green, 0.35, 0.95, 0.2, 0.8) - 25).max(axis=1) < 40
    assert 0.15 < dark.mean() < 0.6  # black characters
    # The separator dot after the second character, in the text colour.
    dot = blue[70, int(440 * 134.5 / 440)].astype(float)
    assert dot.min() > 220


def test_dirt_hides_characters_and_is_seeded():
    clean = plate_image("浙HA1234", "blue", 60).astype(float)
    light = plate_image("浙HA1234", "blue", 60, dirt=0.1, seed=3).astype(float)
    dirty = plate_image("浙HA1234", "blue", 60, dirt=0.7, seed=3)
    assert np.array_equal(dirty, plate_image("浙HA1234", "blue", 60, dirt=0.7, seed=3))
    assert not np.array_equal(dirty, plate_image("浙HA1234", "blue", 60, dirt=0.7, seed=4))
    white = (clean.min(axis=2) > 200).sum()
    assert (light.min(axis=2) > 200).sum() > 0.7 * white
    assert (dirty.astype(float).min(axis=2) > 200).sum() < 0.5 * white


@pytest.mark.parametrize("path", CAMERAS, ids=lambda p: p.stem)
def test_truth_lists_every_staged_cars_plate_and_why_it_is_unreadable(path):
    s = scene(path)
    rows = s.truth()
    plates = [r["plate"] for r in rows]
    assert len(set(plates)) == len(plates)
    for row, stop in zip(rows, s.stops()):
        assert FORMAT[row["plate_style"]].match(row["plate"]) and row["plate"] == stop.plate.text
        assert row["plate_readable"] == (row["plate_issue"] is None)
        issue = row["plate_issue"]
        assert (row["plate_char_px"] < MIN_CHAR_PX) == (issue == "small")
        if issue is None:  # a readable plate is well above reader size and clean
            assert row["plate_char_px"] >= MIN_CHAR_PX + 1 and row["plate_dirt"] < 0.2
        if issue == "dirty":
            assert row["plate_dirt"] >= DIRTY + 0.1
        if issue == "small":
            assert row["plate_char_px"] <= MIN_CHAR_PX - 1
        # The car carries the plate in every frame of the stop, and only that car carries it.
        seen = next(o for o in s.seen_at(row["arrive"] + 1) if o.id == row["vehicle"])
        assert seen.plate == stop.plate
    every = s.vehicles()
    assert len({v["plate"] for v in every}) == len(every) > 300  # passing cars too
    assert {v["plate"] for v in every if v["staged"]} == set(plates)
    assert all(FORMAT[v["plate_style"]].match(v["plate"]) for v in every)


def test_staged_stops_mix_readable_plates_with_small_dirty_and_occluded_ones():
    issues = Counter(r["plate_issue"] for p in CAMERAS for r in scene(p).truth())
    total = sum(issues.values())
    assert issues[None] > 0.6 * total, issues
    assert issues["small"] >= 2 and issues["dirty"] >= 2 and issues["occluded"] >= 2, issues
    assert Counter(r["plate_style"] for p in CAMERAS for r in scene(p).truth())["green"] >= 3


def test_an_occluded_plate_is_behind_someone_for_the_whole_stop():
    checked = 0
    for path in CAMERAS:
        s = scene(path)
        for row, stop in zip(s.truth(), s.stops()):
            if row["plate_issue"] != "occluded":
                continue
            x, y, w, h = stop.actor.seen(row["arrive"], s.layout)[2:6]
            side, squash = s.layout.end_view(x, w)
            end = car_end(w, h, stop.plate.style, side, squash)
            px, py = x + end.plate_cx, y + end.plate_cy
            for t in np.linspace(row["arrive"], row["leave"], 25):
                seen = s.seen_at(float(t))
                car = next(i for i, o in enumerate(seen) if o.id == row["vehicle"])
                assert any(o.kind == "pedestrian" and o.x <= px <= o.x + o.w
                           and o.y + 0.2 * o.h <= py <= o.y + 0.55 * o.h
                           for o in seen[car + 1 :])  # fmt: skip
            checked += 1
    assert checked >= 2


def test_the_rendered_stop_shows_its_plate_where_the_truth_says():
    s = scene(CAMERAS[1])
    row, stop = next((r, st) for r, st in zip(s.truth(), s.stops())
                     if r["plate_issue"] is None and r["plate_style"] == "blue")  # fmt: skip
    ts = (row["arrive"] + row["leave"]) / 2
    frame = s.render(ts).astype(float)
    x, y, w, h = stop.actor.seen(ts, s.layout)[2:6]
    end = car_end(w, h, "blue", *s.layout.end_view(x, w))
    half_w, half_h = end.plate_w * end.squash / 2 * 0.8, end.plate_h / 2 * 0.8
    cx, cy = x + end.plate_cx, y + end.plate_cy
    crop = frame[int(cy - half_h) : int(cy + half_h), int(cx - half_w) : int(cx + half_w)]
    b, g, r = crop.reshape(-1, 3).T
    assert ((b > r + 40) & (b > g + 20)).mean() > 0.4  # blue background
    assert (crop.min(axis=2) > 150).mean() > 0.08  # white characters


def test_plates_are_deterministic_per_seed():
    a, b, c = (CameraScene(CAMERAS[0], seed, MORNING, 3600) for seed in (7, 7, 8))
    assert a.truth() == b.truth() and a.vehicles() == b.vehicles()
    assert {v["plate"] for v in a.vehicles()} != {v["plate"] for v in c.vehicles()}
    ts = a.truth()[0]["arrive"] + 2
    assert np.array_equal(a.render(ts), b.render(ts))
    p = Plate("浙HD12345", "green", 0.6, 11)
    assert np.array_equal(plate_image(p.text, p.style, 30, p.dirt, p.seed),
                          plate_image(p.text, p.style, 30, p.dirt, p.seed))  # fmt: skip
    assert p.printed == "浙H·D12345"
