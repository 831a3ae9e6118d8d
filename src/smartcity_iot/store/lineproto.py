"""The InfluxDB schema, as line protocol built by hand (influxdb_client's `Point`
formats ~23k points/s, a tenth of this; see docs/influxdb.md for the schema).

Timestamps are the instant of the fix or the alert's start, in milliseconds, so a
replayed fix or a later revision of an alert lands on the same point (InfluxDB
identifies a point by measurement + tag set + time) and nothing is stored twice."""

from __future__ import annotations

import math
import re

from ..model import Alert, Fix

FIX_MEASUREMENT = "tag_fix"
ALERT_MEASUREMENT = "alert"

_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": " ", "\r": " ", "\t": " "})
_STRING_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"'})
# Line protocol keeps a backslash in a tag value verbatim, except at the end or
# before an escaped character, where it cannot be represented at all (1.x and 2.x
# answer 400): there it becomes "/".
_UNREPRESENTABLE_BACKSLASH = re.compile(r"\\(?=[,= ]|$)")


def tag_value(value: str) -> str:
    return _UNREPRESENTABLE_BACKSLASH.sub("/", value).translate(_TAG_ESCAPE)


def string_field(value: str) -> str:
    return '"' + value.translate(_STRING_ESCAPE) + '"'


def _float(value: float | None) -> str | None:
    if value is None or not math.isfinite(value):
        return None
    return repr(float(value))


def _tags(pairs: list[tuple[str, str | None]]) -> str:
    # Sorted by key, as InfluxDB stores them; an empty value cannot be written, so no tag.
    return "".join(f",{k}={tag_value(v)}" for k, v in sorted(pairs) if v)


def _fields(pairs: list[tuple[str, str | None]]) -> str:
    return ",".join(f"{k}={v}" for k, v in pairs if v is not None)


def fix_line(fix: Fix, late: bool = False) -> str:
    """One accepted fix: measurement tag_fix, one series per tag."""
    fields = _fields(
        [
            ("lat", _float(fix.lat)),
            ("lon", _float(fix.lon)),
            ("acc", _float(fix.acc)),
            ("batt", _float(fix.batt)),
            ("seq", None if fix.seq is None else f"{int(fix.seq)}i"),
            ("late", "true" if late else "false"),
            ("source", string_field(fix.source)),
        ]
    )
    return f"{FIX_MEASUREMENT},device_id={tag_value(fix.tag_id)} {fields} {fix.ts_ms}"


def alert_line(alert: Alert) -> str:
    """An alert's current state at its start instant: every revision rewrites the
    same point, so the measurement holds one point per alert (counts are counts)."""
    tags = _tags(
        [
            ("kind", alert.kind),
            ("grid", alert.grid),
            ("zone_id", alert.zone_id),
            ("device_id", alert.device_id),
        ]
    )
    ended = alert.ended_at
    fields = _fields(
        [
            ("id", string_field(alert.id)),
            ("status", string_field(alert.status)),
            ("revision", f"{int(alert.revision)}i"),
            ("escalation", None if alert.escalation is None else string_field(alert.escalation)),
            (
                "offence_number",
                None if alert.offence_number is None else f"{int(alert.offence_number)}i",
            ),
            ("zone_name", None if alert.zone_name is None else string_field(alert.zone_name)),
            ("lat", _float(alert.lat)),
            ("lon", _float(alert.lon)),
            (
                "opened_at_ms",
                None if alert.opened_at is None else f"{round(alert.opened_at * 1000)}i",
            ),
            ("ended_at_ms", None if ended is None else f"{round(ended * 1000)}i"),
            ("duration_s", None if ended is None else _float(ended - alert.started_at)),
            ("workflow", string_field(alert.workflow)),
            ("disposition", None if alert.disposition is None else string_field(alert.disposition)),
            ("party", None if alert.party is None else string_field(alert.party)),
            ("plate", None if alert.plate is None else string_field(alert.plate)),
            ("plate_conf", _float(alert.plate_conf)),
            (
                "plate_status",
                None if alert.plate_status is None else string_field(alert.plate_status),
            ),
        ]
    )
    return f"{ALERT_MEASUREMENT}{tags} {fields} {round(alert.started_at * 1000)}"
