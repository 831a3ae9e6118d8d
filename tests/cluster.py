"""A real three-node RabbitMQ 3.10 cluster for the engine tests: quorum queues, the
MQTT plugin (devices' side) and the consistent-hash exchange, on free ports in a
temporary folder, as child processes of the test (no system service, no daemon
left behind: even its epmd has a private port and is stopped with it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .support import free_port, listening, wait_until

RABBIT = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves: /usr/sbin's drop to user rabbitmq
COOKIE = "SMARTCITYTESTCLUSTER"


class RabbitCluster:
    def __init__(
        self, root: Path, nodes: int = 3, conf_extra: str = "", plugins: tuple[str, ...] = ()
    ) -> None:
        """`conf_extra`: rabbitmq.conf lines instead of anonymous MQTT; `plugins`: more
        plugins to enable (the HTTP auth backend)."""
        self.root = root
        self.n = nodes
        self.conf_extra = conf_extra
        self.plugins = plugins
        self.amqp = [free_port() for _ in range(nodes)]
        self.dist = [free_port() for _ in range(nodes)]
        self.mqtt = [free_port() for _ in range(nodes)]
        self.epmd = free_port()
        self.names = [f"sc{i}-{self.amqp[0]}@localhost" for i in range(nodes)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * nodes
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(COOKIE)
        cookie.chmod(0o400)

    @property
    def url(self) -> str:
        """The engine URL a worker is given: every node, tried in turn."""
        return "amqp://" + ",".join(f"127.0.0.1:{p}" for p in self.amqp)

    def env(self, i: int) -> dict[str, str]:
        d = self.root / f"n{i}"
        d.mkdir(exist_ok=True)
        conf = d / "rabbitmq.conf"
        conf.write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp[i]}\n"
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt[i]}\n"
            + (self.conf_extra or "mqtt.allow_anonymous = true\n")
        )
        plugins = ",".join(("rabbitmq_mqtt", "rabbitmq_consistent_hash_exchange", *self.plugins))
        (d / "enabled_plugins").write_text(f"[{plugins}].\n")
        return {
            **os.environ,
            "HOME": str(self.home),
            "ERL_EPMD_PORT": str(self.epmd),
            "RABBITMQ_NODENAME": self.names[i],
            "RABBITMQ_NODE_PORT": str(self.amqp[i]),
            "RABBITMQ_DIST_PORT": str(self.dist[i]),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),
        }

    def ctl(self, i: int, *args: str, timeout: float = 60) -> str:
        out = subprocess.run(
            [str(RABBIT / "rabbitmqctl"), "-n", self.names[i], *args],
            env=self.env(i),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr or out.stdout}")
        return out.stdout

    def start_node(self, i: int, wait: bool = True) -> None:
        log = open(self.root / f"n{i}.out", "ab")  # noqa: SIM115 (the node's whole life)
        self.procs[i] = subprocess.Popen(
            [str(RABBIT / "rabbitmq-server")],
            env=self.env(i),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, by its id
        )
        if wait:
            self.wait_node(i)

    def wait_node(self, i: int, timeout: float = 90) -> None:
        """The node has booted (the broker says so) and its MQTT listener answers."""

        def booted() -> bool:
            try:
                self.ctl(i, "await_startup", "--timeout", "5", timeout=10)
                return listening(self.mqtt[i])
            except (RuntimeError, subprocess.TimeoutExpired):
                return False

        if not wait_until(booted, timeout, interval=0.5):
            raise TimeoutError(f"RabbitMQ node {i} did not start; see {self.root}/n{i}.out")

    def start(self) -> None:
        for i in range(self.n):  # all at once: boots overlap
            self.start_node(i, wait=False)
        for i in range(self.n):
            self.wait_node(i)
        for i in range(1, self.n):
            self.ctl(i, "stop_app")
            self.ctl(i, "join_cluster", self.names[0])
            self.ctl(i, "start_app")
            self.wait_node(i)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[i]
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
        self.procs[i] = None

    def stop(self) -> None:
        for i in range(self.n):
            self.kill(i, signal.SIGTERM)
        subprocess.run(
            ["epmd", "-port", str(self.epmd), "-kill"],
            env={**os.environ, "ERL_EPMD_PORT": str(self.epmd)},
            capture_output=True,
            check=False,
        )
        time.sleep(0.2)
