"""The single-process service with --database-url: tests of test_mqtt_service.py run again
here against a real Mosquitto and the session's real PostgreSQL (a fresh database each):
alerts out on alerts/#, bad input survived and counted, a backlog fully processed."""

from __future__ import annotations

import pytest

from smartcity_iot.config import Settings

from .test_mqtt_service import (  # noqa: F401  (collected here, on PostgreSQL)
    test_a_violation_reaches_alerts_topic_opened_then_closed,
    test_backlog_built_while_the_service_is_down_is_fully_processed,
    test_every_bad_input_class_is_rejected_counted_and_survived,
)


@pytest.fixture
def settings(settings_on_postgres: Settings) -> Settings:
    return settings_on_postgres
