"""`smartcity-iot history track|counts`: the history reads of store/history.py,
from InfluxDB when --influx-url is set and from the embedded database otherwise."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta

from .config import Settings
from .store.history import History, HistoryError, open_history
from .tables import print_table


def parse_instant(value: str, flag: str, settings: Settings) -> float:
    """ISO 8601; a date-time without an offset is local time in the city time zone."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{flag} {value!r} is not an ISO date-time (e.g. 2026-11-23T08:00 or "
            "2026-11-23T08:00:00+08:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=settings.tz)
    return when.timestamp()


def run_history(args: argparse.Namespace, settings: Settings) -> int:
    history = open_history(settings)
    try:
        if args.history_command == "track":
            return _track(args, settings, history)
        return _counts(args, settings, history)
    except HistoryError as exc:
        print(f"smartcity-iot: error: {exc}", file=sys.stderr)
        return 1


def _track(args: argparse.Namespace, settings: Settings, history: History) -> int:
    end = parse_instant(args.end, "--to", settings) if args.end else time.time()
    start = parse_instant(args.start, "--from", settings) if args.start else end - 86400
    if start > end:
        raise ValueError("--from must not be after --to")
    points = history.track(args.tag_id, start, end)
    if args.json:
        print(json.dumps([asdict(p) for p in points], ensure_ascii=False))
        return 0
    if not points:
        print(f"no fixes of {args.tag_id} in that range")
    for p in points:
        when = datetime.fromtimestamp(p.ts, settings.tz).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        acc = "-" if p.acc is None else f"{p.acc:g} m"
        batt = "-" if p.batt is None else f"{p.batt:g} %"
        print(f"{when}  {p.lat:.6f} {p.lon:.6f}  acc {acc:<7} batt {batt}")
    return 0


def _counts(args: argparse.Namespace, settings: Settings, history: History) -> int:
    if args.days < 1:
        raise ValueError("--days must be at least 1")
    now = datetime.now(settings.tz)
    first_day = (now - timedelta(days=args.days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    counts = history.alert_counts(first_day.timestamp(), now.timestamp() + 1)
    if args.json:
        print(json.dumps([asdict(c) for c in counts], ensure_ascii=False))
        return 0
    if not counts:
        print(f"no alerts since {first_day.date().isoformat()}")
        return 0
    print_table(
        ("DAY", "KIND", "GRID", "ALERTS"),
        ((c.day, c.kind, c.grid, c.count) for c in counts),
        right=(3,),
    )
    return 0
