"""Command-center statistics, what a bureau reports over the last `days` days: alerts per
local day by kind and grid, the dispositions against the "721" policy (70 % service =
education, 20 % management = warning, 10 % enforcement = penalty; dismissed alerts are
not violations), how the cases were handled, and the repeat offenders of the last 12
months.

Definitions (the numbers a city-management platform reports, made exact):

* An alert is *raised* when it reaches the operators: its `opened_at` (the dwell was
  exceeded), else its `started_at`. The window holds the alerts started in the last
  `days` days, like the per-day counts.
* *Cases* are the violations (dog and sidewalk-parking alerts). Tag health notices
  (offline, low battery) are the owner's maintenance, not a case a squad handles: they
  appear per kind only, never in the overall rate or the per-grid and per-squad rows.
* *Resolution rate* = resolved / due. Resolved: the workflow reached `resolved` (closed
  with any disposition, a dismissed false alert included: the case is concluded). Due: a
  case raised at least DUE_AFTER_S (24 h) ago, or already resolved. A case younger than a
  day that is still being handled is *in progress* and counts in neither: counted as
  unresolved it would make every rate read at a busy hour look like a failure, and
  leaving out today's resolved cases would hide today's work. *Overdue* = due - resolved.
  The rate is null when nothing is due.
* *Median times* to acknowledge, dispatch and close, each measured from the moment the
  alert was raised to the first such step in alert_events (so the dispatch time includes
  the time to acknowledge), over the alerts that took the step. An even count takes the
  mean of the two middle values; null when no alert took the step.
* *Per grid*: the cases by the alert's grid ("-" for none). *Per squad*: the cases
  dispatched, by the grid whose squad they were dispatched to (each grid is owned by one
  squad, store/workflow.py), so a case closed at the center without dispatch is in no
  squad's row.
* *Repeat offenders*: parties with at least REPEAT_LEAST (2) violations in the 365 days
  before now (SPEC 6's 12 months, whatever `days` is), counted as SPEC 6 counts them: a
  dismissed alert does not count. Owners are dog alerts' `owner:{id}`; vehicles are
  parking alerts whose plate is known (read above the threshold, confirmed or corrected):
  an unread plate is no party and never counts, because a wrong accusation is the worst
  error this system can make."""

from __future__ import annotations

import logging
import statistics as stat
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from ..model import ALERT_KINDS, DOG_KINDS, PARKING_KINDS
from ..rules.escalation import YEAR_S
from ..store import stats as store
from ..store.database import Connection, Row
from ..store.history import History
from .lang import refuse

log = logging.getLogger(__name__)
TARGET_721 = {"education": 0.7, "warning": 0.2, "penalty": 0.1}
CASE_KINDS = DOG_KINDS + PARKING_KINDS
DUE_AFTER_S = 24 * 3600  # a case still open a day after it was raised is overdue
REPEAT_LEAST = 2
OFFENDERS_SHOWN = 100
CASES_SHOWN = 20
STEPS = ("acknowledge", "dispatch", "close")


@dataclass(slots=True, frozen=True)
class Handled:
    """One alert of the window and the seconds from its raise to each step it took."""

    kind: str
    grid: str  # "-" for none
    started_at: float
    raised_at: float  # when the operators could first see it: opened_at, else started_at
    resolved: bool
    disposition: str | None
    spans: dict[str, float]  # step -> seconds after the raise, for the steps taken
    squad_grid: str | None  # the grid whose squad it was dispatched to

    @classmethod
    def of(cls, row: Row) -> Handled:
        raised = float(row["opened_at"] if row["opened_at"] is not None else row["started_at"])
        moments = zip(STEPS, (row["acknowledged_at"], row["dispatched_at"], row["resolved_at"]))
        return cls(
            kind=row["kind"],
            grid=row["grid"] or "-",
            started_at=row["started_at"],
            raised_at=raised,
            resolved=row["workflow"] == "resolved",
            disposition=row["disposition"],
            # a replayed or clock-skewed event before the raise would be negative: no time
            spans={step: max(0.0, at - raised) for step, at in moments if at is not None},
            squad_grid=str(row["squad_grid"]) if row["squad_grid"] else None,
        )


