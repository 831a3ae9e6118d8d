"""The owners' portal and the operators' console on PostgreSQL: tests of test_owner.py and
test_operator.py run again here, through the real app built with a --database-url (a
fresh database on the session's server), the store's SQL unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcity_iot.config import Settings

from ..support import TEST_ZONES
from .test_operator import (  # noqa: F401  (collected here, on PostgreSQL)
    test_acknowledge_dispatch_close_is_recorded_and_published,
    test_device_health_lists_low_battery_and_silent_tags,
)
from .test_owner import (  # noqa: F401
    test_a_tag_registered_from_the_cli_shows_on_its_dog_and_no_request_is_offered,
    test_a_tag_request_goes_requested_approved_shipped_active,
    test_an_owner_sees_position_battery_and_violations_with_guidance,
    test_only_dogs_without_an_active_or_pending_tag_may_request_one,
)


@pytest.fixture
def web_settings(tmp_path: Path, postgres_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", geofences=TEST_ZONES, database_url=postgres_url)


def test_the_app_stores_in_postgresql_not_in_the_data_dir(
    web_settings: Settings, conn: object
) -> None:
    assert web_settings.database == web_settings.database_url
    assert not web_settings.db_path.exists()
