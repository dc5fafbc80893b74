"""Sortable unique ids (ULID: 48-bit millisecond time + 80 random bits, Crockford base32).

The random bits come from a generator seeded once from the OS: ids must be unique and sortable,
not secret, and the gate makes one per request (an OS call per id costs more than the rest).
"""

from __future__ import annotations

import os
import random
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # every 10-bit value as two digits
_SHIFTS = tuple(range(120, -1, -10))  # 130 bits, most significant first
_random = random.Random(os.urandom(32))  # noqa: S311 (unique, not secret: see above)


def ulid(now: float | None = None) -> str:
    """A 26-character ULID; ids made later sort after earlier ones (to the millisecond)."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | _random.getrandbits(80)
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def first_ulid(at: float) -> str:
    """The smallest ULID of the millisecond `at`: every id made before it sorts below."""
    value = int(at * 1000) << 80
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])
