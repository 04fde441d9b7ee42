"""Tests for kor.trajectories: expected treatment response with percentile bands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kor.errors import KorStatisticalWarning, MissingColumnsError, ValidationError
from kor.i18n import catalog
from kor.trajectories import (
    ExpectedResponse,
    FallbackRule,
    calibration,
    evaluate_prediction,
    needs_refit,
    split_episodes,
)

# Truth of the synthetic data: outcome at session n >= 2 =
#   A + B*intake + (C + D*intake)*log(n) + N(0, SD)
A, B, C, D, SD = 3.0, 0.85, 5.0, -0.12, 4.0
Z10, Z25, Z75 = -1.2815516, -0.6744898, 0.6744898  # standard normal quantiles (tables)


def make_sessions(
    n_episodes: int,
    *,
    sessions: int = 10,
    seed: int = 0,
    first_episode: int = 1,
    age_group: str = "adult",
    end_reason: str | None = "completed",
    ended: bool = True,
    gain=None,
    intakes: tuple[float, float] = (5.0, 35.0),
    noise_sd: float = SD,
    episode_sd: float = 0.0,
) -> pd.DataFrame:
    """A session table from the known linear model (or ``gain(intake, n)`` without noise).

    Intakes are uniform on 5-35; with these coefficients the 10th-75th percentiles stay
    inside 0-40, so clipping the data to the scale does not move them.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(first_episode, first_episode + n_episodes):
        x = round(float(rng.uniform(*intakes)), 1)
        u = rng.normal(0, episode_sd) if episode_sd else 0.0  # the episode's own slope
        for n in range(1, sessions + 1):
            if n == 1:
                y = x
            elif gain is not None:
                y = x + gain(x, n)
            else:
                y = A + B * x + (C + D * x + u) * np.log(n) + rng.normal(0, noise_sd)
            rows.append(
                {
                    "client": f"c{e}",
                    "episode": e,
                    "age_group": age_group,
                    "episode_end": pd.Timestamp("2025-03-01") if ended else pd.NaT,
                    "end_reason": end_reason if ended else None,
                    "session_no": n,
                    "outcome_measure": "ORS",
                    "outcome": float(np.clip(y, 0.0, 40.0)),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def truth_data() -> pd.DataFrame:
    return make_sessions(400, seed=1)


@pytest.fixture(scope="module")
def fitted(truth_data) -> ExpectedResponse:
    return ExpectedResponse().fit(truth_data, fitted_on=date(2025, 3, 1))


def test_importing_module_does_not_import_statsmodels():
    code = "import sys, kor.trajectories; print('statsmodels' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("intake", [12.0, 20.0, 28.0])
@pytest.mark.parametrize("session", [3, 6, 10])
def test_fit_recovers_known_median_and_quartile_paths(fitted, intake, session):
    # Normal noise with sd 4: p25 = median - 0.674*4 = median - 2.70, p10 = median - 5.13.
    mu = A + B * intake + (C + D * intake) * np.log(session)
    row = fitted.path(intake, sessions=session).iloc[-1]
    assert row["p50"] == pytest.approx(mu, abs=0.6)
    assert row["p25"] == pytest.approx(mu + Z25 * SD, abs=0.6)
    assert row["p75"] == pytest.approx(mu + Z75 * SD, abs=0.6)
    assert row["p10"] == pytest.approx(mu + Z10 * SD, abs=0.8)


def test_fit_sets_attributes_and_uses_quantile_regression(fitted):
    assert fitted.method_ == "quantreg"
    assert fitted.n_episodes_ == 400
    assert fitted.n_sessions_ == 400 * 9  # sessions 2..10 of each episode
    assert fitted.fitted_on_ == date(2025, 3, 1)
    assert list(fitted.params_["quantile"]) == [0.10, 0.25, 0.50, 0.75]
    assert set(fitted.params_["stratum"]) == {"pooled"}


def test_fitted_quantiles_are_ordered_for_every_intake_and_session(fitted):
    for intake in np.linspace(0, 40, 17):
        bands = fitted.path(float(intake), sessions=30)[["p10", "p25", "p50", "p75"]].to_numpy()
        assert (np.diff(bands, axis=1) >= 0).all()


def test_crossing_quantile_curves_are_rearranged_into_order(fitted):
    d = fitted.to_dict()
    # Swap the p10 and p75 coefficients: raw predictions now cross everywhere.
    d["params"][0], d["params"][3] = (
        {**d["params"][3], "quantile": 0.10},
        {**d["params"][0], "quantile": 0.75},
    )
    crossed = ExpectedResponse.from_dict(d)
    assert crossed.path(20.0, 10).equals(fitted.path(20.0, 10))


def test_path_starts_at_intake_and_is_flat_after_max_session(fitted):
    path = fitted.path(17.5, sessions=25)
    assert path["session_no"].tolist() == list(range(1, 26))
    assert (path.loc[0, ["p10", "p25", "p50", "p75"]] == 17.5).all()
    assert path.iloc[19, 1:].equals(path.iloc[24, 1:].rename(path.index[19]))


def test_fallback_below_min_episodes_warns_and_fit_at_threshold():
    with pytest.warns(KorStatisticalWarning, match="99"):
        below = ExpectedResponse(min_episodes=100).fit(make_sessions(99, sessions=4))
    assert below.method_ == "fallback"
    assert below.params_.empty
    with warnings.catch_warnings():
        warnings.simplefilter("error", KorStatisticalWarning)
        at = ExpectedResponse(min_episodes=100).fit(make_sessions(100, sessions=4))
    assert at.method_ == "quantreg"
    assert at.n_episodes_ == 100


def test_dropouts_open_episodes_and_single_scores_do_not_count_toward_the_fit():
    data = pd.concat(
        [
            make_sessions(60, sessions=4, seed=2),
            make_sessions(30, sessions=4, seed=3, first_episode=100, end_reason="dropout"),
            make_sessions(30, sessions=4, seed=4, first_episode=200, ended=False),
            make_sessions(30, sessions=1, seed=5, first_episode=300),
        ],
        ignore_index=True,
    )
    with pytest.warns(KorStatisticalWarning):
        model = ExpectedResponse(min_episodes=100).fit(data)
    assert model.method_ == "fallback"
    assert model.n_episodes_ == 60
    with warnings.catch_warnings():
        warnings.simplefilter("error", KorStatisticalWarning)
        every_ended = ExpectedResponse(min_episodes=90, end_reasons=None).fit(data)
    assert every_ended.n_episodes_ == 90


def test_fallback_path_follows_the_documented_rule():
    with pytest.warns(KorStatisticalWarning):
        model = ExpectedResponse().fit(make_sessions(5, sessions=3))
    path = model.path(20.0, sessions=10).set_index("session_no")
    # By hand, intake 20, session 10 = horizon: median = 20 + 12*(1 - 20/40)*1 = 26.0;
    # sd = sqrt((5/1.96)^2 + 4^2) = sqrt(6.5077 + 16) = 4.7442;
    # p25 = 26 - 0.67449*4.7442 = 22.800; p10 = 26 - 1.28155*4.7442 = 19.920.
    assert path.loc[10, "p50"] == pytest.approx(26.0, abs=1e-9)
    assert path.loc[10, "p25"] == pytest.approx(22.800, abs=1e-3)
    assert path.loc[10, "p10"] == pytest.approx(19.920, abs=1e-3)
    assert path.loc[10, "p75"] == pytest.approx(29.200, abs=1e-3)
    # Session 1 is the intake itself.
    assert (path.loc[1] == 20.0).all()


def test_fallback_rule_numbers_are_configurable():
    rule = FallbackRule(gain=8.0, horizon=5.0)
    with pytest.warns(KorStatisticalWarning):
        model = ExpectedResponse(fallback=rule).fit(make_sessions(5, sessions=3))
    # intake 0, session 5: median = 0 + 8*(1 - 0)*log(5)/log(5) = 8.
    assert model.path(0.0, sessions=5)["p50"].iloc[-1] == pytest.approx(8.0)


def test_bands_are_clipped_to_the_score_range():
    with pytest.warns(KorStatisticalWarning):
        model = ExpectedResponse().fit(make_sessions(5, sessions=3))
    low = model.path(0.0, sessions=3)
    high = model.path(40.0, sessions=3)
    # intake 0, session 2: p10 = 12*log2/log10 - 1.2816*sqrt(6.5077 + (4*0.30103)^2)
    #   = 3.612 - 1.2816*2.8193 = -0.001 -> clipped to 0.
    assert low.loc[1, "p10"] == 0.0
    # intake 40: median stays 40, p75 above it -> clipped to 40.
    assert (high[["p50", "p75"]] == 40.0).all().all()
    assert (low.iloc[:, 1:] >= 0).all().all() and (high.iloc[:, 1:] <= 40).all().all()


def test_fitted_bands_are_clipped_to_the_score_range(fitted):
    for intake in (0.0, 40.0):
        bands = fitted.path(intake, sessions=20).iloc[:, 1:]
        assert ((bands >= 0) & (bands <= 40)).all().all()


def test_round_trip_through_json_gives_identical_predictions(fitted, truth_data):
    stored = json.loads(json.dumps(fitted.to_dict()))
    again = ExpectedResponse.from_dict(stored)
    assert again.method_ == "quantreg" and again.fitted_on_ == fitted.fitted_on_
    assert again.expected(truth_data).equals(fitted.expected(truth_data))
    assert stored["versions"]["statsmodels"]
    assert stored["n_episodes"] == 400 and stored["fitted_on"] == "2025-03-01"


def test_round_trip_of_fallback_model_gives_identical_predictions():
    with pytest.warns(KorStatisticalWarning):
        model = ExpectedResponse(fallback=FallbackRule(gain=9.5)).fit(make_sessions(5))
    again = ExpectedResponse.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.method_ == "fallback"
    assert again.path(14.2, 12).equals(model.path(14.2, 12))


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"format": 1, "method": "magic"},
        {"format": 99, "method": "quantreg"},
    ],
)
def test_unreadable_stored_model_raises_validation_error(broken):
    with pytest.raises(ValidationError) as info:
        ExpectedResponse.from_dict(broken)
    assert info.value.key == "trajectories.error.bad_model"


