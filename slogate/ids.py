"""Sortable unique ids (ULID: 48-bit millisecond time + 80 random bits, Crockford base32).

The random bits come from a generator seeded once from the OS: ids must be unique and sortable,
not secret, and the gate makes one per request (an OS call per id costs more than the rest).
"""

from __future__ import annotations

import base64
import os
import random
import time

_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")
_random = random.Random(os.urandom(32))  # noqa: S311 (unique, not secret: see above)


def ulid(now: float | None = None) -> str:
    """A 26-character ULID; ids made later sort after earlier ones (to the millisecond)."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | _random.getrandbits(80)
    # 130 bits, shifted to fill 17 bytes from the top: base32's first 26 digits are exactly them.
    digits = base64.b32encode((value << 6).to_bytes(17, "big"))[:26].decode()
    return digits.translate(_CROCKFORD)
