"""The one place the web reads a dog's track: through `store.history`, so it comes
from InfluxDB when --influx-url is set and from the embedded database otherwise."""

from __future__ import annotations

import time
from typing import Any

from ..config import Settings
from ..model import Alert
from ..store.database import Connection
from ..store.history import HistoryError, open_history

MARGIN_S = 600  # ten minutes either side of the incident
MAX_POINTS = 5000


def track_around(conn: Connection, alert: Alert, settings: Settings) -> list[dict[str, Any]]:
    """The dog's fixes around an incident: the alert's track evidence window when it has
    one, otherwise the incident +- MARGIN_S. Empty when the history store cannot answer."""
    t0 = alert.started_at - MARGIN_S
    t1 = (alert.ended_at or time.time()) + MARGIN_S
    for item in alert.evidence:
        if item.get("type") == "track":
            t0 = item.get("from") or t0
            t1 = item.get("to") or t1
    try:
        points = open_history(settings, conn).track(alert.device_id, t0, t1)
    except HistoryError:
        return []
    return [
        {"ts": p.ts, "lat": p.lat, "lon": p.lon, "acc": p.acc, "batt": p.batt}
        for p in points[-MAX_POINTS:]
    ]
