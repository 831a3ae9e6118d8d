"""`smartcity-iot demo`: the whole system on one machine. An embedded broker
(unless --mqtt-url is given), the service, and a simulated fleet of dog tags
replaying the last hours of the district faster than real time."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import paho.mqtt.client as mqtt

from .config import Settings, env_name, parse_mqtt_url
from .ingest.embedded_broker import EmbeddedBroker
from .notify.sms import sms_gateway
from .service import Service, stop_on_signals
from .store.database import connect
from .store.registry import register_active_tag

if TYPE_CHECKING:
    from firmware_sim.cameras import CameraScene
    from firmware_sim.tags import TagFleet

SIM_HOURS = 6.0
STATUS_LINE_EVERY_S = 10.0  # output not a terminal (docker, journald): one full line this often
T = TypeVar("T")


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from firmware_sim.publisher import publish_stream

    out = sys.stderr
    broker = None
    if args.mqtt_url is None and env_name("mqtt_url") not in os.environ:
        broker = EmbeddedBroker()
        broker.start()
        # amqtt speaks MQTT 3.1.1 only
        settings = settings.model_copy(update={"mqtt_url": broker.url, "mqtt_protocol": "3.1.1"})
        print(f"embedded MQTT broker on {broker.url}", file=out)

    fleet = demo_fleet(settings, args.tags, args.seed, datetime.now(settings.tz))
    conn = connect(settings.database)
    for tag in fleet.fleet():
        register_active_tag(conn, tag["tag_id"], tag["dog"], tag["owner"], tag["phone"])
    messages = fleet.messages()
    print(
        f"{args.tags} simulated tags, {len(messages):,} fixes over the last {SIM_HOURS:g} h, "
        f"replayed at {args.speed:g}x; database {settings.db_path}",
        file=out,
    )

    # owners' notices on the console, unless --sms-gateway-url names a gateway
    service = Service(settings, sms=sms_gateway(settings, out))
    service.start()
    if not service.wait_connected(20):
        print(f"error: cannot reach the broker at {settings.mqtt_url}", file=out)
        return 1
    web = _start_web(settings, out)
    printer = _AlertPrinter(settings, out)
    sim_state: dict[str, Any] = {"published": 0}
    halt = (
        threading.Event()
    )  # stops the simulators before the service, so none is mid-frame at exit

    def simulate() -> None:
        stats = publish_stream(
            _until(halt, messages),
            settings.mqtt_url,
            protocol=settings.mqtt_protocol,
            speed=args.speed,
            client_id="demo-tag-simulator",
            total=len(messages),
            progress=lambda s: sim_state.update(published=s.get("published", 0)),
        )
        sim_state.update(stats, done=True)

    simulators = [threading.Thread(target=simulate, name="tag-simulator", daemon=True)]
    simulators[0].start()
    simulators += _start_cameras(settings, args.seed, sim_state, out, halt)
    simulators += _start_patrol(settings, args.seed, sim_state, out, halt)
    cameras = len(simulators) > 1
    print(
        "alerts appear below as the service raises them (Ctrl-C to stop); list them any time with "
        f"`smartcity-iot alerts --data-dir {settings.data_dir}`",
        file=out,
    )
    stop = stop_on_signals()
    began = time.monotonic()
    next_line = began + STATUS_LINE_EVERY_S  # not a terminal: a full status line this often
    try:
        while not stop.wait(1.0):
            done = " (simulation finished)" if sim_state.get("done") else ""
            sent = sim_state.get("frames", 0) + sim_state.get("patrol_frames", 0)
            frames = f" frames sent {sent:,} |" if cameras else ""
            printer.status = (
                f"sim {sim_state['published']:,}/{len(messages):,}{done} |{frames} "
                + service.status_line()
            )
            printer.redraw()
            if not printer.tty and time.monotonic() >= next_line:
                next_line += STATUS_LINE_EVERY_S
                print(f"{time.strftime('%H:%M:%S')} status: {printer.status}", file=out, flush=True)
            if args.duration and time.monotonic() - began >= args.duration:
                break
    finally:
        halt.set()
        for thread in simulators:
            thread.join(timeout=15)
        printer.close()
        service.stop()
        web.stop()
        if broker:
            broker.stop()
        print(file=out)
        print(service.status_line(), file=out)
    return 0


FIRST_DOG_DUE_S = 30 * 60  # of replayed time: at the default 60x, an alert within ~30 s


def demo_fleet(settings: Settings, tags: int, seed: int, now: datetime) -> TagFleet:
    """The demo's dog tags, replaying the SIM_HOURS before `now`: the fleet of the first
    seed from `seed` on whose first violation starts within FIRST_DOG_DUE_S of the
    replay, whatever the time of day (walking-hour windows open at fixed hours, and
    some starts would otherwise show nothing for the first minutes)."""
    from firmware_sim.tags import TagFleet

    start = now - timedelta(hours=SIM_HOURS)

    def fleet(s: int) -> TagFleet:
        return TagFleet(
            settings.geofences,
            tags,
            s,
            start,
            SIM_HOURS * 3600,
            violation_share=0.4,
            owntracks_share=0.1,
            tz=settings.timezone,
        )

    for s in range(seed, seed + 20):
        candidate = fleet(s)
        starts = [v["start"] for v in candidate.truth()]
        if starts and min(starts) - start.timestamp() <= FIRST_DOG_DUE_S:
            return candidate
    return fleet(seed)  # none early enough (never seen): the seed asked for


def _until(halt: threading.Event, items: Iterable[T]) -> Iterator[T]:
    for item in items:
        if halt.is_set():
            return
        yield item


def _start_cameras(
    settings: Settings, seed: int, sim_state: dict[str, Any], out: Any, halt: threading.Event
) -> list[threading.Thread]:
    """Simulated enforcement cameras, live: one frame a second each, captured now.
    Frames go out in real time, so their arrival is their capture time even on the
    embedded broker, which has no MQTT v5 user properties to carry it."""
    from firmware_sim.cameras import camera_messages
    from firmware_sim.publisher import publish_stream

    paths = sorted((settings.geofences / "cameras").glob("cam-*.json"))
    if not paths:
        return []
    now = datetime.now(settings.tz)
    scenes = demo_scenes(paths, seed, now, settings.timezone)
    first = min(
        (t["violation_start"] for s in scenes for t in s.truth() if t["violation"]), default=None
    )
    when = (
        f"; the first parking violation is due about {first - now.timestamp():.0f} s from now"
        if first
        else ""
    )
    print(
        f"{len(scenes)} simulated cameras, 1 frame/s each{when}; evidence photos under "
        f"{settings.data_dir / 'evidence'}",
        file=out,
    )

    def run() -> None:
        publish_stream(
            _until(halt, camera_messages(scenes)),
            settings.mqtt_url,
            protocol=settings.mqtt_protocol,
            speed=1.0,
            client_id="demo-camera-simulator",
            ts_property=settings.mqtt_protocol == "5",
            queue_limit=16,
            progress=lambda st: sim_state.update(frames=st.get("published", 0)),
        )

    thread = threading.Thread(target=run, name="camera-simulator", daemon=True)
    thread.start()
    return [thread]


STAGE_CAMERA = "cam-shuiting-01"  # a model street: 120 s dwell, the quickest violation to stage
FIRST_PARKING_DUE_S = 200.0  # staged violation start; the alert follows within seconds (< 240 s)
SCENE_SPAN_S = 12 * 3600
_SEED_TRIES = 64
_PROBE_S = 3600.0


def demo_scenes(paths: list[Path], seed: int, now: datetime, tz: str) -> list[CameraScene]:
    """The demo's camera scenes from `now`: every camera plays a mixed street, and one (the
    model street, whose dwell is shortest) plays violations, with the first seed from `seed`
    on whose first readable violation starts within FIRST_PARKING_DUE_S. The seed is searched,
    not fixed, because which stops fit depends on the loading spots' hours, so on the hour the
    demo starts: seed 7 alone gave a first alert after 237 s at most hours and 845 s at 10:30."""
    from firmware_sim.cameras import CameraScene

    stage = next((p for p in paths if p.stem == STAGE_CAMERA), paths[0])
    scenes = [
        CameraScene(p, seed + i, now, SCENE_SPAN_S, fps=1.0, tz=tz, scenario="mixed")
        for i, p in enumerate(paths)
        if p != stage
    ]
    return [_staging_scene(stage, seed, now, tz), *scenes]


def _staging_scene(path: Path, seed: int, now: datetime, tz: str) -> CameraScene:
    """A short probe first (an hour stages the same first stops as twelve: no early stop
    runs near its end), then the whole span, which must agree."""
    from firmware_sim.cameras import CameraScene

    for k in range(_SEED_TRIES):
        s = seed + 1000 * k
        probe = CameraScene(path, s, now, _PROBE_S, tz=tz, scenario="violations")
        if _first_violation_s(probe) > FIRST_PARKING_DUE_S:
            continue
        scene = CameraScene(path, s, now, SCENE_SPAN_S, tz=tz, scenario="violations")
        if _first_violation_s(scene) <= FIRST_PARKING_DUE_S:
            return scene
    # none early enough (never seen): the configured seed still stages violations
    return CameraScene(path, seed, now, SCENE_SPAN_S, tz=tz, scenario="violations")


def _first_violation_s(scene: CameraScene) -> float:
    """Seconds from the scene's start to its first violation with a readable plate."""
    starts = [t["violation_start"] for t in scene.truth() if t["violation"] and t["plate_readable"]]
    return min(starts, default=float("inf")) - scene.t_start


