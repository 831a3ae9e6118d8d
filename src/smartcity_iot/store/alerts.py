"""Alerts with their lifecycle, and the outbox that publishes every change."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from ..model import Alert
from .database import Connection, Row, for_update, skip_locked, transaction
from .errors import NotFound

_COLUMNS = [f.name for f in fields(Alert)]


def alert_id(kind: str, device_id: str, zone_id: str | None, started_at: float) -> str:
    """Deterministic, so a replayed incident maps onto the same alert row."""
    key = f"{kind}|{device_id}|{zone_id or ''}|{round(started_at * 1000)}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def save_alert(conn: Connection, alert: Alert) -> None:
    values = [getattr(alert, c) for c in _COLUMNS]
    values[_COLUMNS.index("evidence")] = json.dumps(alert.evidence, ensure_ascii=False)
    placeholders = ",".join("?" * len(_COLUMNS))
    updates = ",".join(f"{c}=excluded.{c}" for c in _COLUMNS if c != "id")
    conn.execute(
        f"INSERT INTO alerts({','.join(_COLUMNS)}) VALUES ({placeholders}) "
        f"ON CONFLICT(id) DO UPDATE SET {updates}",
        values,
    )


def row_to_alert(row: Row) -> Alert:
    data: dict[str, Any] = {c: row[c] for c in _COLUMNS}
    data["evidence"] = json.loads(data["evidence"] or "[]")
    return Alert(**data)


def get_alert(conn: Connection, alert_id_: str, *, lock: bool = False) -> Alert | None:
    """`lock`: the caller changes the alert in its transaction (row locked till commit)."""
    sql = "SELECT * FROM alerts WHERE id = ?" + (for_update(conn) if lock else "")
    row = conn.execute(sql, (alert_id_,)).fetchone()
    return row_to_alert(row) if row else None


def list_alerts(conn: Connection, limit: int = 100, kind: str | None = None) -> list[Alert]:
    sql, args = "SELECT * FROM alerts", list[object]()
    if kind:
        sql += " WHERE kind = ?"
        args.append(kind)
    sql += " ORDER BY started_at DESC, id LIMIT ?"
    args.append(limit)
    return [row_to_alert(r) for r in conn.execute(sql, args)]


def offences_between(
    conn: Connection,
    party: str,
    since: float,
    until: float,
    kinds: tuple[str, ...],
    exclude: str | None = None,
) -> int:
    """Violations of `party` of `kinds` that started in (since, until], not dismissed,
    other than the alert `exclude` (the one being numbered)."""
    marks = ",".join("?" * len(kinds))
    row = conn.execute(
        f"SELECT COUNT(*) FROM alerts WHERE party = ? AND kind IN ({marks}) "
        "AND started_at > ? AND started_at <= ? AND id != ? "
        "AND (disposition IS NULL OR disposition != 'dismissed')",
        (party, *kinds, since, until, exclude or ""),
    ).fetchone()
    return int(row[0])


def enqueue(conn: Connection, alert: Alert, extra: dict[str, Any] | None = None) -> None:
    """Queue the alert for alerts/{kind}; `extra` adds fields to this one publication (SPEC 3.4
    allows more fields), e.g. who handled it in an operator's step."""
    payload = alert.to_json()
    if extra:
        payload = json.dumps(
            json.loads(payload) | extra, ensure_ascii=False, separators=(",", ":")
        ).encode()
    conn.execute(
        "INSERT INTO outbox(topic, payload) VALUES (?, ?)", (f"alerts/{alert.kind}", payload)
    )


def pending_outbox(conn: Connection, limit: int = 200) -> list[Row]:
    return conn.execute(
        "SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()


def mark_sent(conn: Connection, seqs: list[int]) -> None:
    conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])


