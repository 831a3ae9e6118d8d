"""Owners proven by their phone (issue 11, finding 1; SPEC 2 and 8): the phone is the
owner's identity in one canonical form everywhere, and nobody reaches the registry's
owner of a phone without the code sent to that phone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from smartcity_iot.config import Settings

from ..sms_gateway import LocalSmsGateway
from .conftest import PASSWORD, school_visit, sign_up

VICTIM = "13900001111"
SPELLINGS = ("13900001111", "139 0000 1111", "+86 13900001111")
OWNER_ROUTES = ("/api/owner/dogs", "/api/owner/tags", "/api/owner/violations")


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcity_iot.cli", *args, "--data-dir", str(settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def register_victim(settings: Settings) -> None:
    r = cli(
        settings,
        "tags",
        "register",
        "VICTIM01",
        "--dog",
        "旺财",
        "--owner",
        "王芳",
        "--phone",
        VICTIM,
    )
    assert r.returncode == 0, r.stderr


def sees_nothing(c: TestClient) -> bool:
    return all(c.get(path).status_code == 401 for path in OWNER_ROUTES)


def test_a_stranger_cannot_sign_up_with_a_registered_phone_without_its_code(
    web_settings: Settings,
    clients: Callable[[], TestClient],
    sms: LocalSmsGateway,
    conn: sqlite3.Connection,
) -> None:
    register_victim(web_settings)
    school_visit(web_settings, conn, "VICTIM01")  # a position and a violation to protect
    for phone in SPELLINGS:
        stranger = clients()
        no_code = stranger.post(
            "/api/auth/signup", json={"phone": phone, "name": "x", "password": PASSWORD}
        )
        assert no_code.status_code == 422 and "code" in no_code.text, phone
        guessed = stranger.post(
            "/api/auth/signup",
            json={"phone": phone, "code": "123456", "name": "x", "password": PASSWORD},
        )
        assert guessed.status_code == 400, (phone, guessed.text)
        assert sees_nothing(stranger), phone
    # the code the stranger asked for goes to the victim's phone, never to the stranger
    stranger = clients()
    r = stranger.post("/api/auth/signup/code", json={"phone": "+86 139 0000 1111"})
    assert r.status_code == 202 and sms.to(VICTIM) and VICTIM not in r.text
    real = sms.last_code(VICTIM)
    for guess in ("000000", "111111", "123456", "999999", "654321"):
        if guess != real:
            stranger.post(
                "/api/auth/signup",
                json={"phone": VICTIM, "code": guess, "name": "x", "password": PASSWORD},
            )
    late = stranger.post(
        "/api/auth/signup", json={"phone": VICTIM, "code": real, "name": "x", "password": PASSWORD}
    )
    assert late.status_code == 400  # five wrong tries spent the code
    assert sees_nothing(stranger)
    assert conn.execute("SELECT COUNT(*) FROM web_users").fetchone()[0] == 0


def test_the_holder_of_the_phone_signs_up_with_the_code_and_sees_the_cli_registered_dog(
    web_settings: Settings, clients: Callable[[], TestClient], sms: LocalSmsGateway
) -> None:
    register_victim(web_settings)
    c = clients()
    r = sign_up(c, sms, "139-0000-1111", "王芳")
    assert r.status_code == 201 and r.json()["login"] == VICTIM
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert [(t["tag_id"], t["dog_name"]) for t in c.get("/api/owner/tags").json()] == [
        ("VICTIM01", "旺财")
    ]


def test_one_phone_however_typed_is_one_owner_in_the_registry(web_settings: Settings) -> None:
    for tag, phone in (("QZT-0043A", "137 0000 0043"), ("QZT-0043B", "13700000043")):
        r = cli(
            web_settings,
            "tags",
            "register",
            tag,
            "--dog",
            tag[-1],
            "--owner",
            "甲",
            "--phone",
            phone,
        )
        assert r.returncode == 0, r.stderr
    listed = cli(web_settings, "tags", "list").stdout.splitlines()[1:]  # under the header
    assert len(listed) == 2 and all(line.rstrip().endswith("13700000043") for line in listed)


def test_the_cli_refuses_a_phone_that_is_not_a_mainland_mobile_naming_the_flag(
    web_settings: Settings,
) -> None:
    r = cli(
        web_settings,
        "tags",
        "register",
        "QZT-BAD1",
        "--dog",
        "d",
        "--owner",
        "o",
        "--phone",
        "555-0100",
    )
    assert r.returncode == 2 and "--phone" in r.stderr and "mainland mobile" in r.stderr
    assert "Traceback" not in r.stderr
    assert not Path(web_settings.data_dir / "smartcity.db").exists() or (
        "QZT-BAD1" not in cli(web_settings, "tags", "list").stdout
    )
