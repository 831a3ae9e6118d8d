"""The parking rule in capture time: dwell per grade, loading spots' hours and maximum stop."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.geo.cameras import CameraFileError, load_camera, load_cameras
from smartcity_iot.rules.parking import ParkingClosed, ParkingOpened, Stop, at_rest, left

from ..support import TEST_ZONES

SH = ZoneInfo("Asia/Shanghai")
CAM = load_camera(TEST_ZONES / "cameras" / "cam-test-01.json", SH)


def spot_camera(hours: str, max_stop_min: float, tmp_path: Path):
    import json

    doc = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())
    doc["loading_spots"][0].update(hours=[hours], max_stop_min=max_stop_min)
    doc["dwell_s"] = 60
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    return load_camera(path, SH)


def at(hhmm: str) -> float:
    return datetime.fromisoformat(f"2026-11-23 {hhmm}").replace(tzinfo=SH).timestamp()


def test_plain_stop_opens_at_the_dwell_and_closes_when_it_leaves() -> None:
    stop = Stop(1000.0, 1000.0, on_sidewalk=True)
    assert at_rest(stop, CAM, 1039.0) is None
    assert at_rest(stop, CAM, 1041.0) == ParkingOpened(1000.0, 1041.0)
    assert at_rest(stop, CAM, 1100.0) is None  # one alert, not one per frame
    assert left(stop) == ParkingClosed(1000.0, 1100.0)


def test_short_stop_and_road_stop_open_nothing() -> None:
    short = Stop(1000.0, 1000.0, on_sidewalk=True)
    assert at_rest(short, CAM, 1030.0) is None and left(short) is None
    road = Stop(1000.0, 1000.0, on_sidewalk=False)
    assert at_rest(road, CAM, 5000.0) is None


def test_loading_spot_in_hours_is_lawful_until_its_maximum(tmp_path: Path) -> None:
    cam = spot_camera("06:00-10:00", 20, tmp_path)
    stop = Stop(at("07:00"), at("07:00"), on_sidewalk=True, spot_id="ls-test")
    assert at_rest(stop, cam, at("07:19")) is None
    assert at_rest(stop, cam, at("07:21")) == ParkingOpened(at("07:00"), at("07:21"))


def test_loading_spot_outside_hours_is_a_plain_stop(tmp_path: Path) -> None:
    cam = spot_camera("06:00-10:00", 20, tmp_path)
    stop = Stop(at("12:00"), at("12:00"), on_sidewalk=True, spot_id="ls-test")
    assert at_rest(stop, cam, at("12:01")) == ParkingOpened(at("12:00"), at("12:01"))


def test_loading_spot_hours_ending_during_the_stop(tmp_path: Path) -> None:
    cam = spot_camera("06:00-10:00", 30, tmp_path)
    stop = Stop(at("09:50"), at("09:50"), on_sidewalk=True, spot_id="ls-test")
    assert at_rest(stop, cam, at("09:59")) is None
    assert at_rest(stop, cam, at("10:00")) == ParkingOpened(at("09:50"), at("10:00"))


def test_grade_sets_the_default_dwell(tmp_path: Path) -> None:
    import json

    doc = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())
    del doc["dwell_s"]
    for grade, dwell in (("model", 120), ("secondary", 300), ("alley", 600)):
        doc["grade"] = grade
        (tmp_path / "c.json").write_text(json.dumps(doc))
        assert load_camera(tmp_path / "c.json", SH).dwell_s == dwell


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grade": "highway"}, "field grade"),
        ({"sidewalk": [[[0, 0], [10, 0]]]}, "field sidewalk"),
        (
            {"sidewalk": [[[0, 470], [1400, 470], [1400, 720], [0, 720]]]},
            "outside the 1280x720 image",
        ),
        ({"lat": 128}, "field lat"),
        ({"image": {"width": 1280}}, "field image.height"),
    ],
)
def test_bad_camera_files_name_file_camera_and_field(
    tmp_path: Path, change: dict, message: str
) -> None:
    import json

    doc = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())
    doc.update(change)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(CameraFileError) as err:
        load_camera(tmp_path / "bad.json", SH)
    assert (
        "bad.json" in str(err.value)
        and "cam-test-01" in str(err.value)
        and message in str(err.value)
    )


def test_loading_spot_outside_the_sidewalk_is_rejected(tmp_path: Path) -> None:
    import json

    doc = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())
    doc["loading_spots"][0]["polygon"] = [[0, 0], [100, 0], [100, 100], [0, 100]]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(CameraFileError, match="inside the sidewalk"):
        load_camera(tmp_path / "bad.json", SH)


def test_shipped_cameras_are_valid() -> None:
    from ..support import REPO

    cameras = load_cameras(REPO / "geofences" / "cameras", SH)
    assert cameras == [] or all(c.sidewalk.area > 0 for c in cameras)
