"""The dog incident state machine: dwell, grace, hysteresis holds, window edges."""

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from smartcity_iot.geo.schedule import WalkingSchedule, WalkingWindow
from smartcity_iot.rules.dog import IncidentClosed, IncidentOpened, ZoneTrack, step

SH = ZoneInfo("Asia/Shanghai")
NEVER = WalkingSchedule((), None, SH)
EVENING = WalkingSchedule((WalkingWindow.parse("18:00-20:00"),), None, SH)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
DWELL, GRACE = 60.0, 60.0


def run(track: ZoneTrack, schedule: WalkingSchedule, seq: list[tuple[float, str]]) -> list:
    events = []
    for ts, obs in seq:
        events += step(track, ts, obs, schedule, DWELL, GRACE)  # type: ignore[arg-type]
    return events


def test_incident_opens_after_the_dwell_with_entry_as_start() -> None:
    track = ZoneTrack()
    events = run(track, NEVER, [(T0, "in"), (T0 + 30, "in")])
    assert events == []
    events = run(track, NEVER, [(T0 + 60, "in")])
    assert events == [IncidentOpened(started_at=T0, opened_at=T0 + 60)]


def test_short_visit_opens_nothing() -> None:
    track = ZoneTrack()
    assert (
        run(track, NEVER, [(T0, "in"), (T0 + 50, "in"), (T0 + 70, "out"), (T0 + 200, "out")]) == []
    )
    assert track.idle


def test_exit_at_the_next_fix_credits_dwell_only_up_to_the_last_fix_inside() -> None:
    track = ZoneTrack()
    # in at 0 and 40, out at 100: only 40 s were observed inside.
    assert run(track, NEVER, [(T0, "in"), (T0 + 40, "in"), (T0 + 100, "out")]) == []


def test_incident_closes_after_grace_with_exit_as_end() -> None:
    track = ZoneTrack()
    run(track, NEVER, [(T0, "in"), (T0 + 60, "in")])
    assert run(track, NEVER, [(T0 + 90, "out"), (T0 + 120, "out")]) == []
    assert run(track, NEVER, [(T0 + 150, "out")]) == [
        IncidentClosed(started_at=T0, ended_at=T0 + 90)
    ]
    assert track.idle


def test_return_within_grace_continues_the_same_incident() -> None:
    track = ZoneTrack()
    events = run(
        track,
        NEVER,
        [(T0, "in"), (T0 + 60, "in"), (T0 + 90, "out"), (T0 + 120, "in"), (T0 + 300, "in")],
    )
    assert events == [IncidentOpened(T0, T0 + 60)]


def test_straddling_fixes_hold_the_previous_state() -> None:
    track = ZoneTrack()
    assert run(track, NEVER, [(T0 + i * 10, "hold") for i in range(100)]) == []
    track = ZoneTrack()
    events = run(track, NEVER, [(T0, "in"), *[(T0 + i * 10, "hold") for i in range(1, 10)]])
    assert events == [IncidentOpened(T0, T0 + 60)]


def test_dog_inside_when_window_closes_is_in_violation_from_the_close() -> None:
    close = datetime(2026, 11, 23, 20, 0, tzinfo=SH).timestamp()
    track = ZoneTrack()
    seq = [(close - 600 + i * 30, "in") for i in range(30)]  # inside from 19:50 to 20:14:30
    events = run(track, EVENING, seq)
    assert events == [IncidentOpened(started_at=close, opened_at=close + 60)]


def test_window_opening_ends_the_violation() -> None:
    opens = datetime(2026, 11, 23, 18, 0, tzinfo=SH).timestamp()
    track = ZoneTrack()
    events = run(track, EVENING, [(opens - 300 + i * 30, "in") for i in range(20)])
    assert events == [IncidentOpened(opens - 300, opens - 240), IncidentClosed(opens - 300, opens)]


def test_dog_inside_during_allowed_hours_opens_nothing() -> None:
    start = datetime(2026, 11, 23, 18, 30, tzinfo=SH).timestamp()
    assert run(ZoneTrack(), EVENING, [(start + i * 30, "in") for i in range(60)]) == []


def test_state_round_trips_for_storage() -> None:
    track = ZoneTrack()
    run(track, NEVER, [(T0, "in"), (T0 + 60, "in")])
    assert ZoneTrack.from_list(track.to_list()) == track


@given(st.lists(st.tuples(st.floats(1, 120), st.sampled_from(["hold", "out"])), max_size=60))
def test_no_incident_without_a_fix_fully_inside(seq: list[tuple[float, str]]) -> None:
    track, ts, events = ZoneTrack(), T0, []
    for gap, obs in seq:
        ts += gap
        events += step(track, ts, obs, NEVER, DWELL, GRACE)  # type: ignore[arg-type]
    assert events == []


@given(st.lists(st.tuples(st.floats(1, 120), st.sampled_from(["in", "hold", "out"])), max_size=80))
def test_incidents_alternate_and_close_after_they_open(seq: list[tuple[float, str]]) -> None:
    track, ts, events = ZoneTrack(), T0, []
    for gap, obs in seq:
        ts += gap
        events += step(track, ts, obs, NEVER, DWELL, GRACE)  # type: ignore[arg-type]
    kinds = [type(e) for e in events]
    assert kinds == [IncidentOpened, IncidentClosed] * (len(kinds) // 2) + [IncidentOpened] * (
        len(kinds) % 2
    )
    for e in events:
        if isinstance(e, IncidentOpened):
            assert e.opened_at - e.started_at >= DWELL
