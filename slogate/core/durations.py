"""Prometheus durations: parsing and the canonical string form Sloth uses for window names."""

from __future__ import annotations

import functools
import re

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNITS_MS = (
    ("y", 365 * 86_400_000, True),
    ("w", 7 * 86_400_000, True),
    ("d", 86_400_000, False),
    ("h", 3_600_000, False),
    ("m", 60_000, False),
    ("s", 1_000, False),
    ("ms", 1, False),
)
_MULTIPLIERS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000, 1)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as `30d`, `1h30m` or `500ms`."""
    match = _DURATION.match(text.strip())
    if text.strip() == "0":
        return 0.0
    if not match or not text.strip():
        raise ValueError(f'not a valid duration string: "{text}"')
    millis = sum(
        int(g) * mult for g, mult in zip(match.groups(), _MULTIPLIERS_MS, strict=True) if g
    )
    return millis / 1000


@functools.lru_cache(maxsize=1024)
def format_duration(seconds: float) -> str:
    """Prometheus' `model.Duration.String()`: `30d`, `4w` for 28d, `1w` for 7d, `1h30m`.

    Years and weeks are used only when they divide the duration exactly.
    """
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    out = []
    for unit, mult, exact in _UNITS_MS:
        if exact and millis % mult:
            continue
        if count := millis // mult:
            out.append(f"{count}{unit}")
            millis -= count * mult
    return "".join(out)
