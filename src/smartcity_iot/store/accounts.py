"""Web accounts (owners and operators), their sessions, tag requests and tag device
credentials. Every owner-facing query here takes the caller's owner id and filters
on it in SQL, so object-level authorisation lives in the data layer, not the routers."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from .registry import check_tag_id

ACCOUNTS_SCHEMA = """
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
    token_hash TEXT PRIMARY KEY,           -- sha256 of the cookie value; the value itself is never stored
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
CREATE INDEX IF NOT EXISTS alerts_updated ON alerts(updated_at);
"""

SESSION_TTL_S = 12 * 3600
PASSWORD_MIN = 8
PASSWORD_MAX = 128
# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 passes, 1 lane.
HASHER = PasswordHasher(
    time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L: read off a printed card
_DUMMY_HASH = HASHER.hash("not-a-real-password")


class AccountError(ValueError):
    """A request the user can fix (bad input, taken phone, wrong state); the message says what."""


class NotFound(LookupError):
    """The object does not exist *for this caller* (another owner's object looks the same)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    role: str
    login: str
    name: str
    owner_id: int | None


def init(conn: sqlite3.Connection) -> None:
    conn.executescript(ACCOUNTS_SCHEMA)


def _tx(conn: sqlite3.Connection) -> _Transaction:
    return _Transaction(conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


# -- passwords ---------------------------------------------------------------------

COMMON_PASSWORDS = frozenset(
    [
        "12345678",
        "123456789",
        "1234567890",
        "password",
        "password1",
        "password123",
        "qwertyui",
        "qwerty123",
        "11111111",
        "88888888",
        "66666666",
        "00000000",
        "12341234",
        "abcd1234",
        "1qaz2wsx",
        "a1234567",
        "iloveyou",
        "woaini1314",
        "aa123456",
        "123123123",
        "5201314520",
        "admin123",
        "welcome1",
        "87654321",
        "11223344",
        "zxcvbnm1",
        "qwertyuiop",
    ]
)


def check_password(password: str) -> None:
    """ASVS 6.2: at least 8 characters, no composition rules, no truncation (too long is refused)."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(
            f"password must have at least {PASSWORD_MIN} characters (15 or more recommended)"
        )
    if len(password.encode()) > PASSWORD_MAX * 4 or len(password) > PASSWORD_MAX:
        raise AccountError(f"password must have at most {PASSWORD_MAX} characters")
    if password.lower() in COMMON_PASSWORDS:
        raise AccountError("this password is among the most common ones; choose another")


def normalise_phone(phone: str) -> str:
    phone = phone.strip().replace(" ", "").replace("-", "")
    if (
        not phone[1:].isdigit()
        or not (phone[0].isdigit() or phone[0] == "+")
        or not 5 <= len(phone) <= 20
    ):
        raise AccountError(f"phone {phone!r} is not a phone number (digits, optional leading +)")
    return phone


# -- accounts and sessions -----------------------------------------------------------


def create_owner_account(conn: sqlite3.Connection, phone: str, name: str, password: str) -> User:
    """Sign-up. The account links to the registry's owner with the same phone (tags
    registered by the CLI show up), or creates that owner. One account per phone."""
    phone = normalise_phone(phone)
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise AccountError("name must have 1-64 characters")
    check_password(password)
    password_hash = HASHER.hash(password)
    now = time.time()
    with _tx(conn):
        if conn.execute("SELECT 1 FROM web_users WHERE login = ?", (phone,)).fetchone():
            raise AccountError("an account with this phone already exists; log in instead")
        row = conn.execute("SELECT id FROM owners WHERE phone = ?", (phone,)).fetchone()
        owner_id = (
            row["id"]
            if row
            else conn.execute(
                "INSERT INTO owners(name, phone, created_at) VALUES (?, ?, ?)", (name, phone, now)
            ).lastrowid
        )
        uid = conn.execute(
            "INSERT INTO web_users(role, login, name, password_hash, owner_id, created_at) "
            "VALUES ('owner', ?, ?, ?, ?, ?)",
            (phone, name, password_hash, owner_id, now),
        ).lastrowid
    assert uid is not None
    return User(uid, "owner", phone, name, owner_id)


def create_operator(
    conn: sqlite3.Connection, login: str, password: str, name: str | None = None
) -> User:
    login = login.strip()
    if not login or len(login) > 64 or login[0].isdigit() or login[0] == "+":
        raise AccountError(
            f"operator name {login!r} must be 1-64 characters and not start like a phone number"
        )
    check_password(password)
    password_hash = HASHER.hash(password)
    with _tx(conn):
        if conn.execute("SELECT 1 FROM web_users WHERE login = ?", (login,)).fetchone():
            raise AccountError(f"user {login!r} already exists")
        uid = conn.execute(
            "INSERT INTO web_users(role, login, name, password_hash, created_at) VALUES ('operator', ?, ?, ?, ?)",
            (login, name or login, password_hash, time.time()),
        ).lastrowid
    assert uid is not None
    return User(uid, "operator", login, name or login, None)


def authenticate(conn: sqlite3.Connection, login: str, password: str) -> User | None:
    """None for an unknown login and for a wrong password alike (and in about the same time)."""
    login = login.strip()
    with contextlib.suppress(AccountError):  # else an operator name
        login = normalise_phone(login)
    row = conn.execute(
        "SELECT * FROM web_users WHERE login = ? AND disabled = 0", (login,)
    ).fetchone()
    if len(password) > PASSWORD_MAX:
        return None
    try:
        HASHER.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if HASHER.check_needs_rehash(row["password_hash"]):
        with _tx(conn):
            conn.execute(
                "UPDATE web_users SET password_hash = ? WHERE id = ?",
                (HASHER.hash(password), row["id"]),
            )
    return _user(row)


def _user(row: sqlite3.Row) -> User:
    return User(row["id"], row["role"], row["login"], row["name"], row["owner_id"])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(
    conn: sqlite3.Connection, user: User, ttl_s: float = SESSION_TTL_S
) -> tuple[str, str]:
    """A fresh random session id (256 bits) and its CSRF token, on every login."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = time.time()
    with _tx(conn):
        conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))
        conn.execute(
            "INSERT INTO web_sessions(token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (_token_hash(token), user.id, csrf, now, now + ttl_s),
        )
    return token, csrf


