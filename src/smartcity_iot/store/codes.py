"""One-time codes that prove a person holds a phone (SPEC 2, 8): six random digits,
kept only as an argon2 hash, single-use, short-lived, with few attempts. A new code
for the same phone and purpose replaces the previous one.

Why argon2 for six digits: whoever reads the table must then spend hours of CPU on
the 10^6 candidates of one code, longer than the code lives."""

from __future__ import annotations

import secrets
import time
import unicodedata
from dataclasses import dataclass

from .database import Connection, for_update, lock, transaction
from .errors import AccountError
from .passwords import HASHER, verify

CODE_TTL_S = 10 * 60
CODE_ATTEMPTS = 5
PURPOSES = frozenset({"signup", "reset", "verify"})


class CodeError(AccountError):
    """A code that does not prove the phone (wrong, used, expired, out of tries)."""


@dataclass(frozen=True, slots=True)
class PhoneProof:
    """`phone` was proven with a code for `purpose` just now. Only `redeem` makes one, and
    making or linking an owner account takes one (store/users.py)."""

    phone: str
    purpose: str
    at: float


def issue(conn: Connection, phone: str, purpose: str, ttl_s: float = CODE_TTL_S) -> str:
    """A fresh code for a canonical `phone`; the caller sends it and forgets it."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown code purpose {purpose!r}")
    code = f"{secrets.randbelow(10**6):06d}"
    code_hash = HASHER.hash(code)
    now = time.time()
    with transaction(conn):
        lock(conn, f"phone_code:{phone}:{purpose}")
        conn.execute(
            "DELETE FROM phone_codes WHERE (phone = ? AND purpose = ?) OR expires_at < ?",
            (phone, purpose, now),
        )
        conn.execute(
            "INSERT INTO phone_codes(phone, purpose, code_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (phone, purpose, code_hash, now, now + ttl_s),
        )
    return code


def withdraw(conn: Connection, phone: str, purpose: str) -> None:
    """The code never reached the phone (gateway down): nobody can redeem it."""
    with transaction(conn):
        conn.execute("DELETE FROM phone_codes WHERE phone = ? AND purpose = ?", (phone, purpose))


def redeem(conn: Connection, phone: str, purpose: str, code: str) -> PhoneProof:
    """Spend `code`: a PhoneProof, or CodeError saying what to do. The try is counted
    before the code is compared, so parallel guesses share the few attempts."""
    code = unicodedata.normalize("NFKC", code).strip()
    now = time.time()
    with transaction(conn):
        row = conn.execute(
            "SELECT id, code_hash, expires_at, attempts FROM phone_codes "
            "WHERE phone = ? AND purpose = ? AND used_at IS NULL ORDER BY id DESC LIMIT 1"
            + for_update(conn),  # parallel guesses count one after the other
            (phone, purpose),
        ).fetchone()
        if row is None or row["expires_at"] <= now:
            raise CodeError("code.none")
        if row["attempts"] >= CODE_ATTEMPTS:
            raise CodeError("code.too_many")
        conn.execute("UPDATE phone_codes SET attempts = attempts + 1 WHERE id = ?", (row["id"],))
    if not (len(code) == 6 and code.isdigit() and verify(row["code_hash"], code)):
        left = CODE_ATTEMPTS - row["attempts"] - 1
        raise CodeError("code.wrong_left", left=left) if left else CodeError("code.wrong_last")
    with transaction(conn):
        spent = conn.execute(
            "UPDATE phone_codes SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (now, row["id"]),
        ).rowcount
    if not spent:
        raise CodeError("code.used")
    return PhoneProof(phone, purpose, now)
