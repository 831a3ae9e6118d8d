"""Who is calling: the session cookie, CSRF, roles, and the login rate limits.

Sessions are server-side rows (store/sessions.py): the cookie holds a 256-bit random
token, HttpOnly and SameSite=Strict (Secure when served over https); a new token on
every login, deleted on logout. Requests that change state must also carry the
session's CSRF token in the X-CSRF-Token header (the pages read it from /api/me),
and a cross-site Origin is refused outright."""

from __future__ import annotations

import hmac
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyHeader

from ..store.sessions import session_user
from ..store.sqlite import connect
from ..store.users import User

SESSION_COOKIE = "sc_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

session_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="session id, set by /api/auth/login"
)
csrf_header = APIKeyHeader(
    name=CSRF_HEADER, auto_error=False, description="the session's CSRF token (from /api/me)"
)


class Database:
    """One SQLite connection per worker thread (FastAPI runs sync endpoints in a pool)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        connect(path).close()  # creates the schema, which the per-thread connections skip
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, readonly=True)
        return conn


def db(request: Request) -> sqlite3.Connection:
    database: Database = request.app.state.db
    return database.conn()


Conn = Annotated[sqlite3.Connection, Depends(db)]


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    csrf: str
    token: str


def caller(
    request: Request,
    conn: Conn,
    token: Annotated[str | None, Depends(session_cookie)],
    csrf: Annotated[str | None, Depends(csrf_header)],
) -> Caller:
    found = session_user(conn, token) if token else None
    if found is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Cookie"})
    user, expected = found
    if request.method not in SAFE_METHODS and not (csrf and hmac.compare_digest(csrf, expected)):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    assert token is not None
    return Caller(user, expected, token)


def owner(who: Annotated[Caller, Depends(caller)]) -> User:
    if who.user.role != "owner" or who.user.owner_id is None:
        raise HTTPException(403, "owners only")
    return who.user


def operator(who: Annotated[Caller, Depends(caller)]) -> User:
    if who.user.role != "operator":
        raise HTTPException(403, "operators only")
    return who.user


AnyUser = Annotated[Caller, Depends(caller)]
Owner = Annotated[User, Depends(owner)]
Operator = Annotated[User, Depends(operator)]


@dataclass(frozen=True, slots=True)
class Limits:
    """Documented brute-force controls (ASVS 6.1.1): failed logins per account and per
    client address in a sliding window; sign-ups per address. Soft locks that expire,
    so an attacker can delay an account's logins but never disable it for good."""

    window_s: float = 15 * 60
    per_account: int = 5
    per_ip: int = 20
    signups_per_ip: int = 10
    signup_window_s: float = 3600


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, window: float, now: float) -> deque[float]:
        q = self._events.setdefault(key, deque())
        while q and q[0] <= now - window:
            q.popleft()
        return q

    def retry_after(self, keys: list[tuple[str, int, float]]) -> float:
        """Seconds until every (key, limit, window) is under its limit; 0 when allowed now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit, window in keys:
                q = self._recent(key, window, now)
                if len(q) >= limit:
                    wait = max(wait, q[-limit] + window - now)
        return wait

    def hit(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._events.setdefault(key, deque()).append(now)
            if len(self._events) > 100_000:  # bound memory under a spray of distinct keys
                self._events = {k: q for k, q in self._events.items() if q and q[-1] > now - 3600}

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def check_login(self, login: str, ip: str) -> None:
        lim = self.limits
        wait = self.retry_after(
            [
                (f"acct:{login.strip().lower()}", lim.per_account, lim.window_s),
                (f"ip:{ip}", lim.per_ip, lim.window_s),
            ]
        )
        if wait > 0:
            raise HTTPException(
                429,
                "too many failed logins; try again later",
                headers={"Retry-After": str(int(wait) + 1)},
            )

    def login_failed(self, login: str, ip: str) -> None:
        self.hit(f"acct:{login.strip().lower()}", f"ip:{ip}")

    def login_succeeded(self, login: str) -> None:
        self.clear(f"acct:{login.strip().lower()}")

    def check_signup(self, ip: str) -> None:
        lim = self.limits
        wait = self.retry_after([(f"signup:{ip}", lim.signups_per_ip, lim.signup_window_s)])
        if wait > 0:
            raise HTTPException(
                429,
                "too many sign-ups from this address; try again later",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        self.hit(f"signup:{ip}")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
