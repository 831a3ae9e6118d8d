"""The re-sighting rule of mobile patrols (SPEC 5.1), pure: which pairs of captures of
one plate are a sidewalk_parking violation, and when a stop ends."""

from __future__ import annotations

import json

from smartcity_iot.rules.resighting import Ended, FirstSeen, Opened, Resighting, Sighting, Updated

PLATE = "浙H12345"


def seen(ts: float, unit: str = "patrol-01", x: float = 0.0, conf: float = 0.95, **kw) -> Sighting:
    base = dict(plate=PLATE, conf=conf, ts=ts, unit_id=unit, x=x, y=0.0, lat=28.97, lon=118.87,
                zone_id="sw-1", dwell_s=300.0)  # fmt: skip
    return Sighting(**(base | kw))


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def test_two_captures_a_dwell_apart_at_one_place_are_a_violation() -> None:
    rule = Resighting()
    assert kinds(rule.sighted(seen(0))) == ["FirstSeen"]
    assert rule.sighted(seen(299)) == []  # a later pass, but short of the dwell
    (opened,) = rule.sighted(seen(420, unit="patrol-02", x=6))  # another unit, 6 m on
    assert isinstance(opened, Opened)
    assert opened.stop.started_at == 0 and opened.stop.opened_at == 420
    assert opened.stop.confirm is not None and opened.stop.confirm.unit_id == "patrol-02"
    (updated,) = rule.sighted(seen(900))
    assert isinstance(updated, Updated) and updated.stop.latest.ts == 900


def test_frames_of_one_pass_are_one_sighting_the_best_read_wins() -> None:
    rule = Resighting()
    rule.sighted(seen(0, conf=0.91))
    (better,) = rule.sighted(seen(0.5, conf=0.99))
    assert isinstance(better, FirstSeen) and better.replaced is not None
    assert rule.sighted(seen(1.0, conf=0.92)) == []
    assert rule.stops[PLATE].first.conf == 0.99
    (opened,) = rule.sighted(seen(400, conf=0.93))
    assert isinstance(opened, Opened)
    (update,) = rule.sighted(seen(400.5, conf=0.97))  # the confirming pass reads better
    assert isinstance(update, Updated) and update.better_confirm
    assert rule.sighted(seen(401, conf=0.94)) == []  # same pass, worse: nothing to say


def test_a_pass_that_does_not_see_the_plate_ends_the_stop() -> None:
    rule = Resighting()
    rule.sighted(seen(0))
    assert rule.passed("patrol-01", 1, 1, 0, {PLATE}, zone_id="sw-1") == []
    assert (
        rule.passed("patrol-01", 350, 2, 0, set(), zone_id="sw-1") == []
    )  # looking at it: not seen yet
    (ended,) = rule.passed("patrol-01", 352, 30, 0, set(), zone_id="sw-1")  # the pass went by
    assert isinstance(ended, Ended) and not ended.was_violation and ended.ended_at == 350
    assert PLATE not in rule.stops
    rule.sighted(seen(1000))
    rule.sighted(seen(1400))
    (ended,) = [e for e in rule.passed("patrol-02", 2000, 0, 0, set(), zone_id="sw-1")] or [None]
    assert ended is None  # still looking: the pass has not ended
    (ended,) = rule.passed("patrol-02", 2001, 50, 0, set(), zone_id="sw-1")
    assert isinstance(ended, Ended) and ended.was_violation


def test_a_unit_driving_the_other_way_or_beside_another_zone_ends_nothing() -> None:
    rule = Resighting()
    rule.sighted(seen(0, heading=0.0))
    assert rule.passed("patrol-01", 200, 1, 0, set(), zone_id="sw-1", heading=180.0) == []
    assert rule.passed("patrol-01", 201, 2, 0, set(), zone_id="sw-2", heading=0.0) == []
    assert rule.passed("patrol-01", 203, 40, 0, set(), zone_id="sw-1", heading=0.0) == []
    assert PLATE in rule.stops  # the camera never looked at it
    rule.passed("patrol-01", 300, 1, 0, set(), zone_id="sw-1", heading=10.0)
    (ended,) = rule.passed("patrol-01", 303, 40, 0, set(), zone_id="sw-1", heading=10.0)
    assert isinstance(ended, Ended) and ended.ended_at == 300


def test_a_plate_seen_in_the_pass_keeps_its_stop() -> None:
    rule = Resighting()
    rule.sighted(seen(0))
    rule.passed(
        "patrol-01", 400, 0, 0, set(), zone_id="sw-1"
    )  # the first frame of the pass misses it
    assert kinds(rule.sighted(seen(401))) == ["Opened"]  # the next frame reads it
    assert rule.passed("patrol-01", 403, 40, 0, set(), zone_id="sw-1") == []


def test_loading_spot_during_its_hours_within_the_longest_stop_is_exempt() -> None:
    spot = dict(spot_id="ls-1", spot_allows=True, max_stop_s=900.0)
    rule = Resighting()
    rule.sighted(seen(0, **spot))
    assert rule.sighted(seen(600, **spot)) == []  # loading, lawful
    assert kinds(rule.sighted(seen(1000, **spot))) == ["Opened"]  # past its 15 minutes
    out_of_hours = dict(spot, spot_allows=False)
    rule = Resighting()
    rule.sighted(seen(0, **out_of_hours))
    assert kinds(rule.sighted(seen(600, **out_of_hours))) == ["Opened"]


def test_beyond_the_max_gap_or_the_place_the_capture_is_a_new_first_sighting() -> None:
    rule = Resighting(max_gap_s=3600)
    rule.sighted(seen(0))
    events = rule.sighted(seen(3700))
    assert kinds(events) == ["Ended", "FirstSeen"] and not events[0].was_violation
    assert rule.stops[PLATE].started_at == 3700
    events = rule.sighted(seen(4100, x=25))  # 25 m along: parked again elsewhere
    assert kinds(events) == ["Ended", "FirstSeen"]
    events = rule.sighted(seen(4500, x=25, zone_id="sw-2"))
    assert kinds(events) == ["Ended", "FirstSeen"]


def test_state_survives_a_restart() -> None:
    rule = Resighting()
    rule.sighted(seen(0, conf=0.96))
    rule.sighted(seen(10, unit="patrol-02"))
    restored = Resighting()
    restored.restore(json.loads(json.dumps(rule.to_dict())))
    assert kinds(restored.sighted(seen(400))) == ["Opened"]
    assert restored.stops[PLATE].first.conf == 0.96
