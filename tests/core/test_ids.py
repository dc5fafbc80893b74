from __future__ import annotations

import re

from slogate.core.ids import ulid


def test_ulid_shape_time_prefix_and_order() -> None:
    ids = [ulid(1_800_000_000.0 + n / 1000) for n in range(50)]
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 50
    # The first 10 digits are the millisecond time: 1_800_000_000_000 ms in Crockford base32.
    assert ulid(1_800_000_000.0)[:10] == "01MCC5RM00"
    assert ulid(0.0)[:10] == "0000000000"
