"""Web accounts: owners (signed up by phone, linked to the registry's owner) and
operators (created by the CLI), and checking a login's password."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass

from .errors import AccountError
from .passwords import DUMMY_HASH, HASHER, PASSWORD_MAX, check_password, verify
from .sqlite import transaction


@dataclass(frozen=True, slots=True)
class User:
    id: int
    role: str
    login: str
    name: str
    owner_id: int | None


def row_to_user(row: sqlite3.Row) -> User:
    return User(row["id"], row["role"], row["login"], row["name"], row["owner_id"])


def normalise_phone(phone: str) -> str:
    phone = phone.strip().replace(" ", "").replace("-", "")
    if (
        not phone[1:].isdigit()
        or not (phone[0].isdigit() or phone[0] == "+")
        or not 5 <= len(phone) <= 20
    ):
        raise AccountError(f"phone {phone!r} is not a phone number (digits, optional leading +)")
    return phone


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
    with transaction(conn):
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
    with transaction(conn):
        if conn.execute("SELECT 1 FROM web_users WHERE login = ?", (login,)).fetchone():
            raise AccountError(f"user {login!r} already exists")
        uid = conn.execute(
            "INSERT INTO web_users(role, login, name, password_hash, created_at) "
            "VALUES ('operator', ?, ?, ?, ?)",
            (login, name or login, password_hash, time.time()),
        ).lastrowid
    assert uid is not None
    return User(uid, "operator", login, name or login, None)


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
    with transaction(conn):
        conn.execute(
            "UPDATE web_users SET password_hash = ? WHERE id = ?",
            (HASHER.hash(password), row["id"]),
        )
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (row["id"],))
    return User(row["id"], "operator", login, name or login, None)


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
    if not verify(row["password_hash"] if row else DUMMY_HASH, password):
        return None
    if row is None:
        return None
    if HASHER.check_needs_rehash(row["password_hash"]):
        with transaction(conn):
            conn.execute(
                "UPDATE web_users SET password_hash = ? WHERE id = ?",
                (HASHER.hash(password), row["id"]),
            )
    return row_to_user(row)
