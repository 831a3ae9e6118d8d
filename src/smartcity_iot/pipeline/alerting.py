"""The one room that makes alerts. Rules say what happened (a dog incident opened
or closed, a parked vehicle exceeded its dwell or left, a tag went quiet or low);
this module turns that into an `Alert`: its fields, its evidence window, its party
and its escalation step (SPEC 3.4, 6). Everything downstream takes `Alert`s."""

from __future__ import annotations

from typing import Any

from ..geo.cameras import Camera
from ..geo.zones import Zone
from ..model import DOG_KINDS, PARKING_KINDS, Alert, Fix, check_plate
from ..rules import parking
from ..rules.dog import IncidentClosed, IncidentOpened
from ..rules.escalation import YEAR_S, escalation_step
from ..rules.plate_vote import PlateVerdict
from ..rules.resighting import PlateStop
from ..store import alerts as alert_store
from ..store.database import Connection

PARKING_KIND = "sidewalk_parking"
OPERATOR_STATUSES = ("confirmed", "corrected")  # a person decided: no automatic read overrides
TRACK_EVIDENCE_MARGIN_S = 300  # the dog's track shown this long before and after an incident


class AlertMaker:
    """Alerts from rule events; reads earlier alerts through the batch's connection."""

    def __init__(self, conn: Connection) -> None:
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
        alert = alert_store.get_alert(self.conn, aid, lock=True)
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
            self.conn, alert_store.alert_id(kind, tag_id, None, started_at), lock=True
        )
        if alert is None or alert.status == "closed":
            return None
        return _close(alert, ended_at, now)

    def _offence_number(self, party: str, started_at: float, kinds: tuple[str, ...]) -> int:
        return offence_number(self.conn, party, started_at, kinds)