def test_stored_model_missing_a_quantile_is_rejected(fitted):
    d = fitted.to_dict()
    d["params"] = d["params"][:3]
    with pytest.raises(ValidationError):
        ExpectedResponse.from_dict(d)


def test_expected_on_unseen_episodes_matches_the_path_of_their_intake(fitted):
    unseen = make_sessions(3, sessions=6, seed=9, first_episode=9000)
    out = fitted.expected(unseen)
    assert list(out.columns) == ["episode", "session_no", "p10", "p25", "p50", "p75"]
    assert len(out) == len(unseen)
    for episode, rows in out.groupby("episode"):
        intake = unseen.loc[unseen["episode"] == episode, "outcome"].iloc[0]
        path = fitted.path(intake, sessions=6)
        assert np.allclose(rows.iloc[:, 2:].to_numpy(), path.iloc[:, 1:].to_numpy())


def test_expected_counts_sessions_from_the_first_recorded_outcome(fitted):
    data = make_sessions(1, sessions=6, seed=3)
    data.loc[data["session_no"] == 1, "outcome"] = np.nan  # ORS missing at session 1
    out = fitted.expected(data).set_index("session_no")
    intake = data.loc[data["session_no"] == 2, "outcome"].iloc[0]
    assert out.loc[1, ["p10", "p25", "p50", "p75"]].isna().all()
    assert (out.loc[2, ["p10", "p25", "p50", "p75"]] == intake).all()
    # session 6 is the 5th session counted from that intake
    expected = fitted.path(intake, sessions=5).iloc[-1, 1:].to_numpy(float)
    assert np.allclose(out.loc[6, ["p10", "p25", "p50", "p75"]].to_numpy(float), expected)


