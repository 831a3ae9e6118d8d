"""The embedded database: one SQLite file in WAL mode holding the registry,
tracks, incident state, alerts, the alert outbox and dead letters."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dogs (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    name TEXT NOT NULL,
    breed TEXT, sex TEXT, birth_date TEXT, rabies_cert TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    tag_id TEXT PRIMARY KEY,
    dog_id INTEGER REFERENCES dogs(id),
    status TEXT NOT NULL CHECK (status IN ('requested','approved','shipped','active','inactive')),
    activation_code TEXT,
    postal_address TEXT,
    created_at REAL NOT NULL,
    activated_at REAL
);
CREATE TABLE IF NOT EXISTS fixes (
    tag_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL,
    acc REAL, batt REAL, seq INTEGER,
    received_at REAL NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tag_id, ts_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fixes_seq ON fixes(tag_id, seq);
CREATE TABLE IF NOT EXISTS tag_state (
    tag_id TEXT PRIMARY KEY,
    last_ts REAL, lat REAL, lon REAL, acc REAL, batt REAL,
    last_seen REAL,
    zones TEXT NOT NULL DEFAULT '{}',
    low_battery_since REAL,
    offline_since REAL
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    device_id TEXT NOT NULL,
    zone_id TEXT, zone_name TEXT, grid TEXT,
    party TEXT,
    started_at REAL NOT NULL,
    opened_at REAL,
    ended_at REAL,
    lat REAL, lon REAL,
    escalation TEXT, offence_number INTEGER,
    evidence TEXT NOT NULL DEFAULT '[]',
    workflow TEXT NOT NULL DEFAULT 'new',
    disposition TEXT,
    revision INTEGER NOT NULL DEFAULT 1,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_started ON alerts(started_at DESC);
CREATE INDEX IF NOT EXISTS alerts_party ON alerts(party, started_at);
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    at REAL NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
-- Line-protocol points waiting for InfluxDB (store/influx.py), only with --influx-url.
CREATE TABLE IF NOT EXISTS influx_spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB
);
CREATE TABLE IF NOT EXISTS reject_counts (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and create) the database. Autocommit mode: callers open explicit
    transactions with `BEGIN IMMEDIATE` so a batch is one atomic, durable commit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed batch survives power loss, not only a process crash; the
    # cost is one fsync per batch, which batching makes affordable.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if not readonly:
        conn.executescript(SCHEMA)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """The one way to write: `BEGIN IMMEDIATE` (the write lock up front, so two writers
    never deadlock on an upgrade), COMMIT on success, ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
