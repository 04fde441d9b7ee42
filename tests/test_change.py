"""Tests for kor.change: Jacobson-Truax, change categories, one row per episode."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kor import measures
from kor.change import (
    CATEGORIES,
    EPISODE_CHANGE_COLUMNS,
    JacobsonTruax,
    classify_change,
    episode_change,
    jacobson_truax,
    reliable_change_points,
)
from kor.errors import MissingColumnsError, OutOfRangeError, ValidationError
from kor.frames import SESSION_COLUMNS, read_session_csv

DATA = Path(__file__).parent / "data" / "change"
CASES = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))


def read_sessions(name: str) -> pd.DataFrame:
    """A session table from a reference CSV."""
    return read_session_csv(DATA / name)


def session_rows(outcomes, *, age_group="adult", measure="ORS", episode=1, start_no=1):
    """A one-episode session table with the given outcome totals (None = not recorded)."""
    n = len(outcomes)
    dates = pd.date_range("2024-01-08", periods=n, freq="7D")
    return pd.DataFrame(
        {
            "client": "K1",
            "episode": episode,
            "team": "A",
            "clinician": "u1",
            "age_group": age_group,
            "episode_start": dates[0],
            "episode_end": pd.NaT,
            "end_reason": None,
            "session_date": dates,
            "session_no": np.arange(start_no, start_no + n),
            "format": "individual",
            "outcome_measure": [None if o is None else measure for o in outcomes],
            "outcome": [np.nan if o is None else float(o) for o in outcomes],
            "alliance_measure": "SRS",
            "alliance": 38.0,
            "alliance_min_item": 9.5,
        }
    ).loc[:, list(SESSION_COLUMNS)]


# --------------------------------------------------------------------------- Jacobson-Truax


def test_jacobson_truax_worked_example_by_hand():
    # By hand (Jacobson & Truax 1991, doi:10.1037/0022-006X.59.1.12), sd = 7.0, r = 0.79:
    #   SE     = 7.0 * sqrt(1 - 0.79) = 7.0 * sqrt(0.21) = 7.0 * 0.458258 = 3.20780
    #   S_diff = sqrt(2 * 3.20780**2) = 3.20780 * 1.414214 = 4.53654
    #   1.96 * S_diff = 8.89161
    #   RCI(18.0 -> 29.0) = 11.0 / 4.53654 = 2.42476 > 1.96: reliable
    # Illustrative norms M1 = 19.6, s1 = 8.7 (clinical), M0 = 28.0, s0 = 6.8 (functional):
    #   c = (s0*M1 + s1*M0) / (s0 + s1) = (6.8*19.6 + 8.7*28.0) / 15.5
    #     = (133.28 + 243.60) / 15.5 = 376.88 / 15.5 = 24.31484
    #   18.0 < 24.31 <= 29.0 and reliable: recovered
    jt = jacobson_truax(
        18.0,
        29.0,
        sd=7.0,
        reliability=0.79,
        clinical_mean=19.6,
        clinical_sd=8.7,
        normal_mean=28.0,
        normal_sd=6.8,
    )
    assert isinstance(jt, JacobsonTruax)
    assert jt.se == pytest.approx(3.20780, abs=1e-4)
    assert jt.s_diff == pytest.approx(4.53654, abs=1e-4)
    assert jt.reliable_change_points == pytest.approx(8.89161, abs=1e-4)
    assert jt.rci == pytest.approx(2.42476, abs=1e-4)
    assert jt.reliable is True
    assert jt.cutoff == pytest.approx(24.31484, abs=1e-4)
    assert jt.criterion == "c"
    assert jt.category == "recovered"


def test_reliable_change_points_matches_the_hand_computation():
    assert reliable_change_points(7.0, 0.79) == pytest.approx(8.89161, abs=1e-4)
    # z = 1.645 (90 %): 1.645 * 4.53654 = 7.46261
    assert reliable_change_points(7.0, 0.79, z=1.645) == pytest.approx(7.46261, abs=1e-4)


def test_jacobson_truax_criteria_a_and_b_by_direction():
    # a: two clinical SDs beyond M1 toward functioning; b: two functional SDs from M0.
    a = jacobson_truax(10.0, 12.0, sd=7.0, reliability=0.8, clinical_mean=19.6, clinical_sd=8.7)
    assert (a.criterion, a.cutoff) == ("a", pytest.approx(19.6 + 17.4))
    b = jacobson_truax(10.0, 12.0, sd=7.0, reliability=0.8, normal_mean=28.0, normal_sd=6.8)
    assert (b.criterion, b.cutoff) == ("b", pytest.approx(28.0 - 13.6))
    # Lower is better (a symptom scale): toward functioning means downward.
    a_low = jacobson_truax(
        30.0,
        8.0,
        sd=5.0,
        reliability=0.8,
        clinical_mean=20.0,
        clinical_sd=5.0,
        higher_is_better=False,
    )
    assert a_low.cutoff == pytest.approx(10.0)
    assert a_low.category == "recovered"  # 30 > 10 >= 8, change -22 reliable
    none = jacobson_truax(10.0, 30.0, sd=7.0, reliability=0.8)
    assert (none.cutoff, none.criterion, none.category) == (None, None, "improved")


def test_jacobson_truax_vector_input_gives_arrays():
    jt = jacobson_truax(
        np.array([18.0, 18.0, 30.0]), np.array([29.0, 20.0, 15.0]), sd=7.0, reliability=0.79
    )
    assert isinstance(jt.rci, np.ndarray)
    np.testing.assert_allclose(jt.rci, np.array([11.0, 2.0, -15.0]) / jt.s_diff)
    assert jt.reliable.tolist() == [True, False, True]
    assert jt.category.tolist() == ["improved", "unchanged", "deteriorated"]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"sd": 7.0, "reliability": 1.0}, OutOfRangeError),
        ({"sd": 0.0, "reliability": 0.8}, OutOfRangeError),
        ({"sd": 7.0, "reliability": 0.8, "clinical_mean": 19.6}, ValidationError),
        ({"sd": 7.0, "reliability": 0.8, "normal_sd": 6.8}, ValidationError),
    ],
)
def test_jacobson_truax_rejects_impossible_parameters(kwargs, error):
    with pytest.raises(error):
        jacobson_truax(10.0, 20.0, **kwargs)


# --------------------------------------------------------------------------- classify_change


def classify(first, last, **kwargs):
    frame = pd.DataFrame({"first": [first], "last": [last]})
    return classify_change(frame, **kwargs)["category"].iloc[0]


@pytest.mark.parametrize(
    "first, last, expected",
    [
        (10.0, 15.0, "improved"),  # exactly 5.0: reliable
        (10.0, 14.9, "unchanged"),  # 4.9: not
        (30.0, 25.0, "deteriorated"),  # exactly -5.0
        (30.0, 25.1, "unchanged"),
        (30.3, 35.3, "improved"),  # 4.9999999999999964 in floating point is 5.0
        (35.3, 30.3, "deteriorated"),
        (20.0, 25.0, "recovered"),  # first < 25 <= last: landing on the cut-off counts
        (24.9, 29.9, "recovered"),
        (25.0, 30.0, "improved"),  # starting on the cut-off is not below it
        (26.0, 31.0, "improved"),  # above from the start: never crossed from below
        (18.0, 24.9, "improved"),  # reliable but still below
        (20.0, 24.9, "unchanged"),  # crossed nothing, 4.9
    ],
)
def test_category_boundaries(first, last, expected):
    assert classify(first, last) == expected


def test_style_guide_example():
    assert classify_change(pd.DataFrame({"first": [18.0], "last": [27.5]})).category[0] == (
        "recovered"
    )


def test_no_cutoff_never_recovers():
    assert classify(5.0, 39.0, cutoff=None) == "improved"


def test_lower_is_better_mirrors_the_rules():
    assert classify(30.0, 20.0, cutoff=25.0, higher_is_better=False) == "recovered"
    assert classify(20.0, 14.0, cutoff=25.0, higher_is_better=False) == "improved"
    assert classify(20.0, 25.0, cutoff=25.0, higher_is_better=False) == "deteriorated"


def test_missing_first_or_last_gives_missing_category():
    frame = pd.DataFrame({"first": [np.nan, 20.0, 20.0], "last": [25.0, np.nan, 26.0]})
    out = classify_change(frame)
    assert out["category"].isna().tolist() == [True, True, False]
    assert out["change"].isna().tolist() == [True, True, False]


def test_classify_change_keeps_input_and_index():
    frame = pd.DataFrame({"a": [18.0, 30.0], "b": [27.5, 20.0]}, index=[7, 9])
    before = frame.copy()
    out = classify_change(frame, first="a", last="b", rci=5.0, cutoff=25.0)
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.index) == [7, 9]
    assert out["category"].tolist() == ["recovered", "deteriorated"]
    assert out["change"].tolist() == [9.5, -10.0]
    assert set(out["category"]) <= set(CATEGORIES)


def test_classify_change_names_missing_columns():
    with pytest.raises(MissingColumnsError) as info:
        classify_change(pd.DataFrame({"first": [1.0]}))
    assert info.value.missing == ["last"]


# --------------------------------------------------------------------------- episode_change


@pytest.mark.parametrize(
    "case", [c for c in CASES["cases"] if c["expected_change"]], ids=lambda c: c["name"]
)
def test_episode_change_reference_case(case):
    # Worked by hand from tests/data/change/sessions.csv:
    # 1 adult 18.0 -> 27.5: +9.5 reliable, crosses 25 from below: recovered; clinician of the
    #   last session (u2); 2 adult 20.0 -> 22.0: unchanged (best was +4.9 at session 5);
    # 3 adolescent 25.5 -> 30.5: +5.0 reliable, crosses 28 (adult cut-off 25 would say improved);
    # 4 adult 35.3 -> 30.3: -4.9999999999999964 in floating point = -5.0: deteriorated, last
    #   outcome at session 3 although the episode has 4 sessions;
    # 5 child (CORS) 28 -> 33: crosses 32; 6 under 6 (YCORS) 10 -> 30: improved, no cut-off;
    # 7 one outcome only: not assessable; 8 no outcome: no row;
    # 9 30 -> 29 unchanged; 10 15 -> 17 unchanged; 11 20 -> 21.5 unchanged.
    sessions = read_sessions(case["sessions"])
    expected = pd.read_csv(DATA / case["expected_change"], dtype={"clinician": str})
    out = episode_change(sessions)
    assert list(out.columns) == list(EPISODE_CHANGE_COLUMNS)
    assert out["episode"].tolist() == expected["episode"].tolist()
    assert out["clinician"].tolist() == expected["clinician"].tolist()
    for col in ("n_sessions", "n_outcome"):
        assert out[col].tolist() == expected[col].tolist(), col
    for col in ("first_date", "last_date"):
        assert out[col].tolist() == pd.to_datetime(expected[col]).tolist(), col
    tol = CASES["tolerance"]
    for col in ("intake", "latest", "change", "rci", "cutoff"):
        np.testing.assert_allclose(out[col], expected[col], atol=tol, err_msg=col)
    assert out["category"].where(out["category"].notna(), "NA").tolist() == (
        expected["category"].fillna("NA").tolist()
    )
    assert out["assessable"].tolist() == expected["assessable"].tolist()


def test_episode_change_uses_age_appropriate_cutoffs():
    # Same numbers, different age groups: 25.5 -> 30.5 (+5.0, reliable).
    adult = episode_change(session_rows([25.5, 30.5], age_group="adult"))
    teen = episode_change(session_rows([25.5, 30.5], age_group="age_13_17"))
    assert (adult.cutoff[0], adult.category[0]) == (25.0, "improved")
    assert (teen.cutoff[0], teen.category[0]) == (28.0, "recovered")
    # Children 6-12 answer CORS, cut-off 32: 29 -> 34 crosses it, 33 -> 38 does not.
    child = episode_change(session_rows([29.0, 34.0], age_group="age_6_12", measure="CORS"))
    assert (child.cutoff[0], child.category[0]) == (32.0, "recovered")
    child2 = episode_change(session_rows([33.0, 38.0], age_group="age_6_12", measure="CORS"))
    assert child2.category[0] == "improved"


def test_ycors_is_never_recovered():
    out = episode_change(session_rows([5.0, 39.0], age_group="under_6", measure="YCORS"))
    assert math.isnan(out.cutoff[0])
    assert out.category[0] == "improved"


def test_single_outcome_is_not_assessable():
    out = episode_change(session_rows([20.0, None, None]))
    assert out["assessable"].tolist() == [False]
    assert out["category"].isna().all()
    assert (out.n_sessions[0], out.n_outcome[0]) == (3, 1)


def test_episode_without_outcome_has_no_row():
    frame = pd.concat(
        [session_rows([20.0, 26.0], episode=1), session_rows([None, None], episode=2)],
        ignore_index=True,
    )
    assert episode_change(frame)["episode"].tolist() == [1]


def test_rci_and_cutoff_overrides():
    frame = session_rows([20.0, 25.0])
    assert episode_change(frame).category[0] == "recovered"
    assert episode_change(frame, rci=6.0).category[0] == "unchanged"
    assert episode_change(frame, rci=6.0).rci[0] == 6.0
    raised = episode_change(frame, cutoffs={"adult": 26.0})
    assert (raised.cutoff[0], raised.category[0]) == (26.0, "improved")
    # An override for another age group leaves adults alone.
    assert episode_change(frame, cutoffs={"age_13_17": 30.0}).cutoff[0] == 25.0
    with pytest.raises(ValidationError):
        episode_change(frame, cutoffs={"pensioner": 20.0})


def test_configured_measure_changes_the_default_rci():
    original = measures.MEASURES["ORS"]
    try:
        measures.configure({"ORS": {"reliable_change": 6.0}})
        assert episode_change(session_rows([20.0, 25.0])).category[0] == "unchanged"
    finally:
        measures.register(original, replace_existing=True)


def test_unknown_outcome_measure_raises():
    with pytest.raises(ValidationError) as info:
        episode_change(session_rows([20.0, 25.0], measure="XYZ"))
    assert info.value.params["measure"] == "XYZ"


def test_order_and_input_do_not_matter():
    sessions = read_sessions("sessions.csv")
    before = sessions.copy()
    expected = episode_change(sessions)
    shuffled = sessions.sample(frac=1.0, random_state=3)
    shuffled.index = np.arange(100, 100 + len(shuffled))
    pd.testing.assert_frame_equal(episode_change(shuffled), expected)
    pd.testing.assert_frame_equal(sessions, before)


def test_string_episode_ids_work():
    sessions = read_sessions("sessions.csv")
    as_str = sessions.assign(episode=sessions["episode"].map("E{:03d}".format))
    out = episode_change(as_str)
    ref = episode_change(sessions)
    assert out["episode"].tolist() == ref["episode"].map("E{:03d}".format).tolist()
    assert out["category"].tolist() == ref["category"].tolist()


def test_agrees_with_a_plain_groupby_on_random_sessions():
    # A different method: pandas groupby first/last on the rows with an outcome, then
    # classify_change per row with the adult/adolescent cut-off.
    rng = np.random.default_rng(7)
    frames = []
    for ep in range(1, 161):
        n = int(rng.integers(1, 9))
        values = np.round(rng.uniform(0, 40, n), 1).astype(object)
        values[rng.random(n) < 0.25] = None
        age = "adult" if ep % 3 else "age_13_17"
        frames.append(session_rows(list(values), age_group=age, episode=ep))
    sessions = pd.concat(frames, ignore_index=True)
    out = episode_change(sessions).set_index("episode")

    rows = sessions[sessions["outcome"].notna()]
    g = rows.groupby("episode")
    ref = pd.DataFrame(
        {
            "first": g["outcome"].first(),
            "last": g["outcome"].last(),
            "n": g.size(),
            "age": g["age_group"].first(),
        }
    )
    ref["category"] = None
    for age, cutoff in (("adult", 25.0), ("age_13_17", 28.0)):
        part = ref[(ref["age"] == age) & (ref["n"] >= 2)]
        ref.loc[part.index, "category"] = classify_change(part, cutoff=cutoff)["category"]
    assert list(out.index) == list(ref.index)
    np.testing.assert_allclose(out["intake"], ref["first"])
    np.testing.assert_allclose(out["latest"], ref["last"])
    assert out["category"].fillna("NA").tolist() == ref["category"].fillna("NA").tolist()


def test_missing_columns_are_named():
    with pytest.raises(MissingColumnsError) as info:
        episode_change(session_rows([20.0]).drop(columns=["outcome"]))
    assert info.value.missing == ["outcome"]


def test_empty_session_table_gives_empty_frame_with_columns():
    out = episode_change(session_rows([20.0]).iloc[0:0])
    assert out.empty and list(out.columns) == list(EPISODE_CHANGE_COLUMNS)
