"""The whole path: tag simulator -> Mosquitto -> service -> SQLite and alerts/#,
judged against the simulator's ground truth. Recall and precision must both be 100 %.

Scenario (stated, seeded): 30 tags, 12 hours from 06:00 local on a Monday in the
shipped sample district, 40 % of walks staged as violations (entering never-allowed
zones, walking outside walking hours, and staying on when a window closes),
10 % of tags on OwnTracks, offline gaps and draining batteries included."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from firmware_sim.publisher import publish_stream
from firmware_sim.tags import TagFleet
from smartcity_iot.config import Settings
from smartcity_iot.model import DOG_KINDS
from smartcity_iot.service import Service
from smartcity_iot.store.registry import register_active_tag

from .support import REPO, AlertListener, Mosquitto, wait_until

START = datetime(2026, 11, 23, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
START_TOLERANCE_S = 60  # the circle may be wholly inside a fix or two before/after the true depth


@pytest.fixture(scope="module")
def fleet() -> TagFleet:
    return TagFleet(
        REPO / "geofences", 30, 11, START, 12 * 3600, violation_share=0.4, owntracks_share=0.1
    )


def test_simulated_fleet_alerts_match_ground_truth_exactly(
    fleet: TagFleet, broker: Mosquitto, settings: Settings, db: sqlite3.Connection, tmp_path: Path
) -> None:
    truth = fleet.truth()
    kinds = {t["kind"] for t in truth}
    assert kinds == set(DOG_KINDS), "the scenario must stage both kinds"
    settings = settings.model_copy(update={"geofences": REPO / "geofences"})
    for tag in fleet.fleet():
        register_active_tag(db, tag["tag_id"], tag["dog"], tag["owner"], tag["phone"])
    service = Service(settings)
    service.start()
    assert service.wait_connected(10)
    listener = AlertListener(broker.port)
    messages = fleet.messages()
    stats = publish_stream(messages, broker.url, client_id="e2e-sim")
    assert stats["acked"] == len(messages)
    handled = ("accepted", "duplicate", "late", "ignored")
    assert wait_until(lambda: sum(service.counters.get(k) for k in handled) >= len(messages), 120)
    assert wait_until(lambda: db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0, 30)
    service.stop()
    assert service.counters.rejected() == {}, (
        "the simulator speaks the SPEC: nothing may be rejected"
    )

    alerts = [
        dict(r)
        for r in db.execute(
            f"SELECT * FROM alerts WHERE kind IN ({','.join('?' * len(DOG_KINDS))})", DOG_KINDS
        )
    ]
    matched: set[str] = set()
    missed = []
    for t in truth:
        hits = [
            a
            for a in alerts
            if (a["device_id"], a["zone_id"], a["kind"]) == (t["tag_id"], t["zone_id"], t["kind"])
            and abs(a["started_at"] - t["start"]) <= START_TOLERANCE_S
            and a["id"] not in matched
        ]
        if hits:
            matched.add(hits[0]["id"])
        else:
            missed.append(t)
    false_alarms = [a for a in alerts if a["id"] not in matched]
    recall = (len(truth) - len(missed)) / len(truth)
    precision = len(matched) / len(alerts) if alerts else 0.0
    print(
        f"{len(messages)} fixes, {len(truth)} staged violations, {len(alerts)} alerts: "
        f"recall {recall:.3f}, precision {precision:.3f}"
    )
    assert not missed, f"staged but not alerted: {missed}"
    assert not false_alarms, f"alerted but not staged: {false_alarms}"
    # Every incident closed when the dog left, at about the truth's end.
    for a in alerts:
        t = next(
            t
            for t in truth
            if (t["tag_id"], t["zone_id"]) == (a["device_id"], a["zone_id"])
            and abs(a["started_at"] - t["start"]) <= START_TOLERANCE_S
        )
        assert a["status"] == "closed" and abs(a["ended_at"] - t["end"]) <= START_TOLERANCE_S
    # alerts/# carried every revision of every alert.
    time.sleep(0.5)
    seen = {(m["id"], m["revision"]) for m in listener.snapshot()}
    assert all((a["id"], rev) in seen for a in alerts for rev in range(1, a["revision"] + 1))
    listener.close()
