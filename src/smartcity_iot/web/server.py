"""Runs the web app under uvicorn in a background thread, beside the service."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from ..config import Settings
from ..notify.sms import SmsGateway
from .app import create_app
from .security import Limits


def split_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "0.0.0.0", int(port)


class WebServer:
    def __init__(
        self, settings: Settings, limits: Limits | None = None, sms: SmsGateway | None = None
    ) -> None:
        self.host, self.port = split_host_port(settings.http)
        self.app = create_app(settings, limits, sms)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"

    def start(self, timeout: float = 15) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the web console could not listen on {self.host}:{self.port} "
                    "(port in use? choose another with --http HOST:PORT)"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