PATROL_BEAT = ["sw-shuiting-w"]  # 水亭街: a model street (120 s dwell), a loop of ~4.5 min


def _start_patrol(
    settings: Settings, seed: int, sim_state: dict[str, Any], out: Any, halt: threading.Event
) -> list[threading.Thread]:
    """One simulated patrol unit, live at 2 frames/s, on a beat past 水亭街's sidewalk.
    Its position rides in each JPEG's EXIF GPS block (the embedded broker is MQTT 3.1.1:
    no user properties), and also as v5 user properties on a v5 broker."""
    from firmware_sim.patrol import PatrolWorld
    from firmware_sim.publisher import publish_stream

    unit_file = settings.geofences / "cameras" / "patrol-01.json"
    if not unit_file.exists():
        return []
    now = datetime.now(settings.tz)
    world = PatrolWorld(
        settings.geofences, seed, now, 12 * 3600, scenario="violations", tz=settings.timezone
    )
    unit = world.unit(unit_file, beat=PATROL_BEAT)
    first = min(
        (r["confirm_at"] for r in world.truth() if r["violation"] and r["plate_readable"]),
        default=None,
    )
    when = (
        f"; its first violation is due about {first - now.timestamp():.0f} s from now"
        if first is not None
        else ""
    )
    print(
        f"1 simulated patrol unit ({unit.unit_id}), 2 frames/s, a loop of "
        f"{unit.route.period / 60:.1f} min past 水亭街{when}",
        file=out,
    )

    def run() -> None:
        publish_stream(
            _until(halt, world.messages()),
            settings.mqtt_url,
            protocol=settings.mqtt_protocol,
            speed=1.0,
            client_id="demo-patrol-simulator",
            queue_limit=16,
            progress=lambda st: sim_state.update(patrol_frames=st.get("published", 0)),
        )

    thread = threading.Thread(target=run, name="patrol-simulator", daemon=True)
    thread.start()
    return [thread]


