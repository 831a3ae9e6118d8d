"""The bureau's statistics on a real SQLite file seeded through the real store functions:
alerts raised, acknowledged, dispatched and resolved at known moments, so the resolution
rate, the median times per kind, grid and squad and the repeat offenders are exact."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from smartcity_iot.config import Settings
from smartcity_iot.i18n import text
from smartcity_iot.model import Alert
from smartcity_iot.store import users, workflow
from smartcity_iot.store.alerts import save_alert
from smartcity_iot.store.database import connect, transaction
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.web.app import create_app
from smartcity_iot.web.security import Limits
from smartcity_iot.web.stats import statistics

from ..support import free_port
from .conftest import PASSWORD, User

H, D = 3600.0, 86400.0
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Case:
    """One seeded alert: raised `opened` s after it started, each step s after the raise."""

    id: str
    kind: str
    grid: str | None
    party: str | None
    ago: float  # started this long before now
    opened: float | None = 60.0
    ack: float | None = None
    dispatch: float | None = None
    close: float | None = None
    disposition: str | None = None
    plate: str | None = None
    plate_status: str | None = None
    candidate: str | None = None


def cases(owners: dict[str, int]) -> list[Case]:
    o1, o2, o3 = (f"owner:{owners[n]}" for n in ("张三", "李四", "王五"))
    dog, hours, park = "dog_forbidden_zone", "dog_outside_walking_hours", "sidewalk_parking"
    return [
        Case("a1", dog, "G-01", o1, 5 * D, 60, 120, 600, 3600, "education"),
        Case("a2", hours, "G-01", o1, 3 * D, 30, 300, 900, 7200, "warning"),
        Case(
            "a3",
            park,
            "G-01",
            "vehicle:浙HA1234",
            2 * D,
            300,
            60,
            None,
            1800,
            "penalty",
            "浙HA1234",
            "read",
            "浙HA1234",
        ),  # closed at the center, never dispatched
        Case(
            "a4",
            park,
            "G-02",
            "vehicle:浙HA1234",
            40 * H,
            300,
            600,
            1200,
            None,
            None,
            "浙HA1234",
            "confirmed",
            "浙HA1234",
        ),  # dispatched, not closed after 40 h: overdue
        Case(
            "a5", park, "G-02", None, 2 * H, 300, plate_status="unread", candidate="浙HC0001"
        ),  # an unread plate: nobody's case, and not yet due
        Case(
            "a6",
            park,
            "G-02",
            "vehicle:浙HC0001",
            6 * D,
            300,
            240,
            480,
            5400,
            "education",
            "浙HC0001",
            "read",
            "浙HC0001",
        ),
        Case("a7", dog, "G-02", o2, 10 * D, 60, 60, None, 600, "dismissed"),  # a false alert
        Case("a8", dog, "G-02", o2, 20 * D, 60, 1800, 3600, 86400, "education"),
        Case("a9", dog, "G-02", o3, 29 * D, 60),  # never handled: overdue
        Case("a10", dog, "G-01", o3, 400 * D, 60, 60, 120, 180, "education"),  # 13 months ago
        Case("a11", "tag_offline", "G-01", o1, 30 * H, 60),
        Case("a12", "tag_low_battery", "G-01", o1, 4 * D, None, 100, None, 200, "dismissed"),
    ]


def seed(conn: sqlite3.Connection, now: float) -> dict[str, int]:
    """The registry's owners and the cases above; returns owner name -> id."""
    owners = {
        name: register_active_tag(conn, tag, dog, name, phone)["owner_id"]
        for tag, dog, name, phone in (
            ("TAG-0101", "旺财", "张三", "13900000101"),
            ("TAG-0102", "小白", "李四", "13900000102"),
            ("TAG-0103", "大黄", "王五", "13900000103"),
        )
    }
    for c in cases(owners):
        started = now - c.ago
        raised = started + c.opened if c.opened is not None else started
        steps = [
            ("acknowledge", c.ack, "acknowledged"),
            ("dispatch", c.dispatch, "dispatched"),
            ("close", c.close, "resolved"),
        ]
        taken = [(action, raised + after, reached) for action, after, reached in steps if after]
        alert = Alert(
            id=c.id,
            kind=c.kind,
            status="closed",
            device_id="dev-1",
            zone_id="z1",
            grid=c.grid,
            started_at=started,
            ended_at=started + 200,
            lat=28.97,
            lon=118.87,
            party=c.party,
            zone_name="测试小学",
            opened_at=started + c.opened if c.opened is not None else None,
            updated_at=now,
            workflow=taken[-1][2] if taken else "new",
            disposition=c.disposition,
            plate=c.plate,
            plate_status=c.plate_status,
            plate_candidate=c.candidate,
        )
        with transaction(conn):
            save_alert(conn, alert)
            state = "new"
            for action, at, reached in taken:  # what workflow.apply records at each step
                detail: dict = {"from": state}
                if action == "dispatch":
                    detail |= {"squad": workflow.squad_of(c.grid), "grid": c.grid}
                if action == "close":
                    detail["disposition"] = c.disposition
                workflow.record_event(conn, c.id, at, action, "operator:op1", detail)
                state = reached
    return owners


