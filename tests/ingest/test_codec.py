"""Payload decoding: SPEC 3.1 and OwnTracks accepted, every bad class rejected by reason."""

import contextlib
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartcity_iot.ingest.codec import decode_fix
from smartcity_iot.model import Rejected

NOW = time.time()


def decode(topic: str, doc: object) -> object:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return decode_fix(topic, payload, NOW, 4096, 86400)


def test_spec_fix_decodes() -> None:
    fix = decode(
        "tags/QZT-000001/fix",
        {"ts": NOW - 5, "lat": 28.97, "lon": 118.87, "acc": 8, "batt": 77, "seq": 4},
    )
    assert (fix.tag_id, fix.lat, fix.lon, fix.acc, fix.batt, fix.seq) == (
        "QZT-000001",
        28.97,
        118.87,
        8,
        77,
        4,
    )


def test_owntracks_location_is_a_fix_of_the_device() -> None:
    fix = decode(
        "owntracks/QZT-000002/QZT-000002",
        {"_type": "location", "tst": int(NOW), "lat": 28.9, "lon": 118.8, "acc": 12, "batt": 50},
    )
    assert fix.tag_id == "QZT-000002" and fix.source == "owntracks" and fix.ts == int(NOW)


def test_owntracks_other_types_are_ignored_not_rejected() -> None:
    doc = {"_type": "transition", "event": "enter"}
    assert decode("owntracks/QZT-000002/QZT-000002", doc) is None


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("tags/QZT-000001/fix", b"{not json", "bad_json"),
        ("tags/QZT-000001/fix", b"\xff\xfe", "bad_json"),
        ("tags/QZT-000001/fix", [1, 2], "bad_json"),
        ("tags/QZT-000001/fix", {"lat": 28.9, "lon": 118.8}, "missing_field"),
        ("tags/QZT-000001/fix", {"ts": "yesterday", "lat": 28.9, "lon": 118.8}, "bad_field"),
        ("tags/QZT-000001/fix", {"ts": NOW, "lat": True, "lon": 118.8}, "bad_field"),
        ("tags/QZT-000001/fix", {"ts": NOW, "lat": 91, "lon": 118.8}, "out_of_range"),
        ("tags/QZT-000001/fix", {"ts": NOW, "lat": 28, "lon": 181}, "out_of_range"),
        ("tags/QZT-000001/fix", {"ts": NOW, "lat": 28, "lon": 118, "batt": 140}, "out_of_range"),
        ("tags/QZT-000001/fix", {"ts": NOW, "lat": 28, "lon": 118, "acc": -3}, "out_of_range"),
        ("tags/QZT-000001/fix", {"ts": 0, "lat": 28, "lon": 118}, "out_of_range"),
        ("tags/QZT-000001/fix", {"ts": NOW + 3 * 86400, "lat": 28, "lon": 118}, "out_of_range"),
        ("tags/QZT-000001/fix", {"ts": NOW, "lat": 28, "lon": 118, "seq": -1}, "bad_field"),
        ("tags/QZT-000001/fix", b'{"ts": NaN, "lat": 28, "lon": 118}', "bad_field"),
        ("tags/bad!id/fix", {"ts": NOW, "lat": 28, "lon": 118}, "bad_topic"),
        ("tags/ab/fix", {"ts": NOW, "lat": 28, "lon": 118}, "bad_topic"),
        ("tags/QZT-000001/fix", b"x" * 5000, "oversized"),
    ],
)
def test_bad_input_is_rejected_with_a_reason_naming_the_problem(
    topic: str, payload: object, reason: str
) -> None:
    with pytest.raises(Rejected) as err:
        decode(topic, payload)
    assert err.value.reason == reason
    assert err.value.detail


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_decoder(payload: bytes) -> None:
    with contextlib.suppress(Rejected):
        decode("tags/QZT-000001/fix", payload)


@given(
    st.dictionaries(
        st.sampled_from(["ts", "lat", "lon", "acc", "batt", "seq", "x"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    )
)
def test_arbitrary_objects_are_accepted_or_rejected_never_crash(doc: dict) -> None:
    with contextlib.suppress(Rejected):
        decode_fix("tags/QZT-000001/fix", json.dumps(doc).encode(), NOW, 4096, 86400)
