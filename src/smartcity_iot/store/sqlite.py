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
-- an alert's history (its page) and the bureau's handling times (web/stats.py)
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id, at);
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
-- One-time codes sent to phones (store/codes.py): only an argon2 hash is kept.
CREATE TABLE IF NOT EXISTS phone_codes (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,                   -- canonical (phones.normalise_phone)
    purpose TEXT NOT NULL,                 -- signup | reset | verify
    code_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS phone_codes_phone ON phone_codes(phone, purpose);
-- Rate-limit events (store/attempts.py), kept here so a restart does not reset them.
CREATE TABLE IF NOT EXISTS rate_events (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_key ON rate_events(key, at);
CREATE INDEX IF NOT EXISTS rate_events_at ON rate_events(at);
-- The live alert feed (web/feed.py) reads alerts changed since a moment.
CREATE INDEX IF NOT EXISTS alerts_updated ON alerts(updated_at);
-- A tag's life as operators handled it (store/tag_life.py): who did what, when.
CREATE TABLE IF NOT EXISTS tag_events (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    request_id INTEGER,
    tag_id TEXT,
    action TEXT NOT NULL,                  -- approve | ship | reject | deactivate | replace
    actor TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS tag_events_tag ON tag_events(tag_id, at);
-- Owners' notices (store/notices.py): one per alert of an owner's tag, written with the
-- alert; its text message waits here (sms_status 'pending') until sent, capped or withdrawn.
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL UNIQUE REFERENCES alerts(id),
    owner_id INTEGER NOT NULL,             -- the registry's owner (owners.id) of the tag's dog
    kind TEXT NOT NULL,
    device_id TEXT NOT NULL, dog_name TEXT,
    zone_name TEXT, grid TEXT, lat REAL, lon REAL,
    started_at REAL NOT NULL,
    escalation TEXT, offence_number INTEGER,
    created_at REAL NOT NULL,
    text TEXT,
    read_at REAL,
    withdrawn_at REAL,
    sms_status TEXT NOT NULL DEFAULT 'pending'
        CHECK (sms_status IN ('pending','sent','capped','withdrawn','no_phone')),
    sms_attempts INTEGER NOT NULL DEFAULT 0,
    sms_next_at REAL NOT NULL DEFAULT 0,
    sms_sent_at REAL,
    sms_error TEXT
);
CREATE INDEX IF NOT EXISTS notices_owner ON notices(owner_id, created_at);
CREATE INDEX IF NOT EXISTS notices_pending ON notices(sms_status, sms_next_at);
CREATE INDEX IF NOT EXISTS notices_unwritten ON notices(id) WHERE text IS NULL;
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
    # an owner account proved its phone with a one-time code (NULL: not yet, sees nothing)
    "web_users": [("phone_verified_at", "REAL")],
    # an operator's reason the owner sees (a rejected request), and how a tag's life ended
    "tag_requests": [("decision_reason", "TEXT")],
    "tags": [("deactivated_at", "REAL"), ("deactivated_reason", "TEXT"), ("replaced_by", "TEXT")],
}


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        have = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    conn.execute("CREATE INDEX IF NOT EXISTS alerts_plate ON alerts(plate, started_at)")
    _canonical_phones(conn)


_CANONICAL = "1[3-9]" + "[0-9]" * 9  # GLOB of phones.normalise_phone's form


def _canonical_phones(conn: sqlite3.Connection) -> None:
    """Phones stored as typed by an earlier version (`137 0000 0043`) take the canonical
    form, unless another row already holds it (then an operator must merge the two)."""
    from ..phones import PhoneError, normalise_phone

    for table, column, only in (("owners", "phone", ""), ("web_users", "login", "role='owner'")):
        rows = conn.execute(
            f"SELECT id, {column} AS phone FROM {table} "
            f"WHERE {column} NOT GLOB ? {'AND ' + only if only else ''}",
            (_CANONICAL,),
        ).fetchall()
        for row in rows:
            with contextlib.suppress(PhoneError):
                phone = normalise_phone(row["phone"])
                conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE id = ? AND NOT EXISTS "
                    f"(SELECT 1 FROM {table} WHERE {column} = ?)",
                    (phone, row["id"], phone),
                )


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


def json_field(column: str, key: str) -> str:
    return f"json_extract({column}, '$.{key}')"


def json_text(column: str, key: str) -> str:
    return f"json_extract({column}, '$.{key}')"  # a string value comes out unquoted


def relax_durability(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA synchronous=NORMAL")
