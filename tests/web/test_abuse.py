"""Abuse bounded (issue 11, findings 4 and 5), against the web app served by uvicorn on
a free port (and, for request bodies, the service run as a real process): rate limits
keyed on the normalised identity, atomic under parallel requests and kept across a
restart; request bodies capped before they are read; a live stream ends with its
session."""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from smartcity_iot.config import Settings
from smartcity_iot.notify.sms import HttpSmsGateway
from smartcity_iot.store import users
from smartcity_iot.web.security import Limits
from smartcity_iot.web.server import WebServer

from ..sms_gateway import LocalSmsGateway
from ..support import TEST_ZONES, Mosquitto, free_port, listening, service_process, wait_until
from .conftest import PASSWORD

PHONE = "13900001111"
# eleven ways to type one phone: every one is the same account, and the same limit
SPELLINGS = (
    "13900001111",
    "139 0000 1111",
    "139-0000-1111",
    "+86 13900001111",
    "+8613900001111",
    "0086 13900001111",
    "8613900001111",
    "(139) 0000-1111",
    "１３９００００１１１１",
    " 13900001111 ",
    "139.0000.1111",
)


class Site:
    """The web app under uvicorn on one database file; `restart` is a new process's app."""

    def __init__(self, settings: Settings, sms: LocalSmsGateway) -> None:
        self.settings = settings
        self.sms = sms
        self.server: WebServer | None = None

    def start(self) -> str:
        s = self.settings.model_copy(update={"http": f"127.0.0.1:{free_port()}"})
        self.server = WebServer(s, Limits(), HttpSmsGateway(self.sms.url, retries=0))
        self.server.start()
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def site(web_settings: Settings, sms: LocalSmsGateway) -> Iterator[Site]:
    s = Site(web_settings, sms)
    yield s
    s.stop()


def sign_up_over_http(base: str, sms: LocalSmsGateway, phone: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.post("/api/auth/signup/code", json={"phone": phone}).status_code == 202
        r = c.post(
            "/api/auth/signup",
            json={
                "phone": phone,
                "code": sms.last_code(phone),
                "name": "王芳",
                "password": PASSWORD,
            },
        )
        assert r.status_code == 201, r.text


def wrong_logins(base: str, logins: list[str]) -> Counter[int]:
    """All at once, from one address: the status of each answer."""

    def attempt(login: str) -> int:
        with httpx.Client(base_url=base, timeout=60) as c:
            return c.post(
                "/api/auth/login", json={"login": login, "password": "a wrong guess"}
            ).status_code

    with ThreadPoolExecutor(len(logins)) as pool:
        return Counter(pool.map(attempt, logins))


# -- finding 4: the login limit ---------------------------------------------------------------


def test_eleven_spellings_of_one_phone_in_parallel_get_at_most_five_guesses(
    site: Site, sms: LocalSmsGateway
) -> None:
    base = site.start()
    sign_up_over_http(base, sms, PHONE)
    answers = wrong_logins(base, [SPELLINGS[i % len(SPELLINGS)] for i in range(40)])
    assert answers[401] <= Limits().per_account and answers[401] + answers[429] == 40, answers
    # the right password is refused too while the account is limited
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/auth/login", json={"login": "139 0000 1111", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_forty_parallel_wrong_tries_from_one_address_get_at_most_twenty_evaluated(
    site: Site,
) -> None:
    base = site.start()
    answers = wrong_logins(base, [f"1380000{i:04d}" for i in range(40)])
    assert answers[401] <= Limits().per_ip and answers[401] + answers[429] == 40, answers
    assert answers[401] == Limits().per_ip  # and no fewer: the limit is not a lock-out


def test_a_restart_keeps_the_limits(site: Site, sms: LocalSmsGateway) -> None:
    base = site.start()
    sign_up_over_http(base, sms, PHONE)
    first = wrong_logins(base, [SPELLINGS[i] for i in range(6)])
    assert first == Counter({401: 5, 429: 1})
    site.stop()
    base = site.start()  # a new app on the same database, as after a restart
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/auth/login", json={"login": PHONE, "password": PASSWORD})
    assert r.status_code == 429


def test_the_limits_expire_so_nobody_locks_an_owner_out_for_good(
    site: Site, sms: LocalSmsGateway, conn: sqlite3.Connection
) -> None:
    base = site.start()
    sign_up_over_http(base, sms, PHONE)
    assert wrong_logins(base, [PHONE] * 6)[429] == 1
    conn.execute("UPDATE rate_events SET at = at - ?", (Limits().window_s + 1,))  # 15 min later
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/auth/login", json={"login": PHONE, "password": PASSWORD})
    assert r.status_code == 200


# -- finding 5: request bodies --------------------------------------------------------------

