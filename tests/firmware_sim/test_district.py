"""The sample district files and the simulator's own walking-hours oracle."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import shapely
from shapely.geometry import shape

from firmware_sim.district import (
    FORBIDDEN_ZONE,
    OUTSIDE_WALKING_HOURS,
    District,
    DistrictError,
    WalkingSchedule,
    WalkingWindow,
)

GEOFENCES = Path(__file__).resolve().parents[2] / "geofences"
TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ).timestamp()


def features() -> list[dict]:
    out = []
    for path in sorted(GEOFENCES.glob("*.geojson")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["type"] == "FeatureCollection", path
        out += doc["features"]
    return out


# -- walking-hours oracle -------------------------------------------------------------


@pytest.mark.parametrize(
    ("hms", "allowed"),
    [
        ((22, 59, 59), False),
        ((23, 0, 0), True),
        ((0, 0, 0), True),
        ((6, 59, 59), True),
        ((7, 0, 0), False),
        ((12, 0, 0), False),
    ],
)
def test_window_crossing_midnight_is_start_inclusive_end_exclusive(hms, allowed):
    sched = WalkingSchedule.parse(["23:00-07:00"], None, "Asia/Shanghai")
    assert sched.allows(at(2026, 11, 23, *hms)) is allowed


def test_window_ending_at_2400_covers_the_last_second_of_the_day():
    sched = WalkingSchedule.parse(["18:00-24:00"], None, "Asia/Shanghai")
    assert not sched.allows(at(2026, 11, 23, 17, 59, 59))
    assert sched.allows(at(2026, 11, 23, 18, 0))
    assert sched.allows(at(2026, 11, 23, 23, 59, 59) + 0.999)
    assert not sched.allows(at(2026, 11, 24, 0, 0))


def test_fractional_seconds_before_the_end_are_still_allowed():
    sched = WalkingSchedule.parse(["06:00-08:00"], None, "Asia/Shanghai")
    assert sched.allows(at(2026, 11, 23, 7, 59, 59) + 0.5)
    assert not sched.allows(at(2026, 11, 23, 8, 0))


def test_no_walking_hours_means_never_allowed():
    for hours in (None, []):
        sched = WalkingSchedule.parse(hours, None, "Asia/Shanghai")
        assert not any(sched.allows(at(2026, 11, 23, h, 30)) for h in range(24))


def test_days_limit_the_schedule_and_other_days_are_allowed_all_day():
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    sched = WalkingSchedule.parse(None, weekdays, "Asia/Shanghai")
    # 2026-11-23 is a Monday, 2026-11-28 a Saturday.
    assert not sched.allows(at(2026, 11, 23, 10, 0))
    assert not sched.allows(at(2026, 11, 27, 23, 59, 59))
    assert sched.allows(at(2026, 11, 28, 0, 0))
    assert sched.allows(at(2026, 11, 29, 23, 59, 59))
    assert not sched.allows(at(2026, 11, 30, 0, 0))


def test_days_use_the_local_calendar_day_not_utc():
    # 2026-11-24 07:30 Shanghai is still Monday 23:30 in UTC.
    sched = WalkingSchedule.parse(["20:00-22:00"], ["tue"], "Asia/Shanghai")
    assert not sched.allows(at(2026, 11, 24, 7, 30))
    assert sched.allows(at(2026, 11, 23, 7, 30))


def test_several_windows_any_of_them_allows():
    sched = WalkingSchedule.parse(["06:00-08:00", "20:00-23:00"], None, "Asia/Shanghai")
    assert sched.allows(at(2026, 11, 23, 7, 0))
    assert not sched.allows(at(2026, 11, 23, 8, 0))
    assert sched.allows(at(2026, 11, 23, 22, 59, 59))
    assert not sched.allows(at(2026, 11, 23, 23, 0))


def test_next_close_and_next_open_are_exact_instants():
    sched = WalkingSchedule.parse(["19:00-07:00"], None, "Asia/Shanghai")
    start = at(2026, 11, 23, 6, 0)
    assert sched.next_close(start, start + 3600 * 3) == at(2026, 11, 23, 7, 0)
    assert sched.next_open(start, start + 86400) == at(2026, 11, 23, 19, 0)
    assert sched.forbidden_throughout(at(2026, 11, 23, 7, 0), at(2026, 11, 23, 18, 59, 59))
    assert not sched.forbidden_throughout(at(2026, 11, 23, 7, 0), at(2026, 11, 23, 19, 0))


@pytest.mark.parametrize("bad", ["7:00-08:00", "06:00-06:00", "25:00-26:00", "06:00-24:30", "x"])
def test_malformed_windows_are_rejected(bad):
    with pytest.raises(ValueError, match="walking window"):
        WalkingWindow.parse(bad)


def test_unknown_weekday_is_rejected():
    with pytest.raises(ValueError, match="days"):
        WalkingSchedule.parse(None, ["monday"], "Asia/Shanghai")


# -- the sample district --------------------------------------------------------------


def test_every_zone_has_unique_id_name_rule_and_grid():
    feats = features()
    ids = [f["properties"]["id"] for f in feats]
    assert len(ids) == len(set(ids))
    for f in feats:
        p = f["properties"]
        assert p["name"] and p["rule"] in {"dogs", "sidewalk", "loading_spot"}
        assert p["grid"] in {f"G-0{i}" for i in range(1, 7)}
        assert p.get("grade") in {"model", "secondary", "alley"}
        if p["rule"] == "sidewalk":
            assert set(p) == {"id", "name", "rule", "grid", "grade"}
        if p["rule"] == "loading_spot":  # SPEC 5.1: its hours and longest stop
            assert set(p) == {"id", "name", "rule", "grid", "grade", "hours", "max_stop_min"}
            assert p["hours"] and p["max_stop_min"] > 0


def test_polygons_are_valid_closed_ccw_and_inside_the_old_town():
    for f in features():
        geom = shape(f["geometry"])
        assert geom.is_valid, f["properties"]["id"]
        polys = f["geometry"]["coordinates"]
        rings = [polys[0]] if f["geometry"]["type"] == "Polygon" else [p[0] for p in polys]
        for ring in rings:
            assert ring[0] == ring[-1]
            assert shapely.LinearRing(ring).is_ccw
        minx, miny, maxx, maxy = geom.bounds
        assert minx >= 118.855 and maxx <= 118.885 and miny >= 28.955 and maxy <= 28.985


def test_district_has_the_promised_mix_of_dog_zones():
    district = District.load(GEOFENCES)
    ids = [z.id for z in district.zones]
    assert len(ids) >= 14
    assert sum(i.startswith("school-") for i in ids) >= 4
    assert any(z.schedule.days for z in district.zones if z.id.startswith("school-"))
    assert any(z.geometry.geom_type == "MultiPolygon" for z in district.zones)
    assert any(w.crosses_midnight for z in district.zones for w in z.schedule.windows)
    kinds = {z.kind for z in district.zones}
    assert kinds == {FORBIDDEN_ZONE, OUTSIDE_WALKING_HOURS}
    assert sum(z.dwell_s != 60 or z.grace_s != 60 for z in district.zones) <= 1


def test_zone_sizes_are_realistic_and_streets_are_wide_corridors():
    for z in District.load(GEOFENCES).zones:
        rect = z.metric.minimum_rotated_rectangle
        xy = list(rect.exterior.coords)
        sides = sorted(
            {round(shapely.Point(a).distance(shapely.Point(b))) for a, b in zip(xy, xy[1:])}
        )
        if z.id.startswith("school-"):
            assert 150 <= max(sides) <= 300, z.id
        if z.id.startswith("park-") and z.id not in District.load(GEOFENCES).parent:
            assert 200 <= max(sides) <= 600, z.id
        if z.id.startswith("street-"):
            assert min(sides) >= 60 and max(sides) >= 300, z.id


def test_dog_zones_do_not_overlap_except_a_childrens_area_inside_its_park():
    district = District.load(GEOFENCES)
    assert district.parent == {"park-fushan-kids": "park-fushan"}
    zones = district.zones
    for i, a in enumerate(zones):
        for b in zones[i + 1 :]:
            if district.parent.get(a.id) == b.id or district.parent.get(b.id) == a.id:
                continue
            assert not a.metric.intersects(b.metric), (a.id, b.id)


def test_zones_leave_most_of_the_district_to_ordinary_residential_space():
    district = District.load(GEOFENCES)
    covered = shapely.union_all([z.metric for z in district.zones]).area
    minx, miny, maxx, maxy = district.bounds
    assert covered / ((maxx - minx) * (maxy - miny)) < 0.2


def test_loading_error_names_the_file_and_the_field(tmp_path):
    bad = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "z1", "rule": "dogs", "walking_hours": ["7-8"]},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[118.86, 28.96], [118.861, 28.96], [118.861, 28.961], [118.86, 28.96]]
                    ],
                },
            }
        ],
    }
    (tmp_path / "bad.geojson").write_text(json.dumps(bad))
    with pytest.raises(DistrictError, match=r"bad\.geojson.*z1.*walking window"):
        District.load(tmp_path)
