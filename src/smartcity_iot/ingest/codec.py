"""Decode device payloads (SPEC 3.1 tag fixes, 3.2 OwnTracks) into `Fix`es,
or raise `Rejected` naming the field and what is wrong with it."""

from __future__ import annotations

import json
import math
from typing import Any

from ..model import TAG_ID, Fix, Rejected

EARLIEST_TS = 1_420_070_400.0  # 2015-01-01: anything older is a dead clock, not a late fix


def decode_fix(
    topic: str, payload: bytes, now: float, max_bytes: int, future_tolerance_s: float
) -> Fix | None:
    """A `Fix`, or None for a well-formed message that is not a fix (OwnTracks non-location)."""
    if len(payload) > max_bytes:
        raise Rejected("oversized", f"{len(payload)} bytes > limit {max_bytes}")
    levels = topic.split("/")
    if len(levels) == 3 and levels[0] == "tags" and levels[2] == "fix":
        tag_id, owntracks = levels[1], False
    elif len(levels) == 3 and levels[0] == "owntracks":
        tag_id, owntracks = levels[2], True
    else:
        raise Rejected(
            "bad_topic",
            f"topic {topic!r} is neither tags/{{tag_id}}/fix nor owntracks/{{user}}/{{device}}",
        )
    if not TAG_ID.match(tag_id):
        raise Rejected("bad_topic", f"tag id {tag_id!r} must be 4-32 characters of A-Z a-z 0-9 - _")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected("bad_json", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Rejected("bad_json", f"payload must be a JSON object, not {type(doc).__name__}")
    if owntracks:
        if doc.get("_type") != "location":
            return None
        ts = _number(doc, "tst")
    else:
        ts = _number(doc, "ts")
    if not EARLIEST_TS <= ts <= now + future_tolerance_s:
        field = "tst" if owntracks else "ts"
        raise Rejected(
            "out_of_range", f"{field}={ts!r} is not a plausible capture time (seconds since epoch)"
        )
    lat, lon = _number(doc, "lat"), _number(doc, "lon")
    if not -90 <= lat <= 90:
        raise Rejected("out_of_range", f"lat={lat!r} outside -90..90")
    if not -180 <= lon <= 180:
        raise Rejected("out_of_range", f"lon={lon!r} outside -180..180")
    acc = _number(doc, "acc", optional=True)
    if acc is not None and not 0 <= acc <= 100_000:
        raise Rejected("out_of_range", f"acc={acc!r} must be 0..100000 metres")
    batt = _number(doc, "batt", optional=True)
    if batt is not None and not 0 <= batt <= 100:
        raise Rejected("out_of_range", f"batt={batt!r} outside 0..100 percent")
    seq = None
    if not owntracks and doc.get("seq") is not None:
        raw = doc["seq"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise Rejected("bad_field", f"seq={raw!r} must be a non-negative integer")
        seq = raw
    return Fix(tag_id, ts, lat, lon, acc, batt, seq, "owntracks" if owntracks else "tags")


def _number(doc: dict[str, Any], name: str, optional: bool = False) -> Any:
    value = doc.get(name)
    if value is None:
        if optional:
            return None
        raise Rejected("missing_field", f"field {name!r} is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Rejected("bad_field", f"field {name!r}={value!r} must be a finite number")
    return float(value)
