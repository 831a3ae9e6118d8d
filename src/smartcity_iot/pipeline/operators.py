"""What an operator decides that changes who an alert accuses: the vehicle's plate,
confirmed or typed from the close-up. The alert is republished (alerts/{kind},
InfluxDB) with its new party and escalation, and the change goes into its history."""

from __future__ import annotations

import time

from ..model import Alert
from ..store import alerts as alert_store
from ..store import workflow
from ..store.database import Connection, transaction
from ..store.sinks import Sinks
from .alerting import PARKING_KIND, ParkingAlerts


class PlateError(ValueError):
    """The typed plate is not a mainland plate; the message says what is wrong."""


def set_plate(
    conn: Connection,
    alert_id: str,
    typed: str,
    actor: str,
    note: str | None = None,
    influx_spool: bool = False,
) -> Alert:
    """Confirm (the same plate as read) or correct (another) a parking alert's plate.
    Raises workflow.AlertNotFound, workflow.WorkflowError (not a parking alert) or
    PlateError (malformed plate)."""
    now = time.time()
    with transaction(conn):
        alert = alert_store.get_alert(conn, alert_id, lock=True)
        if alert is None:
            raise workflow.AlertNotFound(alert_id)
        if alert.kind != PARKING_KIND:
            raise workflow.WorkflowError("workflow_error.no_plate")
        try:
            change = ParkingAlerts(conn).operator_plate(alert, typed, now)
        except ValueError as exc:
            raise PlateError(str(exc)) from None
        if note:
            change["note"] = note
        Sinks(conn, influx_spool=influx_spool).alert(alert)
        workflow.record_event(conn, alert_id, now, "plate", actor, change)
    return alert
