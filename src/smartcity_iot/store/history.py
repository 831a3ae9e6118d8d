"""History reads for operators, the web console and the CLI, behind one small
interface: a dog's track over a time range, and alert counts per day, kind and
grid. `open_history(settings)` picks InfluxDB (InfluxQL on /query, which 1.x,
2.x with its DBRP mapping and 3.x all serve) when --influx-url is set, and the
embedded SQLite database otherwise; both give the same answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ..config import Settings
from . import tracks
from .database import Connection
from .lineproto import ALERT_MEASUREMENT, FIX_MEASUREMENT


@dataclass(frozen=True, slots=True)
class TrackPoint:
    ts: float  # capture instant, epoch seconds
    lat: float
    lon: float
    acc: float | None
    batt: float | None


@dataclass(frozen=True, slots=True)
class AlertCount:
    day: str  # local calendar day in the city time zone, YYYY-MM-DD
    kind: str
    grid: str | None
    count: int


class History(Protocol):
    def track(self, device_id: str, start: float, end: float) -> list[TrackPoint]:
        """Fixes of one tag with start <= ts <= end, oldest first."""
        ...

    def alert_counts(self, start: float, end: float) -> list[AlertCount]:
        """Alerts that started in [start, end), per local day, kind and grid."""
        ...


class HistoryError(RuntimeError):
    """The history store could not answer (unreachable, refused the query)."""


def open_history(settings: Settings, conn: Connection | None = None) -> History:
    if settings.influx_url:
        return InfluxHistory(
            settings.influx_url,
            settings.influx_bucket or "smartcity",
            settings.influx_token,
            settings.tz,
            settings.influx_timeout_s,
        )
    if conn is None:
        from .database import connect

        conn = connect(settings.database)
    return SqliteHistory(conn, settings.tz)


def _sorted_counts(counts: Counter[tuple[str, str, str | None]]) -> list[AlertCount]:
    return [
        AlertCount(d, k, g, n)
        for (d, k, g), n in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
        )
    ]


class SqliteHistory:
    """The embedded default: the `fixes` track (bounded by --track-retention-days) and `alerts`."""

    def __init__(self, conn: Connection, tz: ZoneInfo) -> None:
        self.conn = conn
        self.tz = tz

    def track(self, device_id: str, start: float, end: float) -> list[TrackPoint]:
        return [
            TrackPoint(r["ts"], r["lat"], r["lon"], r["acc"], r["batt"])
            for r in tracks.track(self.conn, device_id, start, end)
        ]

    def alert_counts(self, start: float, end: float) -> list[AlertCount]:
        counts: Counter[tuple[str, str, str | None]] = Counter()
        rows = self.conn.execute(
            "SELECT started_at, kind, grid FROM alerts WHERE started_at >= ? AND started_at < ?",
            (start, end),
        )
        for r in rows:
            day = datetime.fromtimestamp(r["started_at"], self.tz).date().isoformat()
            counts[(day, r["kind"], r["grid"])] += 1
        return _sorted_counts(counts)


def influxql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxHistory:
    """InfluxQL over HTTP /query; `db` is the 1.x database, or the 2.x/3.x bucket."""

    def __init__(
        self, url: str, db: str, token: str | None, tz: ZoneInfo, timeout_s: float = 10
    ) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.token = token
        self.tz = tz
        self.timeout_s = timeout_s

    def query(self, q: str) -> list[dict[str, Any]]:
        """Runs one InfluxQL statement; returns its series (epoch-ms times)."""
        data = urllib.parse.urlencode({"db": self.db, "q": q, "epoch": "ms"}).encode()
        req = urllib.request.Request(self.url + "/query", data=data, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self.token:
            req.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                doc = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise HistoryError(
                f"InfluxDB at {self.url} refused the query ({exc.code}): "
                f"{exc.read().decode(errors='replace')[:300]}"
            ) from exc
        except OSError as exc:
            raise HistoryError(f"InfluxDB at {self.url} is unreachable: {exc}") from exc
        result = (doc.get("results") or [{}])[0]
        if "error" in result:
            raise HistoryError(f"InfluxDB query failed: {result['error']}")
        return list(result.get("series") or [])

    def track(self, device_id: str, start: float, end: float) -> list[TrackPoint]:
        series = self.query(
            f'SELECT "lat", "lon", "acc", "batt" FROM "{FIX_MEASUREMENT}" '
            f'WHERE "device_id" = {influxql_string(device_id)} '
            f"AND time >= {round(start * 1000)}ms AND time <= {round(end * 1000)}ms "
            "ORDER BY time ASC"
        )
        out = []
        for s in series:
            for t, lat, lon, acc, batt in s.get("values", []):
                out.append(TrackPoint(t / 1000, lat, lon, acc, batt))
        return out

    def alert_counts(self, start: float, end: float) -> list[AlertCount]:
        # One point per alert at its start instant (store/lineproto.py), so count() counts alerts.
        series = self.query(
            f'SELECT count("revision") FROM "{ALERT_MEASUREMENT}" '
            f"WHERE time >= {round(start * 1000)}ms AND time < {round(end * 1000)}ms "
            f'GROUP BY time(1d), "kind", "grid" fill(none) tz({influxql_string(self.tz.key)})'
        )
        counts: Counter[tuple[str, str, str | None]] = Counter()
        for s in series:
            tags = s.get("tags") or {}
            for t, n in s.get("values", []):
                day = datetime.fromtimestamp(t / 1000, self.tz).date().isoformat()
                counts[(day, tags.get("kind", ""), tags.get("grid") or None)] += int(n)
        return _sorted_counts(counts)
