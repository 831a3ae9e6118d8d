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
    recent_seq: dict[int, int] = field(default_factory=dict)  # seq -> ts_ms, not persisted


FIX_COLUMNS = "tag_id, ts_ms, lat, lon, acc, batt, seq, received_at, late"


def fix_row(fix: Fix, received_at: float, late: bool) -> tuple:
    return (
        fix.tag_id,
        fix.ts_ms,
        fix.lat,
        fix.lon,
        fix.acc,
        fix.batt,
        fix.seq,
        received_at,
        int(late),
    )


def seq_seen(state: TagState, fix: Fix) -> bool:
    """Same seq re-sent within SEQ_RESEND_WINDOW_S of capture time (a counter that
    restarts after a reboot is not a duplicate). In-memory for the recent window."""
    if fix.seq is None:
        return False
    seen = state.recent_seq.get(fix.seq)
    return seen is not None and abs(seen - fix.ts_ms) <= SEQ_RESEND_WINDOW_S * 1000


def remember_seq(state: TagState, fix: Fix) -> None:
    if fix.seq is None:
        return
    state.recent_seq[fix.seq] = fix.ts_ms
    if len(state.recent_seq) > 1024:
        horizon = fix.ts_ms - SEQ_RESEND_WINDOW_S * 1000
        state.recent_seq = {q: t for q, t in state.recent_seq.items() if t >= horizon}


def insert_in_order(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Fixes newer than their tag's latest: every stored fix of the tag is older, so
    none can collide (a collision would be a bug, and fails loudly)."""
    conn.executemany(f"INSERT INTO fixes({FIX_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)


def insert_late(conn: sqlite3.Connection, fix: Fix, received_at: float) -> bool:
    """A fix not newer than its tag's latest; False when it duplicates a stored one."""
    if fix.seq is not None:
        window = SEQ_RESEND_WINDOW_S * 1000
        row = conn.execute(
            "SELECT 1 FROM fixes WHERE tag_id = ? AND seq = ? AND ts_ms BETWEEN ? AND ? LIMIT 1",
            (fix.tag_id, fix.seq, fix.ts_ms - window, fix.ts_ms + window),
        ).fetchone()
        if row:
            return False
    cur = conn.execute(
        f"INSERT OR IGNORE INTO fixes({FIX_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
        fix_row(fix, received_at, True),
    )
    return cur.rowcount == 1


def load_state(conn: sqlite3.Connection, tag_id: str) -> TagState:
    row = conn.execute("SELECT * FROM tag_state WHERE tag_id = ?", (tag_id,)).fetchone()
    if not row:
        return TagState(tag_id)
    zones = {z: ZoneTrack.from_list(v) for z, v in json.loads(row["zones"]).items()}
    recent = conn.execute(
        "SELECT seq, ts_ms FROM fixes WHERE tag_id = ? AND seq IS NOT NULL AND ts_ms >= ?",
        (tag_id, round(((row["last_ts"] or 0) - SEQ_RESEND_WINDOW_S) * 1000)),
    )
    return TagState(
        tag_id,
        row["last_ts"],
        row["lat"],
        row["lon"],
        row["acc"],
        row["batt"],
        row["last_seen"],
        zones,
        row["low_battery_since"],
        row["offline_since"],
        {r["seq"]: r["ts_ms"] for r in recent},
    )


def save_states(conn: sqlite3.Connection, states: list[TagState]) -> None:
    conn.executemany(
        "INSERT INTO tag_state(tag_id, last_ts, lat, lon, acc, batt, last_seen, zones, low_battery_since, "
        "offline_since) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(tag_id) DO UPDATE SET last_ts=excluded.last_ts, "
        "lat=excluded.lat, lon=excluded.lon, acc=excluded.acc, batt=excluded.batt, last_seen=excluded.last_seen, "
        "zones=excluded.zones, low_battery_since=excluded.low_battery_since, offline_since=excluded.offline_since",
        [
            (
                s.tag_id,
                s.last_ts,
                s.lat,
                s.lon,
                s.acc,
                s.batt,
                s.last_seen,
                json.dumps({z: t.to_list() for z, t in s.zones.items()}),
                s.low_battery_since,
                s.offline_since,
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
