"""Fixtures of the web tests: the real app on a real SQLite file, one HTTP client per
user (each with its own cookie jar), and alerts raised by the real tag pipeline."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.model import Inbound
from smartcity_iot.notify.sms import HttpSmsGateway
from smartcity_iot.phones import normalise_phone
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.store import users
from smartcity_iot.store.database import connect
from smartcity_iot.web.app import create_app
from smartcity_iot.web.security import Limits

from ..sms_gateway import LocalSmsGateway
from ..support import TEST_ZONES

T0 = 1795399200.0  # 2026-11-23 10:00 Asia/Shanghai, a Monday: school hours
SCHOOL = (28.971, 118.871)
HOME = (28.960, 118.875)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", geofences=TEST_ZONES)


@pytest.fixture
def sms() -> Iterator[LocalSmsGateway]:
    """The phones' side of SPEC 8: a real local HTTP gateway keeping every message."""
    with LocalSmsGateway() as gateway:
        yield gateway


@pytest.fixture
def app(web_settings: Settings, sms: LocalSmsGateway):  # type: ignore[no-untyped-def]
    return create_app(web_settings, Limits(), HttpSmsGateway(sms.url, timeout_s=5, retries=0))


def sign_up(
    c: TestClient,
    gateway: LocalSmsGateway,
    phone: str,
    name: str = "犬主",
    password: str = PASSWORD,
):  # type: ignore[no-untyped-def]
    """The portal's two steps: a code to the phone, then the account with that code."""
    r = c.post("/api/auth/signup/code", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = gateway.last_code(normalise_phone(phone))
    return c.post(
        "/api/auth/signup",
        json={"phone": phone, "code": code, "name": name, "password": password},
    )


@pytest.fixture
def conn(web_settings: Settings, app) -> sqlite3.Connection:  # type: ignore[no-untyped-def]
    return connect(web_settings.database)


class User:
    """A browser-like HTTP client of one user: its cookie jar and CSRF token."""

    def __init__(self, client: TestClient, me: dict) -> None:
        self.http = client
        self.me = me
        client.headers["X-CSRF-Token"] = me["csrf_token"]

    def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.http.get(path, **kw)

    def post(self, path: str, json_body: object = None, **kw):  # type: ignore[no-untyped-def]
        return self.http.post(path, json=json_body, **kw)


@pytest.fixture
def clients(app) -> Iterator[Callable[[], TestClient]]:  # type: ignore[no-untyped-def]
    made: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app)
        c.__enter__()
        made.append(c)
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)


@pytest.fixture
def signup(clients: Callable[[], TestClient], sms: LocalSmsGateway) -> Callable[..., User]:
    def do(phone: str, name: str = "犬主", password: str = PASSWORD) -> User:
        c = clients()
        r = sign_up(c, sms, phone, name, password)
        assert r.status_code == 201, r.text
        return User(c, r.json())

    return do


@pytest.fixture
def operator(clients: Callable[[], TestClient], conn: sqlite3.Connection) -> User:
    users.create_operator(conn, "op1", PASSWORD, "值班员一")
    c = clients()
    r = c.post("/api/auth/login", json={"login": "op1", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return User(c, r.json())


DOG = {
    "name": "旺财",
    "breed": "中华田园犬",
    "sex": "male",
    "birth_date": "2021-05-01",
    "rabies_cert": "QZ-2024-0001",
}


def active_tag(
    owner: User, operator: User, address: str = "浙江省衢州市柯城区府山街道 1 号"
) -> dict:
    """Walk an owner from a new dog to an active tag through the API."""
    dog = owner.post("/api/owner/dogs", DOG).json()
    req = owner.post(
        f"/api/owner/dogs/{dog['id']}/tag-requests", {"postal_address": address}
    ).json()
    approval = operator.post(f"/api/operator/tag-requests/{req['id']}/approve", {}).json()
    assert operator.post(f"/api/operator/tag-requests/{req['id']}/ship").status_code == 200
    r = owner.post(
        "/api/owner/tags/activate",
        {"serial": approval["tag_id"], "activation_code": approval["activation_code"]},
    )
    assert r.status_code == 200, r.text
    return {"dog": dog, "request": req, "approval": approval, "activation": r.json()}


def school_visit(settings: Settings, conn: sqlite3.Connection, tag: str, t: float = T0) -> None:
    """A dog stays 3 minutes in the test school, then goes home: one alert, opened and closed,
    produced by the real tag pipeline."""
    pipeline = TagPipeline(settings, conn, load_zones(settings.geofences, settings.tz))
    pts = [(t + i * 15, SCHOOL) for i in range(13)] + [(t + 200 + i * 15, HOME) for i in range(8)]
    pipeline.process(
        [
            Inbound(
                f"tags/{tag}/fix",
                json.dumps({"ts": ts, "lat": p[0], "lon": p[1], "acc": 5, "batt": 80}).encode(),
                ts,
            )
            for ts, p in pts
        ]
    )