def session_user(conn: sqlite3.Connection, token: str) -> tuple[User, str] | None:
    row = conn.execute(
        "SELECT u.*, s.csrf FROM web_sessions s JOIN web_users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0",
        (_token_hash(token), time.time()),
    ).fetchone()
    return (_user(row), row["csrf"]) if row else None


def end_session(conn: sqlite3.Connection, token: str) -> None:
    with _tx(conn):
        conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (_token_hash(token),))


# -- owners: dogs, tag requests, tags, activation --------------------------------------

DOG_FIELDS = ("name", "breed", "sex", "birth_date", "rabies_cert")


def add_dog(conn: sqlite3.Connection, owner_id: int, dog: dict[str, str | None]) -> dict:
    now = time.time()
    with _tx(conn):
        dog_id = conn.execute(
            "INSERT INTO dogs(owner_id, name, breed, sex, birth_date, rabies_cert, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (owner_id, *(dog.get(f) for f in DOG_FIELDS), now),
        ).lastrowid
    assert dog_id is not None
    return get_dog(conn, owner_id, dog_id)


def list_dogs(conn: sqlite3.Connection, owner_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT id, name, breed, sex, birth_date, rabies_cert, created_at FROM dogs WHERE owner_id = ? ORDER BY id",
        (owner_id,),
    )
    return [dict(r) for r in rows]


