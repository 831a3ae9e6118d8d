"""The production shape: docker-compose.yml validates with Debian's docker-compose,
and every configuration file it mounts is under test -- the shipped Mosquitto
config and ACL run on a real Mosquitto 2.0, the Grafana provisioning parses and
its dashboard queries run on a real InfluxDB."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from smartcity_iot.model import Alert, Fix
from smartcity_iot.store import lineproto

from ..influxd import Influxd
from ..support import REPO, free_port, listening, wait_until

DEPLOY = REPO / "deploy"
ENV_EXAMPLE = DEPLOY / "env.example"


def compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed: run scripts/test.sh, which installs Debian's"
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [binary, "-f", str(REPO / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
        cwd=REPO,
    )


def test_compose_file_validates_and_wires_every_part() -> None:
    r = compose("--env-file", str(ENV_EXAMPLE), "config")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    services = doc["services"]
    city = {"rabbit-1", "rabbit-2", "rabbit-3", "postgres", "worker", "console"}
    assert set(services) == {"mosquitto", "influxdb", "service", "sim-tags", "grafana"} | city
    assert services["sim-tags"]["profiles"] == ["sim"]
    assert all(services[name]["profiles"] == ["city"] for name in city)
    init = services["influxdb"]["environment"]
    assert init["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert {
        "DOCKER_INFLUXDB_INIT_ORG",
        "DOCKER_INFLUXDB_INIT_BUCKET",
        "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN",
    } <= set(init)
    env = services["service"]["environment"]
    assert env["SMARTCITY_INFLUX_URL"] == "http://influxdb:8086"
    assert env["SMARTCITY_INFLUX_TOKEN"] == init["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert env["SMARTCITY_INFLUX_BUCKET"] == init["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert env["SMARTCITY_MQTT_URL"].startswith("mqtt://smartcity-service:")
    # every file or folder mounted from the repository exists
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = (
                vol["source"] if isinstance(vol, dict) else vol.split(":")[0]
            )  # long or short syntax
            if source.startswith("/"):  # a bind mount (named volumes have no path)
                assert Path(source).exists(), f"{name} mounts missing {source}"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (\S+)", dockerfile, re.M):
        assert (REPO / src).exists(), f"Dockerfile copies missing {src}"


def test_the_city_profile_wires_workers_to_the_cluster_the_database_and_influxdb() -> None:
    """docs/scale.md's shape: three RabbitMQ nodes of one cluster (their MQTT listener is
    the devices' door), PostgreSQL, N workers and the console on the same settings."""
    r = compose("--env-file", str(ENV_EXAMPLE), "--profile", "city", "config")
    assert r.returncode == 0, r.stderr
    services = yaml.safe_load(r.stdout)["services"]
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    for n in (1, 2, 3):
        node = services[f"rabbit-{n}"]
        assert node["hostname"] == f"rabbit-{n}" and f"rabbit@rabbit-{n}" in conf
        assert node["environment"]["RABBITMQ_ERLANG_COOKIE"]  # one cookie: one cluster
    assert (
        len({services[f"rabbit-{n}"]["environment"]["RABBITMQ_ERLANG_COOKIE"] for n in (1, 2, 3)})
        == 1
    )
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_mqtt" in plugins and "rabbitmq_consistent_hash_exchange" in plugins
    # devices log in as their tags through the console (tests/ingest/test_broker_auth.py)
    assert "rabbitmq_auth_backend_http" in plugins and "auth_backends.2 = http" in conf
    assert "mqtt.allow_anonymous = false" in conf
    for n in (1, 2, 3):
        node = services[f"rabbit-{n}"]
        assert node["entrypoint"] == ["/etc/rabbitmq/auth-entrypoint.sh"]
        secret = node["environment"]["SMARTCITY_BROKER_AUTH_SECRET"]
        assert secret == services["console"]["environment"]["SMARTCITY_BROKER_AUTH_SECRET"]
    worker, console = services["worker"], services["console"]
    assert worker["environment"] == console["environment"]  # the console is one more worker
    env = worker["environment"]
    hosts = env["SMARTCITY_ENGINE_URL"].split("@", 1)[1]
    assert hosts == "rabbit-1:5672,rabbit-2:5672,rabbit-3:5672"
    assert env["SMARTCITY_DATABASE_URL"].startswith("postgresql://smartcity:")
    assert env["SMARTCITY_DATABASE_URL"].endswith("@postgres:5432/smartcity")
    assert env["SMARTCITY_INFLUX_URL"] == "http://influxdb:8086"
    assert worker["deploy"]["replicas"] >= 2 and "ports" not in worker
    assert "8080" in str(console["ports"])  # the command center's screen
    # the settings the workers are given are the service's own (no typo'd variable)
    from smartcity_iot.config import Settings

    known = {f"SMARTCITY_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known, set(env) - known


def test_compose_refuses_to_start_without_secrets() -> None:
    r = compose("config")
    assert r.returncode != 0 and "set MQTT_SERVICE_PASSWORD in .env" in r.stderr


def parse_conf(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            out.setdefault(key, []).append(value.strip())
    return out


def test_mosquitto_conf_requires_login_and_sizes_its_queues() -> None:
    conf = parse_conf(DEPLOY / "mosquitto" / "mosquitto.conf")
    assert conf["allow_anonymous"] == ["false"] and conf["persistence"] == ["true"]
    assert conf["password_file"] and conf["acl_file"] == ["/mosquitto/config/acl"]
    assert int(conf["max_queued_messages"][0]) >= 1_000_000  # the default 1000 drops a backlog
    assert int(conf["max_queued_bytes"][0]) > 0  # but memory stays bounded
    acl = [
        line.split()
        for line in (DEPLOY / "mosquitto" / "acl").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for words in acl:
        assert (words[0] == "user" and len(words) == 2) or (
            words[0] in ("topic", "pattern")
            and words[1] in ("read", "write", "readwrite", "deny")
            and len(words) == 3
        ), words
    assert ["pattern", "write", "tags/%u/fix"] in acl


class Broker:
    """The shipped mosquitto.conf, adapted only in its port and file locations."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        devices = tmp / "devices.txt"
        devices.write_text("# test fleet\nTAG-0001:pw-0001\nTAG-0002:pw-0002\n")
        from smartcity_iot.store.credentials import mosquitto_hash

        tags = tmp / "tags.passwd"  # a tag activated in the web portal: hashed by the service
        tags.write_text(
            f"# from smartcity-iot users tag-passwords\nTAG-0003:{mosquitto_hash('pw-0003')}\n"
        )
        env = {
            **os.environ,
            "MOSQUITTO_PASSWD_FILE": str(tmp / "passwd"),
            "MOSQUITTO_DEVICES_FILE": str(devices),
            "MOSQUITTO_TAG_PASSWD_FILE": str(tags),
            "MQTT_SERVICE_PASSWORD": "svc-secret",
            "MQTT_ALERTS_READER_PASSWORD": "reader-secret",
        }
        subprocess.run(
            ["sh", str(DEPLOY / "mosquitto" / "entrypoint.sh"), "--passwd-only"],
            env=env,
            check=True,
            timeout=30,
        )
        assert "svc-secret" not in (tmp / "passwd").read_text()  # hashed
        text = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
        text = text.replace("listener 1883", f"listener {self.port} 127.0.0.1")
        text = text.replace("/mosquitto/config/acl", str(DEPLOY / "mosquitto" / "acl"))
        text = text.replace("/mosquitto/data/", f"{tmp}/")
        if (
            os.geteuid() == 0
        ):  # pytest's 0700 temp dirs are closed to the unprivileged user mosquitto drops to
            text += "\nuser root\n"
        (tmp / "mosquitto.conf").write_text(text)
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.log = tmp / "mosquitto.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "-c", str(tmp / "mosquitto.conf")], stdout=log, stderr=log
            )
        assert wait_until(lambda: listening(self.port), 10), self.log.read_text()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def connect(
        self, user: str | None, password: str | None
    ) -> tuple[mqtt.Client, mqtt.ReasonCode | None]:
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=user or "", protocol=mqtt.MQTTv5
        )
        result: list = []
        done = threading.Event()

        def on_connect(client, userdata, flags, reason, props):  # type: ignore[no-untyped-def]
            result.append(reason)
            done.set()

        c.on_connect = on_connect
        if user:
            c.username_pw_set(user, password)
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        done.wait(5)
        return c, (result[0] if result else None)


@pytest.fixture
def shipped_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = Broker(tmp_path / "broker")
    yield b
    b.stop()


def subscriber(
    broker: Broker, user: str, password: str, topic: str
) -> tuple[mqtt.Client, list[str]]:
    got: list[str] = []
    subscribed = threading.Event()
    c, reason = broker.connect(user, password)
    assert reason is not None and not reason.is_failure, reason
    c.on_message = lambda client, userdata, msg: got.append(msg.topic)
    c.on_subscribe = lambda *a: subscribed.set()
    c.subscribe(topic, qos=1)
    assert subscribed.wait(5)
    return c, got


def test_shipped_acl_lets_a_device_publish_its_own_topic_and_not_another(
    shipped_broker: Broker,
) -> None:
    # given the service subscribed to every tag's fixes, as configured in the ACL
    _, seen = subscriber(shipped_broker, "smartcity-service", "svc-secret", "tags/#")
    device, reason = shipped_broker.connect("TAG-0001", "pw-0001")
    assert reason is not None and not reason.is_failure
    # when TAG-0001 publishes a fix for TAG-0002 (spoofing), then its own
    spoof = device.publish("tags/TAG-0002/fix", b"{}", qos=1)
    own = device.publish("tags/TAG-0001/fix", b"{}", qos=1)
    spoof.wait_for_publish(5)
    own.wait_for_publish(5)
    # then only its own fix reaches the service (same connection: the spoof would have come first)
    assert wait_until(lambda: "tags/TAG-0001/fix" in seen, 5)
    assert seen == ["tags/TAG-0001/fix"]


def test_shipped_acl_keeps_devices_out_of_alerts_and_strangers_out(shipped_broker: Broker) -> None:
    _, alerts_seen = subscriber(shipped_broker, "alerts-reader", "reader-secret", "alerts/#")
    service, _ = shipped_broker.connect("smartcity-service", "svc-secret")
    device, _ = shipped_broker.connect("TAG-0002", "pw-0002")
    device.publish("alerts/dog_forbidden_zone", b"forged", qos=1).wait_for_publish(5)
    service.publish("alerts/dog_forbidden_zone", b"real", qos=1).wait_for_publish(5)
    assert wait_until(lambda: len(alerts_seen) >= 1, 5)
    assert alerts_seen == ["alerts/dog_forbidden_zone"]
    _, portal_tag = shipped_broker.connect("TAG-0003", "pw-0003")  # activated in the portal
    assert portal_tag is not None and not portal_tag.is_failure
    _, anonymous = shipped_broker.connect(None, None)
    _, wrong = shipped_broker.connect("TAG-0001", "pw-0002")
    assert anonymous is None or anonymous.is_failure
    assert wrong is None or wrong.is_failure


def test_grafana_provisioning_parses_and_its_dashboard_queries_run_on_influxdb(
    tmp_path: Path,
) -> None:
    sources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/influxdb.yaml").read_text()
    )
    (source,) = sources["datasources"]
    assert source["type"] == "influxdb" and source["jsonData"]["version"] == "InfluxQL"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUXDB_TOKEN}"
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/smartcity.yaml").read_text()
    )
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads((DEPLOY / "grafana/dashboards/alerts.json").read_text())
    targets = [t for p in dashboard["panels"] for t in p["targets"]]
    assert targets and all(t["datasource"]["uid"] == source["uid"] for t in targets)
    # every query runs against a real engine holding points in the service's schema
    engine = Influxd(tmp_path / "influxd")
    engine.start()
    try:
        engine.create_db("smartcity")
        t0 = 1_795_000_000.0
        alert = Alert(
            id="a1",
            kind="dog_forbidden_zone",
            status="open",
            device_id="TAG-0001",
            zone_id="school",
            grid="G-01",
            started_at=t0,
            ended_at=None,
            lat=28.97,
            lon=118.87,
            zone_name="实验小学",
        )
        lines = [lineproto.alert_line(alert)] + [
            lineproto.fix_line(Fix("TAG-0001", t0 + i, 28.97, 118.87)) for i in range(5)
        ]
        body = "\n".join(lines).encode()
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"{engine.url}/write?db=smartcity&precision=ms", data=body),
            timeout=10,
        ).close()
        for t in targets:
            q = t["query"].replace(
                "$timeFilter", f"time >= {int(t0 * 1000) - 1000}ms AND time <= now()"
            )
            assert engine.query(q, "smartcity"), f"no result for {t['query']}"
    finally:
        engine.stop()
