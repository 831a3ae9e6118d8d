"""Three-node clusters of NATS and RabbitMQ on free ports in a temporary folder,
run as plain child processes of this user (no daemons, no system services), for the
engine evaluation (docs/scale.md "Engine choice")."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class RabbitCluster:
    """rabbitmq-server 3.10 x3: MQTT plugin, consistent-hash exchange, one cookie."""

    def __init__(self, root: Path, partitions: int = 8) -> None:
        self.root = root
        self.partitions = partitions
        ports = free_ports(9)
        self.amqp, self.dist, self.mqtt = ports[0:3], ports[3:6], ports[6:9]
        self.names = [f"rmq{i}@localhost" for i in range(3)]
        self.procs: list[subprocess.Popen | None] = [None, None, None]
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text("SMARTCITYEVALCOOKIE")
        cookie.chmod(0o400)

    def env(self, i: int) -> dict[str, str]:
        d = self.root / f"n{i}"
        d.mkdir(exist_ok=True)
        conf = d / "rabbitmq.conf"
        conf.write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp[i]}\n"
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt[i]}\n"
            "mqtt.allow_anonymous = true\nmqtt.vhost = /\nmqtt.exchange = amq.topic\n"
            "loopback_users = none\n"
        )
        (d / "enabled_plugins").write_text("[rabbitmq_mqtt,rabbitmq_consistent_hash_exchange].\n")
        return {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.names[i],
            "RABBITMQ_NODE_PORT": str(self.amqp[i]),
            "RABBITMQ_DIST_PORT": str(self.dist[i]),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
        }

    def ctl(self, i: int, *args: str, timeout: float = 60) -> str:
        out = subprocess.run(
            ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.names[i], *args],
            env=self.env(i),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode:
            raise RuntimeError(f"rabbitmqctl {args}: {out.stderr or out.stdout}")
        return out.stdout

    def start_node(self, i: int) -> None:
        self.procs[i] = subprocess.Popen(
            ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
            env=self.env(i),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.amqp[i], 90)

    def start(self) -> None:
        for i in range(3):
            self.start_node(i)
        for i in (1, 2):
            self.ctl(i, "stop_app")
            self.ctl(i, "join_cluster", self.names[0])
            self.ctl(i, "start_app")
        for port in self.mqtt:
            wait_port(port, 60)

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc:
            # beam runs under a shell wrapper: the whole process group goes
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.procs[i] = None

    def stop(self) -> None:
        for i in range(3):
            self.kill(i)
        subprocess.run(["pkill", "-u", str(os.getuid()), "-f", str(self.root)], check=False)


class NatsCluster:
    """nats-server 2.9 x3: routes, JetStream, the MQTT listener, the partition mapping."""

    def __init__(self, root: Path, partitions: int = 8) -> None:
        self.root = root
        self.partitions = partitions
        ports = free_ports(9)
        self.client, self.route, self.mqtt = ports[0:3], ports[3:6], ports[6:9]
        self.procs: list[subprocess.Popen | None] = [None, None, None]

    def config(self, i: int) -> Path:
        d = self.root / f"n{i}"
        d.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(self.route) if j != i)
        n = self.partitions
        conf = d / "nats.conf"
        conf.write_text(
            f"server_name: n{i}\nlisten: 127.0.0.1:{self.client[i]}\n"
            f'jetstream {{ store_dir: "{d}/js", max_memory_store: 64MB, max_file_store: 2GB }}\n'
            f"cluster {{ name: eval, listen: 127.0.0.1:{self.route[i]}, routes: [{routes}] }}\n"
            f"mqtt {{ listen: 127.0.0.1:{self.mqtt[i]} }}\n"
            "mappings = {\n"
            f'  "tags.*.fix": "ingest.{{{{partition({n},1)}}}}.tags.{{{{wildcard(1)}}}}.fix"\n'
            f'  "owntracks.*.*": "ingest.{{{{partition({n},2)}}}}.owntracks.'
            '{{wildcard(1)}}.{{wildcard(2)}}"\n'
            "}\n"
        )
        return conf

    def start_node(self, i: int) -> None:
        log = open(self.root / f"n{i}.log", "ab")  # noqa: SIM115
        self.procs[i] = subprocess.Popen(
            ["nats-server", "-c", str(self.config(i))],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        wait_port(self.client[i])

    def start(self) -> None:
        for i in range(3):
            self.start_node(i)
        for p in self.mqtt:
            wait_port(p)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[i]
        if proc:
            proc.send_signal(sig)
            proc.wait()
            self.procs[i] = None

    def stop(self) -> None:
        for i in range(3):
            self.kill(i, signal.SIGTERM)

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.client)


def fresh(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root
