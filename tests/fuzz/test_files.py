"""Fuzzing the zone and camera files a bureau edits by hand: a file with any field
replaced by any JSON value, or mangled text, loads or fails with the loader's own
error naming the file and the field (ZoneFileError, CameraFileError), never another
exception. Fewer inputs than the wire decoders: each one is a file on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity_iot.geo.cameras import CameraFileError, load_camera_files
from smartcity_iot.geo.zones import ZoneFileError, load_zones

from ..ingest.reliability import record
from ..support import TEST_ZONES
from .conftest import EXAMPLES

TZ = ZoneInfo("Asia/Shanghai")
ZONES = json.loads((TEST_ZONES / "test.geojson").read_text())
CAMERA = json.loads((TEST_ZONES / "cameras" / "cam-test-01.json").read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document where a value could be replaced."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def replaced(doc: Any, where: tuple, value: Any) -> Any:
    if not where:
        return value
    copy = json.loads(json.dumps(doc))
    node = copy
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return copy


def mutants(doc: Any) -> st.SearchStrategy[str]:
    spots = paths(doc)
    one = st.builds(
        lambda w, v: json.dumps(replaced(doc, w, v)), st.sampled_from(spots), json_values
    )
    text = json.dumps(doc)
    cut = st.integers(0, len(text)).map(lambda n: text[:n])
    return st.one_of(one, one, cut, st.text(max_size=200))


def test_zone_and_camera_files_load_or_fail_with_their_own_error(tmp_path: Path) -> None:
    tally = {"inputs": 0, "rejected": 0}
    zone_dir, cam_dir = tmp_path / "zones", tmp_path / "cams"
    zone_dir.mkdir()
    cam_dir.mkdir()

    @settings(max_examples=max(EXAMPLES // 10, 50), database=None)
    @given(mutants(ZONES), mutants(CAMERA))
    def one(zone_text: str, camera_text: str) -> None:
        (zone_dir / "z.geojson").write_text(zone_text)
        (cam_dir / "c.json").write_text(camera_text)
        for load, error in (
            (lambda: load_zones(zone_dir, TZ), ZoneFileError),
            (lambda: load_camera_files(cam_dir, TZ), CameraFileError),
        ):
            tally["inputs"] += 1
            try:
                load()
            except error as exc:
                assert str(exc)
                tally["rejected"] += 1

    one()
    record(
        "fuzz: zone and camera files",
        inputs=tally["inputs"],
        rejected=tally["rejected"],
        internal_error=0,
        crashes=0,
    )
