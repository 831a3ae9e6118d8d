"""Walking-hour windows: local time, crossing midnight, days."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartcity_iot.geo.schedule import WalkingSchedule, WalkingWindow, parse_days

SH = ZoneInfo("Asia/Shanghai")


def at(text: str, tz: ZoneInfo = SH) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def night() -> WalkingSchedule:
    return WalkingSchedule((WalkingWindow.parse("23:00-07:00"),), None, SH)


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("2026-11-23 22:59:59", False),
        ("2026-11-23 23:00:00", True),
        ("2026-11-24 06:59:59", True),
        ("2026-11-24 07:00:00", False),
        ("2026-11-24 00:00:00", True),
    ],
)
def test_window_across_midnight_boundaries(local: str, allowed: bool) -> None:
    assert night().allows(at(local)) is allowed


def test_windows_use_the_city_time_zone_not_utc() -> None:
    # 23:30 in Shanghai is 15:30 UTC: a UTC evaluation would say "not allowed".
    assert night().allows(at("2026-11-23 15:30:00", ZoneInfo("UTC")))


def test_days_apply_on_the_local_calendar_day() -> None:
    weekdays = WalkingSchedule(
        (WalkingWindow.parse("07:00-09:00"),), parse_days(["mon", "tue", "wed", "thu", "fri"]), SH
    )
    assert not weekdays.allows(at("2026-11-23 12:00:00"))  # Monday noon: outside the window
    assert weekdays.allows(at("2026-11-28 12:00:00"))  # Saturday: unscheduled, dogs allowed


def test_no_windows_means_never_allowed() -> None:
    school = WalkingSchedule((), None, SH)
    assert school.never_allowed
    assert not school.allows(at("2026-11-23 03:00:00"))


def test_end_of_day_window() -> None:
    evening = WalkingSchedule((WalkingWindow.parse("20:00-24:00"),), None, SH)
    assert evening.allows(at("2026-11-23 23:59:59"))
    assert not evening.allows(at("2026-11-24 00:00:00"))


@pytest.mark.parametrize(
    "bad", ["7-9", "07:00", "25:00-26:00", "07:00-07:00", "07:60-08:00", "", "24:00-01:00"]
)
def test_bad_windows_are_rejected_with_the_value(bad: str) -> None:
    with pytest.raises(ValueError, match="window"):
        WalkingWindow.parse(bad)


def test_bad_day_names_the_day() -> None:
    with pytest.raises(ValueError, match="'funday'"):
        parse_days(["funday"])


def test_changes_lists_each_edge_once() -> None:
    s = WalkingSchedule(
        (WalkingWindow.parse("06:00-09:00"), WalkingWindow.parse("19:00-23:00")), None, SH
    )
    edges = s.changes(at("2026-11-23 05:00:00"), at("2026-11-24 05:00:00"))
    assert edges == [
        at("2026-11-23 06:00:00"),
        at("2026-11-23 09:00:00"),
        at("2026-11-23 19:00:00"),
        at("2026-11-23 23:00:00"),
    ]


minutes = st.integers(0, 1439)
zones = st.sampled_from(
    ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
)


@given(start=minutes, end=minutes, offset=st.integers(0, 14 * 86400), tz=zones)
def test_allows_matches_the_definition_in_any_time_zone(
    start: int, end: int, offset: int, tz: str
) -> None:
    if start == end:
        return
    zone = ZoneInfo(tz)
    window = WalkingWindow(start, end)
    schedule = WalkingSchedule((window,), None, zone)
    ts = at("2026-03-01 00:00:00", zone) + offset
    local = datetime.fromtimestamp(ts, zone)
    m = local.hour * 60 + local.minute + local.second / 60
    expected = (start <= m < end) if start < end else (m >= start or m < end)
    assert schedule.allows(ts) is expected


@given(
    start=minutes,
    end=minutes,
    t0=st.integers(0, 7 * 86400),
    span=st.integers(1, 3 * 86400),
    tz=zones,
)
def test_changes_are_exactly_the_flips(start: int, end: int, t0: int, span: int, tz: str) -> None:
    if start == end:
        return
    zone = ZoneInfo(tz)
    schedule = WalkingSchedule(
        (WalkingWindow(start, end),), parse_days(["mon", "wed", "sat"]), zone
    )
    base = at("2026-03-20 00:00:00", zone) + t0
    edges = schedule.changes(base, base + span)
    points = [base, *edges, base + span]
    for a, b in zip(points, points[1:], strict=False):
        # constant between consecutive edges (sampled at the middle), flipping at each edge
        assert schedule.allows(a + (b - a) / 2) == schedule.allows(a) or a == base
    for e in edges:
        assert schedule.allows(e) != schedule.allows(e - 1e-3)
    assert all(base < e < base + span for e in edges)
    assert edges == sorted(edges)
