from __future__ import annotations

import pytest

from slogate.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("1h30m", 5400),
        ("30d", 2_592_000),
        ("4w", 2_419_200),
        ("500ms", 0.5),
        ("0", 0),
        ("1y", 31_536_000),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5h", "5M", "h", "1h 30m", "-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (86_400, "1d"),
        (3 * 86_400, "3d"),
        (28 * 86_400, "4w"),  # Sloth names the 28d windows ratio_rate4w
        (7 * 86_400, "1w"),
        (30 * 86_400, "30d"),  # not a whole number of weeks: days
        (36 * 3600, "1d12h"),
        (0, "0s"),
    ],
)
def test_format_duration_matches_prometheus(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
