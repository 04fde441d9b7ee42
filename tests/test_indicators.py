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
    # the reference line: the closed episodes K1-K5 (K6 is open), fitted by polyfit
    ref_x = np.array([10.0, 20.0, 15.0, 22.0, 18.0])
    ref_y = np.array([10.0, 10.0, 2.0, -7.0, 8.0])
    slope, _ = np.polyfit(ref_x, ref_y, 1)  # -71/88
    assert slope == pytest.approx(-71 / 88)
    # adjusted = change - slope * (intake - 17): mean 4.0 - slope * (16 - 17)
    assert row["severity_adjusted_change"] == pytest.approx(4.0 + slope)
    # over the reference's intake SD: deviations -7,3,-2,5,1 -> 88 / 4 = 22
    assert row["severity_adjusted_es"] == pytest.approx((4.0 + slope) / math.sqrt(22.0))
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
    # all six had ended by 30 June (K6 open, last seen 1 Feb, > 90 days: a dropout)
    assert row["episodes_ended"] == 6
    # K3 ended as dropout, and K6: 2/6
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
    # K6 still running: neither ended nor a dropout; K3 of the five ended ones
    assert at_90["episodes_ended"].iloc[0] == 5
    assert at_90["dropout_rate"].iloc[0] == pytest.approx(100 * 1 / 5)
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
    # K6's dropout belongs to February (1 of its 1 ended episode), K3's to January
    # (1 of the 5 episodes that ended there; K6 had a January session but ended later)
    assert (jan["episodes_ended"], feb["episodes_ended"]) == (5, 1)
    assert jan["dropout_rate"] == pytest.approx(100 / 5)
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


# ---------------------------------------------------------------- leader numbers


def _two_teams(effect_l: float = 0.0) -> pd.DataFrame:
    """Teams H (sicker: intake 8-16) and L (intake 18-26), change = 20 - 0.5 * intake + e.

    The noise e = (1, -2, 0, 2, -1) sums to 0 and is orthogonal to intake within each
    team, so the pooled OLS slope over both teams is exactly -0.5: the true response is
    known. ``effect_l`` adds a constant to L's change (0: the same true effect).
    """
    noise = [1.0, -2.0, 0.0, 2.0, -1.0]
    specs = []
    for team, intakes in (("H", [8, 10, 12, 14, 16]), ("L", [18, 20, 22, 24, 26])):
        for i, x in enumerate(intakes):
            gain = 20 - 0.5 * x + noise[i] + (effect_l if team == "L" else 0.0)
            specs.append(
                {
                    "client": f"{team}{i}",
                    "team": team,
                    "clinician": f"c{team}",
                    "sessions": [("2025-01-06", x, 38), ("2025-01-20", x + gain, 38)],
                }
            )
    return _frame(specs)


def test_two_teams_with_the_same_true_effect_get_equal_adjusted_and_different_raw_values():
    from kor import change
    from kor.indicators import severity_reference

    service = _two_teams()
    model = severity_reference(change.episode_change(service))
    assert model.slope == pytest.approx(-0.5) and model.intake_mean == pytest.approx(17.0)
    assert (model.episodes, model.clients) == (10, 10)
    sd = float(np.std(np.r_[8:17:2, 18:27:2], ddof=1))
    assert model.intake_sd == pytest.approx(sd)
    # each team on its own, as its team lead reads it, adjusted against the service
    alone = {
        team: service_indicators(
            service.loc[service["team"] == team], by=(), today="2025-01-31", severity=model
        ).iloc[0]
        for team in ("H", "L")
    }
    # raw: H intake 12 -> change 14, L intake 22 -> change 9 (the noise sums to 0)
    assert alone["H"]["change_mean"] == pytest.approx(14.0)
    assert alone["L"]["change_mean"] == pytest.approx(9.0)
    assert alone["H"]["effect_size"] != pytest.approx(alone["L"]["effect_size"])
    # adjusted: both = the true change at the service's mean intake, 20 - 0.5 * 17
    for team in ("H", "L"):
        assert alone[team]["severity_adjusted_change"] == pytest.approx(11.5)
        assert alone[team]["severity_adjusted_es"] == pytest.approx(11.5 / sd)
    # the same figures in the service's table of teams and for a clinician
    by_team = service_indicators(service, by=("team",), severity=model).set_index("team")
    assert by_team["severity_adjusted_change"].tolist() == pytest.approx([11.5, 11.5])
    by_clin = service_indicators(service, by=("clinician",), severity=model)
    assert by_clin["severity_adjusted_change"].tolist() == pytest.approx([11.5, 11.5])
    # without the service's model a team alone is adjusted against itself: adjusted = raw
    own = service_indicators(service.loc[service["team"] == "H"], by=(), today="2025-01-31")
    assert own["severity_adjusted_change"].iloc[0] == pytest.approx(14.0)


