"""The one place the web reads a dog's track. Today it is the SQLite `fixes` table;
when the InfluxDB `History` read interface lands, swap the body of `track_around`."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from ..model import Alert
from ..store import tracks

MARGIN_S = 600  # ten minutes either side of the incident
MAX_POINTS = 5000


def track_around(conn: sqlite3.Connection, alert: Alert) -> list[dict[str, Any]]:
    """The dog's fixes around an incident: the alert's track evidence window when it has
    one, otherwise the incident +- MARGIN_S."""
    t0 = alert.started_at - MARGIN_S
    t1 = (alert.ended_at or time.time()) + MARGIN_S
    for item in alert.evidence:
        if item.get("type") == "track":
            t0 = item.get("from") or t0
            t1 = item.get("to") or t1
    rows = tracks.track(conn, alert.device_id, t0, t1)
    return [dict(r) for r in rows[-MAX_POINTS:]]
