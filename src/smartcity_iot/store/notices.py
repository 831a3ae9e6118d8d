"""Owners' notices: one per violation or health notice of an owner's tag, written in
the same transaction as the alert that caused it (so none is lost), with the text
message to the owner's phone waiting beside it until it is sent, capped or withdrawn.

`sms_status`: pending (waiting for its review window, or for the gateway) -> sent |
capped (over the owner's daily cap; the portal still shows it) | withdrawn (an
operator dismissed the alert first) | no_phone (the registry's phone is not a
mobile number)."""

from __future__ import annotations

import time

from ..model import DOG_KINDS, HEALTH_KINDS, Alert
from .database import Connection, Row, transaction
from .errors import NotFound

NOTICE_KINDS = DOG_KINDS + HEALTH_KINDS
SMS_STATUSES = ("pending", "sent", "capped", "withdrawn", "no_phone")
_OWNER_PARTY = "owner:"

_SELECT = (
    "SELECT n.*, o.name AS owner_name, o.phone AS owner_phone FROM notices n "
    "LEFT JOIN owners o ON o.id = n.owner_id"
)


def _owner_of(alert: Alert) -> int | None:
    party = alert.party or ""
    if alert.kind not in NOTICE_KINDS or not party.startswith(_OWNER_PARTY):
        return None
    try:
        return int(party.removeprefix(_OWNER_PARTY))
    except ValueError:
        return None


def record(conn: Connection, alert: Alert) -> None:
    """An alert was stored (inside its transaction): an owner's alert that just opened
    becomes a notice, once; any later revision changes nothing, except a dismissal,
    which withdraws the notice and the message that has not gone out yet."""
    owner_id = _owner_of(alert)
    if owner_id is None:
        return
    if alert.disposition == "dismissed":
        withdraw(conn, alert.id, time.time())
        return
    if alert.status != "open":  # closing an alert never makes a second notice
        return
    dog = conn.execute(
        "SELECT d.name FROM tags t JOIN dogs d ON d.id = t.dog_id WHERE t.tag_id = ?",
        (alert.device_id,),
    ).fetchone()
    conn.execute(
        "INSERT INTO notices(alert_id, owner_id, kind, device_id, dog_name, zone_name, grid, "
        "lat, lon, started_at, escalation, offence_number, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(alert_id) DO NOTHING",
        (
            alert.id,
            owner_id,
            alert.kind,
            alert.device_id,
            dog["name"] if dog else None,
            alert.zone_name,
            alert.grid,
            alert.lat,
            alert.lon,
            alert.started_at,
            alert.escalation,
            alert.offence_number,
            time.time(),
        ),
    )


def withdraw(conn: Connection, alert_id: str, at: float) -> None:
    conn.execute(
        "UPDATE notices SET withdrawn_at = COALESCE(withdrawn_at, ?), "
        "sms_status = CASE sms_status WHEN 'pending' THEN 'withdrawn' ELSE sms_status END "
        "WHERE alert_id = ?",
        (at, alert_id),
    )


# -- the notifier (notify/notices.py) ------------------------------------------------


def unwritten(conn: Connection, limit: int = 200) -> list[Row]:
    """Notices whose text has not been written yet, oldest first."""
    return conn.execute(
        _SELECT + " WHERE n.text IS NULL ORDER BY n.id LIMIT ?", (limit,)
    ).fetchall()


def write_texts(conn: Connection, texts: list[tuple[int, str]]) -> None:
    conn.executemany(
        "UPDATE notices SET text = ? WHERE id = ? AND text IS NULL", [(t, i) for i, t in texts]
    )


def due_messages(conn: Connection, created_before: float, now: float, limit: int = 50) -> list[Row]:
    """Pending messages past their review window and their next try, longest waiting first."""
    return conn.execute(
        _SELECT + " WHERE n.sms_status = 'pending' AND n.sms_next_at <= ? AND n.created_at <= ? "
        "ORDER BY n.sms_next_at, n.id LIMIT ?",
        (now, created_before, limit),
    ).fetchall()