@contextlib.contextmanager
def outbox_claim(conn: Connection, limit: int = 200) -> Iterator[tuple[list[Row], list[int]]]:
    """The oldest unsent rows, and a list the caller fills with the seqs the broker
    acknowledged: those are deleted on a clean exit, the rest stay to be sent again.
    On PostgreSQL the rows stay claimed by this transaction while the broker answers,
    so another worker's publisher passes them by instead of sending them twice; a
    publisher that dies lets them go. SQLite holds no write lock meanwhile."""
    sent: list[int] = []
    if not skip_locked(conn):
        yield pending_outbox(conn, limit), sent
        if sent:
            with transaction(conn):
                mark_sent(conn, sent)
        return
    with transaction(conn):
        rows = conn.execute(
            "SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?" + skip_locked(conn),
            (limit,),
        ).fetchall()
        yield rows, sent
        if sent:
            mark_sent(conn, sent)


# -- reads of the web console, the owners' portal and the live feed ----------------------


def search_alerts(
    conn: Connection,
    *,
    kind: str | None = None,
    grid: str | None = None,
    status: str | None = None,
    workflow: str | None = None,
    plate: str | None = None,
    party: str | None = None,
    limit: int = 200,
) -> list[Alert]:
    """Newest first; every filter given must match exactly (the console's alert list)."""
    sql, args = "SELECT * FROM alerts WHERE 1=1", list[object]()
    for column, value in (
        ("kind", kind),
        ("grid", grid),
        ("status", status),
        ("workflow", workflow),
        ("plate", plate),
        ("party", party),
    ):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    rows = conn.execute(sql + " ORDER BY started_at DESC, id LIMIT ?", (*args, limit))
    return [row_to_alert(r) for r in rows]


def open_counts(conn: Connection, kinds: tuple[str, ...]) -> dict[str, int]:
    """Open alerts per kind among `kinds`; a kind with none is absent."""
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(
        f"SELECT kind, COUNT(*) AS n FROM alerts WHERE kind IN ({marks}) AND status = 'open' "
        "GROUP BY kind",
        kinds,
    )
    return {r["kind"]: r["n"] for r in rows}


def started_since(conn: Connection, since: float) -> list[Row]:
    """Kind, grid, start and disposition of the alerts started at or after `since`,
    oldest first (the statistics need no more)."""
    return conn.execute(
        "SELECT kind, grid, started_at, disposition FROM alerts WHERE started_at >= ? "
        "ORDER BY started_at",
        (since,),
    ).fetchall()


def changed_since(conn: Connection, since: float) -> list[Row]:
    """Whole rows of the alerts updated at or after `since`, in update order. Rows, not
    Alerts: the live feed skips most of them as already sent before decoding any."""
    return conn.execute(
        "SELECT * FROM alerts WHERE updated_at >= ? ORDER BY updated_at", (since,)
    ).fetchall()


def revisions_since(conn: Connection, since: float) -> list[tuple[str, int, float]]:
    """(id, revision, updated_at) of the alerts updated at or after `since`."""
    rows = conn.execute(
        "SELECT id, revision, updated_at FROM alerts WHERE updated_at >= ?", (since,)
    )
    return [(r["id"], r["revision"], r["updated_at"]) for r in rows]


def owner_violations(conn: Connection, owner_id: int, kinds: tuple[str, ...]) -> list[Row]:
    """The owner's alerts of `kinds`, newest first (at most 500)."""
    marks = ",".join("?" * len(kinds))
    return conn.execute(
        f"SELECT * FROM alerts WHERE party = ? AND kind IN ({marks}) "
        "ORDER BY started_at DESC LIMIT 500",
        (f"owner:{owner_id}", *kinds),
    ).fetchall()


def owner_violation(conn: Connection, owner_id: int, alert_id: str, kinds: tuple[str, ...]) -> Row:
    """One of the owner's alerts of `kinds`; NotFound for anyone else's."""
    marks = ",".join("?" * len(kinds))
    row = conn.execute(
        f"SELECT * FROM alerts WHERE id = ? AND party = ? AND kind IN ({marks})",
        (alert_id, f"owner:{owner_id}", *kinds),
    ).fetchone()
    if row is None:
        raise NotFound(f"violation {alert_id}")
    return row
