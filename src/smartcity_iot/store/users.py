"""Web accounts: owners (signed up by phone, linked to the registry's owner once the
phone is proven by a one-time code) and operators (created by the CLI), checking a
login's password, and changing or resetting it."""

from __future__ import annotations

import contextlib
import time
import unicodedata
from dataclasses import dataclass

from ..phones import PhoneError, normalise_phone
from .codes import PhoneProof
from .database import Connection, Row, lock, transaction
from .errors import AccountError
from .passwords import DUMMY_HASH, HASHER, PASSWORD_MAX, check_password, verify


@dataclass(frozen=True, slots=True)
class User:
    id: int
    role: str
    login: str
    name: str
    owner_id: int | None
    # an owner account sees and changes nothing of its owner until the phone is proven
    phone_verified: bool = True


def row_to_user(row: Row) -> User:
    verified = row["role"] == "operator" or row["phone_verified_at"] is not None
    return User(row["id"], row["role"], row["login"], row["name"], row["owner_id"], verified)


def canonical_login(login: str) -> str:
    """The account a typed login means: a phone in its canonical form, else an operator
    name without the spaces around it (as `authenticate` looks it up)."""
    login = unicodedata.normalize("NFKC", login).strip()
    with contextlib.suppress(PhoneError):
        return normalise_phone(login)
    return login


def login_key(login: str) -> str:
    """What rate limits count under: every spelling of one account gives one key."""
    return canonical_login(login).casefold()


def owner_phone(phone: str) -> str:
    """A phone typed by an owner, canonical, or AccountError with the reason."""
    try:
        return normalise_phone(phone)
    except PhoneError as exc:
        raise AccountError(exc.key, **exc.params) from None


def owner_account_exists(conn: Connection, phone: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM web_users WHERE login = ? AND role = 'owner'", (phone,)
        ).fetchone()
        is not None
    )


def create_owner_account(conn: Connection, proof: PhoneProof, name: str, password: str) -> User:
    """Sign-up with a proven phone. The account links to the registry's owner with that
    phone (tags registered by the CLI show up), or creates that owner. One per phone."""
    if proof.purpose != "signup":
        raise AccountError("account.signup_needs_code")
    phone = proof.phone
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise AccountError("account.name_length", min=1, max=64)
    check_password(password)
    password_hash = HASHER.hash(password)
    now = time.time()
    with transaction(conn):
        lock(conn, f"phone:{phone}")  # one account and one owner per phone, also when parallel
        if conn.execute("SELECT 1 FROM web_users WHERE login = ?", (phone,)).fetchone():
            raise AccountError("account.phone_taken")
        row = conn.execute("SELECT id FROM owners WHERE phone = ?", (phone,)).fetchone()
        owner_id = (
            row["id"]
            if row
            else conn.execute(
                "INSERT INTO owners(name, phone, created_at) VALUES (?, ?, ?) RETURNING id",
                (name, phone, now),
            ).fetchone()[0]
        )
        uid = conn.execute(
            "INSERT INTO web_users(role, login, name, password_hash, owner_id, created_at, "
            "phone_verified_at) VALUES ('owner', ?, ?, ?, ?, ?, ?) RETURNING id",
            (phone, name, password_hash, owner_id, now, proof.at),
        ).fetchone()[0]
    assert uid is not None
    return User(uid, "owner", phone, name, owner_id, True)


def verify_phone(conn: Connection, user: User, proof: PhoneProof) -> User:
    """An account made before codes existed proves its phone now."""
    if proof.purpose != "verify" or proof.phone != user.login or user.role != "owner":
        raise AccountError("account.code_not_this_account")
    with transaction(conn):
        conn.execute(
            "UPDATE web_users SET phone_verified_at = COALESCE(phone_verified_at, ?) WHERE id = ?",
            (proof.at, user.id),
        )
    return User(user.id, user.role, user.login, user.name, user.owner_id, True)


def change_password(conn: Connection, user: User, old: str, new: str, keep_token_hash: str) -> None:
    """Needs the old password; every other session of the account ends with it."""
    row = conn.execute("SELECT password_hash FROM web_users WHERE id = ?", (user.id,)).fetchone()
    if row is None or len(old) > PASSWORD_MAX or not verify(row["password_hash"], old):
        raise AccountError("account.old_password_wrong")
    check_password(new)
    with transaction(conn):
        conn.execute(
            "UPDATE web_users SET password_hash = ? WHERE id = ?", (HASHER.hash(new), user.id)
        )
        conn.execute(
            "DELETE FROM web_sessions WHERE user_id = ? AND token_hash != ?",
            (user.id, keep_token_hash),
        )


def reset_password(conn: Connection, proof: PhoneProof, new: str) -> User:
    """The phone's holder sets a new password; it also proves the phone, and every
    session of the account ends (whoever else was logged in is out)."""
    if proof.purpose != "reset":
        raise AccountError("account.reset_needs_code")
    check_password(new)
    with transaction(conn):
        row = conn.execute(
            "SELECT * FROM web_users WHERE login = ? AND role = 'owner'", (proof.phone,)
        ).fetchone()
        if row is None:
            raise AccountError("account.no_account")
        conn.execute(
            "UPDATE web_users SET password_hash = ?, "
            "phone_verified_at = COALESCE(phone_verified_at, ?) WHERE id = ?",
            (HASHER.hash(new), proof.at, row["id"]),
        )
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (row["id"],))
    return User(row["id"], "owner", row["login"], row["name"], row["owner_id"], True)


def create_operator(conn: Connection, login: str, password: str, name: str | None = None) -> User:
    login = unicodedata.normalize("NFKC", login).strip()
    looks_like_phone = login != canonical_login(login)  # `(139) 0000-1111` would log in as one
    if not login or len(login) > 64 or login[0].isdigit() or login[0] == "+" or looks_like_phone:
        raise AccountError("account.operator_name", login=login[:64])
    check_password(password)
    password_hash = HASHER.hash(password)
    with transaction(conn):
        lock(conn, f"login:{login}")
        if conn.execute("SELECT 1 FROM web_users WHERE login = ?", (login,)).fetchone():
            raise AccountError("account.user_exists", login=login)
        uid = conn.execute(
            "INSERT INTO web_users(role, login, name, password_hash, created_at) "
            "VALUES ('operator', ?, ?, ?, ?) RETURNING id",
            (login, name or login, password_hash, time.time()),
        ).fetchone()[0]
    assert uid is not None
    return User(uid, "operator", login, name or login, None)


def set_operator(conn: Connection, login: str, password: str, name: str | None = None) -> User:
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


def authenticate(conn: Connection, login: str, password: str) -> User | None:
    """None for an unknown login and for a wrong password alike (and in about the same time)."""
    login = canonical_login(login)
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