def next_due(conn: Connection, review_s: float) -> float | None:
    """When the next pending message falls due (None: nothing is pending)."""
    row = conn.execute(
        "SELECT MIN(CASE WHEN created_at + ? > sms_next_at THEN created_at + ? "
        "ELSE sms_next_at END) FROM notices WHERE sms_status = 'pending'",
        (review_s, review_s),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def is_pending(conn: Connection, notice_id: int) -> bool:
    row = conn.execute("SELECT sms_status FROM notices WHERE id = ?", (notice_id,)).fetchone()
    return bool(row) and row["sms_status"] == "pending"


def sent_since(conn: Connection, owner_id: int, since: float) -> int:
    """Messages that went to the owner at or after `since` (the daily cap counts these)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM notices WHERE owner_id = ? AND sms_status = 'sent' "
        "AND sms_sent_at >= ?",
        (owner_id, since),
    ).fetchone()
    return int(row[0])


def settle(
    conn: Connection, notice_id: int, status: str, at: float, error: str | None = None
) -> None:
    """A pending message's outcome: sent, capped or no_phone."""
    assert status in SMS_STATUSES and status != "pending"
    conn.execute(
        "UPDATE notices SET sms_status = ?, sms_sent_at = ?, sms_error = ? "
        "WHERE id = ? AND sms_status = 'pending'",
        (status, at if status == "sent" else None, error, notice_id),
    )


def retry_later(conn: Connection, notice_id: int, next_at: float, error: str) -> None:
    """The gateway did not take the message: count the try and keep it pending."""
    conn.execute(
        "UPDATE notices SET sms_attempts = sms_attempts + 1, sms_next_at = ?, sms_error = ? "
        "WHERE id = ? AND sms_status = 'pending'",
        (next_at, error, notice_id),
    )


def sms_counts(conn: Connection) -> dict[str, int]:
    """Messages by status, and `failed_tries`: every try the gateway did not take."""
    counts = {
        r["sms_status"]: r["n"]
        for r in conn.execute("SELECT sms_status, COUNT(*) AS n FROM notices GROUP BY sms_status")
    }
    tries = conn.execute("SELECT COALESCE(SUM(sms_attempts), 0) FROM notices").fetchone()[0]
    return {**counts, "failed_tries": int(tries)}


# -- the owners' portal (web/notices.py): every query is scoped to the caller's owner id,
# and the writes open their own transaction (the portal's connections are its own).


def owner_notices(conn: Connection, owner_id: int, limit: int = 200) -> list[Row]:
    """The owner's notices, newest first."""
    return conn.execute(
        _SELECT + " WHERE n.owner_id = ? ORDER BY n.created_at DESC, n.id DESC LIMIT ?",
        (owner_id, limit),
    ).fetchall()


def unread_count(conn: Connection, owner_id: int) -> int:
    """Unread notices that still stand (a withdrawn one asks nothing of the owner)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM notices WHERE owner_id = ? AND read_at IS NULL "
        "AND withdrawn_at IS NULL",
        (owner_id,),
    ).fetchone()
    return int(row[0])


def mark_read(conn: Connection, owner_id: int, notice_id: int, at: float) -> None:
    """NotFound for a notice that is not the owner's."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE notices SET read_at = COALESCE(read_at, ?) WHERE id = ? AND owner_id = ?",
            (at, notice_id, owner_id),
        )
    if cur.rowcount == 0:
        raise NotFound(f"notice {notice_id}")


def mark_all_read(conn: Connection, owner_id: int, at: float) -> int:
    with transaction(conn):
        cur = conn.execute(
            "UPDATE notices SET read_at = ? WHERE owner_id = ? AND read_at IS NULL", (at, owner_id)
        )
    return cur.rowcount
