"""Decode device payloads (SPEC 3.1 tag fixes, 3.2 OwnTracks) into `Fix`es,
or raise `Rejected` naming the field and what is wrong with it.

Everything a payload can make the parser do is bounded (its size, its nesting, the
size of its numbers), so bad input costs one counted rejection, never an error."""

from __future__ import annotations

import json
import math
from typing import Any

from ..model import TAG_ID, Fix, Rejected

EARLIEST_TS = 1_420_070_400.0  # 2015-01-01: anything older is a dead clock, not a late fix
MAX_DEPTH = 8  # a fix is a flat object; OwnTracks nests one list (inregions) deep
SEQ_MAX = 2**63 - 1  # the store keeps seq as a signed 64-bit integer


def decode_fix(
    topic: str, payload: bytes, arrival: float, max_bytes: int, future_tolerance_s: float
) -> Fix | None:
    """A `Fix`, or None for a well-formed message that is not a fix (OwnTracks non-location).
    `arrival` is when the message reached us: a fix cannot have been captured much later."""
    if len(payload) > max_bytes:
        raise Rejected("oversized", f"{len(payload)} bytes > limit {max_bytes}")
    levels = topic.split("/")
    if len(levels) == 3 and levels[0] == "tags" and levels[2] == "fix":
        tag_id, owntracks = levels[1], False
    elif len(levels) == 3 and levels[0] == "owntracks":
        tag_id, owntracks = levels[2], True
        if levels[1] != tag_id:
            # OwnTracks brokers pin {user} to the login (ours pins both levels): a fix is the
            # tag's only when {device} is that same login, never a name nobody checked.
            raise Rejected(
                "device_mismatch",
                f"topic {topic!r}: device {tag_id!r} is not the user {levels[1]!r}; a phone "
                "acting as a tag publishes on owntracks/{serial}/{serial}",
            )
    else:
        raise Rejected(
            "bad_topic",
            f"topic {topic!r} is neither tags/{{tag_id}}/fix nor owntracks/{{user}}/{{device}}",
        )
    if not TAG_ID.match(tag_id):
        raise Rejected("bad_topic", f"tag id {tag_id!r} must be 4-32 characters of A-Z a-z 0-9 - _")
    doc = parse_json(payload)
    if not isinstance(doc, dict):
        raise Rejected("bad_json", f"payload must be a JSON object, not {type(doc).__name__}")
    if owntracks:
        if doc.get("_type") != "location":
            return None
        ts = _number(doc, "tst")
    else:
        ts = _number(doc, "ts")
    field = "tst" if owntracks else "ts"
    if ts < EARLIEST_TS:
        raise Rejected(
            "out_of_range", f"{field}={ts!r} is not a plausible capture time (seconds since epoch)"
        )
    if ts > arrival + future_tolerance_s:
        # Judged against arrival, not processing time: a backlog drained hours later
        # must not let a fix from the future in (it would make every real fix late).
        hint = " (milliseconds? send seconds)" if ts > arrival * 100 else ""
        raise Rejected(
            "out_of_range",
            f"{field}={ts!r} is {ts - arrival:,.0f} s after the fix arrived{hint}; a tag's "
            f"clock may be at most {future_tolerance_s:g} s ahead (--future-tolerance-s)",
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
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= SEQ_MAX:
            raise Rejected("bad_field", f"seq={_show(raw)} must be an integer 0..2^63-1")
        seq = raw
    return Fix(tag_id, ts, lat, lon, acc, batt, seq, "owntracks" if owntracks else "tags")


def parse_json(payload: bytes) -> Any:
    """The JSON document, nested at most MAX_DEPTH deep, or `Rejected`."""
    try:
        doc = json.loads(payload)
    except RecursionError:
        raise Rejected("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also ints of >4300 digits
        raise Rejected("bad_json", f"not JSON: {str(exc)[:120]}") from None
    # Only a payload with many brackets can be deep: counting them costs far less than a walk.
    if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH and _depth(doc) > MAX_DEPTH:
        raise Rejected("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    return doc


def _depth(doc: Any) -> int:
    deepest, todo = 0, [(doc, 1)]
    while todo:
        node, level = todo.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # deeper than that is already the answer
                todo.extend(
                    (v, level + 1) for v in (node.values() if isinstance(node, dict) else node)
                )
    return deepest


def _number(doc: dict[str, Any], name: str, optional: bool = False) -> Any:
    value = doc.get(name)
    if type(value) is float and math.isfinite(value):  # nearly every field of every fix
        return value
    if value is None:
        if optional:
            return None
        raise Rejected("missing_field", f"field {name!r} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected("bad_field", f"field {name!r}={_show(value)} must be a finite number")
    try:
        number = float(value)  # a 400-digit integer does not fit a float
    except OverflowError:
        raise Rejected(
            "bad_field", f"field {name!r} is a {len(str(value))}-digit number, far out of range"
        ) from None
    if not math.isfinite(number):
        raise Rejected("bad_field", f"field {name!r}={value!r} must be a finite number")
    return number


def _show(value: Any, limit: int = 40) -> str:
    """A value for an error message, cut short: a payload must not flood the log."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
