from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slogate.core.windows import DAY, AlertWindowsCatalog, parse_alert_windows
from slogate.errors import AlertWindowsError


def factors(doc_path: Path) -> list[float]:
    windows = parse_alert_windows(yaml.safe_load(doc_path.read_text()))
    return [c.burn_factor for c in windows.conditions]


def test_default_catalog_30d_factors_are_the_workbooks() -> None:
    w = AlertWindowsCatalog.default().get(30 * DAY)
    assert [c.burn_factor for c in w.conditions] == [14.4, 6.0, 3.0, 1.0]
    assert w.windows == (300, 1800, 3600, 7200, 21600, 86400, 259200, 30 * DAY)


def test_default_catalog_28d_factors_equal_sloths_bit_for_bit() -> None:
    # Verbatim from Sloth's out-base-28d.yaml.tpl.
    w = AlertWindowsCatalog.default().get(28 * DAY)
    assert [c.burn_factor for c in w.conditions] == [
        13.44,
        5.6000000000000005,
        2.8000000000000003,
        0.9333333333333333,
    ]


def test_sloth_google_catalog_files_match_builtin(sloth_compat: Path) -> None:
    builtin = AlertWindowsCatalog.default()
    for name, days in (("google-30d.yaml", 30), ("google-28d.yaml", 28)):
        parsed = parse_alert_windows(
            yaml.safe_load((sloth_compat / "internal/alert/windows" / name).read_text())
        )
        assert parsed == builtin.get(days * DAY)


def test_custom_7d_catalog(sloth_compat: Path) -> None:
    assert factors(sloth_compat / "examples/windows/7d.yaml")[:3] == [
        13.44,
        3.5,
        1.4000000000000001,
    ]


def test_custom_30d_catalog_windows(sloth_compat: Path) -> None:
    w = parse_alert_windows(
        yaml.safe_load((sloth_compat / "examples/windows/custom-30d.yaml").read_text())
    )
    assert [c.burn_factor for c in w.conditions] == [14.4, 4.8, 3.0, 1.0]
    assert w.windows == (120, 900, 1800, 3600, 3 * 3600, 12 * 3600, 36 * 3600, 30 * DAY)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda s: s["page"]["quick"].pop("longWindow"), "page.quick: long window is required"),
        (lambda s: s["ticket"]["slow"].pop("shortWindow"), "ticket.slow: short window is required"),
        (
            lambda s: s["page"]["slow"].pop("errorBudgetPercent"),
            "page.slow: error budget is required",
        ),
        (lambda s: s.update(sloPeriod="thirty days"), "sloPeriod: not a valid duration"),
    ],
)
def test_invalid_catalog_names_the_field(
    sloth_compat: Path, mutation: object, message: str
) -> None:
    doc = yaml.safe_load((sloth_compat / "examples/windows/7d.yaml").read_text())
    assert callable(mutation)
    mutation(doc["spec"])
    with pytest.raises(AlertWindowsError, match=message):
        parse_alert_windows(doc)


def test_catalog_rejects_conflicting_periods_and_reports_missing(sloth_compat: Path) -> None:
    seven = parse_alert_windows(
        yaml.safe_load((sloth_compat / "examples/windows/7d.yaml").read_text())
    )
    custom30 = parse_alert_windows(
        yaml.safe_load((sloth_compat / "examples/windows/custom-30d.yaml").read_text())
    )
    default30 = AlertWindowsCatalog.default().get(30 * DAY)
    with pytest.raises(AlertWindowsError, match='"30d" slo period is already loaded'):
        AlertWindowsCatalog([default30, custom30])
    catalog = AlertWindowsCatalog([seven])
    with pytest.raises(AlertWindowsError, match="window period 30d missing"):
        catalog.get(30 * DAY)
