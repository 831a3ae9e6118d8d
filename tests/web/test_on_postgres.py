"""The owners' portal and the operators' console on PostgreSQL: tests of the web modules run
again here, through the real app built with a --database-url (a fresh database on the
session's server), the store's SQL unchanged; the live one with the service beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcity_iot.config import Settings

from ..support import TEST_ZONES
from .live import web  # noqa: F401 - fixture
from .test_accounts import (  # noqa: F401
    test_a_code_allows_five_tries_then_even_the_right_one_is_refused,
    test_a_password_change_needs_the_old_one_and_ends_the_other_sessions,
    test_login_is_rate_limited_per_account_even_with_the_right_password,
)
from .test_live import (  # noqa: F401
    test_an_alert_reaches_the_operators_stream_within_2s_and_handling_is_published,
)
from .test_notices_api import (  # noqa: F401
    test_a_dismissed_alert_shows_as_withdrawn_and_asks_nothing,
    test_an_owner_sees_the_notice_of_a_violation_with_place_step_and_text,
)
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
from .test_tag_life import (  # noqa: F401
    test_a_deactivated_tag_leaves_the_password_file_and_its_fixes_are_refused,
    test_a_rejected_request_shows_its_reason_to_the_owner,
    test_a_replaced_tag_keeps_the_dogs_history_and_escalation,
)


@pytest.fixture
def settings(settings_on_postgres: Settings) -> Settings:
    """The service's settings of the live test: the same database as the app's."""
    return settings_on_postgres


@pytest.fixture
def web_settings(tmp_path: Path, postgres_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", geofences=TEST_ZONES, database_url=postgres_url)


def test_the_app_stores_in_postgresql_not_in_the_data_dir(
    web_settings: Settings, conn: object
) -> None:
    assert web_settings.database == web_settings.database_url
    assert not web_settings.db_path.exists()
