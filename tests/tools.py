"""The external programs the tests drive (promtool, Prometheus, Alertmanager, PostgreSQL, Chromium).

Missing on a workstation, a test needing one is skipped with the reason; with `CI` set it fails,
so a CI machine without the tool can never report green by skipping (`scripts/setup` installs them).
"""

from __future__ import annotations

import os
import shutil

import pytest

# Where Debian puts them when PATH does not say so (PostgreSQL's server binaries are versioned).
SEARCH_PATH = os.pathsep.join(("/usr/bin", "/usr/local/bin", "/usr/lib/postgresql/15/bin"))


def require_tool(name: str, *alternatives: str) -> str:
    """The path of the first of `name`, `alternatives` installed; else skip, or fail under CI."""
    for candidate in (name, *alternatives):
        found = shutil.which(candidate) or shutil.which(candidate, path=SEARCH_PATH)
        if found:
            return found
    message = f"{name} is not installed (scripts/setup installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so this fails instead of skipping")
    pytest.skip(message)
