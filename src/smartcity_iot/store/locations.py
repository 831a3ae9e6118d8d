"""Where the database is, for messages: what both engines' modules name when they say
which database they could not reach (kept apart so postgres.py need not import the
door, database.py, that imports it)."""

from __future__ import annotations

import re
from pathlib import Path


class DatabaseUnreachable(RuntimeError):
    """The configured database server cannot be reached (the message says which, and why)."""


def describe(location: Path | str) -> str:
    """The location for a log line: a URL without its password."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", str(location))
