"""Service indicators: hand-computed toy frames, severity adjustment, suppression, periods."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kor import frames, sample
from kor.errors import KorStatisticalWarning, ValidationError
from kor.frames import SESSION_COLUMNS
from kor.indicators import (
    INDICATOR_COLUMNS,
    SUPPRESSION_MIN,
    complementary,
    service_indicators,
    severity_adjustment,
    suppress,
)

NUMERIC = [c for c in INDICATOR_COLUMNS if c != "suppressed"]


def _frame(episodes: list[dict]) -> pd.DataFrame:
    """Session table from compact episode specs.

    Each spec: client, team, clinician, sessions = [(date, outcome, alliance), ...],
    end (date or None), reason (str or None). Adults, ORS/SRS, individual format.
    """
    rows = []
    for number, spec in enumerate(episodes, start=1):
        dates = [pd.Timestamp(d) for d, _, _ in spec["sessions"]]
        end = spec.get("end", dates[-1])
        for no, (date, outcome, alliance) in enumerate(spec["sessions"], start=1):
            rows.append(
                {
                    "client": spec["client"],
                    "episode": number,
                    "team": spec.get("team", "A"),
                    "clinician": spec.get("clinician", "c1"),
                    "age_group": "adult",
                    "episode_start": dates[0],
                    "episode_end": pd.Timestamp(end) if end is not None else pd.NaT,
                    "end_reason": spec.get("reason", "completed" if end is not None else None),
                    "session_date": pd.Timestamp(date),
                    "session_no": no,
                    "format": "individual",
                    "outcome_measure": None if outcome is None else "ORS",
                    "outcome": np.nan if outcome is None else float(outcome),
                    "alliance_measure": None if alliance is None else "SRS",
                    "alliance": np.nan if alliance is None else float(alliance),
                    "alliance_min_item": np.nan if alliance is None else alliance / 4,
                }
            )
    frame = pd.DataFrame(rows)
    for col in ("end_reason", "outcome_measure", "alliance_measure"):
        frame[col] = frame[col].astype("object")
    return frame.loc[:, list(SESSION_COLUMNS)]


def _toy() -> pd.DataFrame:
    """Six adult clients of team A, one episode each, January-February 2025."""
    return _frame(
        [
            # intake 10 -> 20: change +10, improved (20 < cut-off 25); SRS 38 then 35 (low, drop)
            {"client": "K1", "sessions": [("2025-01-06", 10, 38), ("2025-01-13", 20, 35)]},
            # 20 -> 30: +10, recovered (crosses 25 from below)
            {"client": "K2", "sessions": [("2025-01-07", 20, 38), ("2025-01-14", 30, 38)]},
            # 15 -> 17: +2, unchanged; ended as dropout
            {
                "client": "K3",
                "sessions": [("2025-01-08", 15, 38), ("2025-01-15", 17, 38)],
                "reason": "dropout",
            },
            # 22 -> 15: -7, deteriorated; SRS 39 then 37.5 (drop of 1.5, not low)
            {"client": "K4", "sessions": [("2025-01-09", 22, 39), ("2025-01-16", 15, 37.5)]},
            # 18 -> 26: +8, recovered
            {"client": "K5", "sessions": [("2025-01-10", 18, 38), ("2025-01-17", 26, 38)]},
            # 11 -> (no ORS, no SRS) -> 12: +1, unchanged; still open, last seen 1 Feb
            {
                "client": "K6",
                "sessions": [
                    ("2025-01-11", 11, 38),
                    ("2025-01-18", None, None),
                    ("2025-02-01", 12, 38),
                ],
                "end": None,
            },
        ]
    )


def test_toy_service_indicators_match_hand_computation():
    out = service_indicators(_toy(), by=("team",), today="2025-06-30")
    assert list(out.columns) == ["team", *INDICATOR_COLUMNS]
    row = out.iloc[0]
    assert not row["suppressed"]
    assert (row["clients"], row["episodes"], row["sessions"]) == (6, 6, 13)
    assert row["episodes_assessable"] == 6
    # intake (10+20+15+22+18+11)/6 = 96/6 = 16.0; change (10+10+2-7+8+1)/6 = 24/6 = 4.0
    assert row["intake_mean"] == pytest.approx(16.0)
    assert row["change_mean"] == pytest.approx(4.0)
    # intake deviations -6,4,-1,6,2,-5 -> squares 118 -> var 118/5 = 23.6 -> ES 4/sqrt(23.6)
    assert row["effect_size"] == pytest.approx(4.0 / math.sqrt(23.6))
    # one group = the whole service: adjustment changes nothing
    assert row["severity_adjusted_change"] == pytest.approx(4.0)
    assert row["severity_adjusted_es"] == pytest.approx(4.0 / math.sqrt(23.6))
    # improved K1 + recovered K2, K5 = 3/6; recovered 2/6; deteriorated K4 1/6
    assert row["pct_improved"] == pytest.approx(50.0)
    assert row["pct_recovered"] == pytest.approx(100 * 2 / 6)
    assert row["pct_deteriorated"] == pytest.approx(100 * 1 / 6)
    # 13 sessions, 12 with ORS and 12 with SRS
    assert row["pct_sessions_with_outcome"] == pytest.approx(100 * 12 / 13)
    assert row["pct_sessions_with_alliance"] == pytest.approx(100 * 12 / 13)
    # SRS: nine 38s (342) + 35 + 39 + 37.5 = 453.5 over 12
    assert row["alliance_mean"] == pytest.approx(453.5 / 12)
    # one SRS under 36 (K1's 35) of 12
    assert row["pct_alliance_low"] == pytest.approx(100 / 12)
    # K1 session 2 (low and drop: one session) and K4 session 2 (drop)
    assert row["alliance_warnings"] == 2
    # K3 ended as dropout; K6 open, last seen 1 Feb, > 90 days before 30 June: 2/6
    assert row["dropout_rate"] == pytest.approx(100 * 2 / 6)


def test_whole_service_without_grouping_has_no_group_columns():
    out = service_indicators(_toy(), by=(), today="2025-06-30")
    assert list(out.columns) == list(INDICATOR_COLUMNS)
    assert len(out) == 1 and out["clients"].iloc[0] == 6


def test_open_episode_counts_as_dropout_only_after_dropout_days():
    toy = _toy()
    # K6 last seen 2025-02-01; 90 days later is 2025-05-02
    at_90 = service_indicators(toy, today="2025-05-02", dropout_days=90)
    at_91 = service_indicators(toy, today="2025-05-03", dropout_days=90)
    assert at_90["dropout_rate"].iloc[0] == pytest.approx(100 * 1 / 6)  # K3 only
    assert at_91["dropout_rate"].iloc[0] == pytest.approx(100 * 2 / 6)  # K3 and K6
    shorter = service_indicators(toy, today="2025-05-02", dropout_days=30)
    assert shorter["dropout_rate"].iloc[0] == pytest.approx(100 * 2 / 6)


def test_monthly_period_counts_sessions_by_date_and_episodes_where_last_seen():
    with pytest.warns(KorStatisticalWarning):
        out = service_indicators(_toy(), by=("team",), period="M", today="2025-06-30", min_group=1)
    assert [str(p) for p in out["period"]] == ["2025-01", "2025-02"]
    jan, feb = out.iloc[0], out.iloc[1]
    assert (jan["clients"], jan["sessions"], feb["clients"], feb["sessions"]) == (6, 12, 1, 1)
    # K1-K5 were last seen in January, K6 in February
    assert jan["episodes_assessable"] == 5 and feb["episodes_assessable"] == 1
    # January: changes 10, 10, 2, -7, 8 -> mean 23/5; February: K6's +1
    assert jan["change_mean"] == pytest.approx(23 / 5)
    assert feb["change_mean"] == pytest.approx(1.0)
    # K6's dropout belongs to February (1 of its 1 episode), K3's to January (1 of 6)
    assert jan["dropout_rate"] == pytest.approx(100 / 6)
    assert feb["dropout_rate"] == pytest.approx(100.0)


def test_quarterly_period_and_window_start_end():
    toy = _toy()
    later = _frame(
        [
            {
                "client": f"L{i}",
                "team": "A",
                "sessions": [("2025-04-02", 15, 38), ("2025-04-20", 25, 38)],
            }
            for i in range(5)
        ]
    )
    later["episode"] += 100
    both = pd.concat([toy, later], ignore_index=True)
    out = service_indicators(both, period="Q", today="2025-06-30")
    assert [str(p) for p in out["period"]] == ["2025Q1", "2025Q2"]
    assert list(out["clients"]) == [6, 5]
    assert out["change_mean"].iloc[1] == pytest.approx(10.0)
    only_q2 = service_indicators(both, period="Q", start="2025-04-01", today="2025-06-30")
    assert [str(p) for p in only_q2["period"]] == ["2025Q2"]
    # `end` drops later sessions: the data as they stood on 31 March
    as_of_march = service_indicators(both, period="Q", end="2025-03-31")
    assert [str(p) for p in as_of_march["period"]] == ["2025Q1"]


def test_severity_adjustment_equalises_teams_with_the_same_response():
    # Both teams follow change = 20 - 0.5 * intake exactly; team H starts sicker.
    specs = []
    for team, intakes in (("H", [8, 10, 12, 14, 16]), ("L", [18, 20, 22, 24, 26])):
        for i, x in enumerate(intakes):
            last = x + 20 - 0.5 * x
            specs.append(
                {
                    "client": f"{team}{i}",
                    "team": team,
                    "sessions": [("2025-01-06", x, 38), ("2025-01-20", last, 38)],
                }
            )
    out = service_indicators(_frame(specs), by=("team",), today="2025-01-31").set_index("team")
    # raw: H mean intake 12 -> change 14; L mean intake 22 -> change 9
    assert out.loc["H", "change_mean"] == pytest.approx(14.0)
    assert out.loc["L", "change_mean"] == pytest.approx(9.0)
    # adjusted: both equal the service mean change (14 + 9) / 2 = 11.5
    assert out.loc["H", "severity_adjusted_change"] == pytest.approx(11.5)
    assert out.loc["L", "severity_adjusted_change"] == pytest.approx(11.5)
    assert out.loc["H", "severity_adjusted_es"] == pytest.approx(
        out.loc["L", "severity_adjusted_es"]
    )


def test_severity_adjustment_is_ols_of_change_on_intake():
    x = np.array([10.0, 12.0, 20.0, 25.0, 31.0])
    y = np.array([9.0, 6.0, 4.0, 1.0, -2.0])
    b0, b1 = severity_adjustment(x, y)
    slope, intercept = np.polyfit(x, y, 1)  # a different method
    assert (b0, b1) == pytest.approx((intercept, slope))
    assert severity_adjustment(np.array([5.0, 5.0, 5.0]), y[:3])[1] == 0.0


def _teams_of(sizes: dict[str, int]) -> pd.DataFrame:
    specs = []
    for team, n in sizes.items():
        for i in range(n):
            specs.append(
                {
                    "client": f"{team}{i}",
                    "team": team,
                    "sessions": [("2025-01-06", 15 + i, 38), ("2025-01-20", 20 + i, 35)],
                }
            )
    return _frame(specs)


def test_groups_under_five_clients_are_blanked_and_five_is_shown():
    out = service_indicators(_teams_of({"A": 1, "B": 4, "C": 5}), today="2025-01-31")
    out = out.set_index("team")
    for team in ("A", "B"):
        assert out.loc[team, "suppressed"]
        assert out.loc[team, NUMERIC].isna().all(), team
    assert not out.loc["C", "suppressed"]
    assert out.loc["C", "clients"] == 5
    assert out.loc["C", NUMERIC].notna().all()


def test_change_indicators_blank_when_few_clients_are_assessable():
    frame = _teams_of({"A": 6})
    # four clients lose their second ORS: only two assessable episodes remain
    frame.loc[
        frame["client"].isin(["A0", "A1", "A2", "A3"]) & (frame["session_no"] == 2), "outcome"
    ] = np.nan
    row = service_indicators(frame, today="2025-01-31").iloc[0]
    assert not row["suppressed"] and row["clients"] == 6
    assert pd.isna(row["change_mean"]) and pd.isna(row["episodes_assessable"])
    assert row["pct_sessions_with_outcome"] == pytest.approx(100 * 8 / 12)


def test_suppress_helper_keeps_input_and_uses_na_not_zero():
    frame = pd.DataFrame({"team": ["A", "B"], "clients": [7, 2], "mean": [20.5, 18.0]})
    out = suppress(frame, "clients")
    assert frame["clients"].tolist() == [7, 2]  # input untouched
    assert out["suppressed"].tolist() == [False, True]
    assert out["clients"].iloc[0] == 7 and pd.isna(out["clients"].iloc[1])
    assert pd.isna(out["mean"].iloc[1]) and out["team"].iloc[1] == "B"
    assert SUPPRESSION_MIN == 5


def test_bad_grouping_and_period_raise_and_low_min_group_warns():
    with pytest.raises(ValidationError):
        service_indicators(_toy(), by=("ward",))
    with pytest.raises(ValidationError):
        service_indicators(_toy(), period="W")
    with pytest.warns(KorStatisticalWarning):
        service_indicators(_toy(), min_group=2)


def test_input_frame_is_not_changed():
    toy = _toy()
    before = toy.copy()
    service_indicators(toy, by=("team", "clinician"), period="M")
    pd.testing.assert_frame_equal(toy, before)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=5),
    by=st.sampled_from([("team",), ("clinician",), ("team", "clinician"), ()]),
    period=st.sampled_from([None, "M", "Q"]),
)
def test_no_output_row_ever_shows_one_to_four_clients(sizes, by, period):
    rng = np.random.default_rng(sum(sizes))
    specs = []
    for t, n in enumerate(sizes):
        for i in range(n):
            day = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 150)))
            specs.append(
                {
                    "client": f"T{t}C{i}",
                    "team": f"T{t}",
                    "clinician": f"c{rng.integers(0, 3)}",
                    "sessions": [
                        (day, float(rng.integers(5, 30)), 38.0),
                        (day + pd.Timedelta(days=int(rng.integers(7, 60))), 25.0, 37.0),
                    ],
                }
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KorStatisticalWarning)
        out = service_indicators(_frame(specs), by=by, period=period)
    shown = out["clients"].dropna()
    assert not shown.between(1, SUPPRESSION_MIN - 1).any()
    assert (out["suppressed"] == out["clients"].isna()).all()
    assert out.loc[out["suppressed"], NUMERIC].isna().all().all()


def test_unsorted_input_gives_the_same_result():
    toy = _toy()
    shuffled = toy.sample(frac=1.0, random_state=3)
    kwargs = {"by": ("team", "clinician"), "period": "Q", "today": "2025-06-30"}
    pd.testing.assert_frame_equal(
        service_indicators(shuffled, **kwargs), service_indicators(toy, **kwargs)
    )


def test_empty_frame_gives_empty_result_with_all_columns():
    out = service_indicators(_toy().iloc[:0], by=("team",), period="M")
    assert len(out) == 0
    assert list(out.columns) == ["team", "period", *INDICATOR_COLUMNS]


def test_precomputed_change_and_flags_give_the_same_indicators():
    from kor import change, flags, frames, sample

    sessions = frames.session_table(sample.generate(300, seed=5))
    own = service_indicators(sessions, by=("team",), period="Q")
    reused = service_indicators(
        sessions,
        by=("team",),
        period="Q",
        episodes=change.episode_change(sessions),
        flags=flags.evaluate_flags(sessions),
    )
    pd.testing.assert_frame_equal(own, reused)
    assert not own["clients"].dropna().between(1, 4).any()
    assert own["suppressed"].sum() < len(own)


def test_complementary_suppression_worked_examples_by_hand():
    """Hand-worked: parts are the wholes whose totals are shown beside their rows."""

    def hide(counts, parts, small):
        return complementary(np.array(counts), np.array(parts), np.array(small, bool)).tolist()

    # lone hidden 3 -> the smallest shown (12) goes too: 3 + 12 >= 5, two hidden
    assert hide([20, 3, 12, 30], [0] * 4, [0, 1, 0, 0]) == [False, True, True, False]
    # two hidden, 3 + 4 = 7 >= 5: safe as it is
    assert hide([3, 4, 40], [0] * 3, [1, 1, 0]) == [True, True, False]
    # two hidden but 1 + 2 = 3 < 5: the smallest shown goes too
    assert hide([1, 2, 40, 50], [0] * 4, [1, 1, 0, 0]) == [True, True, True, False]
    # parts are independent: month 1 needs a complement, month 2 has nothing hidden
    assert hide([2, 9, 8, 9, 8], [1, 1, 1, 2, 2], [1, 0, 0, 0, 0]) == [
        True,
        False,
        True,
        False,
        False,
    ]
    # a lone row in its part cannot be complemented: it stays hidden alone
    assert hide([2, 30], [1, 2], [1, 0]) == [True, False]
    # hidden rows that count zero give nobody away: nothing more is hidden
    assert hide([0, 30, 40], [0] * 3, [1, 0, 0]) == [True, False, False]


def test_complement_hides_a_second_clinician_per_team_and_quarter_only_where_needed():
    s = frames.session_table(sample.generate(300, seed=3))
    plain = service_indicators(s, by=("team", "clinician"), period="Q")
    comp = service_indicators(s, by=("team", "clinician"), period="Q", complement=True)
    assert (comp["suppressed"] >= plain["suppressed"]).all()  # only ever more hidden
    assert comp["suppressed"].sum() > plain["suppressed"].sum()  # and here some more
    for _, part in comp.groupby(["team", "period"]):
        hidden = part["suppressed"]
        assert hidden.sum() != 1 or len(part) == 1, part  # never a lone hidden row
    shown = ~comp["suppressed"]  # shown rows keep their counts
    counts = ["clients", "episodes", "sessions"]
    pd.testing.assert_frame_equal(comp.loc[shown, counts], plain.loc[shown, counts])
