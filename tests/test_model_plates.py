"""SPEC 5: plates normalised to one form, and malformed plates refused with a reason."""

from __future__ import annotations

import pytest

from smartcity_iot.model import check_plate, normalise_plate


@pytest.mark.parametrize(
    ("typed", "plate"),
    [
        ("浙H·A1234", "浙HA1234"),
        ("浙h a1234", "浙HA1234"),
        ("浙H-A1234", "浙HA1234"),
        ("京Ａ１２３４５", "京A12345"),  # full-width, as some keyboards type
        ("粤B·D12345", "粤BD12345"),  # green new-energy: six after the letter
    ],
)
def test_plates_are_normalised_to_upper_case_without_separators(typed: str, plate: str) -> None:
    assert check_plate(typed) == plate
    assert normalise_plate(typed) == plate


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "empty"),
        ("HA12345", "province"),
        ("浙HA123", "6 characters"),
        ("浙HA1234567", "10 characters"),
        ("浙1A1234", "letter"),
        ("浙HAI234", "never I or O"),
    ],
)
def test_malformed_plates_are_refused_saying_why(typed: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_plate(typed)