def test_expected_accepts_an_intake_frame(fitted):
    intakes = pd.DataFrame({"episode": [7, 8], "intake": [15.0, 30.0]})
    out = fitted.expected(intakes)
    assert len(out) == 2 * fitted.max_session
    eight = out.loc[out["episode"] == 8].reset_index(drop=True)
    assert eight.drop(columns="episode").equals(fitted.path(30.0, fitted.max_session))


def test_episode_without_any_outcome_gets_no_expectation(fitted):
    data = make_sessions(1, sessions=3)
    data["outcome"] = np.nan
    assert fitted.expected(data)[["p10", "p25", "p50", "p75"]].isna().all().all()


def test_fit_and_expected_do_not_mutate_input(truth_data):
    before = truth_data.copy()
    model = ExpectedResponse().fit(truth_data)
    model.expected(truth_data)
    pd.testing.assert_frame_equal(truth_data, before)


def test_age_group_with_enough_episodes_gets_its_own_fit_and_small_group_is_noted():
    adults = make_sessions(120, sessions=5, seed=11)
    youth = make_sessions(
        30,
        sessions=5,
        seed=12,
        first_episode=1000,
        age_group="age_13_17",
        gain=lambda x, n: 1.0,
    )
    children = make_sessions(
        110,
        sessions=5,
        seed=13,
        first_episode=2000,
        age_group="age_6_12",
        gain=lambda x, n: 6.0 * np.log(n),
    )
    data = pd.concat([adults, youth, children], ignore_index=True)
    with pytest.warns(KorStatisticalWarning, match="28"):  # adolescents' cut-off noted
        model = ExpectedResponse(min_episodes=100).fit(data)
    assert model.strata_ == {"adult": "adult", "age_6_12": "age_6_12", "age_13_17": "pooled"}
    assert set(model.params_["stratum"]) == {"pooled", "adult", "age_6_12"}
    assert len(model.notes_) == 1 and "25" in model.notes_[0]
    # Children's own fit recovers their noiseless gain of 6*log(n).
    child = model.path(20.0, 5, age_group="age_6_12")
    assert child["p50"].iloc[-1] == pytest.approx(20 + 6 * np.log(5), abs=0.05)
    # An unknown group falls back to the pooled fit.
    assert model.path(20.0, 5, age_group="under_6").equals(model.path(20.0, 5))


