"""Fuzzing every device decoder (tag fixes, OwnTracks, camera frames: JPEG header,
capture time and position properties): each input is decoded or rejected with a
named reason, never a crash or internal_error; then all of them go through the real
pipeline on a real SQLite file, where every rejection is counted exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity_iot.config import Settings
from smartcity_iot.geo.cameras import load_camera_files
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.ingest.codec import decode_fix
from smartcity_iot.model import Fix, Inbound, Rejected
from smartcity_iot.pipeline import CameraPipeline, TagPipeline
from smartcity_iot.pipeline.camera_stages import Frame, capture_time, decode
from smartcity_iot.pipeline.mobile_stages import position
from smartcity_iot.store import deadletters
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect
from smartcity_iot.vision.frame import jpeg_header

from ..ingest.reliability import record
from ..support import TEST_ZONES
from .conftest import EXAMPLES

NOW = time.time()
TAGS = ("TAG-0001", "TAG-0002")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(NOW - 3 * 86400, NOW + 2 * 86400),  # plausible times, some from the future
    st.floats(-200, 200),
    json_values,
)
fields = {k: numbers for k in ("ts", "tst", "acc", "batt", "seq")}
documents = st.fixed_dictionaries(
    {},
    optional={
        **fields,
        "lat": st.floats(28.9, 29.0) | numbers,
        "lon": st.floats(118.8, 118.9) | numbers,
        "_type": st.sampled_from(["location", "lwt", "transition"]) | st.text(),
    },
)


@st.composite
def adversarial(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 3000))
    digits = draw(st.integers(1, 5000))
    return draw(
        st.sampled_from(
            [
                b'{"ts": %d, "lat": 28.9, "lon": 118.8, "x": %s}'
                % (NOW, b"[" * depth + b"]" * depth),
                b'{"ts": %s, "lat": 28.9, "lon": 118.8}' % (b"9" * digits),
                b'{"ts": %d, "lat": 28.9, "lon": 118.8, "seq": %s}' % (NOW, b"9" * digits),
                b'{"_type": "location", "tst": %d, "lat": 1e%d, "lon": 2}' % (NOW, digits),
            ]
        )
    )


valid = st.fixed_dictionaries(
    {
        "ts": st.floats(NOW - 86400, NOW),
        "lat": st.floats(28.9, 29.0),
        "lon": st.floats(118.8, 118.9),
    }
)
near_valid = st.tuples(valid, st.dictionaries(st.sampled_from(sorted(fields)), numbers, max_size=1))
payloads = st.one_of(
    near_valid.map(lambda v: json.dumps({**v[0], **v[1]}).encode()),
    documents.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=5000),
    json_values.map(lambda v: json.dumps(v).encode()),
    adversarial(),
)
topics = st.one_of(
    st.sampled_from([f"tags/{t}/fix" for t in TAGS]),
    st.sampled_from(
        [f"tags/{t}/fix" for t in TAGS]
        + [f"owntracks/{t}/{t}" for t in TAGS]
        + ["tags/NOBODY-99/fix", "owntracks/x/y", "tags//fix"]
    ),
    st.text(max_size=80),
)


def test_tag_and_owntracks_decoders_reject_by_name_and_count_every_rejection(
    tmp_path: Path,
) -> None:
    inputs: list[tuple[str, bytes]] = []
    expect = {"rejected": 0, "fixes": 0, "ignored": 0}

    @settings(max_examples=EXAMPLES, database=None)
    @given(topics, payloads)
    def one(topic: str, payload: bytes) -> None:
        try:
            out = decode_fix(topic, payload, NOW, 4096, 300)
        except Rejected as rej:
            assert rej.reason != "internal_error" and rej.detail
            expect["rejected"] += 1
        else:
            assert out is None or isinstance(out, Fix)
            if out is None:
                expect["ignored"] += 1
            elif out.tag_id in TAGS:
                expect["fixes"] += 1
            else:
                expect["rejected"] += 1  # unknown device: the filter stage rejects it
        inputs.append((topic, payload))

    one()
    # all of them through the real pipeline: every input lands in exactly one bucket
    s = Settings(data_dir=tmp_path, geofences=TEST_ZONES, dead_letter_max=10**6)
    conn = connect(s.db_path)
    for t in TAGS:
        register_active_tag(conn, t, "dog", "owner", "13900000001")
    pipe = TagPipeline(s, conn, load_zones(TEST_ZONES, s.tz))
    msgs = [Inbound(t, p, NOW) for t, p in inputs]
    for i in range(0, len(msgs), 1000):
        pipe.process_isolating(msgs[i : i + 1000])
    c = pipe.counters.snapshot()
    counts = deadletters.counts(conn)
    rejected = sum(counts.values())
    stored = c.get("accepted", 0) + c.get("late", 0) + c.get("duplicate", 0)
    record(
        "fuzz: tag fixes and OwnTracks",
        inputs=len(inputs),
        rejected=rejected,
        expected_rejected=expect["rejected"],
        fixes=stored,
        ignored=c.get("ignored", 0),
        internal_error=counts.get("internal_error", 0),
        crashes=0,
        reasons=counts,
    )
    assert "internal_error" not in counts
    assert rejected == expect["rejected"]
    assert conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == rejected
    assert stored == expect["fixes"] and c.get("ignored", 0) == expect["ignored"]
    assert rejected + stored + c.get("ignored", 0) == len(inputs)


def seed_jpeg() -> bytes:
    img = np.zeros((720, 1280, 3), np.uint8)
    cv2.rectangle(img, (100, 100), (600, 500), (40, 200, 90), -1)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 30])[1].tobytes()


SEED = seed_jpeg()
OTHER = [cv2.imencode(ext, np.zeros((8, 8, 3), np.uint8))[1].tobytes() for ext in (".png", ".bmp")]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["flip", "cut", "splice", "random", "other", "empty", "seed"]))
    data = bytearray(SEED)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "splice":
        at = draw(st.integers(0, 200))
        data[at:at] = draw(st.binary(max_size=64))
    elif kind == "random":
        return draw(st.binary(max_size=2000))
    elif kind == "other":
        return draw(st.sampled_from(OTHER))
    elif kind == "empty":
        return b""
    return bytes(data)


properties = st.lists(
    st.tuples(
        st.sampled_from(["ts", "lat", "lon", "heading", "speed", "x"]),
        st.one_of(
            st.text(max_size=40),
            st.floats().map(str),
            st.integers(1_420_070_400_000, int((NOW + 600) * 1000)).map(str),
            st.floats(-200, 400).map(str),
        ),
    ),
    max_size=6,
)


def test_camera_frame_decoders_reject_by_name_and_count_every_rejection(
    tmp_path: Path,
) -> None:
    s = Settings(
        data_dir=tmp_path, geofences=TEST_ZONES, dead_letter_max=10**6, plate_reader="none"
    )
    cams = [c for c in load_camera_files(TEST_ZONES / "cameras", s.tz)]
    pipe = CameraPipeline(s, connect(s.db_path), cams)  # type: ignore[arg-type]
    tally = {"inputs": 0, "rejected": 0, "decoded": 0}

    @settings(max_examples=EXAMPLES, database=None)
    @given(frames(), properties)
    def one(payload: bytes, props: list[tuple[str, str]]) -> None:
        for check in (
            lambda: jpeg_header(payload),
            lambda: capture_time(props, NOW, 300),
            lambda: position(props, payload),
        ):
            try:
                check()
            except Rejected as rej:
                assert rej.reason != "internal_error" and rej.detail
        # the path's decode stage, through the runner that counts and dead-letters
        msg = Inbound("cameras/cam-test-01/frame", payload, NOW)
        frame = Frame(msg=msg, properties=props)
        before = sum(deadletters.counts(pipe.conn).values())
        pipe.run([decode], frame, msg)
        after = sum(deadletters.counts(pipe.conn).values())
        tally["inputs"] += 1
        tally["rejected"] += after - before
        if frame.image is not None:
            tally["decoded"] += 1
            assert after == before
        else:
            assert after == before + 1, "a frame not decoded is one counted rejection"
        pipe.cameras["cam-test-01"].last_ts = None  # judge every frame, not its order

    one()
    counts = deadletters.counts(pipe.conn)
    record(
        "fuzz: camera frames (JPEG header, ts/lat/lon/heading/speed properties)",
        inputs=tally["inputs"],
        rejected=sum(counts.values()),
        decoded=tally["decoded"],
        internal_error=counts.get("internal_error", 0),
        crashes=0,
        reasons=counts,
    )
    assert "internal_error" not in counts
    assert sum(counts.values()) + tally["decoded"] == tally["inputs"]
