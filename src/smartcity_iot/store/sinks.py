"""Where the effects of a batch go, inside its transaction: alert rows and the
outbox that publishes them on alerts/{kind}, owners' notices, and the accepted
fixes (the track).

Every sink writes through the batch's own connection, so its effect commits
atomically with the fixes that caused it and before anything is acknowledged.
A sink that talks to another system (InfluxDB) spools here and ships later."""

from __future__ import annotations

from typing import Any

from ..model import Alert, Fix
from . import alerts as alert_store
from . import influx, lineproto, notices, tracks
from .database import Connection


class Sinks:
    def __init__(self, conn: Connection, influx_spool: bool = False) -> None:
        self.conn = conn
        self.influx_spool = (
            influx_spool  # also append every fix and alert change as an InfluxDB point
        )

    def alert(self, alert: Alert, extra: dict[str, Any] | None = None) -> None:
        """An alert opened or changed: store it and queue it for alerts/{kind} (with `extra`
        fields on that publication only)."""
        alert_store.save_alert(self.conn, alert)
        alert_store.enqueue(self.conn, alert, extra)
        notices.record(self.conn, alert)  # an owner's alert: their notice, written with it
        if self.influx_spool:
            influx.spool(self.conn, [lineproto.alert_line(alert)])

    def fixes(self, rows: list[tuple[Fix, float, bool]]) -> None:
        """Accepted in-order fixes as (fix, received_at, late=False): the dog's track."""
        tracks.insert_in_order(
            self.conn, [tracks.fix_row(f, received_at, late) for f, received_at, late in rows]
        )
        if self.influx_spool:
            influx.spool(self.conn, [lineproto.fix_line(f, late) for f, _, late in rows])

    def late_fix(self, fix: Fix, received_at: float) -> bool:
        """A fix not newer than its tag's latest; False when it duplicates a stored one."""
        stored = tracks.insert_late(self.conn, fix, received_at)
        if stored and self.influx_spool:
            influx.spool(self.conn, [lineproto.fix_line(fix, late=True)])
        return stored
