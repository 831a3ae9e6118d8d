"""SPEC 6: the escalation step from a party's violations in the previous 12 months."""

from __future__ import annotations

YEAR_S = 365 * 86400
STEPS = ("education", "warning", "penalty", "strict")


def escalation_step(offence_number: int) -> str:
    """1 education, 2 warning, 3 penalty, 4+ strict."""
    if offence_number < 1:
        raise ValueError("offence numbers start at 1")
    return STEPS[min(offence_number, len(STEPS)) - 1]
