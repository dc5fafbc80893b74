"""Spec files on disk: walk a file or directory tree, load every SLO, collect every problem."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from slogate.core.model import SLO
from slogate.core.windows import AlertWindows, AlertWindowsCatalog, parse_alert_windows
from slogate.errors import AlertWindowsError, SpecError
from slogate.sloth.spec import LoadOptions, check_text, duplicate_errors, split_documents

SPEC_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class SpecSet:
    """The SLOs found under a path and every problem found on the way."""

    slos: tuple[SLO, ...]
    errors: tuple[SpecError, ...]
    files: int

    @property
    def ok(self) -> bool:
        return not self.errors


def discover(
    path: Path, include: re.Pattern[str] | None = None, exclude: re.Pattern[str] | None = None
) -> list[Path]:
    """Spec files under `path` (recursively, sorted); `exclude` wins over `include` as in Sloth."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SpecError("no such file or directory", source=str(path))
    found = []
    for file in sorted(path.rglob("*")):
        if not file.is_file() or file.suffix not in SPEC_SUFFIXES:
            continue
        name = str(file)
        if exclude is not None and exclude.search(name):
            continue
        if include is not None and not include.search(name):
            continue
        found.append(file)
    return found


def load_windows_catalog(path: Path) -> AlertWindowsCatalog:
    """Every AlertWindows document under `path`; it replaces Sloth's default catalog."""
    windows: list[AlertWindows] = []
    for file in discover(path):
        for document in split_documents(file.read_text(encoding="utf-8")):
            try:
                windows.append(parse_alert_windows(yaml.safe_load(document)))
            except (AlertWindowsError, yaml.YAMLError, AttributeError) as exc:
                raise AlertWindowsError(f"{file}: {exc}") from None
    if not windows:
        raise AlertWindowsError(f"{path}: no AlertWindows document found")
    return AlertWindowsCatalog(windows)


def load_specs(
    path: Path,
    options: LoadOptions | None = None,
    *,
    include: re.Pattern[str] | None = None,
    exclude: re.Pattern[str] | None = None,
    check_duplicates: bool = True,
) -> SpecSet:
    """Load every spec under `path`. Never raises for a bad spec: problems are in `errors`."""
    try:
        files = discover(path, include, exclude)
    except SpecError as exc:
        return SpecSet((), (exc,), 0)
    slos: list[SLO] = []
    errors: list[SpecError] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(SpecError(f"cannot read: {exc}", source=str(file)))
            continue
        found, problems = check_text(text, str(file), options)
        slos.extend(found)
        errors.extend(problems)
    if check_duplicates:
        errors.extend(duplicate_errors(slos))
    if not files:
        errors.append(SpecError("no spec files (*.yml, *.yaml) found", source=str(path)))
    return SpecSet(tuple(slos), tuple(errors), len(files))
