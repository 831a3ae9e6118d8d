from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store.database import Connection, connect
from smartcity_iot.store.registry import register_active_tag

from .postgres import Postgres
from .support import TEST_ZONES, Mosquitto

# Shared 2-core machines: judge properties, not generation speed.
hypothesis_settings.register_profile(
    "shared", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("shared")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One real PostgreSQL for the session; it fails (never skips) when it cannot start."""
    server = Postgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> str:
    """A fresh empty database on the session's server, for one test."""
    return postgres_server.new_database()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "mosquitto")
    b.start()
    yield b
    b.stop()


def service_settings(tmp_path: Path, broker: Mosquitto, **more: object) -> Settings:
    return Settings(
        mqtt_url=broker.url,
        data_dir=tmp_path / "data",
        geofences=TEST_ZONES,
        mqtt_client_id=f"test-ingest-{broker.port}",
        # tests send frames 100x faster than a camera (1 fps); the vision worker now also
        # reads plates (tens of ms a read), so give the flood a queue: skipping is tested
        # on purpose where it matters (test_tag_fixes_never_wait_behind_vision)
        frame_queue_max=64,
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
def settings(tmp_path: Path, broker: Mosquitto) -> Settings:
    return service_settings(tmp_path, broker)


@pytest.fixture
def settings_on_postgres(tmp_path: Path, broker: Mosquitto, postgres_url: str) -> Settings:
    """The service's settings on a fresh PostgreSQL database: a module that runs tests
    again there makes this its `settings`."""
    return service_settings(tmp_path, broker, database_url=postgres_url)


@pytest.fixture
def db(settings: Settings) -> Connection:
    conn = connect(settings.database)
    register_active_tag(conn, "TAG-0001", "旺财", "张三", "13900000001")
    register_active_tag(conn, "TAG-0002", "小白", "张三", "13900000001")
    register_active_tag(conn, "TAG-0003", "Lucky", "李四", "13900000002")
    return conn


@pytest.fixture
def service(settings: Settings, db: Connection) -> Iterator[Service]:
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    yield svc
    svc.stop()
