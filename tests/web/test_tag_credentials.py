"""Tag device credentials from activation work on a real Mosquitto: the stored hashes
are its password_file format, and the per-device ACL `pattern write tags/%u/fix`
lets a tag publish only its own fixes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from smartcity_iot.store import credentials

from ..support import Mosquitto, wait_until
from .conftest import User, active_tag

ACL = """\
pattern write tags/%u/fix
user ingest
topic read tags/+/fix
"""


def connect(port: int, username: str, password: str) -> tuple[mqtt.Client, mqtt.ReasonCode | None]:
    result: dict[str, mqtt.ReasonCode] = {}
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(username, password)

    def on_connect(client, userdata, flags, reason, props):  # type: ignore[no-untyped-def]
        result["rc"] = reason
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(5)
    return c, result.get("rc")


def test_an_activated_tag_can_publish_only_its_own_fixes(
    tmp_path: Path, signup: Callable[..., User], operator: User, conn: sqlite3.Connection
) -> None:
    a, b = signup("13900000091"), signup("13900000092")
    cred_a = active_tag(a, operator)["activation"]
    cred_b = active_tag(b, operator)["activation"]
    broker = Mosquitto(tmp_path / "secure-broker")
    (broker.workdir / "passwd").write_text(
        credentials.mosquitto_password_file(conn)
        + f"ingest:{credentials.mosquitto_hash('ingest-secret')}\n"
    )
    (broker.workdir / "acl").write_text(ACL)
    broker.conf.write_text(
        broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
        + f"password_file {broker.workdir / 'passwd'}\nacl_file {broker.workdir / 'acl'}\n"
    )
    broker.start()
    try:
        got: list[str] = []
        ingest, rc = connect(broker.port, "ingest", "ingest-secret")
        assert rc is not None and not rc.is_failure
        ingest.on_message = lambda c, u, m: got.append(m.topic)
        ingest.subscribe("tags/+/fix", qos=1)
        _, wrong = connect(broker.port, cred_a["mqtt_username"], "not-the-password")
        assert wrong is not None and wrong.is_failure
        tag, rc = connect(broker.port, cred_a["mqtt_username"], cred_a["mqtt_password"])
        assert rc is not None and not rc.is_failure
        tag.publish(
            f"tags/{cred_b['mqtt_username']}/fix", b'{"spoof": true}', qos=1
        ).wait_for_publish(5)
        tag.publish(
            cred_a["publish_topic"], b'{"ts": 1, "lat": 28.9, "lon": 118.8}', qos=1
        ).wait_for_publish(5)
        assert wait_until(lambda: len(got) >= 1, 5)
        assert got == [cred_a["publish_topic"]]
    finally:
        broker.stop()
