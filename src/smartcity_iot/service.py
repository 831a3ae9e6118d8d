"""Process-level wiring: the store, the zones, the tag pipeline and the MQTT
session with its alert publisher, started and stopped together."""

from __future__ import annotations

import logging
import threading
import time

from .config import Settings
from .counters import Counters
from .geo.zones import load_zones
from .ingest.mqtt import MqttSession, OutboxPublisher
from .pipeline import Inbound, TagPipeline
from .store import deadletters
from .store.sqlite import connect

log = logging.getLogger("smartcity_iot.service")

TAG_TOPICS = ("tags/+/fix", "owntracks/+/+")


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.counters = Counters()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.zones = load_zones(settings.geofences, settings.tz)
        self.conn = connect(settings.db_path)
        self.pipeline = TagPipeline(settings, self.conn, self.zones, self.counters, on_commit=self._wake_publisher)
        self.session = MqttSession(settings, TAG_TOPICS, self.pipeline.process_isolating, on_idle=self.pipeline.sweep)
        self.publisher = OutboxPublisher(self.session, settings.db_path)
        self.started_at = time.time()

    def _wake_publisher(self) -> None:
        self.publisher.wake.set()

    def start(self) -> None:
        log.info("%d zones from %s; database %s", len(self.zones), self.settings.geofences, self.settings.db_path)
        self.publisher.start()
        self.session.start()

    def stop(self) -> None:
        self.session.stop()
        self.publisher.stop()

    def wait_connected(self, timeout: float = 15) -> bool:
        return self.session.connected.wait(timeout)

    def status_line(self) -> str:
        c = self.counters.snapshot()
        rejected = sum(v for k, v in c.items() if k.startswith("rejected."))
        return (
            f"fixes {c.get('accepted', 0):,}  alerts opened {c.get('alerts_opened', 0):,} "
            f"closed {c.get('alerts_closed', 0):,}  rejected {rejected:,}  duplicates {c.get('duplicate', 0):,} "
            f"late {c.get('late', 0):,}  published {self.publisher.published:,}"
        )


def run_forever(service: Service, stop: threading.Event, progress_every_s: float = 2.0, out=None) -> None:
    """Run until `stop` is set, printing a live status line."""
    import sys

    out = out or sys.stderr
    service.start()
    try:
        while not stop.wait(progress_every_s):
            print("\r" + service.status_line(), end="", file=out, flush=True)
    finally:
        print(file=out)
        service.stop()
        counts = deadletters.counts(service.conn)
        if counts:
            print("rejects by reason: " + ", ".join(f"{r} {n}" for r, n in counts.items()), file=out)


__all__ = ["Service", "run_forever", "Inbound"]
