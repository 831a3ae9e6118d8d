"""The one room that makes alerts. Rules say what happened (a dog incident opened
or closed, a parked vehicle exceeded its dwell or left, a tag went quiet or low);
this module turns that into an `Alert`: its fields, its evidence window, its party
and its escalation step (SPEC 3.4, 6). Everything downstream takes `Alert`s."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..geo.cameras import Camera
from ..geo.zones import Zone
from ..model import DOG_KINDS, Alert, Fix
from ..rules import parking
from ..rules.dog import IncidentClosed, IncidentOpened
from ..rules.escalation import YEAR_S, escalation_step
from ..store import alerts as alert_store

PARKING_KIND = "sidewalk_parking"
TRACK_EVIDENCE_MARGIN_S = 300  # the dog's track shown this long before and after an incident


class AlertMaker:
    """Alerts from rule events; reads earlier alerts through the batch's connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- dogs ---------------------------------------------------------------------

    def incident_opened(
        self, event: IncidentOpened, fix: Fix, zone: Zone, party: str, now: float
    ) -> Alert:
        offence = self._offence_number(party, event.started_at, DOG_KINDS)
        return Alert(
            id=alert_store.alert_id(zone.alert_kind, fix.tag_id, zone.id, event.started_at),
            kind=zone.alert_kind,
            status="open",
            device_id=fix.tag_id,
            zone_id=zone.id,
            grid=zone.grid,
            started_at=event.started_at,
            ended_at=None,
            lat=fix.lat,
            lon=fix.lon,
            escalation=escalation_step(offence),
            offence_number=offence,
            party=party,
            zone_name=zone.name,
            opened_at=event.opened_at,
            updated_at=now,
            evidence=[
                {
                    "type": "track",
                    "device_id": fix.tag_id,
                    "from": event.started_at - TRACK_EVIDENCE_MARGIN_S,
                    "to": None,
                }
            ],
        )

    def incident_closed(
        self, event: IncidentClosed, tag_id: str, zone: Zone, now: float
    ) -> Alert | None:
        aid = alert_store.alert_id(zone.alert_kind, tag_id, zone.id, event.started_at)
        alert = alert_store.get_alert(self.conn, aid)
        if alert is None:
            return None
        _close(alert, event.ended_at, now)
        for item in alert.evidence:
            if item.get("type") == "track":
                item["to"] = event.ended_at + TRACK_EVIDENCE_MARGIN_S
        return alert

    # -- device health (owners' notices) ---------------------------------------------

    def health_opened(
        self,
        kind: str,
        tag_id: str,
        started_at: float,
        where: tuple[float | None, float | None],
        party: str | None,
        now: float,
    ) -> Alert:
        lat, lon = where
        return Alert(
            id=alert_store.alert_id(kind, tag_id, None, started_at),
            kind=kind,
            status="open",
            device_id=tag_id,
            zone_id=None,
            grid=None,
            started_at=started_at,
            ended_at=None,
            lat=lat,
            lon=lon,
            party=party,
            opened_at=now,
            updated_at=now,
        )

    def health_closed(
        self, kind: str, tag_id: str, started_at: float, ended_at: float, now: float
    ) -> Alert | None:
        alert = alert_store.get_alert(
            self.conn, alert_store.alert_id(kind, tag_id, None, started_at)
        )
        if alert is None or alert.status == "closed":
            return None
        return _close(alert, ended_at, now)

    # -- parked vehicles ---------------------------------------------------------------

    @staticmethod
    def parking_id(camera: Camera, stop: parking.Stop) -> str:
        return alert_store.alert_id(
            PARKING_KIND, camera.id, parking_zone(camera, stop), stop.rest_since
        )

    def parking_opened(
        self,
        camera: Camera,
        stop: parking.Stop,
        opened: parking.ParkingOpened,
        photos: list[dict[str, Any]],
        now: float,
    ) -> Alert:
        return Alert(
            id=self.parking_id(camera, stop),
            kind=PARKING_KIND,
            status="open",
            device_id=camera.id,
            zone_id=parking_zone(camera, stop),
            grid=camera.grid,
            started_at=opened.started_at,
            ended_at=None,
            lat=camera.lat,
            lon=camera.lon,
            # The party is the vehicle, known once a plate is read: until then no escalation step.
            escalation=None,
            offence_number=None,
            party=None,
            zone_name=camera.name,
            opened_at=opened.opened_at,
            updated_at=now,
            evidence=photos,
        )

    def parking_closed(
        self, camera: Camera, stop: parking.Stop, closed: parking.ParkingClosed, now: float
    ) -> Alert | None:
        alert = alert_store.get_alert(self.conn, self.parking_id(camera, stop))
        if alert is None or alert.status == "closed":
            return None
        return _close(alert, closed.ended_at, now)

    # -- escalation ----------------------------------------------------------------------

    def _offence_number(self, party: str, started_at: float, kinds: tuple[str, ...]) -> int:
        """SPEC 6: this violation's number among the party's in the 12 months before it."""
        earlier = alert_store.offences_between(
            self.conn, party, started_at - YEAR_S, started_at, kinds
        )
        return earlier + 1


def parking_zone(camera: Camera, stop: parking.Stop) -> str:
    """A parking alert's `zone_id`: the loading spot, else the camera's sidewalk."""
    return stop.spot_id or f"{camera.id}/sidewalk"


def _close(alert: Alert, ended_at: float, now: float) -> Alert:
    alert.status, alert.ended_at, alert.updated_at = "closed", ended_at, now
    alert.revision += 1
    return alert
