"""schemathesis against the served /openapi.json, bounded: no 5xx, no answer outside the schema,
invalid input rejected, admin endpoints refusing missing credentials, 405 with `Allow`."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from ..conftest import ROOT
from .conftest import History
from .helpers import ADMIN_TOKEN, running_slogate

ARTIFACTS = ROOT / "test-artifacts"
# Operations whose valid input depends on more than one field or on the time, which a schema
# cannot say: the admin POSTs ("until" in the future), canary analyses (start before end,
# canary differing from baseline, a window within the SLO period, Kayenta's marginal < pass).
CROSS_FIELD = "^(/v1/(freezes|exemptions)|/v1/canary(/.*)?|/canary/.*)$"


async def schemathesis(url: str, workdir: Path, *args: str) -> tuple[int, str]:
    binary = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    process = await asyncio.create_subprocess_exec(
        binary,
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "15",
        "--request-timeout",
        "5",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--seed",
        "1",
        "--no-color",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=workdir,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_schemathesis_finds_nothing(history: History, tmp_path: Path) -> None:
    async with running_slogate(history.url) as slogate:
        # Every operation with every check; then the cross-field ones without
        # `positive_data_acceptance`: a schema cannot say "until must be in the future" or
        # "start before end", and slogate rightly answers 400 to those.
        runs = {
            "all": await schemathesis(slogate.url, tmp_path, "--exclude-path-regex", CROSS_FIELD),
            "cross-field": await schemathesis(
                slogate.url,
                tmp_path,
                "--include-path-regex",
                CROSS_FIELD,
                "--exclude-checks",
                "positive_data_acceptance",
            ),
        }
    ARTIFACTS.mkdir(exist_ok=True)
    for name, (code, report) in runs.items():
        (ARTIFACTS / f"schemathesis-{name}.txt").write_text(report)
        assert code == 0, report[-6000:]
