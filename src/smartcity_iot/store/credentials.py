"""Tag device credentials: activation by serial and one-time code, and the MQTT
username/password each active tag gets, in Mosquitto's password_file format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sys
import time
from collections.abc import Collection
from typing import TextIO

from .broker_users import SERVICE_USERS, BrokerUserError, check_device_user
from .database import Connection, transaction
from .errors import AccountError
from .passwords import DUMMY_HASH, verify


def activate_tag(conn: Connection, owner_id: int, serial: str, code: str) -> dict:
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
        raise AccountError("owner.error.activation_mismatch")
    password = secrets.token_urlsafe(18)
    now = time.time()
    with transaction(conn):
        changed = conn.execute(
            "UPDATE tags SET status = 'active', activated_at = ?, activation_code = NULL "
            "WHERE tag_id = ? AND status IN ('approved','shipped')",
            (now, serial),
        ).rowcount
        if changed != 1:
            raise AccountError("owner.error.activation_mismatch")
        conn.execute(
            "INSERT INTO tag_credentials(tag_id, mqtt_username, password_hash, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(tag_id) DO UPDATE SET "
            "password_hash = excluded.password_hash, created_at = excluded.created_at",
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
        verify(DUMMY_HASH, code)  # about the same time as a real check
        return False
    return verify(stored, code.replace("-", ""))


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


_HASH_LINE = re.compile(r"\$7\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+")


def mosquitto_password_file(
    conn: Connection,
    reserved: Collection[str] = SERVICE_USERS,
    warn: TextIO | None = None,
) -> str:
    """Lines for Mosquitto's password_file: every active tag's credentials, one line per
    user. A row no tag may log in as (a reserved name, a name with topic characters, a
    second row for one user), as an earlier version could store, is skipped with a
    warning: Mosquitto takes the later of two lines, so one line too many hands a device
    the service's account."""
    rows = conn.execute(
        "SELECT c.tag_id, c.mqtt_username, c.password_hash FROM tag_credentials c "
        "JOIN tags t ON t.tag_id = c.tag_id "
        "WHERE t.status = 'active' ORDER BY c.mqtt_username, c.created_at"
    )
    warn = warn if warn is not None else sys.stderr
    lines, seen = [], set[str]()
    for r in rows:
        user = r["mqtt_username"]
        try:
            check_device_user(user, reserved)
            if user in seen:  # Mosquitto's usernames are case-sensitive
                raise BrokerUserError(f"a second credential for broker user {user!r}")
            if not _HASH_LINE.fullmatch(r["password_hash"]):  # one line, nothing injected
                raise BrokerUserError("its password hash is not in Mosquitto's $7$ format")
        except BrokerUserError as exc:
            print(f"tag-passwords: skipped tag {r['tag_id']}: {exc}", file=warn)
            continue
        seen.add(user)
        lines.append(f"{user}:{r['password_hash']}\n")
    return "".join(lines)
