"""`--pipeline-process`: the tag pipeline in a child process. Tests of
test_mqtt_service.py run again here with it (a real Mosquitto, SQLite), and the child
is SIGKILLed mid-stream: it is started again and every fix is stored exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from smartcity_iot.config import Settings
from smartcity_iot.service import Service

from ..conftest import service_settings
from ..support import Mosquitto, client, fix_payload, publish_all, wait_until
from .test_mqtt_service import (  # noqa: F401  (collected here, with the pipeline in a child)
    HOME,
    T0,
    count,
    test_a_violation_reaches_alerts_topic_opened_then_closed,
    test_backlog_built_while_the_service_is_down_is_fully_processed,
    test_every_bad_input_class_is_rejected_counted_and_survived,
)


@pytest.fixture
def settings(tmp_path: Path, broker: Mosquitto) -> Settings:
    return service_settings(tmp_path, broker, pipeline_process=True)


def test_the_pipeline_runs_in_its_own_process(service: Service) -> None:
    assert service.pipeline_process is not None
    child = service.pipeline_process._proc
    assert child.is_alive() and child.pid != os.getpid()


def test_a_killed_pipeline_process_is_restarted_and_nothing_is_lost_or_doubled(
    broker: Mosquitto, service: Service, db: sqlite3.Connection
) -> None:
    n = 6000
    msgs = [("tags/TAG-0001/fix", fix_payload(T0 + i, *HOME, seq=i)) for i in range(n)]
    pp = service.pipeline_process
    assert pp is not None
    publish_all(client(broker.port), msgs[: n // 2])
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") > 0, 30)
    os.kill(pp._proc.pid, signal.SIGKILL)  # mid-stream, maybe mid-batch
    publish_all(client(broker.port), msgs[n // 2 :])
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM fixes") == n, 60), count(
        db, "SELECT COUNT(*) FROM fixes"
    )
    assert pp.restarts >= 1
    assert count(db, "SELECT COUNT(DISTINCT seq) FROM fixes") == n
    assert service.counters.get("accepted") >= n - 1000  # counts of the killed batch are lost