def test_a_real_difference_between_teams_survives_the_adjustment():
    from kor import change
    from kor.indicators import severity_reference

    service = _two_teams(effect_l=3.0)
    model = severity_reference(change.episode_change(service))
    out = service_indicators(service, by=("team",), severity=model).set_index("team")
    adjusted = out["severity_adjusted_change"]
    raw = out["change_mean"]
    # raw: L looks 2 points worse (12 vs 14); adjusted it is better, as it truly is
    assert raw["L"] - raw["H"] == pytest.approx(-2.0)
    assert adjusted["L"] > adjusted["H"]
    # the gap is the raw gap corrected for 10 points of intake: -2 - 10 * slope; the
    # pooled line (no team term) absorbs part of the true 3 points, so 0 < gap < 3
    gap = -2.0 - 10.0 * model.slope
    assert adjusted["L"] - adjusted["H"] == pytest.approx(gap)
    assert 0.0 < gap < 3.0


def test_the_reference_takes_closed_episodes_only_and_needs_five_clients():
    from kor import change
    from kor.indicators import SeverityModel, fit_severity, severity_reference

    service = _two_teams()
    ep = change.episode_change(service)
    later = ep.assign(episode_end=pd.Timestamp("2025-03-01"))
    assert severity_reference(later, end="2025-02-28").episodes == 0  # closed after end
    assert severity_reference(later, end="2025-03-01").episodes == 10
    still_open = ep.assign(episode_end=pd.NaT)
    assert not severity_reference(still_open).fitted
    four = fit_severity(np.array([8.0, 10, 12, 14]), np.array([1.0, 2, 3, 4]))
    assert isinstance(four, SeverityModel) and not four.fitted
    # an unfitted model blanks the adjusted figures instead of inventing them
    out = service_indicators(service, by=(), severity=four)
    assert math.isnan(out["severity_adjusted_change"].iloc[0])
    assert out["change_mean"].iloc[0] == pytest.approx(11.5)


def test_the_store_gives_a_team_lead_the_whole_services_model(tmp_path):
    from kor import change
    from kor.access import SYSTEM
    from kor.indicators import severity_reference
    from kor.store import Store

    st = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    try:
        st.load_dataset(SYSTEM, sample.generate(60, seed=5))
        lead, quality = st.actor_for("guro.nesheim"), st.actor_for("randi.saether")
        own = st.session_table(lead)
        everyone = st.session_table(SYSTEM)
        assert own["team"].nunique() == 1 < everyone["team"].nunique()
        end = pd.Timestamp("2026-06-30")
        expected = severity_reference(
            change.episode_change(everyone.loc[everyone["session_date"] <= end]), end=end
        )
        for actor in (lead, quality):
            got = st.severity_reference(actor, end=end.date())
            assert got.fitted and got.episodes == expected.episodes
            assert got.slope == pytest.approx(expected.slope)
            assert got.intake_mean == pytest.approx(expected.intake_mean)
        # the team's own closed episodes give another line: the lead's view must not use it
        mine = severity_reference(change.episode_change(own), end=end)
        assert mine.episodes < expected.episodes
        log = st.audit_log(SYSTEM)
        assert "severity_reference" in log["detail"].astype(str).str.cat()
    finally:
        st.close()


def test_a_quarters_dropout_is_the_pooled_dropout_of_its_three_months():
    s = frames.session_table(sample.generate(400, seed=11))
    end = pd.Timestamp("2026-06-30")
    start = pd.Timestamp("2026-04-01")
    dates = pd.to_datetime(s["session_date"])
    quarter = service_indicators(
        s.loc[(dates >= start) & (dates <= end)], by=(), start=start, end=end
    ).iloc[0]
    months = service_indicators(
        s.loc[(dates >= pd.Timestamp("2025-07-01")) & (dates <= end)],
        by=(),
        period="M",
        today=end,
    )
    three = months.loc[months["period"].astype(str).isin(["2026-04", "2026-05", "2026-06"])]
    assert len(three) == 3 and not three["suppressed"].any()
    dropouts = (three["dropout_rate"] / 100 * three["episodes_ended"]).sum()
    assert quarter["episodes_ended"] == three["episodes_ended"].sum()
    assert quarter["dropout_rate"] == pytest.approx(100 * dropouts / three["episodes_ended"].sum())
    # and the quarter's own monthly split of the same rows
    by_q = service_indicators(s.loc[dates <= end], by=(), period="Q", today=end)
    q2 = by_q.loc[by_q["period"].astype(str) == "2026Q2"].iloc[0]
    assert q2["dropout_rate"] == pytest.approx(quarter["dropout_rate"])
    # the monthly rates centre where the quarter does (the old per-session base did not)
    assert three["dropout_rate"].min() <= quarter["dropout_rate"] <= three["dropout_rate"].max()