def get_dog(conn: sqlite3.Connection, owner_id: int, dog_id: int) -> dict:
    row = conn.execute(
        "SELECT id, name, breed, sex, birth_date, rabies_cert, created_at FROM dogs WHERE id = ? AND owner_id = ?",
        (dog_id, owner_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"dog {dog_id}")
    return dict(row)


def request_tag(conn: sqlite3.Connection, owner_id: int, dog_id: int, postal_address: str) -> dict:
    postal_address = postal_address.strip()
    if not 5 <= len(postal_address) <= 300:
        raise AccountError("postal address must have 5-300 characters")
    with _tx(conn):
        if not conn.execute(
            "SELECT 1 FROM dogs WHERE id = ? AND owner_id = ?", (dog_id, owner_id)
        ).fetchone():
            raise NotFound(f"dog {dog_id}")
        pending = conn.execute(
            "SELECT 1 FROM tag_requests r LEFT JOIN tags t ON t.tag_id = r.tag_id WHERE r.dog_id = ? "
            "AND (r.status = 'requested' OR (r.status = 'approved' AND t.status IN ('approved','shipped')))",
            (dog_id,),
        ).fetchone()
        if pending:
            raise AccountError("this dog already has a tag request in progress")
        rid = conn.execute(
            "INSERT INTO tag_requests(dog_id, postal_address, status, created_at) VALUES (?, ?, 'requested', ?)",
            (dog_id, postal_address, time.time()),
        ).lastrowid
    assert rid is not None
    return get_tag_request(conn, owner_id, rid)


_REQUEST_SELECT = (
    "SELECT r.id, r.dog_id, d.name AS dog_name, r.postal_address, r.created_at, r.decided_at, r.tag_id, "
    "COALESCE(t.status, r.status) AS status, o.id AS owner_id, o.name AS owner_name, o.phone AS owner_phone "
    "FROM tag_requests r JOIN dogs d ON d.id = r.dog_id JOIN owners o ON o.id = d.owner_id "
    "LEFT JOIN tags t ON t.tag_id = r.tag_id"
)


def _request_row(row: sqlite3.Row, for_operator: bool) -> dict:
    data = dict(row)
    if not for_operator:
        for key in ("owner_id", "owner_name", "owner_phone"):
            data.pop(key)
    return data


def list_tag_requests(conn: sqlite3.Connection, owner_id: int) -> list[dict]:
    rows = conn.execute(_REQUEST_SELECT + " WHERE d.owner_id = ? ORDER BY r.id DESC", (owner_id,))
    return [_request_row(r, False) for r in rows]


def get_tag_request(conn: sqlite3.Connection, owner_id: int, request_id: int) -> dict:
    row = conn.execute(
        _REQUEST_SELECT + " WHERE r.id = ? AND d.owner_id = ?", (request_id, owner_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"tag request {request_id}")
    return _request_row(row, False)


def list_tags(conn: sqlite3.Connection, owner_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT t.tag_id, t.status, t.dog_id, d.name AS dog_name, t.activated_at, "
        "s.lat, s.lon, s.batt, s.last_ts, s.last_seen, s.offline_since, s.low_battery_since "
        "FROM tags t JOIN dogs d ON d.id = t.dog_id LEFT JOIN tag_state s ON s.tag_id = t.tag_id "
        "WHERE d.owner_id = ? AND t.status IN ('shipped','active','inactive') ORDER BY t.tag_id",
        (owner_id,),
    )
    return [dict(r) for r in rows]


def activate_tag(conn: sqlite3.Connection, owner_id: int, serial: str, code: str) -> dict:
    """The owner types the serial and the activation code printed with the tag. On
    success the tag turns active and gets its MQTT credentials; the password is
    returned this once and only its hash is kept. The code is single-use."""
    serial = serial.strip()
    code = code.strip().upper().replace(" ", "")
    row = conn.execute(
        "SELECT t.tag_id, t.status, t.activation_code FROM tags t JOIN dogs d ON d.id = t.dog_id "
        "WHERE t.tag_id = ? AND d.owner_id = ?",
        (serial, owner_id),
    ).fetchone()
    stored = row["activation_code"] if row else None
    if not _code_matches(stored, code) or row["status"] not in ("approved", "shipped"):
        # Same answer for someone else's serial, a wrong code and a used code.
        raise AccountError("serial and activation code do not match a tag sent to you")
    password = secrets.token_urlsafe(18)
    now = time.time()
    with _tx(conn):
        changed = conn.execute(
            "UPDATE tags SET status = 'active', activated_at = ?, activation_code = NULL "
            "WHERE tag_id = ? AND status IN ('approved','shipped')",
            (now, serial),
        ).rowcount
        if changed != 1:
            raise AccountError("serial and activation code do not match a tag sent to you")
        conn.execute(
            "INSERT INTO tag_credentials(tag_id, mqtt_username, password_hash, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(tag_id) DO UPDATE SET password_hash = excluded.password_hash, created_at = excluded.created_at",
            (serial, serial, mosquitto_hash(password), now),
        )
    return {
        "tag_id": serial,
        "status": "active",
        "mqtt_username": serial,
        "mqtt_password": password,
        "publish_topic": f"tags/{serial}/fix",
    }


def _code_matches(stored: str | None, code: str) -> bool:
    if not stored:
        _verify(_DUMMY_HASH, code)  # about the same time as a real check
        return False
    return _verify(stored, code.replace("-", ""))


def _verify(stored: str, secret: str) -> bool:
    try:
        return HASHER.verify(stored, secret)
    except (VerificationError, InvalidHashError):
        return False


def mosquitto_hash(password: str, iterations: int = 1000) -> str:
    """Mosquitto's password_file `$7$` format (PBKDF2-HMAC-SHA512, 12-byte salt), so the
    stored hash can be written to the broker's password file as is. The passwords are
    random (144 bits), so a modest iteration count costs an attacker nothing useful."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_verify(stored: str, password: str) -> bool:
    _, seven, iterations, salt, digest = stored.split("$")
    assert seven == "7"
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(mine, base64.b64decode(digest))


def mosquitto_password_file(conn: sqlite3.Connection) -> str:
    """Lines for Mosquitto's password_file: every active tag's credentials."""
    rows = conn.execute(
        "SELECT c.mqtt_username, c.password_hash FROM tag_credentials c JOIN tags t ON t.tag_id = c.tag_id "
        "WHERE t.status = 'active' ORDER BY c.mqtt_username"
    )
    return "".join(f"{r['mqtt_username']}:{r['password_hash']}\n" for r in rows)


def owner_violations(
    conn: sqlite3.Connection, owner_id: int, kinds: tuple[str, ...]
) -> list[sqlite3.Row]:
    marks = ",".join("?" * len(kinds))
    return conn.execute(
        f"SELECT * FROM alerts WHERE party = ? AND kind IN ({marks}) ORDER BY started_at DESC LIMIT 500",
        (f"owner:{owner_id}", *kinds),
    ).fetchall()


def owner_violation(
    conn: sqlite3.Connection, owner_id: int, alert_id: str, kinds: tuple[str, ...]
) -> sqlite3.Row:
    marks = ",".join("?" * len(kinds))
    row = conn.execute(
        f"SELECT * FROM alerts WHERE id = ? AND party = ? AND kind IN ({marks})",
        (alert_id, f"owner:{owner_id}", *kinds),
    ).fetchone()
    if row is None:
        raise NotFound(f"violation {alert_id}")
    return row


# -- operators: tag requests -----------------------------------------------------------


def all_tag_requests(conn: sqlite3.Connection, status: str | None = None) -> list[dict]:
    sql, args = _REQUEST_SELECT, list[object]()
    if status:
        sql += " WHERE COALESCE(t.status, r.status) = ?"
        args.append(status)
    rows = conn.execute(sql + " ORDER BY r.id DESC LIMIT 500", args)
    return [_request_row(r, True) for r in rows]


def new_serial() -> str:
    return "DT-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def new_activation_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def approve_request(
    conn: sqlite3.Connection, request_id: int, actor: str, serial: str | None = None
) -> dict:
    """Assign a serial and an activation code (returned once, to print with the tag)."""
    serial = check_tag_id(serial.strip()) if serial else new_serial()
    code = new_activation_code()
    now = time.time()
    with _tx(conn):
        row = conn.execute("SELECT * FROM tag_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"tag request {request_id}")
        if row["status"] != "requested":
            raise AccountError(f"tag request {request_id} is already {row['status']}")
        if conn.execute("SELECT 1 FROM tags WHERE tag_id = ?", (serial,)).fetchone():
            raise AccountError(f"serial {serial} is already in use")
        conn.execute(
            "INSERT INTO tags(tag_id, dog_id, status, activation_code, postal_address, created_at) "
            "VALUES (?, ?, 'approved', ?, ?, ?)",
            (serial, row["dog_id"], HASHER.hash(code.replace("-", "")), row["postal_address"], now),
        )
        conn.execute(
            "UPDATE tag_requests SET status = 'approved', tag_id = ?, decided_at = ?, decided_by = ? WHERE id = ?",
            (serial, now, actor, request_id),
        )
    return {
        "request_id": request_id,
        "tag_id": serial,
        "status": "approved",
        "activation_code": code,
    }


def ship_request(conn: sqlite3.Connection, request_id: int) -> dict:
    with _tx(conn):
        row = conn.execute("SELECT tag_id FROM tag_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"tag request {request_id}")
        changed = conn.execute(
            "UPDATE tags SET status = 'shipped' WHERE tag_id = ? AND status = 'approved'",
            (row["tag_id"],),
        ).rowcount
        if not changed:
            raise AccountError(f"tag request {request_id} is not approved and waiting to ship")
    return {"request_id": request_id, "tag_id": row["tag_id"], "status": "shipped"}


def set_operator(
    conn: sqlite3.Connection, login: str, password: str, name: str | None = None
) -> User:
    """Create the operator, or give an existing one a new password (and end its sessions)."""
    row = conn.execute(
        "SELECT id FROM web_users WHERE login = ? AND role = 'operator'", (login,)
    ).fetchone()
    if row is None:
        return create_operator(conn, login, password, name)
    check_password(password)
    with _tx(conn):
        conn.execute(
            "UPDATE web_users SET password_hash = ? WHERE id = ?",
            (HASHER.hash(password), row["id"]),
        )
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (row["id"],))
    return User(row["id"], "operator", login, name or login, None)
