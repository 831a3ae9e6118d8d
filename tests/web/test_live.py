"""The live feed against the real system: a fix sequence published to Mosquitto
reaches an operator's server-sent event stream within 2 s, and an operator's
handling goes out on alerts/{kind} like every other alert change."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx

from smartcity_iot.store import users
from smartcity_iot.web.server import WebServer

from ..support import AlertListener, Mosquitto, client, publish_all, wait_until
from .conftest import PASSWORD
from .live import school_visit_messages, web  # noqa: F401 - fixture


def operator_client(base: str, conn: sqlite3.Connection) -> httpx.Client:
    users.create_operator(conn, "op-live", PASSWORD)
    c = httpx.Client(base_url=base, timeout=10)
    me = c.post("/api/auth/login", json={"login": "op-live", "password": PASSWORD}).json()
    c.headers["X-CSRF-Token"] = me["csrf_token"]
    return c


def test_an_alert_reaches_the_operators_stream_within_2s_and_handling_is_published(
    broker: Mosquitto,
    web: WebServer,
    db: sqlite3.Connection,
) -> None:
    http = operator_client(web.url, db)
    events: list[tuple[float, dict]] = []
    connected = threading.Event()

    def listen() -> None:
        try:
            with http.stream("GET", "/api/operator/alerts/stream", timeout=None) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith(
                    "text/event-stream"
                )
                for line in r.iter_lines():
                    connected.set()
                    if line.startswith("data: "):
                        events.append((time.monotonic(), json.loads(line[6:])))
        except httpx.HTTPError:
            pass  # the server stopped at the end of the test

    threading.Thread(target=listen, daemon=True).start()
    assert connected.wait(5)
    listener = AlertListener(broker.port)
    publish_all(client(broker.port), school_visit_messages("TAG-0001"))
    published = time.monotonic()
    assert wait_until(lambda: len(events) >= 1, 5)
    first_at, first = events[0]
    assert first_at - published < 2.0
    assert (first["kind"], first["device_id"], first["zone_id"]) == (
        "dog_forbidden_zone",
        "TAG-0001",
        "school",
    )

    aid = first["id"]
    assert wait_until(
        lambda: any(e["revision"] == 2 for _, e in events), 5
    )  # the dog went home: closed
    assert http.post(f"/api/operator/alerts/{aid}/acknowledge").status_code == 200
    assert (
        http.post(
            f"/api/operator/alerts/{aid}/close", json={"disposition": "education"}
        ).status_code
        == 200
    )
    assert wait_until(lambda: any(e.get("workflow") == "resolved" for e in listener.snapshot()), 5)
    assert wait_until(lambda: any(e["workflow"] == "resolved" for _, e in events), 5)
    on_mqtt = [(m["_topic"], m["revision"], m["workflow"]) for m in listener.snapshot()]
    assert on_mqtt[-2:] == [
        ("alerts/dog_forbidden_zone", 3, "acknowledged"),
        ("alerts/dog_forbidden_zone", 4, "resolved"),
    ]
    assert json.loads(json.dumps(first))["party"].startswith("owner:")
    listener.close()
    http.close()
