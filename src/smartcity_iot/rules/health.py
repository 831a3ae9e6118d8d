"""Device-health notices to owners: low battery (with hysteresis) and offline tags."""

from __future__ import annotations

from typing import Literal

Change = Literal["open", "close"] | None


def battery_change(is_low: bool, batt: float | None, low_pct: float, recover_pct: float) -> Change:
    """Open below `low_pct`; close only at or above `recover_pct`, so a battery
    hovering at the threshold yields one notice, not a flood."""
    if batt is None:
        return None
    if not is_low and batt < low_pct:
        return "open"
    if is_low and batt >= recover_pct:
        return "close"
    return None


def is_offline(last_seen: float, now: float, offline_after_s: float) -> bool:
    """Offline is about communication, so it uses arrival (wall-clock) time, not fix time."""
    return now - last_seen >= offline_after_s


def is_low_battery(batt: float | None, low_pct: float) -> bool:
    """Below the level that opens a low-battery notice; a tag that reports no battery
    level is not low."""
    return batt is not None and batt < low_pct