def test_fit_requires_the_session_columns():
    with pytest.raises(MissingColumnsError):
        ExpectedResponse().fit(pd.DataFrame({"episode": [1], "outcome": [20.0]}))


def test_outcome_outside_scale_is_rejected():
    data = make_sessions(2, sessions=2)
    data.loc[0, "outcome"] = 41.0
    with pytest.raises(ValidationError):
        ExpectedResponse().fit(data)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quantiles": (0.5, 0.25)},
        {"quantiles": (0.0, 0.5)},
        {"min_episodes": 0},
        {"max_session": 1},
    ],
)
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        ExpectedResponse(**kwargs)


def test_expected_before_fit_raises():
    with pytest.raises(ValidationError) as info:
        ExpectedResponse().path(20.0)
    assert info.value.key == "trajectories.error.not_fitted"


@pytest.mark.parametrize(
    ("fitted_on", "today", "due"),
    [
        ("2025-01-01", date(2025, 1, 30), False),  # 29 days
        ("2025-01-01", date(2025, 1, 31), True),  # 30 days
        ("2025-01-01", date(2024, 12, 1), False),  # clock behind: not due
    ],
)
def test_needs_refit_after_every_days(fitted_on, today, due):
    assert needs_refit({"format": 1, "fitted_on": fitted_on}, today) is due


def test_needs_refit_without_usable_model():
    assert needs_refit(None, date(2025, 1, 1))
    assert needs_refit({"format": 0, "fitted_on": "2025-01-01"}, date(2025, 1, 2))
    assert needs_refit({"format": 1, "fitted_on": "not a date"}, date(2025, 1, 2))
    assert not needs_refit({"format": 1, "fitted_on": "2025-01-01"}, date(2025, 1, 2), 7)


