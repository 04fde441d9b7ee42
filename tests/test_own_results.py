"""A clinician's own results (kor.own_results) against a worked example computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kor.errors import ValidationError
from kor.indicators import SeverityModel
from kor.own_results import OwnResults, mean_interval, own_results

#: The service's case-mix line, fixed: expected change = 15 - 0.5 * intake.
#: It passes through (intake_mean 20, change_mean 5), as an OLS line does.
REFERENCE = SeverityModel(
    intercept=15.0,
    slope=-0.5,
    intake_mean=20.0,
    intake_sd=5.0,
    change_mean=5.0,
    episodes=200,
    clients=200,
)

#: (intake, end score, end reason) of clinician u1's six episodes, all closed in 2025.
#: ORS adult: reliable change 5 points, cut-off 25.
#:   intake  end  change  expected 15-0.5*intake  observed-expected  category
#:   10      22   12      10                      +2                 improved
#:   14      26   12       8                      +4                 recovered (14<25<=26)
#:   18      20    2       6                      -4                 unchanged
#:   20      28    8       5                      +3                 recovered
#:   24      18   -6       3                      -9                 deteriorated
#:   30      33    3       0                      +3                 unchanged
U1 = [
    (10.0, 22.0, "completed"),
    (14.0, 26.0, "completed"),
    (18.0, 20.0, "dropout"),
    (20.0, 28.0, "completed"),
    (24.0, 18.0, "dropout"),
    (30.0, 33.0, "completed"),
]
T_975_5 = 2.5705818366  # t quantile, 0.975, 5 degrees of freedom (statistical tables)


def _episode(
    no: int,
    client: str,
    clinician: str,
    intake: float,
    end: float,
    reason: str,
    start: str,
    stop: str,
) -> list[dict]:
    first, last = pd.Timestamp(start), pd.Timestamp(stop)
    common = {
        "client": client,
        "episode": no,
        "team": "VOP",
        "clinician": clinician,
        "age_group": "adult",
        "episode_start": first,
        "episode_end": last,
        "end_reason": reason,
        "format": "individual",
        "outcome_measure": "ORS",
        "alliance_measure": "SRS",
        "alliance": 38.0,
        "alliance_min_item": 9.0,
    }
    return [
        {**common, "session_date": first, "session_no": 1, "outcome": intake},
        {**common, "session_date": last, "session_no": 2, "outcome": end},
    ]


def _sessions(extra: list[list[dict]] = ()) -> pd.DataFrame:
    rows: list[dict] = []
    for i, (intake, end, reason) in enumerate(U1, start=1):
        rows += _episode(
            i, f"K{i}", "u1", intake, end, reason, f"2025-0{i}-03", f"2025-0{i + 3}-10"
        )
    # Another clinician's five episodes, much better than expected: never part of u1's figures.
    for i in range(5):
        rows += _episode(
            100 + i, f"X{i}", "u2", 10.0, 38.0, "completed", "2025-01-06", "2025-03-03"
        )
    for group in extra:
        rows += group
    return pd.DataFrame(rows)


def test_the_worked_example_by_hand():
    result = own_results(_sessions(), "u1", reference=REFERENCE, as_of="2026-06-30")
    assert isinstance(result, OwnResults)
    assert result.years == (2024, 2025, 2026)
    differences = [2.0, 4.0, -4.0, 3.0, -9.0, 3.0]
    mean = sum(differences) / 6  # -1/6
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / 5)  # sqrt(134.8333/5) = 5.19294
    half = T_975_5 * sd / math.sqrt(6)  # 5.44966
    year = result.per_year[1]
    assert year.year == 2025 and year.change_shown and year.episodes == 6 and year.clients == 6
    assert year.difference == pytest.approx(-1 / 6)
    assert year.ci_low == pytest.approx(mean - half, abs=1e-8)
    assert year.ci_high == pytest.approx(mean + half, abs=1e-8)
    assert (round(year.ci_low, 4), round(year.ci_high, 4)) == (-5.6163, 5.283)
    assert year.observed == pytest.approx(31 / 6)  # (12+12+2+8-6+3)/6
    assert year.expected == pytest.approx(32 / 6)  # (10+8+6+5+3+0)/6
    assert year.pct_improved == pytest.approx(50.0)  # improved + 2 recovered of 6
    assert year.pct_deteriorated == pytest.approx(100 / 6)
    # dropout: 2 of the 6 episodes ended (closed) in 2025 ended in dropout
    assert year.dropout_shown and year.episodes_ended == 6
    assert year.dropout_rate == pytest.approx(100 * 2 / 6)
    # the window holds the same six episodes
    assert result.total.difference == pytest.approx(-1 / 6)
    assert result.total.episodes == 6


def test_years_without_five_episodes_have_no_figures():
    result = own_results(_sessions(), "u1", reference=REFERENCE, as_of="2026-06-30")
    for year in (result.per_year[0], result.per_year[2]):
        assert not year.change_shown and not year.dropout_shown
        assert year.difference is None and year.ci_low is None and year.pct_improved is None
        assert year.dropout_rate is None


def test_four_episodes_are_suppressed_and_five_of_four_clients_too():
    four = own_results(_sessions(), "u3", reference=REFERENCE, as_of="2026-06-30")
    assert four.total.episodes == 0 and not four.total.change_shown
    rows = [
        _episode(200 + i, f"Y{i}", "u3", 15.0, 25.0, "completed", "2025-01-06", "2025-04-07")
        for i in range(4)
    ]
    four = own_results(_sessions(rows), "u3", reference=REFERENCE, as_of="2026-06-30")
    assert four.total.episodes == 4 and not four.total.change_shown
    assert four.total.difference is None and not four.total.dropout_shown
    # a fifth episode of a client already counted: 5 episodes but 4 clients, still hidden
    again = _episode(299, "Y0", "u3", 15.0, 25.0, "completed", "2025-05-05", "2025-08-04")
    five = own_results(_sessions([*rows, again]), "u3", reference=REFERENCE, as_of="2026-06-30")
    assert (five.total.episodes, five.total.clients) == (5, 4) and not five.total.change_shown
    # a fifth client shows the figures: all five changed 10, expected 15-7.5 = 7.5, +2.5 each
    other = _episode(300, "Y9", "u3", 15.0, 25.0, "completed", "2025-05-05", "2025-08-04")
    shown = own_results(_sessions([*rows, other]), "u3", reference=REFERENCE, as_of="2026-06-30")
    assert shown.total.change_shown and shown.total.difference == pytest.approx(2.5)


def test_an_open_episode_silent_for_90_days_counts_as_dropout():
    # u1's six plus one open episode last seen 2025-08-04: by 2025-12-31 it has lapsed
    lapsed = _episode(400, "Z1", "u1", 20.0, 22.0, None, "2025-06-02", "2025-08-04")
    for row in lapsed:
        row["episode_end"] = pd.NaT
    result = own_results(_sessions([lapsed]), "u1", reference=REFERENCE, as_of="2026-06-30")
    year = result.per_year[1]
    assert year.episodes == 6  # not closed: no change figures from it
    assert year.episodes_ended == 7 and year.dropout_rate == pytest.approx(100 * 3 / 7)


def test_mean_interval_matches_the_textbook_formula():
    m, lo, hi = mean_interval(np.array([4.0, 6.0, 8.0, 10.0, 12.0]))
    # mean 8, sd sqrt(40/4) = 3.1623, se 1.4142, t(0.975, 4) = 2.7764451
    assert m == 8.0
    assert lo == pytest.approx(8 - 2.7764451052 * math.sqrt(10) / math.sqrt(5))
    assert hi == pytest.approx(8 + 2.7764451052 * math.sqrt(10) / math.sqrt(5))
    assert math.isnan(mean_interval(np.array([3.0]))[1])


def test_without_a_reference_the_model_is_fitted_on_the_sessions_given():
    result = own_results(_sessions(), "u1", as_of="2026-06-30")
    assert result.reference.fitted and result.reference.episodes == 11


@pytest.mark.parametrize("years", [0, 21, 2.5, True])
def test_bad_years_are_refused_naming_the_field(years):
    with pytest.raises(ValidationError) as err:
        own_results(_sessions(), "u1", reference=REFERENCE, years=years)
    assert err.value.field == "years"


def test_a_smaller_group_than_five_is_refused():
    with pytest.raises(ValidationError) as err:
        own_results(_sessions(), "u1", reference=REFERENCE, min_group=3)
    assert err.value.field == "min_group"


def test_the_frame_has_one_row_per_year():
    frame = own_results(_sessions(), "u1", reference=REFERENCE, as_of="2026-06-30").frame()
    assert frame["year"].tolist() == [2024, 2025, 2026]
    assert frame["change_shown"].tolist() == [False, True, False]
