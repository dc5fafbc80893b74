"""Command-line options shared by `serve`, `validate` and `generate`, named as Sloth names them."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from slogate.core.durations import format_duration, parse_duration
from slogate.core.windows import DAY, AlertWindowsCatalog
from slogate.errors import AlertWindowsError

if TYPE_CHECKING:
    from slogate.config import Config
    from slogate.sloth.spec import LoadOptions


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def regex_arg(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"invalid regex: {exc}") from None


def add_spec_options(parser: argparse.ArgumentParser, *, filters: bool = False) -> None:
    """`--slo-period-windows-path`, `--default-slo-period` and, with `filters`, `-e`/`-n`."""
    parser.add_argument(
        "--slo-period-windows-path",
        metavar="DIR",
        help="AlertWindows catalogs replacing the built-in 30d/28d ones (as in Sloth)",
    )
    parser.add_argument(
        "--default-slo-period",
        type=duration_arg,
        metavar="DURATION",
        help="SLO period of specs that do not set one (default 30d)",
    )
    if filters:
        parser.add_argument(
            "-e", "--fs-exclude", type=regex_arg, help="skip paths matching this regex"
        )
        parser.add_argument(
            "-n", "--fs-include", type=regex_arg, help="only paths matching this regex"
        )


def load_options(
    windows_path: str | None, default_period: float | None, config: Config | None = None
) -> LoadOptions:
    """The catalog and default period from the flags, else the config, else Sloth's defaults.

    Raises `AlertWindowsError` when a catalog cannot be read or lacks the default period.
    """
    # The spec loader is imported by the commands that load specs, not by building the parser.
    from slogate.evaluation.specfiles import load_windows_catalog
    from slogate.sloth.spec import LoadOptions

    windows_path = windows_path or (config.specs.windows_path if config else "")
    catalog = (
        load_windows_catalog(Path(windows_path)) if windows_path else AlertWindowsCatalog.default()
    )
    period = default_period or (config.specs.default_period if config else 30 * DAY)
    if period not in catalog:
        raise AlertWindowsError(
            f"invalid default slo period: window period {format_duration(period)} missing"
        )
    return LoadOptions(default_period=period, catalog=catalog)
