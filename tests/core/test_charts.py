"""The status page's SVG charts: marks at their times, text alternatives, everything escaped."""

from __future__ import annotations

import re

from slogate.core.charts import (
    Axis,
    Mark,
    MarkKind,
    Series,
    Threshold,
    describe_marks,
    sparkline,
    time_chart,
)

START = 1_800_000_000.0
AXIS = Axis(START, START + 86_400, 0.0, 20.0)  # plot from x=56 to x=884, y=212 to y=28


def test_times_and_values_map_onto_the_plot_area() -> None:
    assert AXIS.x_of(START) == 56 and AXIS.x_of(START + 86_400) == 884
    assert AXIS.x_of(START + 43_200) == 470  # noon: half way
    assert AXIS.x_of(START - 999) == 56  # clipped, never outside the plot
    assert AXIS.y_of(0.0) == 212 and AXIS.y_of(20.0) == 28 and AXIS.y_of(10.0) == 120


def test_chart_is_an_image_with_title_description_and_marks_at_their_times() -> None:
    marks = [
        Mark(MarkKind.DEPLOYMENT, START + 21_600, "v1 <succeeded>"),
        Mark(MarkKind.FREEZE, START + 43_200, "holiday", START + 64_800),
        Mark(MarkKind.DENIAL, START + 50_000, "frozen"),
    ]
    svg = time_chart(
        chart_id="burn-x",
        title="Burn & rate",
        description="d",
        axis=AXIS,
        series=[Series("5m", ((START, 1.0), (START + 300, float("nan")), (START + 600, 2.0)))],
        marks=marks,
        thresholds=[Threshold(14.4, "14.4×")],
    )
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" id="burn-x" class="chart"')
    assert 'role="img"' in svg and 'aria-labelledby="burn-x-title burn-x-desc"' in svg
    assert '<title id="burn-x-title">Burn &amp; rate</title>' in svg
    assert "v1 &lt;succeeded&gt;" in svg and "<succeeded>" not in svg
    deployment = r'class="mark deployment" data-at="2027-01-15T14:00:00Z"><title>[^<]*</title>'
    assert re.search(deployment + '<line x1="263.0"', svg)  # 56 + 6 h / 24 h x 828 px
    assert '<rect class="mark freeze" data-at="2027-01-15T20:00:00Z" x="470.0"' in svg
    assert 'width="207.0"' in svg  # the freeze spans 6 of the 24 hours
    # a missing value breaks the line instead of drawing it down to zero
    assert 'd="M56.0,202.8 M61.8,193.6"' in svg  # 56 + 600 s / 86,400 s x 828 px
    assert 'class="threshold"' in svg


def test_marks_described_in_words_and_sparkline_titled() -> None:
    marks = [
        Mark(MarkKind.DEPLOYMENT, START, "a"),
        Mark(MarkKind.DEPLOYMENT, START + 1, "b"),
        Mark(MarkKind.INCIDENT, START + 2, "page"),
    ]
    assert describe_marks(marks) == "Marked: 2 deployments, 1 incident."
    assert describe_marks([]).startswith("No freezes")
    line = sparkline(
        title="budget <left>",
        axis=Axis(START, START + 60, -1.0, 1.0, 160, 30, 1, 1, 3, 3),
        points=[(START, 0.5), (START + 60, -0.5)],
        colour="#c5221f",
    )
    assert "<title>budget &lt;left&gt;</title>" in line and 'role="img"' in line
    assert 'y1="15.0"' in line  # the zero line of a budget that went negative
