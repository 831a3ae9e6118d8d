"""Server-side web sessions: a random cookie token (only its hash is stored) and the
session's CSRF token, created on every login and deleted on logout, on "sign out
everywhere", and (but for the caller's own) on a password change or reset."""

from __future__ import annotations

import hashlib
import secrets
import time

from .database import Connection, transaction
from .users import User, row_to_user

SESSION_TTL_S = 12 * 3600


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(conn: Connection, user: User, ttl_s: float = SESSION_TTL_S) -> tuple[str, str]:
    """A fresh random session id (256 bits) and its CSRF token, on every login."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = time.time()
    with transaction(conn):
        conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))
        conn.execute(
            "INSERT INTO web_sessions(token_hash, user_id, csrf, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (token_hash(token), user.id, csrf, now, now + ttl_s),
        )
    return token, csrf


def session_user(conn: Connection, token: str) -> tuple[User, str] | None:
    row = conn.execute(
        "SELECT u.*, s.csrf FROM web_sessions s JOIN web_users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0",
        (token_hash(token), time.time()),
    ).fetchone()
    return (row_to_user(row), row["csrf"]) if row else None


def end_session(conn: Connection, token: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))


def end_user_sessions(conn: Connection, user_id: int) -> int:
    """Sign out everywhere: every session of the account, and so its open streams."""
    with transaction(conn):
        return conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,)).rowcount