def statistics(
    conn: Connection,
    tz: ZoneInfo,
    days: int = 30,
    history: History | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """`history` (InfluxDB when configured) answers the per-day counts; everything the
    operators set (workflow, dispositions) comes from the embedded database."""
    now = time.time() if now is None else now
    since = now - days * 86400
    alerts = [Handled.of(r) for r in store.handled_since(conn, since)]
    per_day: Counter[tuple[str, str, str]] = Counter()
    dispositions: Counter[str] = Counter()
    for a in alerts:
        day = datetime.fromtimestamp(a.started_at, tz).date().isoformat()
        per_day[(day, a.kind, a.grid)] += 1
        if a.disposition:
            dispositions[a.disposition] += 1
    if history is not None:
        per_day = Counter(
            {(c.day, c.kind, c.grid or "-"): c.count for c in history.alert_counts(since, now)}
        )
    cases = [a for a in alerts if a.kind in CASE_KINDS]
    kinds = dict(_grouped(alerts, lambda a: a.kind))
    return {
        "days": days,
        "per_day": [
            {"day": d, "kind": k, "grid": g, "count": n} for (d, k, g), n in sorted(per_day.items())
        ],
        "dispositions": shares_721(dispositions),
        "dismissed": dispositions["dismissed"],
        "total": len(alerts),
        "since": since,
        "until": now,
        "due_after_s": DUE_AFTER_S,
        "handling": handling(cases, now),
        "by_kind": [{"kind": k, **handling(kinds.get(k, []), now)} for k in ALERT_KINDS],
        "by_grid": [
            {"grid": g, **handling(group, now)} for g, group in _grouped(cases, lambda a: a.grid)
        ],
        "by_squad": [
            {"grid": g, **handling(group, now)}
            for g, group in _grouped(
                (a for a in cases if a.squad_grid), lambda a: str(a.squad_grid)
            )
        ],
        "repeat_offenders": repeat_offenders(conn, now),
    }


def shares_721(dispositions: Counter[str]) -> list[dict[str, Any]]:
    decided = sum(dispositions[k] for k in TARGET_721)
    return [
        {
            "disposition": k,
            "count": dispositions[k],
            "share": dispositions[k] / decided if decided else 0.0,
            "target": target,
        }
        for k, target in TARGET_721.items()
    ]


def handling(alerts: list[Handled], now: float) -> dict[str, Any]:
    """How a group of alerts was handled (the module docstring defines each number)."""
    resolved = sum(1 for a in alerts if a.resolved)
    due = sum(1 for a in alerts if a.resolved or a.raised_at <= now - DUE_AFTER_S)
    medians: dict[str, float | None] = {}
    measured: dict[str, int] = {}
    for step in STEPS:
        spans = [a.spans[step] for a in alerts if step in a.spans]
        medians[step] = stat.median(spans) if spans else None
        measured[step] = len(spans)
    return {
        "raised": len(alerts),
        "resolved": resolved,
        "due": due,
        "overdue": due - resolved,
        "in_progress": len(alerts) - due,
        "resolution_rate": resolved / due if due else None,
        "median_s": medians,
        "measured": measured,
    }


def _grouped(
    alerts: Iterable[Handled], key: Callable[[Handled], str]
) -> list[tuple[str, list[Handled]]]:
    groups: defaultdict[str, list[Handled]] = defaultdict(list)
    for a in alerts:
        groups[key(a)].append(a)
    return sorted(groups.items())


def repeat_offenders(conn: Connection, now: float) -> dict[str, Any]:
    """Owners and vehicles with REPEAT_LEAST or more counted violations in the last 365
    days, most violations first, each with its newest cases."""
    since = now - YEAR_S
    found: dict[str, Any] = {"since": since, "until": now, "least": REPEAT_LEAST}
    for name, prefix, kinds in (
        ("owners", "owner:", DOG_KINDS),
        ("plates", "vehicle:", PARKING_KINDS),
    ):
        total, parties = store.repeat_parties(
            conn, prefix, kinds, PARKING_KINDS, since, now, REPEAT_LEAST, OFFENDERS_SHOWN
        )
        rows = []
        for p in parties:
            cases = store.party_cases(
                conn, p["party"], kinds, PARKING_KINDS, since, now, CASES_SHOWN
            )
            rows.append(
                {
                    "party": p["party"],
                    "count": p["cases"],
                    "last_at": p["last_at"],
                    "cases": [dict(c) for c in cases],
                }
            )
        found[name] = {"total": total, "parties": rows}
    owners = found["owners"]["parties"]
    for o in owners:
        o["owner_id"] = _owner_id(o["party"])
    names = store.owner_names(conn, [o["owner_id"] for o in owners if o["owner_id"] is not None])
    for o in owners:
        o["name"] = names.get(o["owner_id"])
    for v in found["plates"]["parties"]:
        v["plate"] = v["party"].removeprefix("vehicle:")
    return found


def _owner_id(party: str) -> int | None:
    digits = party.removeprefix("owner:")
    return int(digits) if digits.isdigit() else None


def history_unavailable(exc: Exception) -> HTTPException:
    """The answer when InfluxDB does not answer the per-day counts: the reader is told in
    their language; the cause, in the history client's words, goes to the log."""
    log.warning("statistics: the history store did not answer: %s", exc)
    return refuse(503, "stats.history_unavailable")
