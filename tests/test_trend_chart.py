"""The overview's trend charts mark a month still running instead of joining it to the line."""

from __future__ import annotations

import matplotlib
import pandas as pd

from kor.i18n import t
from kor.plotting import trend_chart

matplotlib.use("Agg")


def _frame() -> pd.DataFrame:
    months = pd.PeriodIndex(["2026-08", "2026-09", "2026-10"], freq="M")
    return pd.DataFrame({"team": ["VOP"] * 3, "period": months, "sessions": [120, 118, 9]})


def test_a_running_month_is_a_hollow_point_off_the_line():
    ax = trend_chart(_frame(), "sessions", as_of="2026-10-03")
    line, point = ax.get_lines()
    assert list(line.get_ydata()) == [120, 118]  # the line ends at the last whole month
    assert list(point.get_ydata()) == [9] and point.get_linestyle() == "None"
    assert point.get_markerfacecolor() == "white"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["VOP", t("plot.partial_period")]


def test_without_a_date_every_month_is_drawn_on_the_line():
    ax = trend_chart(_frame(), "sessions")
    [line] = ax.get_lines()
    assert list(line.get_ydata()) == [120, 118, 9]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["VOP"]


def test_a_month_that_the_data_reach_the_end_of_is_complete():
    ax = trend_chart(_frame(), "sessions", as_of="2026-10-31")
    [line] = ax.get_lines()
    assert list(line.get_ydata()) == [120, 118, 9]
