"""The whole system for the live tests: Mosquitto, the service, and the web console
under uvicorn on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.web.server import WebServer

from ..support import fix_payload, free_port
from .conftest import HOME, SCHOOL, T0


@pytest.fixture
def web(settings: Settings, service: Service) -> Iterator[WebServer]:
    server = WebServer(settings.model_copy(update={"http": f"127.0.0.1:{free_port()}"}))
    server.start()
    yield server
    server.stop()


def school_visit_messages(tag: str, t: float = T0) -> list[tuple[str, bytes]]:
    pts = [(t + i * 15, SCHOOL) for i in range(13)] + [(t + 200 + i * 15, HOME) for i in range(8)]
    return [(f"tags/{tag}/fix", fix_payload(ts, *p, seq=i)) for i, (ts, p) in enumerate(pts)]
