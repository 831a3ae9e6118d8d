"""Process-level wiring: the store, the zones, the tag pipeline and the MQTT
session with its alert publisher, started and stopped together. With an engine
(--engine-url) this process is one of the workers: tag fixes come from the
partitions it owns, and its MQTT session only publishes alerts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .config import Settings
from .counters import Counters
from .geo.city import load_city
from .ingest.mqtt import MqttSession
from .ingest.outbox import OutboxPublisher
from .ingest.partitioned import PartitionedSource
from .ingest.workers import FrameRoute
from .model import Inbound
from .notify.notices import Notifier
from .notify.sms import SmsGateway, sms_gateway
from .notify.texts import load_texts
from .pipeline import CameraPipeline, MobilePipeline, TagPipeline
from .pipeline.process import PipelineProcess
from .store import deadletters
from .store.database import connect, describe
from .store.influx import InfluxWriter
from .store.sinks import Sinks

log = logging.getLogger("smartcity_iot.service")

TAG_TOPICS = ("tags/+/fix", "owntracks/+/+")
CAMERA_TOPICS = ("cameras/+/frame",)


class Service:
    def __init__(self, settings: Settings, sms: SmsGateway | None = None) -> None:
        self.settings = settings
        self.counters = Counters()
        # checked before anything starts: a broken texts file stops the service here
        notice_texts = load_texts(settings.notice_texts)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # zones and cameras checked together: every defect of every file in one run
        city = load_city(settings.geofences, settings.tz, settings.dwell_s, settings.grace_s)
        self.zones = city.zones
        self.conn = connect(settings.database)
        spool = bool(
            settings.influx_url
        )  # points spooled in each batch's transaction, shipped by self.influx
        self.pipeline = TagPipeline.serving(
            settings, self.conn, self.zones, self.counters, self._wake_publisher
        )
        self.cameras, self.units = city.cameras, city.units
        # The vision worker has its own connection: SQLite connections are not shared
        # across threads.
        camera_conn = connect(settings.database)
        self.camera_pipeline = CameraPipeline(
            settings,
            camera_conn,
            self.cameras,
            self.counters,
            on_commit=self._wake_publisher,
            sinks=Sinks(camera_conn, influx_spool=spool),
        )
        self.mobile_pipeline = MobilePipeline(
            settings,
            camera_conn,  # the same vision worker thread runs both camera paths
            self.units,
            self.zones,
            self.counters,
            on_commit=self._wake_publisher,
            sinks=self.camera_pipeline.sinks,
            plate_reader=self.camera_pipeline.plate_reader,
        )
        frames = FrameRoute(
            self._frame,
            queue_max=settings.frame_queue_max,
            on_skip=lambda: self.counters.add("frames_skipped"),
            on_failure=lambda: self.counters.add("frames_failed"),
            record_skipped=lambda n: self.camera_pipeline.count_rejects("frame_skipped", n),
        )
        # The tag path's handler: this process's pipeline, or one in a child process.
        self.pipeline_process: PipelineProcess | None = None
        handle: Callable[[list[Inbound]], None] = self.pipeline.process_isolating
        sweep: Callable[[], None] = self.pipeline.sweep
        if settings.pipeline_process:
            self.pipeline_process = PipelineProcess(settings, self.counters, self._wake_publisher)
            handle, sweep = self.pipeline_process.process_isolating, self.pipeline_process.sweep
        self.source: PartitionedSource | None = None
        if settings.engine_url:
            # One of N workers: fixes from the engine's partitions; the MQTT session
            # (its own client id per worker) publishes alerts and subscribes to nothing.
            # Frames stay with a v5 broker's `serve` (docs/scale.md).
            self.source = PartitionedSource(settings, handle, on_idle=sweep)
            alerts_only = settings.model_copy(
                update={"mqtt_client_id": f"{settings.mqtt_client_id}-{self.source.me}"}
            )
            self.session = MqttSession(alerts_only, (), lambda batch: None)
        else:
            self.session = MqttSession(
                settings,
                TAG_TOPICS + CAMERA_TOPICS,
                handle,
                on_idle=sweep,
                frames=frames,
            )
        self.publisher = OutboxPublisher(self.session, settings.database)
        self.influx = (
            InfluxWriter(settings, settings.database, self.counters)
            if settings.influx_url
            else None
        )
        self.notifier = Notifier(
            settings, notice_texts, sms or sms_gateway(settings), self.counters
        )

    def _frame(self, msg: Inbound, props: list[tuple[str, str]]) -> None:
        """A fixed camera's frame, or a mobile unit's (SPEC 5.1), to its path."""
        if self.mobile_pipeline.handles(msg.topic):
            self.mobile_pipeline.process(msg, props)
        else:
            self.camera_pipeline.process(msg, props)

    def _wake_publisher(self) -> None:
        self.publisher.wake.set()
        self.notifier.wake.set()  # a new owner's notice gets its text at once

    def start(self) -> None:
        log.info(
            "%d zones, %d cameras and %d patrol units from %s; database %s",
            len(self.zones),
            len(self.cameras),
            len(self.units),
            self.settings.geofences,
            describe(self.settings.database),
        )
        if self.pipeline_process:
            self.pipeline_process.start()
        self.publisher.start()
        self.notifier.start()
        if self.influx:
            self.influx.start()
        self.session.start()
        if self.source:
            self.source.start()

    def stop(self) -> None:
        if self.source:  # hands its partitions over first: the others take them at once
            self.source.stop()
        self.session.stop()
        if self.pipeline_process:
            self.pipeline_process.stop()
        self.publisher.stop()
        self.notifier.stop()
        if self.influx:
            self.influx.stop()

    def wait_connected(self, timeout: float = 15) -> bool:
        if not self.session.connected.wait(timeout):
            return False
        return self.source is None or self.source.connected.wait(timeout)

    def status_line(self) -> str:
        c = self.counters.snapshot()
        rejected = sum(v for k, v in c.items() if k.startswith("rejected."))
        return (
            f"fixes {c.get('accepted', 0):,}  alerts opened {c.get('alerts_opened', 0):,} "
            f"closed {c.get('alerts_closed', 0):,}  rejected {rejected:,}  "
            f"duplicates {c.get('duplicate', 0):,} "
            f"late {c.get('late', 0):,}  frames {c.get('frames', 0):,} "
            f"skipped {c.get('frames_skipped', 0):,}  "
            f"published {self.publisher.published:,}  "
            + (f"partitions {len(self.source.partitions)}  " if self.source else "")
            + f"notices {c.get('notices', 0):,} "
            f"sms {c.get('notice_sms_sent', 0):,} capped {c.get('notice_sms_capped', 0):,} "
            f"failed {c.get('notice_sms_failed', 0):,}"
            + (
                f"  influx {c.get('influx_written', 0):,} dropped {c.get('influx_dropped', 0):,}"
                if self.influx
                else ""
            )
        )


def run_forever(
    service: Service,
    stop: threading.Event,
    progress_every_s: float = 2.0,
    out=None,
    started: bool = False,
    lines_every_s: float = 10.0,
) -> None:
    """Run until `stop` is set, printing the status: on a terminal one live line
    redrawn in place; elsewhere (docker, journald, a file) a full, timestamped line
    every `lines_every_s`, since a carriage return there piles every update onto one line."""
    import sys
    import time

    out = out or sys.stderr
    tty = hasattr(out, "isatty") and out.isatty()
    if not started:
        service.start()
    try:
        while not stop.wait(progress_every_s if tty else lines_every_s):
            if tty:
                print("\r" + service.status_line(), end="", file=out, flush=True)
            else:
                line = f"{time.strftime('%H:%M:%S')} status: {service.status_line()}"
                print(line, file=out, flush=True)
    finally:
        if tty:
            print(file=out)  # ends the live line
        service.stop()
        counts = deadletters.counts(service.conn)
        if counts:
            print(
                "rejects by reason: " + ", ".join(f"{r} {n}" for r, n in counts.items()), file=out
            )


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, for `run_forever` and the demo's main loop."""
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
