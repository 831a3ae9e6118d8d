"""The alert outbox on alerts/{kind}: published at QoS 1 through the service's MQTT
session, and a row deleted only once the broker has acknowledged it. Workers sharing
one PostgreSQL outbox each claim the rows they send (store/alerts.py `outbox_claim`)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt

from ..store import alerts as alert_store
from ..store.database import connect
from .mqtt import MqttSession

log = logging.getLogger("smartcity_iot.mqtt")


class OutboxPublisher:
    """Publishes the alert outbox at QoS 1 and deletes a row only once the broker
    has acknowledged it: an alert change survives a crash or a broker outage.
    Delivery is at least once; consumers dedupe on (id, revision)."""

    def __init__(self, session: MqttSession, database: Any) -> None:
        self.session = session
        self.conn = connect(database)
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-publisher", daemon=True)
        self.published = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.wait(timeout=1.0)
            self.wake.clear()
            try:
                while not self._stop.is_set() and self._drain_once():
                    pass
            except Exception:
                log.exception("alert publisher failed; retrying")
                self._stop.wait(1.0)

    def _drain_once(self) -> bool:
        if not self.session.connected.is_set():
            return False
        with alert_store.outbox_claim(self.conn) as (rows, done):
            if not rows:
                return False
            infos = [
                (row["seq"], self.session.publish(row["topic"], bytes(row["payload"])))
                for row in rows
            ]
            for seq, info in infos:
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                try:
                    info.wait_for_publish(timeout=5)
                except (RuntimeError, ValueError):
                    break
                if not info.is_published():
                    break
                done.append(seq)
        self.published += len(done)
        return len(done) == len(rows)