def handled(  # type: ignore[no-untyped-def]
    raised, resolved, due, overdue, in_progress, rate, ack, dispatch, close
) -> dict:
    """A report row as it should read (see rounded)."""
    return {
        "raised": raised,
        "resolved": resolved,
        "due": due,
        "overdue": overdue,
        "in_progress": in_progress,
        "resolution_rate": None if rate is None else round(rate, 4),
        "median_s": {"acknowledge": ack, "dispatch": dispatch, "close": close},
    }


def rounded(row: dict) -> dict:
    """The handling numbers of a report row, floats rounded off the clock's fractions."""
    r = lambda x: None if x is None else round(x, 4)  # noqa: E731
    return {
        **{k: row[k] for k in ("raised", "resolved", "due", "overdue", "in_progress")},
        "resolution_rate": r(row["resolution_rate"]),
        "median_s": {step: r(v) for step, v in row["median_s"].items()},
    }


def expected_handling() -> dict:
    return {
        # cases a1-a9: 6 resolved of 8 due (a5 is 2 h old and open: in progress)
        "handling": handled(9, 6, 8, 2, 1, 0.75, 240, 900, 4500),
        "by_kind": {
            "dog_forbidden_zone": handled(4, 3, 4, 1, 0, 0.75, 120, 2100, 3600),
            "dog_outside_walking_hours": handled(1, 1, 1, 0, 0, 1.0, 300, 900, 7200),
            "sidewalk_parking": handled(4, 2, 3, 1, 1, 2 / 3, 240, 840, 3600),
            "tag_offline": handled(1, 0, 1, 1, 0, 0.0, None, None, None),
            "tag_low_battery": handled(1, 1, 1, 0, 0, 1.0, 100, None, 200),
        },
        "by_grid": {
            "G-01": handled(3, 3, 3, 0, 0, 1.0, 120, 750, 3600),
            "G-02": handled(6, 3, 5, 2, 1, 0.6, 420, 1200, 5400),
        },
        # only the dispatched cases, by the squad they went to
        "by_squad": {
            "G-01": handled(2, 2, 2, 0, 0, 1.0, 210, 750, 5400),
            "G-02": handled(3, 2, 3, 1, 0, 2 / 3, 600, 1200, 45900),
        },
    }


def check_report(s: dict, owners: dict[str, int], now: float) -> None:
    want = expected_handling()
    assert rounded(s["handling"]) == want["handling"]
    assert s["handling"]["measured"] == {"acknowledge": 7, "dispatch": 5, "close": 6}
    for name, key in (("by_kind", "kind"), ("by_grid", "grid"), ("by_squad", "grid")):
        assert {row[key]: rounded(row) for row in s[name]} == want[name], name
    assert s["total"] == 11 and s["dismissed"] == 2 and s["due_after_s"] == 86400
    assert {d["disposition"]: (d["count"], d["share"]) for d in s["dispositions"]} == pytest.approx(
        {"education": (3, 0.6), "warning": (1, 0.2), "penalty": (1, 0.2)}
    )

    offenders = s["repeat_offenders"]
    assert offenders["least"] == 2 and offenders["since"] == pytest.approx(now - 365 * D, abs=60)
    # 张三: a1, a2 (the tag notices are no violations); 李四's a7 was dismissed, leaving one;
    # 王五's other case is 13 months old
    assert offenders["owners"]["total"] == 1
    [owner] = offenders["owners"]["parties"]
    assert (owner["party"], owner["owner_id"], owner["name"], owner["count"]) == (
        f"owner:{owners['张三']}",
        owners["张三"],
        "张三",
        2,
    )
    assert owner["last_at"] == pytest.approx(now - 3 * D, abs=60)
    assert [c["id"] for c in owner["cases"]] == ["a2", "a1"]
    # 浙HA1234: a3 read, a4 confirmed; 浙HC0001 was read once, its other stop stayed unread
    assert offenders["plates"]["total"] == 1
    [plate] = offenders["plates"]["parties"]
    assert (plate["plate"], plate["count"]) == ("浙HA1234", 2)
    assert [c["id"] for c in plate["cases"]] == ["a4", "a3"]
    assert plate["last_at"] == pytest.approx(now - 40 * H, abs=60)


def test_the_report_counts_rate_medians_and_offenders_exactly(tmp_path: Path) -> None:
    conn = connect(tmp_path / "stats.db")
    now = 1795399200.0  # 2026-11-23 10:00 in the city
    owners = seed(conn, now)
    s = statistics(conn, TZ, 30, now=now)
    check_report(s, owners, now)
    # a1 started 5 days before, at 10:00 city time; the 400-day-old case is out of the window
    assert {"day": "2026-11-18", "kind": "dog_forbidden_zone", "grid": "G-01", "count": 1} in s[
        "per_day"
    ]
    assert sum(r["count"] for r in s["per_day"]) == 11


