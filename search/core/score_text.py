"""Scores as pages show them."""

from __future__ import annotations


def score_text(value) -> str:
    """A score with three decimals, more where three would show a score under 1 as 1.000 (or one above 0
    as 0.000): a threshold read off the page must be told apart from the top of the scale."""
    if value is None or value == "":
        return ""
    value = float(value)
    text = f"{value:.3f}"
    for decimals in range(3, 10):
        text = f"{value:.{decimals}f}"
        shown = float(text)
        if (shown < 1.0 or value >= 1.0) and (shown > 0.0 or value <= 0.0):
            break
    return text
