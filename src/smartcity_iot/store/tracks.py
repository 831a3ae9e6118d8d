"""Tag tracks (every accepted fix, bounded by retention) and per-tag state."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from ..model import Fix
from ..rules.dog import ZoneTrack

SEQ_RESEND_WINDOW_S = 600


@dataclass(slots=True)
class TagState:
    tag_id: str
    last_ts: float | None = None
    lat: float | None = None
    lon: float | None = None
    acc: float | None = None
    batt: float | None = None
    last_seen: float | None = None
    zones: dict[str, ZoneTrack] = field(default_factory=dict)
    low_battery_since: float | None = None
    offline_since: float | None = None


def insert_fix(conn: sqlite3.Connection, fix: Fix, received_at: float, late: bool) -> bool:
    """Store a fix; False when it is a duplicate (same tag and ts, or same tag and
    seq re-sent within SEQ_RESEND_WINDOW_S — a reset counter after a reboot is not a duplicate)."""
    if fix.seq is not None:
        row = conn.execute(
            "SELECT 1 FROM fixes WHERE tag_id = ? AND seq = ? AND ts_ms BETWEEN ? AND ? LIMIT 1",
            (fix.tag_id, fix.seq, fix.ts_ms - SEQ_RESEND_WINDOW_S * 1000, fix.ts_ms + SEQ_RESEND_WINDOW_S * 1000),
        ).fetchone()
        if row:
            return False
    cur = conn.execute(
        "INSERT OR IGNORE INTO fixes(tag_id, ts_ms, lat, lon, acc, batt, seq, received_at, late) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (fix.tag_id, fix.ts_ms, fix.lat, fix.lon, fix.acc, fix.batt, fix.seq, received_at, int(late)),
    )
    return cur.rowcount == 1


def load_state(conn: sqlite3.Connection, tag_id: str) -> TagState:
    row = conn.execute("SELECT * FROM tag_state WHERE tag_id = ?", (tag_id,)).fetchone()
    if not row:
        return TagState(tag_id)
    zones = {z: ZoneTrack.from_list(v) for z, v in json.loads(row["zones"]).items()}
    return TagState(
        tag_id, row["last_ts"], row["lat"], row["lon"], row["acc"], row["batt"], row["last_seen"],
        zones, row["low_battery_since"], row["offline_since"],
    )


def save_states(conn: sqlite3.Connection, states: list[TagState]) -> None:
    conn.executemany(
        "INSERT INTO tag_state(tag_id, last_ts, lat, lon, acc, batt, last_seen, zones, low_battery_since, "
        "offline_since) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(tag_id) DO UPDATE SET last_ts=excluded.last_ts, "
        "lat=excluded.lat, lon=excluded.lon, acc=excluded.acc, batt=excluded.batt, last_seen=excluded.last_seen, "
        "zones=excluded.zones, low_battery_since=excluded.low_battery_since, offline_since=excluded.offline_since",
        [
            (
                s.tag_id, s.last_ts, s.lat, s.lon, s.acc, s.batt, s.last_seen,
                json.dumps({z: t.to_list() for z, t in s.zones.items()}), s.low_battery_since, s.offline_since,
            )
            for s in states
        ],
    )


def track(conn: sqlite3.Connection, tag_id: str, t0: float, t1: float) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT ts_ms / 1000.0 AS ts, lat, lon, acc, batt FROM fixes WHERE tag_id = ? AND ts_ms BETWEEN ? AND ? "
        "ORDER BY ts_ms",
        (tag_id, round(t0 * 1000), round(t1 * 1000)),
    ).fetchall()


def prune(conn: sqlite3.Connection, older_than: float) -> int:
    return conn.execute("DELETE FROM fixes WHERE ts_ms < ?", (round(older_than * 1000),)).rowcount
