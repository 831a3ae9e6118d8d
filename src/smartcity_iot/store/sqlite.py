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
    updated_at REAL NOT NULL,
    plate TEXT, plate_conf REAL, plate_status TEXT, plate_candidate TEXT
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
-- A fixed camera's vehicles at rest and their stops (store/camera_state.py).
CREATE TABLE IF NOT EXISTS camera_state (
    camera_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
-- Web accounts (store/users.py, sessions.py, dogs.py, credentials.py).
CREATE TABLE IF NOT EXISTS web_users (
    id INTEGER PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('owner','operator')),
    login TEXT NOT NULL UNIQUE,            -- owners: their phone; operators: a name
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    owner_id INTEGER UNIQUE REFERENCES owners(id),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY,           -- sha256 of the cookie value, never the value itself
    user_id INTEGER NOT NULL REFERENCES web_users(id),
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tag_requests (
    id INTEGER PRIMARY KEY,
    dog_id INTEGER NOT NULL REFERENCES dogs(id),
    postal_address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested','approved','rejected')),
    tag_id TEXT REFERENCES tags(tag_id),
    created_at REAL NOT NULL,
    decided_at REAL,
    decided_by TEXT
);
CREATE TABLE IF NOT EXISTS tag_credentials (
    tag_id TEXT PRIMARY KEY REFERENCES tags(tag_id),
    mqtt_username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,           -- Mosquitto password_file format ($7$ PBKDF2-SHA512)
    created_at REAL NOT NULL
);
-- The live alert feed (web/feed.py) reads alerts changed since a moment.
CREATE INDEX IF NOT EXISTS alerts_updated ON alerts(updated_at);
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
        _add_missing_columns(conn)
    return conn


# Columns added after a table first shipped: a database made by an earlier version
# gets them on open (SQLite's ADD COLUMN is cheap: existing rows read as NULL).
ADDED_COLUMNS = {
    "alerts": [
        ("plate", "TEXT"),
        ("plate_conf", "REAL"),
        ("plate_status", "TEXT"),
        ("plate_candidate", "TEXT"),
    ],
}


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        have = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    conn.execute("CREATE INDEX IF NOT EXISTS alerts_plate ON alerts(plate, started_at)")


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


def data_version(conn: sqlite3.Connection) -> int:
    """SQLite's `PRAGMA data_version`: it changes when another connection commits, so an
    unchanged value means there is nothing new to read (a nearly free poll)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
