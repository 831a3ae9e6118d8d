"""The errors of the web-account store (users, sessions, dogs, tag requests and
credentials), shared so a router can map them to HTTP statuses in one place."""

from __future__ import annotations

from ..i18n import Refusal


class AccountError(Refusal):
    """A request the user can fix (bad input, taken phone, wrong state): a catalogue key
    (account.*, owner.*, tag_life.*) and its values, read in each reader's language."""


class NotFound(LookupError):
    """The object does not exist *for this caller* (another owner's object looks the same)."""