BODY_MB = 200
CHUNK = b"x" * 65536


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def post_huge(port: int, chunked: bool) -> tuple[int, int]:
    """POST a 200 MB body, generated as it is sent, to /api/auth/login; stop sending once
    the server answers. Returns (status, bytes sent)."""
    total = BODY_MB * 1024 * 1024
    head = (
        f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n")
        + "\r\n"
    )
    piece = (b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n") if chunked else CHUNK
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        while sent < total:
            if select.select([s], [], [], 0)[0]:
                break  # the answer is there: the server read no further
            try:
                s.sendall(piece)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(CHUNK)
        s.settimeout(10)
        answer = s.recv(4096).decode("latin-1")
    return int(answer.split(" ", 2)[1]), sent


@pytest.fixture
def service_pid(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {
        "SMARTCITY_MQTT_URL": broker.url,
        "SMARTCITY_DATA_DIR": str(tmp_path / "data"),
        "SMARTCITY_GEOFENCES": str(TEST_ZONES),
        "SMARTCITY_HTTP": f"127.0.0.1:{port}",
    }
    proc = service_process(env, tmp_path / "service.log")
    try:
        assert wait_until(lambda: listening(port), 30), (tmp_path / "service.log").read_text()
        time.sleep(1.0)  # let the service settle (subscriptions, first polls) before measuring
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_200_mb_body_is_refused_with_413_before_it_is_read(
    service_pid: tuple[int, int], chunked: bool
) -> None:
    pid, port = service_pid
    before = rss_kb(pid)
    status, sent = post_huge(port, chunked)
    assert status == 413 and sent < 16 * 1024 * 1024, (status, sent)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post_huge(port, chunked), range(4)))
    assert all(status == 413 for status, _ in answers), answers
    grown_mb = (rss_kb(pid) - before) / 1024
    assert grown_mb < 50, f"the service grew by {grown_mb:.0f} MB"
    # and it still answers ordinary requests
    r = httpx.post(f"http://127.0.0.1:{port}/api/auth/login", json={"login": "x", "password": "y"})
    assert r.status_code == 401


def test_a_body_under_the_cap_is_read_as_before(site: Site) -> None:
    base = site.start()
    padded = json.dumps({"login": "x" * 60, "password": "y" * 200}).encode()
    r = httpx.post(
        base + "api/auth/login", content=padded, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401


# -- finding 5: the live stream ends with its session ---------------------------------------


def operator_session(base: str, conn: sqlite3.Connection) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=10)
    me = c.post("/api/auth/login", json={"login": "op-stream", "password": PASSWORD}).json()
    c.headers["X-CSRF-Token"] = me["csrf_token"]
    return c


def end_by_logout(own: httpx.Client, other: httpx.Client, conn: sqlite3.Connection) -> None:
    assert own.post("/api/auth/logout").status_code == 204


def end_by_signing_out_everywhere(
    own: httpx.Client, other: httpx.Client, conn: sqlite3.Connection
) -> None:
    assert other.post("/api/auth/logout-all").status_code == 204


def end_by_a_password_change(
    own: httpx.Client, other: httpx.Client, conn: sqlite3.Connection
) -> None:
    r = other.post(
        "/api/auth/password", json={"old_password": PASSWORD, "new_password": "another long secret"}
    )
    assert r.status_code == 204


def end_by_expiry(own: httpx.Client, other: httpx.Client, conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE web_sessions SET expires_at = 0")


@pytest.mark.parametrize(
    "end_session",
    [end_by_logout, end_by_signing_out_everywhere, end_by_a_password_change, end_by_expiry],
)
def test_an_open_alert_stream_ends_within_3s_of_its_session(
    site: Site, conn: sqlite3.Connection, end_session: Callable[..., None]
) -> None:
    users.create_operator(conn, "op-stream", PASSWORD)
    base = site.start()
    own, other = operator_session(base, conn), operator_session(base, conn)
    lines: list[str] = []
    opened, closed = threading.Event(), threading.Event()

    def listen() -> None:
        try:
            with own.stream("GET", "/api/operator/alerts/stream", timeout=None) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    opened.set()
                    lines.append(line)
        except httpx.HTTPError:
            pass
        closed.set()

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(5)
    time.sleep(1.5)
    assert not closed.is_set()  # an open session's stream stays open
    end_session(own, other, conn)
    ended_at = time.monotonic()
    assert closed.wait(5), "the stream outlived its session"
    assert time.monotonic() - ended_at < 3.0
    assert "event: session-ended" in lines
    with httpx.Client(base_url=base, timeout=5, cookies=own.cookies) as again:
        assert again.get("/api/operator/alerts/stream").status_code == 401


def test_parallel_guesses_of_one_code_share_its_five_tries(
    site: Site, sms: LocalSmsGateway
) -> None:
    base = site.start()
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.post("/api/auth/signup/code", json={"phone": PHONE}).status_code == 202
    real = sms.last_code(PHONE)
    guesses = [f"{(int(real) + 1 + i) % 10**6:06d}" for i in range(20)]

    def guess(code: str) -> str:
        with httpx.Client(base_url=base, timeout=60) as c:
            body = {"phone": PHONE, "code": code, "name": "x", "password": PASSWORD}
            return str(c.post("/api/auth/signup", json=body).json()["code"])

    with ThreadPoolExecutor(len(guesses)) as pool:
        codes = list(pool.map(guess, guesses))
    evaluated = [c for c in codes if c in ("code.wrong_left", "code.wrong_last")]
    assert 1 <= len(evaluated) <= 5, codes  # the rest: out of tries, or the sign-up limit
    refused = ("code.too_many", "account.too_many_signups")
    assert all(c in evaluated or c in refused for c in codes), codes
