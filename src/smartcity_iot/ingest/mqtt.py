"""The service's one MQTT session (paho-mqtt 2.x); ingest/ alone touches paho.

Reliability rules, each a trap of paho 2.x or MQTT (../shared/research/reliability.md):
* persistent session: a stable client id, v5 `clean_start=False` with a session
  expiry (paho's default wipes the session on every new process), v3.1.1
  `clean_session=False`;
* QoS 1 with manual ack: a message is acknowledged only after the batch holding
  it has committed, so a kill -9 between receive and store loses nothing;
* acks only on the connection that received the message (after a reconnect the
  broker redelivers anything unacknowledged, and the filter drops duplicates);
* subscribe in on_connect; callbacks never raise (an exception would silently
  stop paho's network thread) and never block (keepalive).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import Settings, parse_mqtt_url
from ..model import Inbound
from .workers import BatchWorker, FrameRoute, FrameWorker

log = logging.getLogger("smartcity_iot.mqtt")

RECEIVE_MAXIMUM = 2000  # v5: how many unacknowledged messages the broker may have in flight to us

# CONNACK reason codes (v5 numbering; paho maps a v3.1.1 return code onto these)
_BAD_CREDENTIALS = {134, 135}  # bad user name or password, not authorized
_BAD_CLIENT_ID = {133}
_BAD_PROTOCOL = {132}


def display_url(url: str) -> str:
    """The broker URL as it may be printed or logged: a password in it shows as ***."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class ConnectProblem:
    """Why the session is not connected: what failed, and what the user can do."""

    what: str
    fix: str


def _socket_problem(exc: BaseException | None, host: str, port: int) -> ConnectProblem:
    flag = "--mqtt-url / SMARTCITY_MQTT_URL"
    if isinstance(exc, ConnectionRefusedError):
        return ConnectProblem(
            f"connection refused: nothing listens on {host}:{port}",
            f"start the broker, or pass its address with {flag}",
        )
    if isinstance(exc, socket.gaierror):
        return ConnectProblem(
            f"host name {host!r} does not resolve ({exc.strerror})",
            f"check the host in {flag}",
        )
    if isinstance(exc, TimeoutError):
        return ConnectProblem(
            f"no answer from {host}:{port} (timed out)",
            f"check the address in {flag} and that a firewall lets port {port} through",
        )
    detail = f"{type(exc).__name__}: {exc}" if exc else "the TCP connection failed"
    return ConnectProblem(f"cannot connect to {host}:{port} ({detail})", f"check {flag}")


def _connack_problem(reason: Any) -> ConnectProblem:
    code = getattr(reason, "value", None)
    if code in _BAD_CREDENTIALS:
        return ConnectProblem(
            f"the broker refused our credentials ({reason})",
            "put a user the broker knows into the URL, mqtt://USER:PASSWORD@host:port "
            "(--mqtt-url / SMARTCITY_MQTT_URL)",
        )
    if code in _BAD_CLIENT_ID:
        return ConnectProblem(
            f"the broker refused our client id ({reason})",
            "choose another --mqtt-client-id / SMARTCITY_MQTT_CLIENT_ID",
        )
    if code in _BAD_PROTOCOL:
        return ConnectProblem(
            f"the broker does not speak our MQTT version ({reason})",
            "pass --mqtt-protocol 3.1.1 (or 5) to match the broker",
        )
    return ConnectProblem(
        f"the broker refused the connection ({reason})", "see the broker's log for the cause"
    )


