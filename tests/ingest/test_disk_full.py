"""A full disk under SQLite (a real 8 MB tmpfs mounted for the test): the service
stops acknowledging, keeps running, and once space returns stores everything, once."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.service import Service
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from ..support import Mosquitto, client, fix_payload, publish_all, wait_until
from .reliability import record

HOME = (28.960, 118.875)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (mount -t tmpfs)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path) -> Path:
    filler = where / "filler"
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM fixes").fetchone()[0])


def test_a_full_disk_stops_acknowledging_and_recovers_with_nothing_lost(
    broker: Mosquitto, settings: Settings, small_disk: Path
) -> None:
    settings = settings.model_copy(update={"data_dir": small_disk / "data"})
    db = connect(settings.db_path)
    register_active_tag(db, "TAG-0001", "旺财", "张三", "13900000001")
    svc = Service(settings)
    svc.start()
    try:
        assert svc.wait_connected(10)
        t0 = time.time() - 5000
        msgs = [("tags/TAG-0001/fix", fix_payload(t0 + i, *HOME, seq=i)) for i in range(3000)]
        pub = client(broker.port)
        publish_all(pub, msgs[:1000])
        assert wait_until(lambda: count(db) == 1000, 20)
        # when the disk fills up and more fixes arrive
        filler = fill(small_disk)
        publish_all(pub, msgs[1000:])
        time.sleep(3)
        during = count(db)
        assert during < 3000, "nothing can be stored on a full disk"
        assert svc.session.client.is_connected() and all(
            t.is_alive() for t in svc.session._threads
        ), "the service keeps running"
        # then once space returns, everything is stored, once
        filler.unlink()
        assert wait_until(lambda: count(db) == 3000, 60), count(db)
        time.sleep(1)
        stored = count(db)
        distinct = db.execute("SELECT COUNT(DISTINCT seq) FROM fixes").fetchone()[0]
    finally:
        svc.stop()
        db.close()
    record(
        "full disk under SQLite (8 MB tmpfs), then space returns",
        sent=3000,
        stored=stored,
        lost=3000 - distinct,
        doubled=stored - distinct,
        stored_while_full=during - 1000,
    )
    assert stored == distinct == 3000
