"""Scores as pages show them: they keep the digits that tell them apart from 0 and 1."""

import pytest

from search.core.score_text import score_text as score


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.5, "0.500"),
        (0.12345, "0.123"),
        (0.9994, "0.999"),
        (0.99965, "0.9997"),
        (0.999996, "0.999996"),
        (1.0, "1.000"),
        (0.0004, "0.0004"),
        (0.0, "0.000"),
        (None, ""),
    ],
)
def test_score_never_shows_one_or_zero_for_what_is_not(value, shown):
    assert score(value) == shown