def test_evaluate_prediction_separates_flat_from_improving_episodes():
    # Flat episodes (no change, intake 8-18) are non-responders and fall below the
    # fallback p25 at session 2 (intake 18: p25(2) = 18 + 12*0.55*0.301 - 0.6745*2.819
    # = 18.09 > 18); episodes gaining 10 points (intake 8-28) are responders and never
    # fall below p25 (largest expected gain, intake 8 at session 8: 12*0.8*0.903 = 8.7 < 10).
    flat = make_sessions(100, sessions=8, seed=21, gain=lambda x, n: 0.0, intakes=(8, 18))
    better = make_sessions(
        100, sessions=8, seed=22, first_episode=500, gain=lambda x, n: 10.0, intakes=(8, 28)
    )
    data = pd.concat([flat, better], ignore_index=True)
    with pytest.warns(KorStatisticalWarning):
        result = evaluate_prediction(data, model=ExpectedResponse(min_episodes=10_000), seed=3)
    assert result.method == "fallback"
    assert result.n_train_episodes == 140
    assert result.n_test_episodes == 60
    assert result.n_nonresponders + result.n_responders == 60
    assert result.n_nonresponders > 10 and result.n_responders > 10
    assert result.sensitivity(3) == 1.0 and result.sensitivity(6) == 1.0
    assert result.false_alarm_rate(3) == 0.0 and result.false_alarm_rate(6) == 0.0
    assert result.table["ppv"].tolist() == [1.0, 1.0]


def test_evaluate_prediction_does_not_flag_on_the_final_score():
    # Two-session episodes: the only score after intake is the final one, so no flag
    # can come before the outcome it predicts.
    data = make_sessions(200, sessions=2, seed=5, gain=lambda x, n: -6.0 if x > 10 else 0.0)
    with pytest.warns(KorStatisticalWarning):
        strict = evaluate_prediction(data, model=ExpectedResponse(min_episodes=10_000))
        lenient = evaluate_prediction(
            data, model=ExpectedResponse(min_episodes=10_000), exclude_final=False
        )
    assert strict.table["flagged_nonresponders"].tolist() == [0, 0]
    assert lenient.sensitivity(3) > 0.5


def test_evaluate_prediction_flags_predict_when_episodes_differ_persistently():
    # Each episode has its own slope on log(n) (sd 3) and small session noise (sd 1.5):
    # an episode behind its expected path early tends to stay behind, so early flags
    # must catch more final non-responders than responders.
    data = make_sessions(400, sessions=10, seed=8, noise_sd=1.5, episode_sd=3.0)
    result = evaluate_prediction(data, seed=7)
    assert result.method == "quantreg"
    assert result.n_fit_episodes == 280 and result.n_test_episodes == 120
    table = result.table.set_index("horizon")
    assert (table["sensitivity"].between(0, 1)).all()
    # A later horizon can only add flags.
    assert table.loc[6, "flagged_nonresponders"] >= table.loc[3, "flagged_nonresponders"]
    assert table.loc[6, "sensitivity"] > table.loc[6, "false_alarm_rate"]
    assert result.to_dict()["table"][0]["horizon"] == 3


def test_every_catalog_key_used_exists_in_both_languages():
    source = Path(__file__).parents[1].joinpath("kor", "trajectories.py").read_text("utf-8")
    keys = set(re.findall(r'"(trajectories\.[a-z_.]+)"', source))
    assert keys  # the module does use catalog keys
    entries = catalog()
    for key in keys:
        assert {"nb", "en"} <= set(entries[key]), key
    for key, entry in entries.items():
        if key.startswith("trajectories."):
            assert entry.get("nb") and entry.get("en"), key