def _start_web(settings: Settings, out: Any) -> Any:
    """The web console, with an operator account whose password is new on every run
    (no default credentials, ASVS 6.3.2)."""
    import secrets

    from .store.users import set_operator
    from .web.server import WebServer

    password = secrets.token_urlsafe(12)
    conn = connect(settings.database)
    set_operator(conn, "operator", password, "值班员 Duty operator")
    web = WebServer(settings, sms=sms_gateway(settings, out))  # sign-up codes on the console
    web.start()
    print(
        f"web console: {web.url}  (operator log-in: operator / {password}; owners sign up there)",
        file=out,
    )
    return web


class _AlertPrinter:
    """Subscribes to alerts/# like any consumer and prints each change above a live status line."""

    def __init__(self, settings: Settings, out: Any) -> None:
        self.out = out
        self.tz = settings.tz
        self.status = ""
        self.story = AlertStory(settings.tz)
        self.tty = hasattr(out, "isatty") and out.isatty()
        self._lock = threading.Lock()
        target = parse_mqtt_url(settings.mqtt_url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if target.username:
            self.client.username_pw_set(target.username, target.password)
        self.client.on_connect = lambda c, *a: c.subscribe("alerts/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(target.host, target.port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            line = self.story.line(json.loads(msg.payload))
        except Exception:  # a consumer must not die of one odd message
            line = f"alert on {msg.topic}: {msg.payload[:80]!r}"
        with self._lock:
            if self.tty:  # the alert scrolls up, the live status line stays at the bottom
                print("\r\033[K" + line, file=self.out)
                print(self.status, end="", file=self.out, flush=True)
            else:
                print(line, file=self.out, flush=True)

    def redraw(self) -> None:
        with self._lock:
            if self.tty:
                print("\r\033[K" + self.status, end="", file=self.out, flush=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class AlertStory:
    """One line per publication of an alert, saying what changed since the last one seen of
    the same alert: opened, plate read, ended, acknowledged by whom, dispatched to which squad,
    closed with which disposition. Operator steps carry `handling` (store/workflow.py); an
    older service's publications without it are told from the workflow state alone."""

    def __init__(self, tz: Any) -> None:
        self.tz = tz
        self._last: dict[str, dict[str, Any]] = {}

    def line(self, a: dict[str, Any]) -> str:
        before = self._last.get(a["id"])
        self._last[a["id"]] = a
        label, what = self._change(before, a)
        when = datetime.fromtimestamp(a["started_at"], self.tz).strftime("%H:%M:%S")
        where = a.get("zone_name") or a.get("zone_id") or ""
        return f"{label:<9} {a['kind']:<26} {a['device_id']:<14} {where} since {when}: {what}"

    def _change(self, before: dict[str, Any] | None, a: dict[str, Any]) -> tuple[str, str]:
        handling = a.get("handling") or {}
        step = handling.get("action") or _step_from_workflow(before, a)
        by = str(handling.get("by") or "an operator").removeprefix("operator:")
        if step == "acknowledge":
            return "ACKED", f"acknowledged by {by}"
        if step == "dispatch":
            squad = handling.get("squad") or _squad(a.get("grid"))
            return "DISPATCH", f"dispatched to {squad} by {by}"
        if step == "close":
            return "RESOLVED", f"closed as {a.get('disposition') or '-'} by {by}"
        if before is None:
            opened = "opened" if a["status"] == "open" else "seen once it had ended"
            return "OPEN", opened + _plate_and_step(a)
        if before.get("status") == "open" and a["status"] == "closed":
            lasted = (a.get("ended_at") or a["started_at"]) - a["started_at"]
            return "ENDED", f"violation over after {lasted / 60:.0f} min"
        if a.get("plate") != before.get("plate") or a.get("plate_status") != before.get(
            "plate_status"
        ):
            return "PLATE", f"plate {a.get('plate_status') or 'read'}" + _plate_and_step(a)
        if a.get("escalation") != before.get("escalation"):
            return "ESCALATE", f"now {a.get('escalation')}"
        return "UPDATE", f"revision {a.get('revision', '?')}"


def _step_from_workflow(before: dict[str, Any] | None, a: dict[str, Any]) -> str | None:
    if before is None or before.get("workflow") == a.get("workflow"):
        return None
    return {"acknowledged": "acknowledge", "dispatched": "dispatch", "resolved": "close"}.get(
        a.get("workflow") or ""
    )


def _squad(grid: str | None) -> str:
    from .store.workflow import squad_of

    return squad_of(grid) or "no squad"


def _plate_and_step(a: dict[str, Any]) -> str:
    text = ""
    if a["kind"] == "sidewalk_parking":
        plate = a.get("plate") or f"unread (best guess {a.get('plate_candidate') or '-'})"
        text = f", plate {plate}"
    if a.get("escalation"):
        text += f", step {a['escalation']}"
    return text
