"""Fixtures of the store's tests: `db`, a new store on each backend in turn (SQLite, a real
PostgreSQL); for the InfluxDB tests, a real influxd 1.6.7 per test with the test-only
v2-write adapter in front of it (tests/influx_v2_write_adapter.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.store.database import Connection, connect

from ..influx_v2_write_adapter import InfluxV2WriteAdapter
from ..influxd import Influxd
from ..support import TEST_ZONES

DB = "smartcity"


@dataclass
class InfluxUnderTest:
    engine: Influxd
    adapter: InfluxV2WriteAdapter
    db: str = DB

    @property
    def url(self) -> str:
        """What the service is configured with: the adapter, which speaks the v2 write API."""
        return self.adapter.url

    def rows(self, q: str) -> list[dict]:
        return self.engine.rows(q, self.db)


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxUnderTest]:
    engine = Influxd(tmp_path / "influxd")
    engine.start()
    engine.create_db(DB)
    adapter = InfluxV2WriteAdapter(engine.port)
    adapter.start()
    yield InfluxUnderTest(engine, adapter)
    adapter.stop()
    engine.stop()


def influx_settings(tmp_path: Path, url: str, **kw: object) -> Settings:
    values: dict = dict(
        data_dir=tmp_path / "data",
        geofences=TEST_ZONES,
        influx_url=url,
        influx_bucket=DB,
        influx_org="city",
        influx_token="test-token",
        influx_flush_ms=50,
    )
    values.update(kw)
    return Settings(**values)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store test's database is: the embedded SQLite file, or a fresh database
    on the session's real PostgreSQL (which must start: it is never skipped)."""
    if request.param == "sqlite":
        return tmp_path / "data" / "smartcity.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(location: Path | str) -> Iterator[Connection]:
    """A connection to a new, empty store on each backend in turn."""
    conn = connect(location)
    yield conn
    conn.close()
