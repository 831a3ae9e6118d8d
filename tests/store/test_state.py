"""What the paths keep on each backend: fixes and per-tag state, camera and patrol state,
dead letters and reject counts, the InfluxDB spool; and the door's own promises
(all of a transaction or none, no transaction inside another, data_version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcity_iot.model import Fix
from smartcity_iot.store import camera_state, deadletters, influx, patrols, tracks
from smartcity_iot.store.database import Connection, connect, data_version, transaction

T0 = 1795399200.0


def fix(ts: float, seq: int | None = None) -> Fix:
    return Fix("TAG-0001", ts, 28.971, 118.871, acc=5.0, batt=80.0, seq=seq)


def test_fixes_are_kept_in_order_and_a_late_duplicate_is_refused(db: Connection) -> None:
    tracks.insert_in_order(db, [tracks.fix_row(fix(T0 + i, seq=i), T0 + i, False) for i in (1, 2)])
    assert tracks.insert_late(db, fix(T0 + 0.5, seq=0), T0 + 3) is True
    assert tracks.insert_late(db, fix(T0 + 0.5), T0 + 4) is False  # same instant
    assert tracks.insert_late(db, fix(T0 + 0.7, seq=1), T0 + 4) is False  # same seq, resent
    points = tracks.track(db, "TAG-0001", T0, T0 + 10)
    assert [p["ts"] for p in points] == [T0 + 0.5, T0 + 1, T0 + 2]
    assert all(type(p["ts"]) is float for p in points)
    assert tracks.prune(db, T0 + 1.5) == 2


def test_a_tags_state_round_trips_as_plain_values(db: Connection) -> None:
    tracks.insert_in_order(db, [tracks.fix_row(fix(T0, seq=7), T0, False)])
    state = {
        "tag_id": "TAG-0001",
        "last_ts": T0,
        "lat": 28.971,
        "lon": 118.871,
        "acc": 5.0,
        "batt": 80.0,
        "last_seen": T0 + 1,
        "zones": {"school": {"inside_since": T0}},
        "low_battery_since": None,
        "offline_since": None,
    }
    tracks.save_states(db, [state])
    tracks.save_states(db, [state | {"batt": 79.5}])
    loaded = tracks.load_state(db, "TAG-0001")
    assert loaded == {k: v for k, v in state.items() if k != "tag_id"} | {
        "batt": 79.5,
        "recent_seq": {7: round(T0 * 1000)},
    }
    assert tracks.load_state(db, "TAG-0002") is None
    assert tracks.silent_since(db, T0 + 1) == ["TAG-0001"]
    assert tracks.silent_since(db, T0) == []


def test_camera_and_patrol_state_are_saved_documents(db: Connection) -> None:
    camera_state.save(db, "cam-1", {"stops": [1, 2]})
    camera_state.save(db, "cam-1", {"stops": [3]})
    assert camera_state.load(db, "cam-1") == {"stops": [3]}
    assert patrols.patrol_routes(db) == {}
    units = {"unit-1": {"last_ts": T0, "route": [[T0, 28.97, 118.87, 90.0]]}}
    camera_state.save(db, patrols.STATE_KEY, {"rule": {"plates": {}}, "units": units})
    route = patrols.patrol_routes(db)["unit-1"]
    assert route.last_ts == T0 and route.last == patrols.RoutePoint(T0, 28.97, 118.87, 90.0)


def test_dead_letters_are_bounded_and_rejects_counted(db: Connection) -> None:
    for i in range(5):
        deadletters.add(db, T0 + i, "tags/x/fix", "bad_json", f"#{i}", b"\x00{" * 3)
    deadletters.trim(db, 2)
    recent = deadletters.recent(db)
    assert [r["detail"] for r in recent] == ["#4", "#3"] and recent[0]["size"] == 6
    deadletters.bump_counts(db, {"bad_json": 2, "too_large": 1})
    deadletters.bump_counts(db, {"bad_json": 3})
    assert deadletters.counts(db) == {"bad_json": 5, "too_large": 1}


def test_the_influx_spool_keeps_points_in_order(db: Connection) -> None:
    with transaction(db):
        influx.spool(db, ["fix a=1 1", "fix a=2 2", "fix a=3 3"])
    assert influx.spooled(db) == 3
    assert [line for _, line in influx.oldest(db, 2)] == ["fix a=1 1", "fix a=2 2"]


def test_a_failed_transaction_leaves_nothing(db: Connection) -> None:
    with pytest.raises(ZeroDivisionError), transaction(db):
        deadletters.bump_counts(db, {"bad_json": 1})
        _ = 1 / 0
    assert deadletters.counts(db) == {}
    assert not db.in_transaction


def test_a_transaction_inside_another_is_refused(db: Connection) -> None:
    with pytest.raises(Exception, match="transaction"), transaction(db), transaction(db):
        pass
    assert not db.in_transaction


def test_data_version_moves_when_another_connection_commits(
    db: Connection, location: Path | str
) -> None:
    other = connect(location)
    try:
        before = data_version(db)
        assert data_version(db) == before  # nothing new: nothing to read
        deadletters.bump_counts(other, {"bad_json": 1})
        assert data_version(db) != before
    finally:
        other.close()
