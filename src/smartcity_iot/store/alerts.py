"""Alerts with their lifecycle, and the outbox that publishes every change."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import fields
from typing import Any

from ..model import DOG_KINDS, Alert

_COLUMNS = [f.name for f in fields(Alert)]


def alert_id(kind: str, device_id: str, zone_id: str | None, started_at: float) -> str:
    """Deterministic, so a replayed incident maps onto the same alert row."""
    key = f"{kind}|{device_id}|{zone_id or ''}|{round(started_at * 1000)}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def save_alert(conn: sqlite3.Connection, alert: Alert) -> None:
    values = [getattr(alert, c) for c in _COLUMNS]
    values[_COLUMNS.index("evidence")] = json.dumps(alert.evidence, ensure_ascii=False)
    placeholders = ",".join("?" * len(_COLUMNS))
    updates = ",".join(f"{c}=excluded.{c}" for c in _COLUMNS if c != "id")
    conn.execute(
        f"INSERT INTO alerts({','.join(_COLUMNS)}) VALUES ({placeholders}) ON CONFLICT(id) DO UPDATE SET {updates}",
        values,
    )


def row_to_alert(row: sqlite3.Row) -> Alert:
    data: dict[str, Any] = {c: row[c] for c in _COLUMNS}
    data["evidence"] = json.loads(data["evidence"] or "[]")
    return Alert(**data)


def get_alert(conn: sqlite3.Connection, alert_id_: str) -> Alert | None:
    row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id_,)).fetchone()
    return row_to_alert(row) if row else None


def list_alerts(conn: sqlite3.Connection, limit: int = 100, kind: str | None = None) -> list[Alert]:
    sql, args = "SELECT * FROM alerts", list[object]()
    if kind:
        sql += " WHERE kind = ?"
        args.append(kind)
    sql += " ORDER BY started_at DESC, id LIMIT ?"
    args.append(limit)
    return [row_to_alert(r) for r in conn.execute(sql, args)]


def offences_in_year(
    conn: sqlite3.Connection, party: str, until: float, kinds: tuple[str, ...] = DOG_KINDS
) -> int:
    """Violations of `party` that started in the 12 months up to `until` (inclusive)."""
    marks = ",".join("?" * len(kinds))
    row = conn.execute(
        f"SELECT COUNT(*) FROM alerts WHERE party = ? AND kind IN ({marks}) "
        "AND started_at > ? AND started_at <= ? AND (disposition IS NULL OR disposition != 'dismissed')",
        (party, *kinds, until - 365 * 86400, until),
    ).fetchone()
    return int(row[0])


def enqueue(conn: sqlite3.Connection, alert: Alert) -> None:
    conn.execute(
        "INSERT INTO outbox(topic, payload) VALUES (?, ?)",
        (f"alerts/{alert.kind}", alert.to_json()),
    )


def pending_outbox(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()


def mark_sent(conn: sqlite3.Connection, seqs: list[int]) -> None:
    conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
