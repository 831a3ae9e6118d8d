"""Command-center statistics: alerts per local day by kind and grid, and how the
dispositions compare with the "721" policy (70 % service/education, 20 % management
= warning, 10 % enforcement = penalty; dismissed alerts are not violations)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..store.alerts import started_since
from ..store.database import Connection
from ..store.history import History

TARGET_721 = {"education": 0.7, "warning": 0.2, "penalty": 0.1}


def statistics(
    conn: Connection, tz: ZoneInfo, days: int = 30, history: History | None = None
) -> dict[str, Any]:
    """`history` (InfluxDB when configured) answers the per-day counts; the dispositions,
    which operators set in the embedded database, come from there."""
    since = time.time() - days * 86400
    rows = started_since(conn, since)
    per_day: Counter[tuple[str, str, str]] = Counter()
    dispositions: Counter[str] = Counter()
    for r in rows:
        day = datetime.fromtimestamp(r["started_at"], tz).date().isoformat()
        per_day[(day, r["kind"], r["grid"] or "-")] += 1
        if r["disposition"]:
            dispositions[r["disposition"]] += 1
    decided = sum(dispositions[k] for k in TARGET_721)
    shares = [
        {
            "disposition": k,
            "count": dispositions[k],
            "share": dispositions[k] / decided if decided else 0.0,
            "target": target,
        }
        for k, target in TARGET_721.items()
    ]
    if history is not None:
        per_day = Counter(
            {
                (c.day, c.kind, c.grid or "-"): c.count
                for c in history.alert_counts(since, time.time())
            }
        )
    return {
        "days": days,
        "per_day": [
            {"day": d, "kind": k, "grid": g, "count": n} for (d, k, g), n in sorted(per_day.items())
        ],
        "dispositions": shares,
        "dismissed": dispositions["dismissed"],
        "total": len(rows),
    }
