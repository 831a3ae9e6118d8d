"""Password policy and hashing: argon2id for web passwords and activation codes, with
a dummy hash so an unknown login costs as much time as a wrong password."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import AccountError

PASSWORD_MIN = 8
PASSWORD_MAX = 128
# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 passes, 1 lane.
HASHER = PasswordHasher(
    time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
DUMMY_HASH = HASHER.hash("not-a-real-password")

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
    """ASVS 6.2: at least 8 characters, no composition rules, no truncation (a password
    that is too long is refused, not cut)."""
    if len(password) < PASSWORD_MIN:
        raise AccountError("account.password_too_short", min=PASSWORD_MIN)
    if len(password.encode()) > PASSWORD_MAX * 4 or len(password) > PASSWORD_MAX:
        raise AccountError("account.password_too_long", max=PASSWORD_MAX)
    if password.lower() in COMMON_PASSWORDS:
        raise AccountError("account.password_common")


def verify(stored: str, secret: str) -> bool:
    """Whether `secret` matches the argon2 hash `stored`; False also for a malformed hash."""
    try:
        return HASHER.verify(stored, secret)
    except (VerificationError, InvalidHashError):
        return False
