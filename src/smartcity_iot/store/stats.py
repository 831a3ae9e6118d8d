"""The reads behind the bureau's statistics (web/stats.py): each alert with the moments
of its handling, and the parties with repeated violations. Reads only."""

from __future__ import annotations

from collections.abc import Sequence

from .database import Connection, Row, json_text

# The first moment of each operator step (store/workflow.py records one event per step; the
# workflow never goes back, so the first is the only one) and the grid of the squad it was
# dispatched to, which the dispatch event keeps.
_HANDLED = """
WITH steps AS (
    SELECT alert_id,
           MIN(CASE WHEN action = 'acknowledge' THEN at END) AS acknowledged_at,
           MIN(CASE WHEN action = 'dispatch' THEN at END) AS dispatched_at,
           MIN(CASE WHEN action = 'close' THEN at END) AS resolved_at,
           MAX(CASE WHEN action = 'dispatch' THEN {squad_grid} END)
               AS squad_grid
    FROM alert_events
    WHERE at >= ?  -- a step comes after its alert started: the older events are others'
    GROUP BY alert_id
)
SELECT a.id, a.kind, a.grid, a.started_at, a.opened_at, a.workflow, a.disposition,
       s.acknowledged_at, s.dispatched_at, s.resolved_at, s.squad_grid
FROM alerts AS a LEFT JOIN steps AS s ON s.alert_id = a.id
WHERE a.started_at >= ?
ORDER BY a.started_at, a.id
"""


def handled_since(conn: Connection, since: float) -> list[Row]:
    """Every alert started at or after `since`, oldest first: kind, grid, started_at,
    opened_at, workflow, disposition, and acknowledged_at, dispatched_at, resolved_at (NULL
    for a step not taken) and squad_grid (the grid whose squad it went to, or NULL)."""
    sql = _HANDLED.format(squad_grid=json_text(conn, "detail", "grid"))
    return conn.execute(sql, (since, since)).fetchall()


# A violation that counts against its party (SPEC 6): of the party's kinds, not dismissed.
# A vehicle counts only through a plate that is known (read above the threshold, confirmed
# or corrected by an operator): an unread plate is no party, so nobody is accused by it.
_COUNTED = """
FROM alerts
WHERE kind IN ({kinds}) AND {party} AND started_at > ? AND started_at <= ?
  AND (disposition IS NULL OR disposition != 'dismissed')
  AND (kind NOT IN ({parking}) OR (plate IS NOT NULL AND plate != ''
       AND plate_status IN ('read', 'confirmed', 'corrected') AND party = 'vehicle:' || plate))
"""


def _counted(kinds: Sequence[str], parking_kinds: Sequence[str], party_test: str) -> str:
    marks = ",".join("?" * len(kinds))
    return _COUNTED.format(
        kinds=marks, party=party_test, parking=",".join("?" * len(parking_kinds))
    )


def repeat_parties(
    conn: Connection,
    prefix: str,
    kinds: Sequence[str],
    parking_kinds: Sequence[str],
    since: float,
    until: float,
    least: int = 2,
    limit: int = 100,
) -> tuple[int, list[Row]]:
    """Parties named `{prefix}…` (`owner:` or `vehicle:`) with at least `least` counted
    violations of `kinds` started in (since, until]: how many there are in all, and the
    first `limit` of them, most violations first, then the most recent (party, cases,
    last_at)."""
    # a range, not LIKE, so the party index serves it (LIKE ignores case, the index does not)
    sql = _counted(kinds, parking_kinds, "party >= ? AND party < ?")
    args = (*kinds, prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1), since, until, *parking_kinds)
    grouped = (
        f"SELECT party, COUNT(*) AS cases, MAX(started_at) AS last_at {sql} "
        "GROUP BY party HAVING COUNT(*) >= ?"
    )
    total = conn.execute(f"SELECT COUNT(*) FROM ({grouped}) AS grouped", (*args, least)).fetchone()[
        0
    ]
    rows = conn.execute(
        grouped + " ORDER BY cases DESC, last_at DESC, party LIMIT ?", (*args, least, limit)
    ).fetchall()
    return int(total), rows


def party_cases(
    conn: Connection,
    party: str,
    kinds: Sequence[str],
    parking_kinds: Sequence[str],
    since: float,
    until: float,
    limit: int = 20,
) -> list[Row]:
    """The counted violations of one party (as repeat_parties counts them), newest first:
    id, kind, started_at, zone_name, grid."""
    sql = _counted(kinds, parking_kinds, "party = ?")
    return conn.execute(
        f"SELECT id, kind, started_at, zone_name, grid {sql} ORDER BY started_at DESC, id LIMIT ?",
        (*kinds, party, since, until, *parking_kinds, limit),
    ).fetchall()


def owner_names(conn: Connection, owner_ids: Sequence[int]) -> dict[int, str]:
    """The registry's name of each owner id given (an id not in the registry is absent)."""
    if not owner_ids:
        return {}
    marks = ",".join("?" * len(owner_ids))
    rows = conn.execute(f"SELECT id, name FROM owners WHERE id IN ({marks})", list(owner_ids))
    return {r["id"]: r["name"] for r in rows}