class ParkingAlerts:
    """`sidewalk_parking` alerts: a stop past its dwell, its end, and the vehicle's
    identity (plate, party, escalation) as reads and operators establish it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def alert_id(camera: Camera, stop: parking.Stop) -> str:
        zone = parking_zone(camera, stop)
        return alert_store.alert_id(PARKING_KIND, camera.id, zone, stop.rest_since)

    def opened(
        self,
        camera: Camera,
        stop: parking.Stop,
        opened: parking.ParkingOpened,
        photos: list[dict[str, Any]],
        plate: PlateVerdict,
        now: float,
    ) -> Alert:
        alert = Alert(
            id=self.alert_id(camera, stop),
            kind=PARKING_KIND,
            status="open",
            device_id=camera.id,
            zone_id=parking_zone(camera, stop),
            grid=camera.grid,
            started_at=opened.started_at,
            ended_at=None,
            lat=camera.lat,
            lon=camera.lon,
            zone_name=camera.name,
            opened_at=opened.opened_at,
            updated_at=now,
            evidence=photos,
        )
        self._identify(alert, plate)
        return alert

    def reread(
        self, alert_id: str, plate: PlateVerdict, photo: dict | None, now: float
    ) -> Alert | None:
        """A later read of an open violation: the alert changes only when the verdict or
        the close-up does, and never once an operator has confirmed or corrected it."""
        alert = alert_store.get_alert(self.conn, alert_id, lock=True)
        if alert is None or alert.plate_status in OPERATOR_STATUSES:
            return None
        before = (alert.plate, alert.plate_status, alert.plate_candidate)
        self._identify(alert, plate)
        changed = (alert.plate, alert.plate_status, alert.plate_candidate) != before
        if photo is not None:
            alert.evidence = [e for e in alert.evidence if e.get("role") != "plate"] + [photo]
            changed = True
        if not changed:
            return None
        alert.revision += 1
        alert.updated_at = now
        return alert

    def operator_plate(self, alert: Alert, typed: str, now: float) -> dict[str, Any]:
        """An operator confirms the read plate or types the right one (`check_plate`
        raises ValueError for a malformed plate). Returns what changed, for the history."""
        plate = check_plate(typed)
        status = "confirmed" if plate == (alert.plate or alert.plate_candidate) else "corrected"
        change: dict[str, Any] = {
            "from": alert.plate or alert.plate_candidate,
            "from_status": alert.plate_status,
            "to": plate,
            "status": status,
        }
        conf = alert.plate_conf if status == "confirmed" else None
        self._identify(alert, PlateVerdict(plate, conf, status, plate))
        alert.revision += 1
        alert.updated_at = now
        change |= {"party": alert.party, "escalation": alert.escalation}
        return change

    def closed(
        self, camera: Camera, stop: parking.Stop, closed: parking.ParkingClosed, now: float
    ) -> Alert | None:
        alert = alert_store.get_alert(self.conn, self.alert_id(camera, stop), lock=True)
        if alert is None or alert.status == "closed":
            return None
        return _close(alert, closed.ended_at, now)

    def _identify(self, alert: Alert, verdict: PlateVerdict) -> None:
        """SPEC 6: a known plate makes the party `vehicle:{plate}` and numbers the
        violation among that vehicle's in the 12 months before it, across cameras and
        patrols; an unread plate has no party and no step."""
        plate = verdict.plate
        alert.plate, alert.plate_conf, alert.plate_status = plate, verdict.conf, verdict.status
        alert.plate_candidate = verdict.candidate
        if plate is None:
            alert.party = alert.escalation = alert.offence_number = None
            return
        alert.party = f"vehicle:{plate}"
        number = offence_number(self.conn, alert.party, alert.started_at, PARKING_KINDS, alert.id)
        alert.offence_number, alert.escalation = number, escalation_step(number)


class PatrolAlerts(ParkingAlerts):
    """`sidewalk_parking` alerts of mobile units (SPEC 5.1): one per vehicle and stop, by
    its plate (read at two captures, so the party is known from the start), at the
    vehicle's place, the device the unit of the confirming capture."""

    @staticmethod
    def patrol_alert_id(stop: PlateStop) -> str:
        party = f"vehicle:{stop.plate}"
        return alert_store.alert_id(PARKING_KIND, party, stop.first.zone_id, stop.started_at)

    def patrol_opened(
        self, stop: PlateStop, zone: Zone, photos: list[dict[str, Any]], now: float
    ) -> Alert:
        confirm = stop.confirm
        assert confirm is not None and stop.opened_at is not None
        alert = Alert(
            id=self.patrol_alert_id(stop),
            kind=PARKING_KIND,
            status="open",
            device_id=confirm.unit_id,
            zone_id=stop.first.zone_id,
            grid=zone.grid,
            started_at=stop.started_at,
            ended_at=None,
            lat=round(stop.first.lat, 7),
            lon=round(stop.first.lon, 7),
            zone_name=zone.name,
            opened_at=stop.opened_at,
            updated_at=now,
            evidence=photos,
        )
        conf = min(stop.first.conf, confirm.conf)  # both captures read it at least this well
        self._identify(alert, PlateVerdict(stop.plate, round(conf, 3), "read", stop.plate))
        return alert

    def patrol_updated(
        self, stop: PlateStop, photos: list[dict[str, Any]], now: float
    ) -> Alert | None:
        """A later capture: new photos replace those of their role; the plate stands."""
        alert = alert_store.get_alert(self.conn, self.patrol_alert_id(stop), lock=True)
        if alert is None or alert.status == "closed":
            return None
        new = {p["role"]: p for p in photos}
        kept = [new.pop(e.get("role"), e) for e in alert.evidence]  # in place, order kept
        alert.evidence = kept + list(new.values())
        alert.revision += 1
        alert.updated_at = now
        return alert

    def patrol_closed(self, stop: PlateStop, ended_at: float, now: float) -> Alert | None:
        alert = alert_store.get_alert(self.conn, self.patrol_alert_id(stop), lock=True)
        if alert is None or alert.status == "closed":
            return None
        return _close(alert, ended_at, now)


def offence_number(
    conn: Connection,
    party: str,
    started_at: float,
    kinds: tuple[str, ...],
    exclude: str | None = None,
) -> int:
    """SPEC 6: this violation's number among the party's in the 12 months before it."""
    since = started_at - YEAR_S
    return alert_store.offences_between(conn, party, since, started_at, kinds, exclude) + 1


def parking_zone(camera: Camera, stop: parking.Stop) -> str:
    """A parking alert's `zone_id`: the loading spot, else the camera's sidewalk."""
    return stop.spot_id or f"{camera.id}/sidewalk"


def _close(alert: Alert, ended_at: float, now: float) -> Alert:
    alert.status, alert.ended_at, alert.updated_at = "closed", ended_at, now
    alert.revision += 1
    return alert
