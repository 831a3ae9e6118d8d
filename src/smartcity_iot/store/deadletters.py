"""The bounded dead-letter store and the per-reason reject counters."""

from __future__ import annotations

import sqlite3

KEEP_BYTES = 64 * 1024  # an oversized payload is kept truncated


def add(
    conn: sqlite3.Connection,
    received_at: float,
    topic: str,
    reason: str,
    detail: str,
    payload: bytes,
) -> None:
    conn.execute(
        "INSERT INTO dead_letters(received_at, topic, reason, detail, payload) VALUES (?,?,?,?,?)",
        (received_at, topic, reason, detail, payload[:KEEP_BYTES]),
    )


def trim(conn: sqlite3.Connection, keep: int) -> None:
    conn.execute(
        "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?", (keep,)
    )


def bump_counts(conn: sqlite3.Connection, counts: dict[str, int]) -> None:
    conn.executemany(
        "INSERT INTO reject_counts(reason, count) VALUES (?, ?) "
        "ON CONFLICT(reason) DO UPDATE SET count = count + excluded.count",
        list(counts.items()),
    )


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        r["reason"]: r["count"]
        for r in conn.execute("SELECT reason, count FROM reject_counts ORDER BY reason")
    }


def recent(conn: sqlite3.Connection, limit: int = 50) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT id, received_at, topic, reason, detail, length(payload) AS size FROM dead_letters "
        "ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