class MqttSession:
    """Connects, keeps the session, feeds batches to `handler`, acks after it returns."""

    def __init__(
        self,
        settings: Settings,
        topics: Sequence[str],
        handler: Callable[[list[Inbound]], None],
        on_idle: Callable[[], None] = lambda: None,
        idle_every_s: float = 5.0,
        frames: FrameRoute | None = None,
    ) -> None:
        self.settings = settings
        self.topics = list(topics)
        self._stop = threading.Event()
        self.batches = BatchWorker(settings, handler, self._ack, self._stop, on_idle, idle_every_s)
        self.frames = FrameWorker(frames, self._ack, self._stop) if frames else None
        self._threads: list[threading.Thread] = []
        self.connected = threading.Event()
        self.session_present: bool | None = None
        self._generation = 0
        self._up = False  # between a CONNACK that accepted us and the next disconnect
        self._lost_at: float | None = None  # when a connection we had was lost
        self._failing = False  # a retry failed already: later failures log at debug level
        # why we are not connected (None once connected), for `serve`'s start check
        self.problem: ConnectProblem | None = None
        self.client = self._make_client()

    # -- connection -------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.mqtt_protocol == "5"
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        target = parse_mqtt_url(s.mqtt_url)
        if target.username:
            client.username_pw_set(target.username, target.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        client.suppress_exceptions = True
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> None:
        s = self.settings
        target = parse_mqtt_url(s.mqtt_url)
        kwargs: dict[str, Any] = {"keepalive": 30}
        if s.mqtt_protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            kwargs.update(clean_start=False, properties=props)
        self.client.connect_async(target.host, target.port, **kwargs)
        self.client.loop_start()
        self._threads = [
            threading.Thread(target=self.batches.run, name="ingest-worker", daemon=True)
        ]
        if self.frames:
            self._threads.append(
                threading.Thread(target=self.frames.run, name="vision-worker", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    @property
    def connections(self) -> int:
        """How many times the session has connected (reconnects included)."""
        return self._generation

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        # Stop the network thread before disconnecting: after disconnect() the thread
        # exits by itself, and paho 2.2's loop_stop() then reads a None thread (a race
        # that failed CI once). DISCONNECT is written from this thread instead.
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        try:
            if reason.is_failure:
                self.problem = _connack_problem(reason)
                self._log_failure(self.problem)
                return
            self.problem = None
            self._up, self._failing = True, False
            self._generation += 1
            self.session_present = bool(flags.session_present)
            if self.topics:
                client.subscribe([(t, 1) for t in self.topics])
            else:  # a publishing-only session (an engine worker's alerts): ready now
                self.connected.set()
            outage = (
                f" after {time.monotonic() - self._lost_at:.0f} s without the broker"
                if self._lost_at is not None
                else ""
            )
            self._lost_at = None
            log.info(
                "%s %s%s (session %s)",
                "reconnected to" if self._generation > 1 else "connected to",
                display_url(self.settings.mqtt_url),
                outage,
                "resumed" if self.session_present else "new",
            )
        except Exception:  # never let paho's network thread die
            log.exception("on_connect failed")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this from inside its `except OSError`, without the error: it is
        # still the one being handled, so sys.exc_info() names it (refused, DNS, timeout)
        try:
            target = parse_mqtt_url(self.settings.mqtt_url)
            self.problem = _socket_problem(sys.exc_info()[1], target.host, target.port)
            self._log_failure(self.problem)
        except Exception:
            log.exception("on_connect_fail failed")

    def _log_failure(self, problem: ConnectProblem) -> None:
        """The first failed attempt is a warning, the retries after it debug: an hour
        of outage is one line, not one per retry."""
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(
            level, "cannot connect to %s: %s", display_url(self.settings.mqtt_url), problem.what
        )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        # Ready only once the broker has the subscriptions: nothing published after this is missed.
        if any(getattr(r, "is_failure", False) for r in reasons):
            log.error("broker refused a subscription: %s", reasons)
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()
        was_up, self._up = self._up, False
        if not self._stop.is_set() and was_up:
            self._lost_at = time.monotonic()
            self._failing = True  # the retries of this outage log at debug level
            log.warning(
                "lost the broker at %s (%s); reconnecting",
                display_url(self.settings.mqtt_url),
                reason,
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            if self.frames and msg.topic.startswith("cameras/"):
                self._on_frame(msg)
                return
            self.batches.inbox.put(
                Inbound(
                    msg.topic, bytes(msg.payload), time.time(), (self._generation, msg.mid, msg.qos)
                )
            )
        except Exception:
            log.exception("on_message failed")

    def _on_frame(self, msg: mqtt.MQTTMessage) -> None:
        """Frames go to their own bounded queue and worker: under overload a frame is
        skipped (counted, acknowledged), and tag fixes never wait behind vision."""
        assert self.frames is not None
        props = getattr(getattr(msg, "properties", None), "UserProperty", None) or []
        inbound = Inbound(
            msg.topic, bytes(msg.payload), time.time(), (self._generation, msg.mid, msg.qos)
        )
        if not self.frames.offer(inbound, list(props)) and msg.qos > 0:
            self.client.ack(msg.mid, msg.qos)

    # -- acknowledgement ---------------------------------------------------------

    def _ack(self, batch: list[Inbound]) -> None:
        for msg in batch:
            generation, mid, qos = msg.token
            # A message from an earlier connection has been or will be redelivered:
            # its mid may now name a different message, so it must not be acked here.
            if qos > 0 and generation == self._generation:
                self.client.ack(mid, qos)

    # -- outgoing ---------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)