def test_expected_covers_every_row_of_a_generated_session_table():
    sample = pytest.importorskip("kor.sample")
    from kor.frames import session_table

    sessions = session_table(sample.generate(60, seed=4))
    with pytest.warns(KorStatisticalWarning):  # 60 clients: fallback
        model = ExpectedResponse().fit(sessions)
    out = model.expected(sessions)
    assert len(out) == len(sessions)
    assert out[["episode", "session_no"]].equals(
        sessions[["episode", "session_no"]].astype({"session_no": "int64"})
    )
    scored = sessions.groupby("episode")["outcome"].transform("count") > 0
    assert out.loc[scored.to_numpy(), "p50"].notna().any()


# ---------------------------------------------------------------- calibration
def constant_bands(levels: dict[float, float], *, max_session: int = 20) -> ExpectedResponse:
    """A fitted model whose band q is the constant ``levels[q]`` at every session n >= 2."""
    return ExpectedResponse.from_dict(
        {
            "format": 1,
            "method": "quantreg",
            "quantiles": list(levels),
            "min_episodes": 1,
            "max_session": max_session,
            "end_reasons": ["completed"],
            "fallback": {},
            "params": [
                {"stratum": "pooled", "quantile": q, "const": c, "intake": 0.0, "log_n": 0.0}
                | {"intake_log_n": 0.0}
                for q, c in levels.items()
            ],
            "strata": {},
            "groups": [],
            "fitted_on": "2025-03-01",
            "n_episodes": 1,
            "n_sessions": 1,
        }
    )


def hand_sessions() -> pd.DataFrame:
    """Two completed episodes (sessions 1..5) and one dropout that must not count."""
    rows = []
    outcomes = {
        1: ("completed", [15.0, 5.0, 15.0, 25.0, 35.0]),
        2: ("completed", [22.0, 20.0, 12.0, None, 31.0]),
        3: ("dropout", [10.0, 1.0, 1.0, 1.0, 1.0]),
    }
    for episode, (reason, values) in outcomes.items():
        for no, value in enumerate(values, start=1):
            rows.append(
                {
                    "episode": episode,
                    "session_no": no,
                    "outcome": value,
                    "episode_end": pd.Timestamp("2025-03-01"),
                    "end_reason": reason,
                    "age_group": "adult",
                }
            )
    return pd.DataFrame(rows)


def test_calibration_counts_the_sessions_below_each_band_by_hand():
    # Bands p10 = 10, p50 = 20, p90 = 30 from session 2 on. Sessions 2-5 of the two
    # completed episodes (the intake and the missing score left out):
    #   bucket 2-3: 5, 15 | 20, 12        bucket 4-5: 25, 35 | 31
    # below 10: 5                          -> 2-3: 1/4, 4-5: 0/3, all: 1/7
    # below 20: 5, 15, 12 (20 is not below) -> 2-3: 3/4, 4-5: 0/3, all: 3/7
    # below 30: every 2-3 score, 25         -> 2-3: 4/4, 4-5: 1/3, all: 5/7
    model = constant_bands({0.1: 10.0, 0.5: 20.0, 0.9: 30.0}, max_session=5)
    table = calibration(model, hand_sessions(), edges=(2, 4))
    assert table.columns.tolist() == [
        "quantile",
        "session_bucket",
        "n",
        "below",
        "observed",
        "difference",
    ]
    assert table["session_bucket"].cat.categories.tolist() == ["2-3", "4-5", "all"]
    assert table["quantile"].tolist() == [0.1] * 3 + [0.5] * 3 + [0.9] * 3
    assert table["n"].tolist() == [4, 3, 7] * 3
    assert table["below"].tolist() == [1, 0, 1, 3, 0, 3, 4, 1, 5]
    expected = [1 / 4, 0, 1 / 7, 3 / 4, 0, 3 / 7, 1, 1 / 3, 5 / 7]
    assert table["observed"].to_numpy() == pytest.approx(expected)
    assert table["difference"].to_numpy() == pytest.approx(
        np.array(expected) - table["quantile"].to_numpy()
    )


