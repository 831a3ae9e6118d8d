"""Who is calling: the session cookie, CSRF, roles, and the rate limits.

Sessions are server-side rows (store/sessions.py): the cookie holds a 256-bit random
token, HttpOnly and SameSite=Strict (Secure when served over https); a new token on
every login, deleted on logout, sign out everywhere, a password change (but the
caller's) or a reset. An owner account whose phone is not proven yet is no owner
here (`owner` refuses it) until it verifies. Requests that change state must also carry the
session's CSRF token in the X-CSRF-Token header (the pages read it from /api/me),
and a cross-site Origin is refused outright."""

from __future__ import annotations

import contextlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyHeader

from ..i18n import Refusal
from ..store import attempts
from ..store.database import Connection, connect
from ..store.sessions import session_user
from ..store.users import User, login_key
from .lang import refuse

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
    """A pool of database connections, one lent to each request for its whole life. Not one
    per thread: FastAPI may run a request's dependencies and its endpoint on different
    worker threads, so two parallel requests could otherwise share a connection (and
    one's BEGIN would land inside the other's transaction)."""

    IDLE_MAX = 16

    def __init__(self, path: Path | str) -> None:
        self.path = path
        connect(path).close()  # creates the schema, which the pooled connections skip
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lend(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = connect(self.path, readonly=True)
        try:
            yield conn
        finally:
            if conn.in_transaction:  # a request that failed mid-write must not pass it on
                conn.rollback()
            with self._lock:
                keep = len(self._idle) < self.IDLE_MAX
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()


def db(request: Request) -> Iterator[Connection]:
    database: Database = request.app.state.db
    with database.lend() as conn:
        yield conn


Conn = Annotated[Connection, Depends(db)]


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
        raise HTTPException(
            401, Refusal("account.log_in_first"), headers={"WWW-Authenticate": "Cookie"}
        )
    user, expected = found
    if request.method not in SAFE_METHODS and not (csrf and hmac.compare_digest(csrf, expected)):
        raise refuse(403, "account.csrf", header=CSRF_HEADER)
    assert token is not None
    return Caller(user, expected, token)


def owner(who: Annotated[Caller, Depends(caller)]) -> User:
    if who.user.role != "owner" or who.user.owner_id is None:
        raise refuse(403, "account.owners_only")
    if not who.user.phone_verified:  # an account from before codes: it proves the phone first
        raise refuse(403, "account.prove_phone_first")
    return who.user


def operator(who: Annotated[Caller, Depends(caller)]) -> User:
    if who.user.role != "operator":
        raise refuse(403, "account.operators_only")
    return who.user


AnyUser = Annotated[Caller, Depends(caller)]
Owner = Annotated[User, Depends(owner)]
Operator = Annotated[User, Depends(operator)]


@dataclass(frozen=True, slots=True)
class Limits:
    """Documented brute-force controls (ASVS 6.1.1): failed logins per account and per
    client address in a sliding window; sign-ups per address; one-time codes per phone
    (and a pause between two) and per address. Soft locks that expire, so an attacker
    can delay an account's logins but never disable it for good. Counted in the
    database (store/attempts.py): a restart keeps them, parallel requests share them."""

    window_s: float = 15 * 60
    per_account: int = 5
    per_ip: int = 20
    signups_per_ip: int = 10
    signup_window_s: float = 3600
    codes_per_phone: int = 5
    codes_per_ip: int = 20
    code_window_s: float = 3600
    code_resend_s: float = 60


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    account: str
    address: str
    reservation: attempts.Reservation


class RateLimiter:
    """Every key is the normalised identity: the canonical phone or the casefolded
    operator name (store/users.login_key), so re-spelling a login counts as the same."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    @staticmethod
    def _reserve(conn: Connection, checks: list[attempts.Limit], key: str) -> attempts.Reservation:
        """`key`: the catalogue's text for the 429."""
        try:
            return attempts.reserve(conn, checks)
        except attempts.Refused as exc:
            raise HTTPException(
                429, Refusal(key), headers={"Retry-After": str(int(exc.retry_after_s) + 1)}
            ) from None

    def begin_login(self, conn: Connection, login: str, ip: str) -> LoginAttempt:
        """Counts the attempt before the password is checked (a failure keeps it)."""
        lim, account, address = self.limits, f"login:acct:{login_key(login)}", f"login:ip:{ip}"
        reservation = self._reserve(
            conn,
            [
                attempts.Limit(account, lim.per_account, lim.window_s),
                attempts.Limit(address, lim.per_ip, lim.window_s),
            ],
            "account.too_many_logins",
        )
        return LoginAttempt(account, address, reservation)

    def login_succeeded(self, conn: Connection, attempt: LoginAttempt) -> None:
        """The account's failures are forgiven; the address keeps only its failures."""
        attempts.clear(conn, attempt.account)
        attempts.give_back(conn, attempt.reservation, attempt.address)

    def check_signup(self, conn: Connection, ip: str) -> None:
        lim = self.limits
        self._reserve(
            conn,
            [attempts.Limit(f"signup:ip:{ip}", lim.signups_per_ip, lim.signup_window_s)],
            "account.too_many_signups",
        )

    def check_code_request(self, conn: Connection, phone: str, purpose: str, ip: str) -> None:
        lim = self.limits
        self._reserve(
            conn,
            [
                attempts.Limit(f"code:resend:{purpose}:{phone}", 1, lim.code_resend_s),
                attempts.Limit(f"code:phone:{phone}", lim.codes_per_phone, lim.code_window_s),
                attempts.Limit(f"code:ip:{ip}", lim.codes_per_ip, lim.code_window_s),
            ],
            "account.too_many_codes",
        )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
