"""Camera files: every defect of every file is named in one run (issue 12)."""

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.geo.cameras import CameraFileError, load_camera_files

from ..support import TEST_ZONES

SH = ZoneInfo("Asia/Shanghai")
GOOD = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())


def test_every_defect_of_every_camera_file_is_named_in_one_run(tmp_path: Path) -> None:
    fields = dict(GOOD, id="cam-a", lat=128, grade="highway")  # two bad fields
    geometry = dict(
        GOOD,
        id="cam-b",
        sidewalk=[[[0, 0], [10, 10], [10, 0], [0, 10]], [[0, 470], [1400, 470], [1400, 720]]],
    )  # a self-intersecting ring and one outside the image
    (tmp_path / "a.json").write_text(json.dumps(fields))
    (tmp_path / "b.json").write_text(json.dumps(geometry))
    (tmp_path / "c.json").write_text(json.dumps(dict(GOOD, id="cam-a")))  # a's id again
    (tmp_path / "d.json").write_text(json.dumps(GOOD))  # valid: loads, is not named
    with pytest.raises(CameraFileError) as err:
        load_camera_files(tmp_path, SH)
    lines = str(err.value).splitlines()
    assert lines[0] == "4 problems in the camera files, fix each:", lines
    expected = [
        ("a.json", "cam-a", "field lat"),
        ("a.json", "cam-a", "field grade"),
        ("b.json", "cam-b", "field sidewalk.0: not a valid polygon"),
        ("b.json", "cam-b", "field sidewalk.1: outside the 1280x720 image"),
    ]
    for file, camera, message in expected:
        assert any(
            file in ln and f"camera {camera}:" in ln and message in ln for ln in lines[1:]
        ), (file, message, lines)
    assert len(err.value.problems) == 4


def test_a_duplicate_id_is_named_beside_the_other_defects(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(GOOD))
    (tmp_path / "b.json").write_text(json.dumps(GOOD))
    (tmp_path / "c.json").write_text(json.dumps(dict(GOOD, id="cam-c", lat=128)))
    with pytest.raises(CameraFileError) as err:
        load_camera_files(tmp_path, SH)
    text = str(err.value)
    assert "duplicate camera id, also in" in text and "b.json" in text
    assert "c.json: camera cam-c: field lat" in text
