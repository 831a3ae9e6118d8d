"""Three-node clusters of NATS and RabbitMQ on free ports in a temporary folder,
run as plain child processes of this user (no daemons, no system services), for the
engine evaluation (docs/scale.md "Engine choice"). RabbitMQ's is the tests' own."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.cluster import RabbitCluster

__all__ = ["NatsCluster", "RabbitCluster", "fresh"]


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
