"""RELIABILITY.md from the figures the fault, bad-input and fuzz tests recorded
(JSON lines, tests/ingest/reliability.py) and the machine they ran on. Run by
scripts/reliability.sh: python scripts/reliability_report.py FIGURES PYTEST_LOG SECONDS"""

from __future__ import annotations

import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

INTRO = """\
# Reliability: faults and bad input, with their figures

Written by `scripts/reliability.sh` from one run of every fault and bad-input test
and the full fuzz run; do not edit by hand, run the script. Each figure was recorded
by the test that checked it (`tests/ingest/reliability.py`): *sent* is what the test
published, *stored* what the embedded database (or InfluxDB) holds afterwards, *lost*
what was sent and never stored, *doubled* what was stored more than once.
"""

NOTES = """\
## What the bad-input rules are

* A tag fix or OwnTracks payload is at most `--max-payload-bytes` (4,096), nested at
  most 8 deep (`too_deep`), its numbers must fit a float (`bad_field`: a 400-digit
  integer is not a coordinate), `seq` is an integer 0..2^63-1 (`bad_field`; the
  store keeps it as a signed 64-bit integer; the fixes around it are kept), and no
  error message quotes more than 300 characters of the input.
* A fix (or a camera frame's `ts`) may be dated at most `--future-tolerance-s`
  (300 s) after it **arrived** (not after it was processed: a backlog drained hours
  later must not let a fix from the future in). Such a fix is rejected
  (`out_of_range`), so it never becomes the tag's latest position and never makes
  real fixes "late". 300 s because a GPS clock is right to a second: the tolerance
  only covers our own server clock drifting; a day let one fix silence a tag's
  alerts for a day. A latest fix already stored from the future judges nothing.
* A camera frame is checked as a JPEG before anything reads it: SOI, well-formed
  segments up to a frame header, the header's size against the camera file, EOI at
  the end. Empty, PNG, BMP or other formats are `not_jpeg`, broken ones
  `undecodable_jpeg`; the v5 user properties ts/lat/lon/heading/speed are numbers of
  at most 32 characters (`bad_field`).
* Frames skipped because the vision queue is full are counted under `frame_skipped`
  with the rejects (`smartcity-iot rejects`, the status line), not dead-lettered.
* A message that trips a bug is `internal_error`, dead-lettered; the rest of its
  batch commits. A decoder bug costs only that message; a bug in a later stage is
  pinned on its message where the stage can tell (then the batch runs once more
  without it), otherwise the batch is run again in eighths down to the message.
  Only a store failure (SQLite's OperationalError: disk full, locked, I/O) keeps a
  batch unacknowledged and retried; a constraint error is a bug, isolated the same way.

## Found by these runs, and fixed

* The same fix twice in one batch (a QoS 1 re-send; OwnTracks has no `seq`) broke
  the batch's insert on the fixes' unique key, and the batch was retried,
  unacknowledged, for ever: one duplicate stalled the tag path. It is a duplicate now.
* Two fixes of a tag within one millisecond of each other did the same; the store's
  resolution is the millisecond, and so is lateness now.
* The HTTP API answered 500 to a body FastAPI's default validation handler could not
  quote back: bytes that are not UTF-8 sent without a JSON content type, and a JSON
  `Infinity`/`NaN`. `web/app.py` now answers 422 naming the field, never echoing the
  input; `tests/fuzz/test_http.py` checks both, and the generated inputs include them.
"""


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    osname = "unknown"
    if Path("/etc/os-release").exists():
        m = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text())
        osname = m.group(1) if m else osname

    def tool(cmd: list[str], pattern: str) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
        m = re.search(pattern, out.stdout + out.stderr)
        return m.group(1) if m else "unknown"

    mosquitto = tool(["mosquitto", "-h"], r"mosquitto version (\S+)")
    influxd = tool(["influxd", "version"], r"InfluxDB v?(\S+)")
    return [
        f"* CPU: {cpu}, {os.cpu_count()} cores (shared with other work during the run)",
        f"* OS: {osname}, kernel {platform.release()}",
        f"* Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"paho-mqtt {version('paho-mqtt')}, hypothesis {version('hypothesis')}, "
        f"FastAPI {version('fastapi')}, OpenCV {version('opencv-python-headless')}",
        f"* Mosquitto {mosquitto}, InfluxDB {influxd}",
    ]


def main() -> None:
    figures = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines() if line]
    log = Path(sys.argv[2]).read_text()
    seconds = int(sys.argv[3])
    result = next(
        (
            line.strip("= ")
            for line in reversed(log.splitlines())
            if re.search(r"passed|failed", line)
        ),
        "no pytest summary",
    )
    out = [
        INTRO,
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {seconds // 60} min {seconds % 60} s: "
        f"pytest says **{result}**.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
    ]
    faults = [f for f in figures if not f["scenario"].startswith("fuzz")]
    fuzz = [f for f in figures if f["scenario"].startswith("fuzz")]
    out += [
        "## Faults and bad input",
        "",
        "| scenario | sent | stored | lost | doubled | more |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for f in faults:
        more = ", ".join(
            f"{k} {v}"
            for k, v in f.items()
            if k not in {"scenario", "test", "at", "sent", "stored", "lost", "doubled"}
        )
        out.append(
            f"| {f['scenario']} | {f.get('sent', '')} | {f.get('stored', '')} | "
            f"{f.get('lost', '')} | {f.get('doubled', '')} | {more} |"
        )
    total = sum(f["inputs"] for f in fuzz)
    out += [
        "",
        f"## Fuzzing: {total:,} generated inputs",
        "",
        "| decoder | inputs | rejected (counted) | accepted | internal_error | crashes | reasons |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for f in fuzz:
        accepted = f["inputs"] - f["rejected"]
        reasons = f.get("reasons") or f.get("statuses") or {}
        out.append(
            f"| {f['scenario'].removeprefix('fuzz: ')} | {f['inputs']:,} | {f['rejected']:,} | "
            f"{accepted:,} | {f.get('internal_error', f.get('server_errors', 0))} | "
            f"{f['crashes']} | {', '.join(f'{k} {v}' for k, v in reasons.items())} |"
        )
    out += [
        "",
        "For the decoders, *rejected* is the sum of the reject counts in the database "
        "after every input went through the real pipeline, and the test asserts it equals "
        "the inputs the decoders refused (plus fixes of unregistered tags); for the HTTP "
        "API it is the 4xx answers (no 5xx, no exception).",
        "",
        NOTES,
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
