"""Zone files: valid ones load; every mistake names the file, the feature and the fix."""

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.geo.zones import ZoneFileError, load_zones

from ..support import REPO, TEST_ZONES

SH = ZoneInfo("Asia/Shanghai")
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[118.0, 28.0], [118.001, 28.0], [118.001, 28.001], [118.0, 28.0]]],
}


def write(tmp_path: Path, props: dict, geometry: dict | None = None) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": props, "geometry": geometry or SQUARE}],
    }
    (tmp_path / "bad.geojson").write_text(json.dumps(doc))
    return tmp_path


def test_test_zones_load_with_their_schedules() -> None:
    zones = {z.id: z for z in load_zones(TEST_ZONES, SH)}
    assert zones["school"].alert_kind == "dog_forbidden_zone"
    assert zones["park"].alert_kind == "dog_outside_walking_hours"
    assert zones["night-street"].schedule.days == frozenset(range(5))
    assert zones["walk-1"].rule == "sidewalk"


def test_shipped_sample_district_is_valid_and_rich_enough() -> None:
    zones = load_zones(REPO / "geofences", SH)
    dogs = [z for z in zones if z.rule == "dogs"]
    assert len(dogs) >= 12
    assert all(z.grid and z.grade for z in dogs)
    assert any(z.schedule.never_allowed for z in dogs)
    assert any(w.end_min < w.start_min for z in dogs for w in z.schedule.windows), (
        "a window across midnight"
    )


@pytest.mark.parametrize(
    ("props", "geometry", "message"),
    [
        ({"id": "z1", "rule": "cats"}, None, "property rule"),
        ({"id": "z1", "rule": "dogs", "walking_hours": ["7-9"]}, None, "HH:MM-HH:MM"),
        ({"id": "z1", "rule": "dogs", "days": ["funday"]}, None, "funday"),
        ({"rule": "dogs"}, None, "property id"),
        (
            {"id": "z1", "rule": "dogs"},
            {"type": "Point", "coordinates": [118, 28]},
            "Polygon or MultiPolygon",
        ),
        (
            {"id": "z1", "rule": "dogs"},
            {
                "type": "Polygon",
                "coordinates": [[[28.0, 118.0], [28.1, 118.0], [28.1, 118.1], [28.0, 118.0]]],
            },
            "lon, lat",
        ),
        (
            {"id": "bow", "rule": "dogs"},
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "invalid polygon",
        ),
    ],
)
def test_bad_zone_errors_name_file_feature_and_problem(
    tmp_path: Path, props: dict, geometry: dict | None, message: str
) -> None:
    with pytest.raises(ZoneFileError) as err:
        load_zones(write(tmp_path, props, geometry), SH)
    text = str(err.value)
    assert "bad.geojson" in text and "feature #0" in text and message in text


def test_duplicate_zone_ids_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, {"id": "z1", "rule": "dogs"})
    (tmp_path / "again.geojson").write_text((tmp_path / "bad.geojson").read_text())
    with pytest.raises(ZoneFileError, match="duplicate zone id"):
        load_zones(tmp_path, SH)


def test_not_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.geojson").write_text("{not json")
    with pytest.raises(ZoneFileError, match="broken.geojson"):
        load_zones(tmp_path, SH)


def feature(props: dict, geometry: dict | None = None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry or SQUARE}


def collection(*features: dict) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def test_every_defect_of_every_file_is_named_in_one_run(tmp_path: Path) -> None:
    """Three defects in one file, one in another, a duplicate id and an unreadable
    file: one load names all six, each with its file, feature and fix."""
    (tmp_path / "a.geojson").write_text(
        collection(
            feature({"id": "ok", "rule": "dogs"}),
            feature({"id": "hours", "rule": "dogs", "walking_hours": ["7-9", "08:00-08:00"]}),
            feature({"id": "bow", "rule": "cats"}, {"type": "Point", "coordinates": [118, 28]}),
        )
    )
    (tmp_path / "b.geojson").write_text(
        collection(feature({"id": "ok", "rule": "dogs"}), feature({"rule": "loading_spot"}))
    )
    (tmp_path / "c.geojson").write_text("{not json")
    with pytest.raises(ZoneFileError) as err:
        load_zones(tmp_path, SH)
    lines = str(err.value).splitlines()
    assert lines[0] == "7 problems in the zone files, fix each:"
    expected = [
        ("a.geojson", "#1 (hours)", "walking_hours.0", "HH:MM-HH:MM"),
        ("a.geojson", "#1 (hours)", "walking_hours.1", "start equals end"),
        ("a.geojson", "#2 (bow)", "property rule", "'dogs'"),
        ("a.geojson", "#2 (bow)", "geometry", "Polygon or MultiPolygon"),
        ("b.geojson", "ok", "duplicate zone id", "a.geojson"),
        ("b.geojson", "#1", "property id", "required"),
        ("c.geojson", "-", "not readable GeoJSON", ""),
    ]
    for file, label, field, fix in expected:
        assert any(
            file in ln and f"feature {label}:" in ln and field in ln and fix in ln
            for ln in lines[1:]
        ), (file, label, field, lines)
    assert len(err.value.problems) == 7 and len(lines) == 8


def test_one_defect_keeps_the_single_line_message(tmp_path: Path) -> None:
    (tmp_path / "one.geojson").write_text(collection(feature({"id": "z", "rule": "cats"})))
    with pytest.raises(ZoneFileError) as err:
        load_zones(tmp_path, SH)
    assert str(err.value).startswith(f"{tmp_path / 'one.geojson'}: feature #0 (z): property rule")
    assert "\n" not in str(err.value)
