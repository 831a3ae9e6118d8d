"""Figures of the fault and bad-input tests for RELIABILITY.md: each test calls
`record(...)` with what it sent, stored, lost and doubled; when RELIABILITY_LOG names
a file (scripts/reliability.sh sets it) they are appended to it as JSON lines,
otherwise nothing happens."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def record(scenario: str, **figures: Any) -> None:
    path = os.environ.get("RELIABILITY_LOG")
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" (")[0]
    line = {"scenario": scenario, "test": test, "at": time.time(), **figures}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