def test_calibration_keeps_empty_buckets_as_nan_and_does_not_mutate_input():
    sessions = hand_sessions()
    before = sessions.copy()
    model = constant_bands({0.5: 20.0}, max_session=20)
    table = calibration(model, sessions)
    pd.testing.assert_frame_equal(sessions, before)
    assert table["session_bucket"].astype(str).tolist() == ["2-3", "4-6", "7-10", "11-20", "all"]
    assert table["n"].tolist() == [4, 3, 0, 0, 7]
    assert np.isnan(table["observed"].iloc[2]) and np.isnan(table["observed"].iloc[3])


@pytest.mark.parametrize("edges", [(), (1, 4), (2, 2, 5), (4, 2), (2, 21), (2.5,)])
def test_calibration_rejects_bad_bucket_edges(edges):
    model = constant_bands({0.5: 20.0}, max_session=20)
    with pytest.raises(ValidationError):
        calibration(model, hand_sessions(), edges=edges)


def test_calibration_before_fit_raises():
    with pytest.raises(ValidationError):
        calibration(ExpectedResponse(), hand_sessions())


def test_model_fitted_on_a_large_sample_is_calibrated_on_held_out_episodes():
    # 1,000 episodes from the known model: 700 to fit, 300 x 9 = 2,700 held-out sessions.
    # Tolerances: 0.05 over all 2,700 sessions (the binomial SE is at most 0.010, and the
    # fit adds its own error); 0.08 per bucket of at least 600 sessions (4 SE of 0.020).
    train, test = split_episodes(make_sessions(1000, seed=5), train_fraction=0.7, seed=2)
    model = ExpectedResponse(quantiles=(0.10, 0.25, 0.50, 0.75, 0.90)).fit(train)
    table = calibration(model, test, edges=(2, 4, 7))  # sessions 2-3, 4-6, 7-10
    overall = table[table["session_bucket"] == "all"]
    assert (overall["n"] == 2700).all()
    assert overall["difference"].abs().max() < 0.05
    by_bucket = table[table["session_bucket"] != "all"]
    assert by_bucket["n"].min() >= 600
    assert by_bucket["difference"].abs().max() < 0.08


def test_calibration_shows_a_model_whose_bands_are_too_low():
    # The held-out clients gain 4 points more than the fitted ones (sd 4): about
    # Phi(-1) = 16 % of them fall below the median band, not 50 %.
    model = ExpectedResponse().fit(make_sessions(400, seed=1))
    test = make_sessions(300, seed=9, first_episode=1001)
    later = test["session_no"] > 1
    test.loc[later, "outcome"] = (test.loc[later, "outcome"] + 4.0).clip(upper=40.0)
    overall = calibration(model, test).query("session_bucket == 'all'").set_index("quantile")
    assert overall.loc[0.5, "observed"] == pytest.approx(0.16, abs=0.04)
    assert overall.loc[0.25, "observed"] < 0.10


def test_split_episodes_keeps_whole_episodes_apart_and_is_reproducible():
    sessions = make_sessions(50, seed=3)
    train, test = split_episodes(sessions, train_fraction=0.7, seed=4)
    assert train["episode"].nunique() == 35 and test["episode"].nunique() == 15
    assert not set(train["episode"]) & set(test["episode"])
    assert len(train) + len(test) == len(sessions)
    again, _ = split_episodes(sessions, train_fraction=0.7, seed=4)
    assert again.index.equals(train.index)
    with pytest.raises(ValidationError):
        split_episodes(sessions, train_fraction=1.0)


def test_calibration_plot_draws_one_line_per_bucket_and_the_diagonal():
    from kor.plotting import calibration_plot

    model = constant_bands({0.1: 10.0, 0.5: 20.0, 0.9: 30.0}, max_session=20)
    table = calibration(model, hand_sessions())  # buckets 7-10 and 11-20 are empty
    ax = calibration_plot(table)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [catalog()["trajectories.calibration.ideal"]["nb"], "2-3", "4-6"] + [
        catalog()["trajectories.calibration.all"]["nb"]
    ]
    assert ax.get_xlabel() and ax.get_ylabel()
    all_line = ax.get_lines()[-1]
    assert all_line.get_ydata().tolist() == pytest.approx([1 / 7, 3 / 7, 5 / 7])
