"""The errors of the web-account store (users, sessions, dogs, tag requests and
credentials), shared so a router can map them to HTTP statuses in one place."""

from __future__ import annotations


class AccountError(ValueError):
    """A request the user can fix (bad input, taken phone, wrong state); the message says what."""


class NotFound(LookupError):
    """The object does not exist *for this caller* (another owner's object looks the same)."""
