"""Walking-hour windows in the city's local time: when are dogs allowed in a zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class WalkingWindow:
    """A daily local-time window [start, end) in minutes; end < start crosses midnight."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> WalkingWindow:
        match = _WINDOW.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f'walking window {text!r} is not HH:MM-HH:MM (e.g. "19:00-07:00")')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"walking window {text!r} has an impossible time (00:00 to 24:00)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise ValueError(f"walking window {text!r} is empty or ambiguous: start equals end")
        return cls(start, end)

    def contains(self, minute_of_day: float) -> bool:
        if self.start_min < self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min

    def __str__(self) -> str:
        def fmt(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        return f"{fmt(self.start_min)}-{fmt(self.end_min)}"


@dataclass(frozen=True, slots=True)
class WalkingSchedule:
    """Dogs allowed during `windows` on `days` (None = every day); on other days always allowed.

    `days` is tested on the local calendar day of the instant, so a window crossing
    midnight on a scheduled day ends at midnight when the next day is unscheduled.
    """

    windows: tuple[WalkingWindow, ...]
    days: frozenset[int] | None
    tz: ZoneInfo

    @property
    def never_allowed(self) -> bool:
        return not self.windows

    def allows(self, ts: float) -> bool:
        local = datetime.fromtimestamp(ts, self.tz)
        if self.days is not None and local.weekday() not in self.days:
            return True
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        return any(w.contains(minute) for w in self.windows)

    def changes(self, t0: float, t1: float) -> list[float]:
        """Instants in (t0, t1) where `allows` flips, in order."""
        if t1 <= t0:
            return []
        candidates = sorted(c for c in self._boundaries(t0, t1) if t0 < c < t1)
        flips, state = [], self.allows(t0)
        for c in candidates:
            now = self.allows(c)
            if now != state:
                flips.append(c)
                state = now
        return flips

    def _boundaries(self, t0: float, t1: float) -> list[float]:
        first = datetime.fromtimestamp(t0, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(t1, self.tz).date() + timedelta(days=1)
        minutes = {0}
        for w in self.windows:
            minutes.add(w.start_min)
            minutes.add(w.end_min % 1440)
        out: list[float] = []
        day: date = first
        while day <= last:
            for m in minutes:
                local = datetime.combine(day, time(m // 60, m % 60), self.tz)
                out.append(local.timestamp())
            day += timedelta(days=1)
        return out


def parse_days(values: list[str] | None) -> frozenset[int] | None:
    if not values:
        return None
    days = set()
    for v in values:
        key = str(v).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise ValueError(f"day {v!r} is not one of {', '.join(WEEKDAYS)}")
        days.add(WEEKDAYS.index(key))
    return frozenset(days)