def test_an_episode_closed_after_today_is_still_running_then():
    toy = _toy()
    toy.loc[toy["client"] == "K3", "episode_end"] = pd.Timestamp("2025-03-01")  # dropout later
    with pytest.warns(KorStatisticalWarning):  # min_group 1: the toy has 4-5 ended
        before = service_indicators(toy, today="2025-02-15", min_group=1).iloc[0]
        after = service_indicators(toy, today="2025-03-01", min_group=1).iloc[0]
    # 15 Feb: K3 and K6 still running; K1, K2, K4, K5 ended, none as dropout
    assert (before["episodes_ended"], before["dropout_rate"]) == (4, 0.0)
    assert after["episodes_ended"] == 5 and after["dropout_rate"] == pytest.approx(20.0)
    # under the small-cell rule: 4 ended episodes (4 clients) blank the dropout figures
    shown = service_indicators(toy, today="2025-02-15").iloc[0]
    assert shown["clients"] == 6 and pd.isna(shown["dropout_rate"])
    assert pd.isna(shown["episodes_ended"])


def test_period_completeness_follows_the_data_and_today():
    from kor.indicators import data_as_of, period_complete

    months = pd.PeriodIndex(["2026-09", "2026-10", "2026-11"], freq="M")
    assert period_complete(months, "2026-11-03").tolist() == [True, True, False]
    assert period_complete(months, "2026-11-30").tolist() == [True, True, True]
    assert period_complete(months, None).tolist() == [True, True, True]
    quarters = pd.PeriodIndex(["2026Q3", "2026Q4"], freq="Q")
    assert period_complete(quarters, "2026-11-03").tolist() == [True, False]
    # data entered up to 3 Nov, read on 2 Dec: complete to 3 Nov; never past today
    assert data_as_of("2026-11-03", today="2026-12-02") == pd.Timestamp("2026-11-03")
    assert data_as_of("2027-01-10", today="2026-12-02") == pd.Timestamp("2026-12-02")
    assert data_as_of(None) is None


def test_an_incomplete_quarter_and_month_are_marked_and_never_compared_or_signalled():
    from kor import report
    from kor.i18n import set_language

    set_language("nb")
    s = frames.session_table(sample.generate(150, seed=5))
    s = s.loc[pd.to_datetime(s["session_date"]) <= "2026-08-10"]
    until = pd.Timestamp(s["session_date"].max())
    assert until.month == 8 and until.day <= 10
    r = report.compute_report(s, period="2026Q3")
    assert r.as_of == until and not r.complete and r.partial == ["2026-08"]
    assert set(r.headline["direction"]) == {"partial"}  # not compared with 2026Q2
    assert r.period_note() and "2026Q3" in r.period_note()
    marked = 0
    for spec in report.INDICATORS:
        chart = r.charts[spec.column]
        if chart is None:
            continue
        d = chart.data
        last = d.iloc[-1]
        # August is drawn (hollow) but is not part of the lines or the signals
        if pd.Timestamp(last["x"]) == pd.Timestamp("2026-08-01"):
            assert not last["include"] and d["include"].iloc[:-1].all()
            marked += 1
        assert "aug. 2026" in r.chart_note(spec.column)
    assert marked >= 5
    # dropout as the data stand on `until`, not on 30 September
    rows = s.loc[pd.to_datetime(s["session_date"]) >= "2026-07-01"]
    expected = service_indicators(
        rows, by=(), start="2026-07-01", end="2026-09-30", today=until, severity=r.severity
    ).iloc[0]
    assert r.totals["dropout_rate"].iloc[0] == pytest.approx(expected["dropout_rate"], nan_ok=True)
    # a complete quarter has no marks
    done = report.compute_report(s, period="2026Q2")
    assert done.complete and done.partial == [] and done.period_note() == ""
    assert "partial" not in set(done.headline["direction"])
