"""The bounded dead-letter store and the per-reason reject counters."""

from __future__ import annotations

from .database import Connection, Row

KEEP_BYTES = 64 * 1024  # an oversized payload is kept truncated


def add(
    conn: Connection,
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


def trim(conn: Connection, keep: int) -> None:
    conn.execute(
        "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?", (keep,)
    )


def bump_counts(conn: Connection, counts: dict[str, int]) -> None:
    conn.executemany(
        "INSERT INTO reject_counts(reason, count) VALUES (?, ?) "
        "ON CONFLICT(reason) DO UPDATE SET count = reject_counts.count + excluded.count",
        list(counts.items()),
    )


def counts(conn: Connection) -> dict[str, int]:
    return {
        r["reason"]: r["count"]
        for r in conn.execute("SELECT reason, count FROM reject_counts ORDER BY reason")
    }


def recent(conn: Connection, limit: int = 50) -> list[Row]:
    return conn.execute(
        "SELECT id, received_at, topic, reason, detail, length(payload) AS size FROM dead_letters "
        "ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