def test_the_report_reads_the_same_on_postgresql(postgres_url: str) -> None:
    """The same seed and the same exact figures from a database server (issue 13): the
    squad's grid comes out of the dispatch event's JSON on either engine."""
    conn = connect(postgres_url)
    now = 1795399200.0
    owners = seed(conn, now)
    check_report(statistics(conn, TZ, 30, now=now), owners, now)


def test_the_api_reports_the_same_and_keeps_its_old_fields(
    operator: User, conn: sqlite3.Connection
) -> None:
    now = time.time()
    owners = seed(conn, now)
    r = operator.get("/api/operator/stats?days=30")
    assert r.status_code == 200, r.text
    s = r.json()
    assert {"days", "per_day", "dispositions", "dismissed", "total"} <= set(s)
    assert s["days"] == 30 and s["until"] == pytest.approx(now, abs=60)
    check_report(s, owners, now)


def test_an_unread_plate_never_makes_a_repeat_offender(tmp_path: Path) -> None:
    """Three stops of one car whose plate stayed unread (the candidate is the same each
    time), one row that names the vehicle but whose plate is unread (an inconsistent row,
    say from an older version: the plate decides, not the party), and one read: one
    counted violation, so no repeat offender."""
    conn = connect(tmp_path / "stats.db")
    now = 1795399200.0
    with transaction(conn):
        for i, (party, plate, status) in enumerate(
            [(None, None, "unread")] * 3
            + [("vehicle:浙HE7777", None, "unread"), ("vehicle:浙HE7777", "浙HE7777", "read")]
        ):
            save_alert(
                conn,
                Alert(
                    id=f"p{i}",
                    kind="sidewalk_parking",
                    status="closed",
                    device_id="cam-1",
                    zone_id="z",
                    grid="G-03",
                    started_at=now - (i + 1) * D,
                    ended_at=None,
                    lat=None,
                    lon=None,
                    party=party,
                    plate=plate,
                    plate_status=status,
                    plate_candidate="浙HE7777",
                    updated_at=now,
                ),
            )
    offenders = statistics(conn, TZ, 30, now=now)["repeat_offenders"]
    assert offenders["plates"] == {"total": 0, "parties": []}
    assert offenders["owners"] == {"total": 0, "parties": []}


def test_steps_taken_through_the_workflow_count_for_the_squad(tmp_path: Path) -> None:
    """The live path: workflow.apply records the steps; the report finds them."""
    conn = connect(tmp_path / "stats.db")
    raised = time.time() - 100
    with transaction(conn):
        save_alert(
            conn,
            Alert(
                id="w1",
                kind="dog_forbidden_zone",
                status="closed",
                device_id="TAG-1",
                zone_id="z",
                grid="G-07",
                started_at=raised - 60,
                opened_at=raised,
                ended_at=None,
                lat=None,
                lon=None,
                updated_at=raised,
            ),
        )
    for action in ("acknowledge", "dispatch"):
        workflow.apply(conn, "w1", action, "operator:op1")
    workflow.apply(conn, "w1", "close", "operator:op1", disposition="warning")
    s = statistics(conn, TZ, 30)
    [squad] = s["by_squad"]
    assert (squad["grid"], squad["raised"], squad["resolved"], squad["resolution_rate"]) == (
        "G-07",
        1,
        1,
        1.0,
    )
    assert 100 <= squad["median_s"]["close"] < 160
    assert s["dispositions"][1] == {
        "disposition": "warning",
        "count": 1,
        "share": 1.0,
        "target": 0.2,
    }


@pytest.mark.parametrize("days", ["0", "367", "x"])
def test_a_window_out_of_bounds_is_refused(operator: User, days: str) -> None:
    r = operator.get(f"/api/operator/stats?days={days}")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "days"]


def test_an_unreachable_history_store_is_a_503_in_the_readers_language(
    web_settings: Settings, conn: sqlite3.Connection
) -> None:
    settings = web_settings.model_copy(update={"influx_url": f"http://127.0.0.1:{free_port()}"})
    users.create_operator(conn, "op2", PASSWORD, "值班员二")
    with TestClient(create_app(settings, Limits())) as c:
        me = c.post("/api/auth/login", json={"login": "op2", "password": PASSWORD}).json()
        c.headers["X-CSRF-Token"] = me["csrf_token"]
        r = c.get("/api/operator/stats")
        assert r.status_code == 503
        assert r.json() == {
            "code": "stats.history_unavailable",
            "detail": text("stats.history_unavailable", "zh"),
        }
        c.cookies.set("lang", "en")
        assert "history database did not answer" in c.get("/api/operator/stats").json()["detail"]
