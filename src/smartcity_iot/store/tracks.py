"""Tag tracks (every accepted fix, bounded by retention) and per-tag state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..model import Fix
from .database import Connection, Row, chunks, insert_many

SEQ_RESEND_WINDOW_S = 600


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


def insert_in_order(conn: Connection, rows: list[tuple]) -> None:
    """Fixes newer than their tag's latest: every stored fix of the tag is older, so
    none can collide (a collision would be a bug, and fails loudly)."""
    insert_many(conn, f"INSERT INTO fixes({FIX_COLUMNS})", rows)


def insert_late(conn: Connection, fix: Fix, received_at: float) -> bool:
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
        f"INSERT INTO fixes({FIX_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        fix_row(fix, received_at, True),
    )
    return cur.rowcount == 1


STATE_COLUMNS = (
    "tag_id, last_ts, lat, lon, acc, batt, last_seen, zones, low_battery_since, offline_since"
)


def load_state(conn: Connection, tag_id: str) -> dict[str, Any] | None:
    """A tag's saved state as plain values (`zones` parsed from JSON), with the seqs of
    its recent fixes (`recent_seq`: seq -> ts_ms); None for a tag never seen."""
    return load_states(conn, [tag_id]).get(tag_id)


def load_states(conn: Connection, tag_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`load_state` for many tags in two statements per 500 (a worker's batch), not two
    per tag; a tag never seen is absent."""
    out: dict[str, dict[str, Any]] = {}
    for ids in chunks(sorted(set(tag_ids))):
        marks = ",".join("?" * len(ids))
        for row in conn.execute(
            f"SELECT {STATE_COLUMNS} FROM tag_state WHERE tag_id IN ({marks})", ids
        ):
            state = dict(row)
            state["zones"] = json.loads(row["zones"])
            state["recent_seq"] = {}
            out[state.pop("tag_id")] = state
        recent = conn.execute(
            "SELECT f.tag_id, f.seq, f.ts_ms FROM fixes f JOIN tag_state s ON s.tag_id = f.tag_id "
            f"WHERE f.tag_id IN ({marks}) AND f.seq IS NOT NULL "
            "AND f.ts_ms >= ROUND((COALESCE(s.last_ts, 0) - ?) * 1000)",
            [*ids, SEQ_RESEND_WINDOW_S],
        )
        for r in recent:
            out[r["tag_id"]]["recent_seq"][r["seq"]] = r["ts_ms"]
    return out


def save_states(conn: Connection, states: list[dict[str, Any]]) -> None:
    """Upsert tag states given as plain values (`zones` a JSON-able dict)."""
    columns = [c.strip() for c in STATE_COLUMNS.split(",")]
    updates = ", ".join(f"{c}=excluded.{c}" for c in columns[1:])
    insert_many(
        conn,
        f"INSERT INTO tag_state({STATE_COLUMNS})",
        [tuple(json.dumps(s["zones"]) if c == "zones" else s[c] for c in columns) for s in states],
        f"ON CONFLICT(tag_id) DO UPDATE SET {updates}",
    )


def silent_since(conn: Connection, before: float) -> list[str]:
    """Tags last heard from at or before `before` and not yet marked offline."""
    rows = conn.execute(
        "SELECT tag_id FROM tag_state "
        "WHERE offline_since IS NULL AND last_seen IS NOT NULL AND last_seen <= ?",
        (before,),
    )
    return [r["tag_id"] for r in rows]


def track(conn: Connection, tag_id: str, t0: float, t1: float) -> list[Row]:
    return conn.execute(
        "SELECT ts_ms / 1000.0 AS ts, lat, lon, acc, batt FROM fixes "
        "WHERE tag_id = ? AND ts_ms BETWEEN ? AND ? "
        "ORDER BY ts_ms",
        (tag_id, round(t0 * 1000), round(t1 * 1000)),
    ).fetchall()


def prune(conn: Connection, older_than: float) -> int:
    return conn.execute("DELETE FROM fixes WHERE ts_ms < ?", (round(older_than * 1000),)).rowcount
