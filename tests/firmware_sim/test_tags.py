"""The simulated tag fleet: wire format, determinism, GPS noise, and exact staged ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely

from firmware_sim.district import FORBIDDEN_ZONE, OUTSIDE_WALKING_HOURS, District
from firmware_sim.tags import ACC_MAX, DEPTH_M, EDGE_S, STAGED_ACC_MAX, TagFleet

GEOFENCES = Path(__file__).resolve().parents[2] / "geofences"
TZ = ZoneInfo("Asia/Shanghai")
MONDAY_6AM = datetime(2026, 11, 23, 6, 0, tzinfo=TZ)
TAG_ID = re.compile(r"^[A-Za-z0-9_-]{4,32}$")


def small(seed: int = 3) -> TagFleet:
    return TagFleet(GEOFENCES, 8, seed, MONDAY_6AM, 3 * 3600, owntracks_share=0.5,
                    violation_share=0.5)  # fmt: skip


@pytest.fixture(scope="module")
def fleet() -> TagFleet:
    return small()


@pytest.fixture(scope="module")
def big() -> TagFleet:
    return TagFleet(GEOFENCES, 50, 1, MONDAY_6AM, 12 * 3600, owntracks_share=0.1)


@pytest.fixture(scope="module")
def district() -> District:
    return District.load(GEOFENCES)


def by_tag(messages):
    out = defaultdict(list)
    for ts, topic, payload in messages:
        out[topic.split("/")[-1] if topic.startswith("owntracks/") else topic.split("/")[1]].append(
            (ts, topic, json.loads(payload))
        )
    return out


# -- determinism ----------------------------------------------------------------------


def test_same_seed_gives_byte_identical_messages_and_truth(fleet):
    again = small()
    assert again.messages() == fleet.messages()
    assert again.truth() == fleet.truth()
    assert again.fleet() == fleet.fleet()


def test_different_seed_gives_a_different_stream(fleet):
    assert small(seed=4).messages() != fleet.messages()


# -- fleet ----------------------------------------------------------------------------


def test_fleet_identities_are_well_formed_and_some_owners_have_two_dogs(big):
    rows = big.fleet()
    assert len(rows) == 50 and len({r["tag_id"] for r in rows}) == 50
    for r in rows:
        assert TAG_ID.match(r["tag_id"]) and re.fullmatch(r"139\d{8}", r["phone"])
        assert r["transport"] in {"tags", "owntracks"} and r["dog"] and r["owner"]
    per_phone = Counter(r["phone"] for r in rows)
    assert sum(n == 2 for n in per_phone.values()) >= 2
    owners = {r["phone"]: r["owner"] for r in rows}
    assert all(r["owner"] == owners[r["phone"]] for r in rows)
    assert Counter(r["transport"] for r in rows)["owntracks"] == 5


# -- wire format ----------------------------------------------------------------------


def test_fix_payloads_follow_spec_3_1_and_owntracks_payloads_spec_3_2(fleet):
    kinds = Counter()
    for ts, topic, body in (m for ms in by_tag(fleet.messages()).values() for m in ms):
        if topic.startswith("tags/"):
            assert re.fullmatch(r"tags/[A-Za-z0-9_-]{4,32}/fix", topic)
            assert set(body) == {"ts", "lat", "lon", "acc", "batt", "seq"}
            assert body["ts"] == ts and isinstance(body["seq"], int)
        else:
            assert re.fullmatch(r"owntracks/([A-Za-z0-9_-]{4,32})/\1", topic)
            kinds[body["_type"]] += 1
            if body["_type"] != "location":
                continue
            assert set(body) == {"_type", "lat", "lon", "tst", "acc", "batt", "tid"}
            assert isinstance(body["tst"], int) and body["tst"] == ts
        assert 28.95 <= body["lat"] <= 28.99 and 118.85 <= body["lon"] <= 118.89
        assert round(body["lat"], 7) == body["lat"] and round(body["lon"], 7) == body["lon"]
        assert 4 <= body["acc"] <= ACC_MAX and 0 <= body["batt"] <= 100
    assert kinds["location"] > 0 and kinds["transition"] > 0


def test_messages_are_sorted_and_each_tag_is_strictly_increasing_with_consecutive_seq(fleet):
    msgs = fleet.messages()
    assert [m[0] for m in msgs] == sorted(m[0] for m in msgs)
    for ms in by_tag(msgs).values():
        ts = [m[0] for m in ms]
        assert all(a < b for a, b in zip(ts, ts[1:]))
        seqs = [m[2]["seq"] for m in ms if "seq" in m[2]]
        assert seqs == list(range(len(seqs)))


def test_fixes_come_every_interval_while_walking_and_every_two_minutes_at_rest(fleet):
    gaps = Counter()
    for tag in fleet.fleet():
        ts = [f["ts"] for f in fleet.true_track(tag["tag_id"])]
        gaps.update(round(b - a) for a, b in zip(ts, ts[1:]))
    assert gaps[10] > 100 and gaps[120] > 20
    assert all(g <= 121 or g >= 5 * 60 for g in gaps)  # longer gaps are offline periods


def test_some_tags_run_low_on_battery_and_none_recharges(big):
    low = 0
    for ms in by_tag(big.messages()).values():
        batt = [m[2]["batt"] for m in ms if "batt" in m[2]]
        assert all(a >= b for a, b in zip(batt, batt[1:]))
        low += batt[0] >= 20 > batt[-1]
    assert low >= 2


def test_some_tags_go_offline_for_5_to_40_minutes(big):
    offline = []
    for tag in big.fleet():
        ts = [f["ts"] for f in big.true_track(tag["tag_id"])]
        offline += [b - a for a, b in zip(ts, ts[1:]) if b - a > 121]
    assert offline and all(5 * 60 <= g <= 40 * 60 + 240 for g in offline)


# -- GPS noise and lawful behaviour ---------------------------------------------------


def test_reported_position_is_within_acc_of_the_true_position(big, district):
    proj = district.projection
    msgs = by_tag(big.messages())
    for tag in big.fleet():
        track = big.true_track(tag["tag_id"])
        bodies = [m[2] for m in msgs[tag["tag_id"]] if m[2].get("_type", "location") == "location"]
        assert len(bodies) == len(track)
        x, y = proj.to_xy([b["lon"] for b in bodies], [b["lat"] for b in bodies])
        err = np.hypot(x - np.array([f["x"] for f in track]), y - np.array([f["y"] for f in track]))
        acc = np.array([b["acc"] for b in bodies])
        assert (acc == [f["acc"] for f in track]).all()
        assert (err <= acc).all()


def test_homes_and_lawful_fixes_keep_clear_of_zones_that_forbid_dogs(big, district):
    fixes = [f for tag in big.fleet() for f in big.true_track(tag["tag_id"])]
    lawful = [f for f in fixes if not f["staged"]]
    assert all(f["acc"] <= STAGED_ACC_MAX for f in fixes if f["staged"])
    assert len(lawful) > 10_000
    ts = np.array([f["ts"] for f in lawful])
    acc = np.array([f["acc"] for f in lawful])
    points = shapely.points([f["x"] for f in lawful], [f["y"] for f in lawful])
    for zone in district.zones:
        near = np.zeros(len(ts), dtype=bool)
        for a, b in zone.schedule.forbidden_intervals(ts.min() - 3600, ts.max() + 3600):
            near |= (ts + EDGE_S >= a) & (ts - EDGE_S < b)
        gap = shapely.distance(zone.metric, points[near])
        assert (gap >= 2 * acc[near] + 5 + 10).all(), zone.id


def test_lawful_walks_do_visit_zones_while_they_are_open(big, district):
    lawful = [f for tag in big.fleet() for f in big.true_track(tag["tag_id"]) if not f["staged"]]
    x, y = np.array([f["x"] for f in lawful]), np.array([f["y"] for f in lawful])
    inside = sum(int(shapely.contains_xy(z.metric, x, y).sum()) for z in district.zones)
    assert inside > 100


# -- staged violations ----------------------------------------------------------------


def test_big_fleet_stages_every_kind_and_the_window_close_case(big):
    cases = Counter((v.kind, v.case) for v in big.staged())
    assert cases[(FORBIDDEN_ZONE, "entry")] >= 1
    assert cases[(OUTSIDE_WALKING_HOURS, "entry")] >= 1
    assert cases[(OUTSIDE_WALKING_HOURS, "window_close")] >= 1
    assert [v.truth() for v in big.staged()] == big.truth()
    assert all(set(t) == {"tag_id", "zone_id", "kind", "start", "end"} for t in big.truth())


def test_staged_violation_stays_deep_inside_for_three_to_ten_minutes(big, district):
    for v in big.staged():
        zone = district.by_id[v.zone_id]
        assert zone.dwell_s + 90 <= v.end - v.start <= 600
        assert zone.forbids(v.start) and zone.forbids(v.end - 1e-3)
        if v.case == "window_close":
            assert not zone.forbids(v.start - 1e-3)
        fixes = [f for f in big.true_track(v.tag_id) if v.start <= f["ts"] <= v.end]
        assert len(fixes) >= (v.end - v.start) / big.fix_interval - 1
        for f in fixes:
            assert zone.depth(f["x"], f["y"]) >= 2 * f["acc"] + 10 - 1e-6
            assert f["acc"] <= STAGED_ACC_MAX and f["staged"]


def test_truth_start_is_the_first_instant_at_depth(big, district):
    for v in big.staged():
        zone = district.by_id[v.zone_id]
        track = big.true_track(v.tag_id)
        before = [f for f in track if v.exempt[0] <= f["ts"] < v.start]
        if v.case == "entry":
            assert all(zone.depth(f["x"], f["y"]) < DEPTH_M + 1e-6 for f in before)


def test_no_reentry_into_the_same_zone_within_ten_minutes(big):
    per = defaultdict(list)
    for v in big.staged():
        per[(v.tag_id, v.zone_id)].append(v)
    for vs in per.values():
        for a, b in zip(vs, vs[1:]):
            assert b.exempt[0] - a.exempt[1] >= 600


def reference_incidents(fleet: TagFleet, district: District) -> list[tuple[str, str, float]]:
    """An independent reading of SPEC 4 over the reported fixes: (tag, zone, opened_at)."""
    proj = district.projection
    opened = []
    for tag_id, msgs in by_tag(fleet.messages()).items():
        fixes = [m[2] for m in msgs if m[2].get("_type", "location") == "location"]
        x, y = proj.to_xy([b["lon"] for b in fixes], [b["lat"] for b in fixes])
        points = shapely.points(x, y)
        radius = [b.get("acc", 15) + 5 for b in fixes]
        times = [b.get("ts", b.get("tst")) for b in fixes]
        for zone in district.zones:
            gap = shapely.distance(zone.metric.boundary, points)
            depth = np.where(shapely.contains(zone.metric, points), gap, -gap)
            inside, cond_since, open_, out_since, prev_ts = False, None, False, None, None
            for ts, d, r in zip(times, depth.tolist(), radius):
                was_in = inside
                inside = True if d >= r else False if d <= -r else inside
                violating = inside and zone.forbids(ts)
                if violating and cond_since is None:
                    close = zone.schedule.next_close(prev_ts, ts) if was_in else None
                    cond_since = close if close is not None else ts
                if not violating:
                    cond_since = None
                if violating and not open_ and ts - cond_since >= zone.dwell_s:
                    open_, out_since = True, None
                    opened.append((tag_id, zone.id, cond_since))
                if open_:
                    out_since = None if violating else (out_since or ts)
                    if out_since is not None and ts - out_since >= zone.grace_s:
                        open_ = False
                prev_ts = ts
    return sorted(opened, key=lambda o: (o[2], o[0]))


def test_truth_is_exactly_what_a_correct_service_alerts(big, district):
    incidents = reference_incidents(big, district)
    unmatched = list(big.truth())
    for tag_id, zone_id, since in incidents:
        # The circle may be fully inside a little before the true position is at full depth.
        hits = [
            t
            for t in unmatched
            if (t["tag_id"], t["zone_id"]) == (tag_id, zone_id)
            and t["start"] - 60 <= since <= t["start"] + 20
        ]
        assert len(hits) == 1, (tag_id, zone_id, since)
        unmatched.remove(hits[0])
    assert unmatched == []


def test_write_truth_and_fleet_files(fleet, tmp_path):
    fleet.write_truth(tmp_path / "truth.jsonl")
    fleet.write_fleet(tmp_path / "fleet.json")
    rows = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert rows == fleet.truth()
    assert json.loads((tmp_path / "fleet.json").read_text()) == fleet.fleet()
