"""The operators' handling of an alert: acknowledge -> dispatch to the grid's squad ->
close with a disposition. Each step writes the alert (revision + 1), queues it on the
outbox for alerts/{kind} and records who did it and when in alert_events, all in one
transaction, exactly like the pipeline's own alert changes."""

from __future__ import annotations

import json
import time
from typing import Any

from ..i18n import Refusal
from ..model import Alert
from . import alerts as alert_store
from .database import Connection, transaction
from .sinks import Sinks

DISPOSITIONS = ("education", "warning", "penalty", "dismissed")
# action -> (workflow states it may start from, workflow state it leads to)
TRANSITIONS = {
    "acknowledge": (("new",), "acknowledged"),
    "dispatch": (("acknowledged",), "dispatched"),
    "close": (("acknowledged", "dispatched"), "resolved"),
}


class WorkflowError(Refusal):
    """The step does not apply to the alert's current state: a catalogue key
    (`workflow_error.*`) so the operator reads why in their language."""


# the refusal of each step when the alert is not in a state it may start from
WRONG_STATE = {
    "acknowledge": "workflow_error.cannot_acknowledge",
    "dispatch": "workflow_error.cannot_dispatch",
    "close": "workflow_error.cannot_close",
}


class AlertNotFound(LookupError):
    pass


def squad_of(grid: str | None) -> str | None:
    """Each grid is owned by one squad; the squad is named after its grid."""
    return f"{grid} 中队 squad" if grid else None


def apply(
    conn: Connection,
    alert_id: str,
    action: str,
    actor: str,
    disposition: str | None = None,
    note: str | None = None,
    influx_spool: bool = False,
) -> Alert:
    if action not in TRANSITIONS:
        raise WorkflowError("workflow_error.unknown_action", action=action)
    sources, target = TRANSITIONS[action]
    now = time.time()
    with transaction(conn):
        alert = alert_store.get_alert(conn, alert_id, lock=True)
        if alert is None:
            raise AlertNotFound(alert_id)
        if alert.workflow not in sources:
            raise WorkflowError(WRONG_STATE[action])
        detail: dict[str, Any] = {"from": alert.workflow}
        if action == "dispatch":
            if not alert.grid:
                raise WorkflowError("workflow_error.no_grid")
            detail["squad"] = squad_of(alert.grid)
            detail["grid"] = alert.grid
        if action == "close":
            if disposition not in DISPOSITIONS:
                raise WorkflowError("workflow_error.disposition")
            alert.disposition = disposition
            detail["disposition"] = disposition
        if note:
            detail["note"] = note
        alert.workflow = target
        alert.revision += 1
        alert.updated_at = now
        # the same sink as the pipelines: row, alerts/{kind} outbox, and InfluxDB when configured;
        # the publication also says which step this was and who took it (SPEC 3.4 extra fields)
        handling = {"action": action, "by": actor} | {
            k: detail[k] for k in ("squad", "note") if k in detail
        }
        Sinks(conn, influx_spool=influx_spool).alert(alert, {"handling": handling})
        record_event(conn, alert_id, now, action, actor, detail)
    return alert


def record_event(
    conn: Connection, alert_id: str, at: float, action: str, actor: str, detail: dict
) -> None:
    """One line of an alert's handling history: who did what, when, from what to what."""
    conn.execute(
        "INSERT INTO alert_events(alert_id, at, action, actor, detail) VALUES (?, ?, ?, ?, ?)",
        (alert_id, at, action, actor, json.dumps(detail, ensure_ascii=False)),
    )


def events(conn: Connection, alert_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT at, action, actor, detail FROM alert_events WHERE alert_id = ? ORDER BY at, rowid",
        (alert_id,),
    )
    return [
        {
            "at": r["at"],
            "action": r["action"],
            "actor": r["actor"],
            "detail": json.loads(r["detail"]) if r["detail"] else {},
        }
        for r in rows
    ]
