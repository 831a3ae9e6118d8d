"""Issue 11, finding 6: bad input costs one counted rejection, never more. Each test
runs the service against a real Mosquitto, as a device would reach it."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import cv2
import numpy as np
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcity_iot.cli import main
from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store import deadletters

from ..support import AlertListener, Mosquitto, client, fix_payload, publish_all, wait_until
from .reliability import record

SCHOOL = (28.971, 118.871)  # the test school: dogs are never allowed in
HOME = (28.960, 118.875)
FRAME_TOPIC = "cameras/cam-test-01/frame"


def count(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def handled(service: Service) -> int:
    """Messages the tag path has finished with, whatever became of them."""
    c = service.counters.snapshot()
    return sum(v for k, v in c.items() if k.startswith("rejected.")) + c.get("accepted", 0)


def test_a_fix_from_the_future_does_not_silence_real_violations(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    # given a fix dated a day ahead (inside the old one-day tolerance), handled first
    listener = AlertListener(broker.port)
    pub = client(broker.port)
    now = time.time()
    publish_all(pub, [("tags/TAG-0001/fix", fix_payload(now + 86_000, *HOME, seq=1))])
    assert wait_until(lambda: handled(service) == 1, 10)
    # when the dog then spends 7.5 minutes in the school, a fix every 5 s
    school = [
        ("tags/TAG-0001/fix", fix_payload(now - 450 + 5 * i, *SCHOOL, seq=2 + i)) for i in range(90)
    ]
    publish_all(pub, school)
    # then the violation is raised, and the future fix was refused, not stored
    assert wait_until(
        lambda: any(m["kind"] == "dog_forbidden_zone" for m in listener.snapshot()), 15
    ), f"no alert; counters {service.counters.snapshot()}"
    assert count(db, "SELECT COUNT(*) FROM fixes") == 90
    assert service.counters.get("late") == 0
    assert deadletters.counts(db) == {"out_of_range": 1}
    [detail] = [r["detail"] for r in deadletters.recent(db)]
    assert "after the fix arrived" in detail and "--future-tolerance-s" in detail
    record(
        "a fix dated now + 86,000 s, then 90 fixes in a school",
        sent=91,
        stored=90,
        lost=0,
        doubled=0,
        rejected="1 out_of_range",
        late=0,
        alert="dog_forbidden_zone raised",
    )
    listener.close()


NESTED = (
    b'{"ts": 1764000000, "lat": 28.96, "lon": 118.875, "x": ' + b"[" * 1900 + b"]" * 1900 + b"}"
)
NEST_20 = b'{"ts": 1764000000, "lat": 28.96, "lon": 118.875, "x": ' + b"[" * 20 + b"]" * 20 + b"}"
BIG = "1" + "0" * 399  # a 400-digit integer


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (NESTED, "too_deep"),
        (NEST_20, "too_deep"),
        (b'{"ts": %s, "lat": 28.96, "lon": 118.875}' % BIG.encode(), "bad_field"),
        (b'{"ts": 1764000000, "lat": -%s, "lon": 118.875}' % BIG.encode(), "bad_field"),
        (b'{"ts": 1764000000, "lat": 28.96, "lon": 118.875, "seq": %d}' % 2**64, "bad_field"),
        (b'{"ts": 1764000000, "lat": 28.96, "lon": 118.875, "seq": %d}' % 2**63, "bad_field"),
        (b'{"ts": 1764000000, "lat": 28.96, "lon": 118.875, "batt": 1e999}', "bad_field"),
    ],
    ids=[
        "nested-1900",
        "nested-20",
        "ts-400-digits",
        "lat-400-digits",
        "seq-2^64",
        "seq-2^63",
        "inf",
    ],
)
def test_a_payload_that_used_to_be_an_internal_error_is_one_named_rejection(
    broker: Mosquitto, service: Service, db: sqlite3.Connection, payload: bytes, reason: str
) -> None:
    # given valid fixes on both sides of the bad payload, in the same batch
    assert len(payload) < 4096
    now = time.time()
    pub = client(broker.port)
    publish_all(
        pub,
        [
            ("tags/TAG-0001/fix", fix_payload(now - 30, *HOME, seq=7)),
            ("tags/TAG-0001/fix", payload),
            ("tags/TAG-0001/fix", fix_payload(now - 20, *HOME, seq=8)),
            ("tags/TAG-0002/fix", fix_payload(now - 25, *HOME, seq=2**63 - 1)),  # the largest seq
        ],
    )
    # then it is rejected under its reason, dead-lettered, and no valid fix is lost
    assert wait_until(lambda: handled(service) == 4, 10), service.counters.snapshot()
    assert deadletters.counts(db) == {reason: 1}
    assert count(db, "SELECT COUNT(*) FROM dead_letters") == 1
    assert count(db, "SELECT COUNT(*) FROM fixes") == 3
    assert service.counters.get("rejected.internal_error") == 0
    case = os.environ.get("PYTEST_CURRENT_TEST", "").split("[")[-1].split("]")[0]
    record(
        f"bad payload {case} between three valid fixes",
        sent=4,
        stored=3,
        lost=0,
        doubled=0,
        rejected=f"1 {reason}",
        internal_error=0,
    )


def test_a_400_digit_number_in_a_field_nobody_reads_costs_nothing(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    doc = b'{"ts": %.3f, "lat": 28.96, "lon": 118.875, "note": %s}' % (time.time(), BIG.encode())
    publish_all(client(broker.port), [("tags/TAG-0001/fix", doc)])
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == 1, 10)
    assert deadletters.counts(db) == {}


def owntracks(doc: dict) -> tuple[str, bytes]:
    return "owntracks/TAG-0003/TAG-0003", json.dumps(doc).encode()


def test_owntracks_is_bounded_like_a_tag_fix(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    now = time.time()
    loc = {"_type": "location", "lat": HOME[0], "lon": HOME[1], "tst": int(now) - 60}
    bad = [
        owntracks({**loc, "tst": int(now) + 86_000}),  # from the future
        owntracks({**loc, "inregions": [[[[[[[[[["deep"]]]]]]]]]]}),
        (
            "owntracks/TAG-0003/TAG-0003",
            b'{"_type": "location", "tst": 1764000000, "lat": %s}' % BIG.encode(),
        ),
    ]
    publish_all(client(broker.port), [*bad, owntracks(loc)])
    assert wait_until(lambda: handled(service) == 4, 10), service.counters.snapshot()
    assert deadletters.counts(db) == {"out_of_range": 1, "too_deep": 1, "bad_field": 1}
    assert count(db, "SELECT COUNT(*) FROM fixes") == 1
    record(
        "OwnTracks: future tst, nested 10 deep, 400-digit lat, then a valid location",
        sent=4,
        stored=1,
        lost=0,
        doubled=0,
        rejected="1 out_of_range, 1 too_deep, 1 bad_field",
    )


# -- camera frames ----------------------------------------------------------------


def jpeg_frame() -> bytes:
    img = np.full((720, 1280, 3), 90, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def publish_frame(pub, payload: bytes, ts_ms: int | None = None) -> None:  # type: ignore[no-untyped-def]
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("ts", str(ts_ms or int(time.time() * 1000)))
    pub.publish(FRAME_TOPIC, payload, qos=1, properties=props).wait_for_publish(5)


def test_empty_png_and_bmp_frames_are_rejected_before_opencv_sees_them(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    img = np.full((720, 1280, 3), 90, np.uint8)
    png = cv2.imencode(".png", img)[1].tobytes()
    bmp = cv2.imencode(".bmp", img)[1].tobytes()
    good = jpeg_frame()
    pub = client(broker.port)
    now_ms = int(time.time() * 1000)
    for i, payload in enumerate([b"", png, bmp, good[: len(good) // 2]]):
        publish_frame(pub, payload, now_ms - 10_000 + i)
    publish_frame(pub, good, now_ms - 5_000)
    publish_frame(pub, good, now_ms + 86_000_000)  # a day ahead: would stall the camera
    publish_frame(pub, good, now_ms)
    assert wait_until(lambda: service.counters.get("frames") == 2, 20), service.counters.snapshot()
    assert wait_until(lambda: len(deadletters.counts(db)) == 3, 5)
    assert deadletters.counts(db) == {"not_jpeg": 3, "undecodable_jpeg": 1, "out_of_range": 1}
    details = {
        r["detail"].split(",")[0] for r in deadletters.recent(db) if r["reason"] == "not_jpeg"
    }
    assert any("empty payload" in d for d in details)
    assert any("PNG" in d for d in details) and any("BMP" in d for d in details)
    assert service.counters.get("frames_failed") == 0, "no traceback: every one a rejection"
    record(
        "camera frames: empty, PNG, BMP, truncated JPEG, a day ahead, and two good",
        sent=7,
        stored=2,
        lost=0,
        doubled=0,
        rejected="3 not_jpeg, 1 undecodable_jpeg, 1 out_of_range",
        frames_failed=0,
    )


def test_skipped_frames_are_counted_where_rejects_are(
    broker: Mosquitto, settings: Settings, db: sqlite3.Connection, capsys: pytest.CaptureFixture
) -> None:
    # given a vision worker with room for one waiting frame
    svc = Service(settings.model_copy(update={"frame_queue_max": 1}))
    svc.start()
    try:
        assert svc.wait_connected(10)
        pub = client(broker.port)
        jpeg = jpeg_frame()
        t0 = int(time.time() * 1000) - 200_000
        # when 150 frames arrive at once
        for i in range(150):
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = ("ts", str(t0 + i * 1000))
            pub.publish(FRAME_TOPIC, jpeg, qos=1, properties=props)
        assert wait_until(
            lambda: svc.counters.get("frames") + svc.counters.get("frames_skipped") == 150, 60
        )
        skipped = svc.counters.get("frames_skipped")
        assert skipped > 0
        # then every skipped frame is in the reject counts, the status line and `rejects`
        assert wait_until(lambda: deadletters.counts(db).get("frame_skipped") == skipped, 5)
        assert f"rejected {skipped:,}" in svc.status_line()
    finally:
        svc.stop()
    capsys.readouterr()
    assert main(["rejects", "--data-dir", str(settings.data_dir)]) == 0
    assert f"frame_skipped {skipped}" in capsys.readouterr().out
    record("skipped frames counted", sent=150, skipped=skipped, counted=skipped)


def test_the_same_fix_twice_in_one_batch_is_a_duplicate_not_a_stalled_ingest(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    # OwnTracks has no seq: a re-send inside one batch used to fail the batch's insert,
    # and a failed insert is retried, unacknowledged, for ever
    loc = {"_type": "location", "lat": HOME[0], "lon": HOME[1], "tst": int(time.time()) - 60}
    publish_all(
        client(broker.port),
        [owntracks(loc), owntracks(loc), owntracks({**loc, "tst": loc["tst"] + 5})],
    )
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == 2, 10)
    assert wait_until(lambda: service.counters.get("duplicate") == 1, 5)
    record("the same OwnTracks fix twice in one batch", sent=3, stored=2, lost=0, doubled=0)
