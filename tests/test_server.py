"""Process-level settings of `slogate serve`."""

from __future__ import annotations

import gc
import weakref

from slogate.server import freeze_long_lived


class Model:
    """Stands for a loaded SLO model."""


def test_long_lived_objects_leave_the_collectors_sight_and_are_still_freed() -> None:
    models = [Model() for _ in range(1000)]
    first = weakref.ref(models[0])
    before = gc.get_freeze_count()
    try:
        freeze_long_lived()
        assert gc.get_freeze_count() >= before + 1000
        assert not any(gc.is_tracked(m) and m in gc.get_objects(2) for m in models[:1])
        del models  # a reload drops the old models: reference counting frees them
        assert first() is None
    finally:
        gc.unfreeze()
