"""Owners' phone numbers in one canonical form: a mainland China mobile number as its
eleven digits (13900001111). The phone is the owner's identity (SPEC 2, 8), so every
way in (CLI, portal, registry, login, rate limits) goes through `normalise_phone`."""

from __future__ import annotations

import re
import unicodedata

from .i18n import Refusal

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-().]")


class PhoneError(Refusal):
    """A phone the user typed that is not a mainland mobile number; the text says why
    (a catalogue key, phone.*: each reader gets it in their language)."""


def normalise_phone(text: str) -> str:
    """`+86 139-0000-1111`, `0086 13900001111`, `139 0000 1111` and full-width digits
    all become `13900001111`; anything else is refused with the reason."""
    if not isinstance(text, str):
        raise PhoneError("phone.not_text")
    raw = unicodedata.normalize("NFKC", text).strip()
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isascii() or not digits.isdigit():
        raise PhoneError("phone.bad_characters", phone=raw[:32])
    if not _MOBILE.fullmatch(digits):
        raise PhoneError("phone.not_mobile", phone=raw[:32])
    return digits


def mask_phone(phone: str) -> str:
    """For logs and pages that must not show the whole number: 139****1111."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
