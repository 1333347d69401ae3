"""The usage chart's geometry (usage/charts.py): bars stay inside the plot, their heights are
proportional to credits, refunds hang below the zero line, and stacked segments add up to the
period's bar."""

from __future__ import annotations

import pytest

from viggle_web.usage.charts import LEFT, TOP, bar_chart, stacked_chart
from viggle_web.usage.selectors import SplitSeries, UsageRow


def test_bars_are_proportional_inside_the_plot_and_refunds_hang_below_zero():
    series = [UsageRow("1 Mar", credits=40), UsageRow("2 Mar", credits=-10), UsageRow("3 Mar")]
    chart = bar_chart(series)
    assert (chart.max_credits, chart.min_credits) == (40, -10)
    up, down, empty = chart.bars
    assert up.height == pytest.approx(4 * down.height, abs=0.02)
    assert up.y + up.height == pytest.approx(chart.zero_y, abs=0.02)  # rests on zero
    assert down.y == chart.zero_y and down.negative  # hangs from it
    assert empty.height == 0
    for bar in chart.bars:
        assert LEFT <= bar.x and bar.x + bar.width <= LEFT + chart.plot_width + 0.01
        assert TOP <= bar.y and bar.y + bar.height <= TOP + chart.plot_height + 0.01
    # The first and last periods are labelled, anchored so the text stays in the frame.
    assert chart.ticks[0][1:] == ("1 Mar", "start") and chart.ticks[-1][1:] == ("3 Mar", "end")


def test_stacked_segments_add_up_to_the_periods_bar():
    split = SplitSeries(
        labels=["Jan", "Feb"], segments=[("alice", [30, 5]), ("bob", [10, -5]), ("carol", [0, 0])]
    )
    stacked = stacked_chart(split)
    # The same scale as a plain chart reaching 40 up and 5 down.
    plain = bar_chart([UsageRow("Jan", credits=40), UsageRow("Feb", credits=-5)])
    january = [s for s in stacked.bars if s.label.endswith("Jan: 30 credits")]
    assert january and january[0].colour == 0
    jan_total = sum(s.height for s in stacked.bars if " · Jan:" in s.label)
    assert jan_total == pytest.approx(plain.bars[0].height, abs=0.05)
    # February: 5 up from alice, 5 down from bob; carol's zeros draw nothing.
    feb = [s for s in stacked.bars if " · Feb:" in s.label]
    assert len(feb) == 2
    assert [s.y < stacked.zero_y for s in feb] == [True, False]
    assert stacked.legend == [(0, "alice", 35), (1, "bob", 5), (2, "carol", 0)]
