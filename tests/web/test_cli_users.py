"""`smartcity-iot users create-operator`: the only way to make an operator account."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcity_iot.cli import main
from smartcity_iot.store import users
from smartcity_iot.store.sqlite import connect


def test_an_admin_creates_an_operator_who_can_then_log_in(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a long operator password\n")
    data = tmp_path / "data"
    assert (
        main(
            [
                "users",
                "create-operator",
                "zhang",
                "--password-file",
                str(secret),
                "--data-dir",
                str(data),
            ]
        )
        == 0
    )
    user = users.authenticate(connect(data / "smartcity.db"), "zhang", "a long operator password")
    assert user is not None and user.role == "operator"
    assert (
        main(
            [
                "users",
                "create-operator",
                "zhang",
                "--password-file",
                str(secret),
                "--data-dir",
                str(data),
            ]
        )
        == 2
    )
    assert "already exists" in capsys.readouterr().err
    secret.write_text("short\n")
    assert (
        main(
            [
                "users",
                "create-operator",
                "li",
                "--password-file",
                str(secret),
                "--data-dir",
                str(data),
            ]
        )
        == 2
    )
    assert "at least 8" in capsys.readouterr().err
