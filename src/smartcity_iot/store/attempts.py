"""Rate-limit events in the database: a sliding window per key (an account, an address,
a phone). Kept in a table so a restart does not reset them, and soft: an event counts
only inside its window, so nobody can lock an owner out for good.

An attempt is *reserved* before it is evaluated (one transaction, holding each key's
lock, checks every key and records the attempt), so parallel requests cannot all pass
the check first."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .database import Connection, lock, transaction

KEEP_S = 24 * 3600  # longer than any window: older events are deleted as they pass


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    limit: int
    window_s: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """The rows of one allowed attempt, so a success can give some of them back."""

    rows: dict[str, int]


class Refused(Exception):
    def __init__(self, key: str, retry_after_s: float) -> None:
        super().__init__(f"{key}: over its limit for {retry_after_s:.0f} s")
        self.key = key
        self.retry_after_s = retry_after_s


def reserve(conn: Connection, limits: list[Limit], now: float | None = None) -> Reservation:
    """Record one attempt under every key, or none at all and raise Refused (with the
    longest wait) when any key already has `limit` events inside its window."""
    now = time.time() if now is None else now
    with transaction(conn):
        lock(conn, *(lim.key for lim in limits))  # parallel attempts are checked in turn
        wait, refused_key = 0.0, ""
        for lim in limits:
            conn.execute(
                "DELETE FROM rate_events WHERE key = ? AND at <= ?", (lim.key, now - lim.window_s)
            )
            row = conn.execute(
                "SELECT at FROM rate_events WHERE key = ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                (lim.key, lim.limit - 1),
            ).fetchone()
            if row is not None and row["at"] + lim.window_s - now > wait:
                wait, refused_key = row["at"] + lim.window_s - now, lim.key
        if refused_key:
            raise Refused(refused_key, wait)
        rows = {}
        for lim in limits:
            rowid = conn.execute(
                "INSERT INTO rate_events(key, at) VALUES (?, ?) RETURNING rowid", (lim.key, now)
            ).fetchone()[0]
            assert rowid is not None
            rows[lim.key] = rowid
        conn.execute("DELETE FROM rate_events WHERE at < ?", (now - KEEP_S,))
    return Reservation(rows)


def give_back(conn: Connection, reservation: Reservation, key: str) -> None:
    """An attempt that turned out fine no longer counts under `key`."""
    rowid = reservation.rows.get(key)
    if rowid is not None:
        with transaction(conn):
            conn.execute("DELETE FROM rate_events WHERE rowid = ?", (rowid,))


def clear(conn: Connection, key: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM rate_events WHERE key = ?", (key,))


def count(conn: Connection, key: str, window_s: float, now: float | None = None) -> int:
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT COUNT(*) FROM rate_events WHERE key = ? AND at > ?", (key, now - window_s)
    ).fetchone()
    return int(row[0])
