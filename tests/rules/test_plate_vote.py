"""The plate vote of a stop: read only when sure, unread (with a candidate) otherwise."""

from __future__ import annotations

from smartcity_iot.rules.plate_vote import PlateVotes

MIN = 0.9


def votes(*reads: tuple[str | None, str, float]) -> PlateVotes:
    v = PlateVotes()
    for i, (plate, candidate, conf) in enumerate(reads):
        v.add(plate, candidate, conf, float(i))
    return v


def test_two_agreeing_confident_reads_are_a_read_plate() -> None:
    v = votes(("浙HA1234", "浙HA1234", 0.95), ("浙HA1234", "浙HA1234", 0.97))
    verdict = v.verdict(MIN)
    assert (verdict.plate, verdict.status, verdict.conf) == ("浙HA1234", "read", 0.97)


def test_one_confident_read_among_several_attempts_is_not_enough() -> None:
    v = votes(("浙HA1234", "浙HA1234", 0.95))
    v.missed(5.0)
    verdict = v.verdict(MIN)
    assert verdict.status == "unread" and verdict.plate is None
    assert verdict.candidate == "浙HA1234"


def test_a_single_attempt_that_reads_confidently_is_read() -> None:
    assert votes(("浙HA1234", "浙HA1234", 0.95)).verdict(MIN).status == "read"


def test_two_different_confident_plates_are_a_conflict_left_to_the_operator() -> None:
    v = votes(
        ("浙HA1234", "浙HA1234", 0.95),
        ("浙HA1284", "浙HA1284", 0.93),
        ("浙HA1234", "浙HA1234", 0.96),
    )
    verdict = v.verdict(MIN)
    assert verdict.status == "unread" and verdict.plate is None
    assert verdict.candidate == "浙HA1234"


def test_reads_below_the_threshold_stay_unread_with_the_best_candidate() -> None:
    v = votes(("浙HA1234", "浙HA1234", 0.6), (None, "浙HA12", 0.8))
    verdict = v.verdict(MIN)
    assert verdict.status == "unread" and verdict.candidate == "浙HA1234"
    assert verdict.conf == 0.6


def test_nothing_read_is_unread_without_a_candidate() -> None:
    v = PlateVotes()
    v.missed(1.0)
    assert v.verdict(MIN).candidate is None and v.verdict(MIN).status == "unread"


def test_votes_survive_a_round_trip_through_plain_data() -> None:
    v = votes(("浙HA1234", "浙HA1234", 0.95), (None, "浙HA12", 0.5))
    again = PlateVotes.from_dict(v.to_dict())
    assert again.verdict(MIN) == v.verdict(MIN) and again.attempts == 2
