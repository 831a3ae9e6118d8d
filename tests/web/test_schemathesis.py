"""Schemathesis against the published /openapi.json (research T26): generated valid and
invalid requests for every operation, as an owner and as an operator, and no answer
is a server error; responses match their documented schemas and content types."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from smartcity_iot.config import Settings
from smartcity_iot.notify.sms import HttpSmsGateway
from smartcity_iot.store import users
from smartcity_iot.store.sqlite import connect
from smartcity_iot.web.app import create_app
from smartcity_iot.web.security import Limits

from ..sms_gateway import LocalSmsGateway
from ..support import TEST_ZONES
from .conftest import PASSWORD, User, active_tag, school_visit, sign_up

# The event stream never ends by design; it is covered by test_live.py.
SKIP = {"/api/operator/alerts/stream"}
SESSIONS: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def web_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.Schema]:
    data = Path(tmp_path_factory.mktemp("schemathesis"))
    s = Settings(data_dir=data / "data", geofences=TEST_ZONES)
    sms = LocalSmsGateway().__enter__()  # lives as long as the module's app
    app = create_app(
        s,
        Limits(per_account=10**6, per_ip=10**6, signups_per_ip=10**6),
        HttpSmsGateway(sms.url, retries=0),
    )
    conn: sqlite3.Connection = connect(s.db_path)
    users.create_operator(conn, "op-st", PASSWORD)
    with TestClient(app) as op_http, TestClient(app) as owner_http:
        op = User(
            op_http,
            op_http.post("/api/auth/login", json={"login": "op-st", "password": PASSWORD}).json(),
        )
        owner = User(owner_http, sign_up(owner_http, sms, "13900000081", "测试").json())
        serial = active_tag(owner, op)["approval"]["tag_id"]
        school_visit(s, conn, serial)
        for role, user in (("operator", op), ("owner", owner)):
            SESSIONS[role] = {
                "sc_session": user.http.cookies["sc_session"],
                "csrf": user.me["csrf_token"],
            }
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("web_schema")


def call(case: schemathesis.Case, role: str) -> None:
    session = SESSIONS[role]
    # Sign-up, log-in and log-out go without the session: each would (rightly) end it.
    if not case.path.startswith("/api/auth/"):
        case.headers = {**(case.headers or {}), "X-CSRF-Token": session["csrf"]}
        case.cookies = {"sc_session": session["sc_session"]}
    case.call_and_validate(checks=[response_schema_conformance, content_type_conformance])


@schema.exclude(path_regex="|".join(SKIP)).parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_as_an_operator_no_server_errors_and_documented_responses(case: schemathesis.Case) -> None:
    call(case, "operator")


@schema.exclude(path_regex="|".join(SKIP)).parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_as_an_owner_no_server_errors_and_documented_responses(case: schemathesis.Case) -> None:
    call(case, "owner")
