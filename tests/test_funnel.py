"""Funnel-plot limits (Spiegelhalter 2005) against a hand-computed example."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kor import funnel


def test_limits_equal_a_hand_computed_example():
    # centre 4.0, sd 8.0: n = 16 gives half-widths 1.96*2 = 3.92 and 3.09*2 = 6.18
    lo95, hi95 = funnel.funnel_limits([16], centre=4.0, sd=8.0, z=1.96)
    lo998, hi998 = funnel.funnel_limits([16], centre=4.0, sd=8.0, z=3.09)
    assert lo95[0] == pytest.approx(0.08) and hi95[0] == pytest.approx(7.92)
    assert lo998[0] == pytest.approx(-2.18) and hi998[0] == pytest.approx(10.18)


def test_limits_narrow_as_the_number_of_clients_grows():
    lo, hi = funnel.funnel_limits([5, 20, 80], centre=0.0, sd=1.0, z=1.96)
    width = hi - lo
    assert np.all(np.diff(width) < 0)
    assert width[0] / width[1] == pytest.approx(2.0)  # 4x the clients, half the width


def _units() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": ["A", "B", "C", "D"],
            "clients": [30, 100, 3, 25],
            "episodes_assessable": [25, 100, 3, 25],
            "severity_adjusted_change": [4.1, 4.0, 20.0, -1.0],
        }
    )


def test_units_under_five_clients_are_not_shown_and_positions_follow_the_limits():
    out = funnel.funnel_frame(_units(), unit="team", centre=4.0, sd=8.0)
    assert list(out["unit"]) == ["A", "D", "B"]  # C (3 clients) left out; sorted by n, unit
    row_d = out.set_index("unit").loc["D"]
    # n = 25: 95 % limits 4 -/+ 1.96*8/5 = 0.864 .. 7.136; 99.8 %: 4 -/+ 3.09*1.6 = -0.944
    assert row_d["lower_95"] == pytest.approx(0.864)
    assert row_d["lower_998"] == pytest.approx(-0.944)
    assert row_d["position"] == "below_998"
    assert out.set_index("unit").loc["A", "position"] == "within"


def test_suppressed_units_from_the_indicators_are_left_out():
    units = _units()
    units.loc[0, ["clients", "severity_adjusted_change"]] = [math.nan, math.nan]
    out = funnel.funnel_frame(units, unit="team", centre=4.0, sd=8.0)
    assert "A" not in set(out["unit"])


def test_adjusted_spread_is_the_service_mean_change_and_the_residual_sd():
    ep = pd.DataFrame(
        {
            "intake": [10.0, 20.0, 30.0, 20.0],
            "change": [12.0, 5.0, 0.0, 7.0],
            "assessable": True,
            "last_date": pd.Timestamp("2026-08-01"),
        }
    )
    mean, sd, n = funnel.adjusted_spread(ep)
    assert n == 4 and mean == pytest.approx(ep["change"].mean())
    slope = np.polyfit(ep["intake"], ep["change"], 1)[0]
    residual = ep["change"] - slope * (ep["intake"] - ep["intake"].mean())
    assert sd == pytest.approx(residual.std(ddof=1))
    assert funnel.adjusted_spread(ep, start="2026-09-01")[2] == 0
