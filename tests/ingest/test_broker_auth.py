"""Nobody speaks for another on the city's engine either: a real RabbitMQ 3.10 node with
its HTTP auth backend asking the real web app (uvicorn on a free port) who a device is.
A tag logs in with its own credentials and publishes its own fixes; it cannot publish
as another tag, log in with a wrong password or as one of the service's accounts, or
subscribe to anything. The service's internal account (guest, here) is untouched."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pika
import pytest

from smartcity_iot.config import Settings
from smartcity_iot.store import deadletters
from smartcity_iot.store.credentials import mosquitto_hash
from smartcity_iot.store.database import connect, transaction
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.web.server import WebServer

from ..cluster import RabbitCluster
from ..support import TEST_ZONES, free_port, wait_until

SECRET = "broker-auth-secret-for-tests"
PASSWORDS = {"TAG-0001": "pw-one-0123456789", "TAG-0002": "pw-two-0123456789"}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = tmp_path_factory.mktemp("web")
    settings = Settings(
        data_dir=data,
        geofences=TEST_ZONES,
        http=f"127.0.0.1:{free_port()}",
        broker_auth_secret=SECRET,
    )
    conn = connect(settings.database)
    for i, (tag, password) in enumerate(PASSWORDS.items()):
        register_active_tag(conn, tag, f"dog{i}", f"owner{i}", f"1390000000{i}")
        with transaction(conn):
            conn.execute(
                "INSERT INTO tag_credentials(tag_id, mqtt_username, password_hash, created_at) "
                "VALUES (?, ?, ?, ?)",
                (tag, tag, mosquitto_hash(password), time.time()),
            )
    server = WebServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, web: WebServer) -> Iterator[RabbitCluster]:
    base = f"{web.url}broker/auth/{SECRET}"
    conf = (
        "mqtt.allow_anonymous = false\n"
        "auth_backends.1 = internal\n"
        "auth_backends.2 = http\n"
        "auth_http.http_method = post\n"
        + "".join(
            f"auth_http.{k}_path = {base}/{k}\n" for k in ("user", "vhost", "resource", "topic")
        )
    )
    c = RabbitCluster(
        tmp_path_factory.mktemp("rabbit"),
        nodes=1,
        conf_extra=conf,
        plugins=("rabbitmq_auth_backend_http",),
    )
    c.start()
    yield c
    c.stop()


@pytest.fixture
def fixes(node: RabbitCluster) -> Iterator[list[tuple[str, dict]]]:
    """What reaches amq.topic from devices, read by the service's internal account."""
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", node.amqp[0]))
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    for key in ("tags.#", "owntracks.#"):
        ch.queue_bind(q, "amq.topic", routing_key=key)
    got: list[tuple[str, dict]] = []
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            for method, _, body in ch.consume(q, auto_ack=True, inactivity_timeout=0.1):
                if method is not None:
                    got.append((method.routing_key, json.loads(body)))
                if stop.is_set():
                    break
        ch.cancel()

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    yield got
    stop.set()
    th.join(5)
    conn.close()


def device(node: RabbitCluster, user: str, password: str) -> tuple[mqtt.Client, dict]:
    """A 3.1.1 device connected (or refused): the CONNACK's reason and disconnects."""
    state: dict = {"connack": None, "gone": threading.Event(), "suback": None}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{user}-{time.time_ns()}")
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, u, f, rc, p=None: state.update(connack=rc)
    c.on_disconnect = lambda *a: state["gone"].set()
    c.on_subscribe = lambda cl, u, mid, rcs, p=None: state.update(suback=rcs)
    c.connect("127.0.0.1", node.mqtt[0])
    c.loop_start()
    assert wait_until(lambda: state["connack"] is not None or state["gone"].is_set(), 15)
    return c, state


def refusals(web: WebServer) -> dict[str, int]:
    """The backend's denials so far, as `smartcity-iot rejects` counts them."""
    conn = connect(web.app.state.settings.database)
    try:
        return {k: v for k, v in deadletters.counts(conn).items() if k.startswith("broker_")}
    finally:
        conn.close()


def send(c: mqtt.Client, topic: str, seq: int) -> None:
    doc = {"ts": time.time(), "lat": 28.97, "lon": 118.87, "acc": 5, "seq": seq}
    c.publish(topic, json.dumps(doc), qos=1)


def test_a_tag_publishes_its_own_fixes_and_never_another_tags(
    node: RabbitCluster, fixes: list, web: WebServer
) -> None:
    before = refusals(web).get("broker_topic_denied", 0)
    one, state = device(node, "TAG-0001", PASSWORDS["TAG-0001"])
    try:
        assert not state["connack"].is_failure
        send(one, "tags/TAG-0001/fix", 1)
        assert wait_until(lambda: ("tags.TAG-0001.fix", 1) in [(k, d["seq"]) for k, d in fixes], 10)
        send(one, "tags/TAG-0002/fix", 2)  # speaking for another tag
        assert state["gone"].wait(10), "the broker kept a tag that published as another"
        time.sleep(0.5)
        assert [k for k, _ in fixes] == ["tags.TAG-0001.fix"]
        assert refusals(web).get("broker_topic_denied", 0) == before + 1
    finally:
        one.loop_stop()
        one.disconnect()


def test_a_wrong_password_a_service_account_and_an_unknown_tag_are_refused(
    node: RabbitCluster, web: WebServer
) -> None:
    before = refusals(web).get("broker_login_denied", 0)
    for user, password in (
        ("TAG-0001", PASSWORDS["TAG-0002"]),  # another tag's password
        ("smartcity-service", PASSWORDS["TAG-0001"]),  # a service account's name
        ("TAG-9999", "anything-at-all-0123"),  # not registered
    ):
        c, state = device(node, user, password)
        c.loop_stop()
        assert state["connack"] is None or state["connack"].is_failure, user
        assert state["gone"].is_set() or state["connack"] is None, user
    assert refusals(web).get("broker_login_denied", 0) == before + 3  # each counted


def test_a_tag_may_subscribe_to_nothing(node: RabbitCluster) -> None:
    two, state = device(node, "TAG-0002", PASSWORDS["TAG-0002"])
    try:
        assert not state["connack"].is_failure
        two.subscribe("alerts/#", qos=1)
        assert wait_until(lambda: state["suback"] is not None or state["gone"].is_set(), 10)
        refused = state["gone"].is_set() or all(rc.is_failure for rc in state["suback"])
        assert refused, "a tag subscribed to the alerts"
    finally:
        two.loop_stop()
        two.disconnect()


def test_the_backend_is_hidden_without_its_secret(web: WebServer) -> None:
    body = b"username=TAG-0001&password=" + PASSWORDS["TAG-0001"].encode()
    ok = urllib.request.urlopen(f"{web.url}broker/auth/{SECRET}/user", body, timeout=5)
    assert ok.read() == b"allow"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{web.url}broker/auth/not-the-secret-0000/user", body, timeout=5)
    assert err.value.code == 404
