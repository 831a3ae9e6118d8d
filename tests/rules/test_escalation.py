import pytest

from smartcity_iot.rules.escalation import escalation_step


@pytest.mark.parametrize(
    ("n", "step"), [(1, "education"), (2, "warning"), (3, "penalty"), (4, "strict"), (9, "strict")]
)
def test_escalation_steps_follow_spec_6(n: int, step: str) -> None:
    assert escalation_step(n) == step


def test_offence_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        escalation_step(0)
