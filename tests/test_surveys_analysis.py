"""Analysis of the sample survey finds exactly the gaps and changes built into it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from surveys import analysis
from surveys.forms import default_form
from surveys.sample import KNOWN_GAPS, KNOWN_IMPROVEMENTS, STAFF, USERS, generate

FORM = default_form()


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    sample = generate()
    return sample.answers.rename(columns={"response": "response_id", "value": "value_text"})


def test_sample_has_forty_users_and_fifteen_staff_per_round(answers):
    counts = answers.groupby(["round", "respondent"])["response_id"].nunique()
    assert counts.to_dict() == {
        ("baseline", "staff"): STAFF,
        ("baseline", "user"): USERS,
        ("follow_up", "staff"): STAFF,
        ("follow_up", "user"): USERS,
    }


@pytest.mark.parametrize("rnd", ["baseline", "follow_up"])
def test_the_only_significant_gap_is_staff_overrating_information(answers, rnd):
    gaps = analysis.gaps(answers, FORM, round=rnd)
    assert gaps.loc[gaps["significant"], "question"].tolist() == list(KNOWN_GAPS)
    info = gaps.set_index("question").loc["u_info_service"]
    assert 0.8 < info["gap"] < 1.6 and info["ci_low"] > 0
    assert info["prob_superiority"] > 0.7 and info["ps_ci_low"] > 0.5
    assert analysis.largest_gaps(gaps).iloc[0]["question"] == "u_info_service"


@pytest.mark.parametrize("respondent", ["user", "staff"])
def test_the_only_significant_change_is_being_heard_improving(answers, respondent):
    change = analysis.changes(answers, FORM, respondent=respondent)
    expected = [q if respondent == "user" else "s_" + q[2:] for q in KNOWN_IMPROVEMENTS]
    assert change.loc[change["significant"], "question"].tolist() == expected
    top = analysis.largest_improvements(change)
    assert top.iloc[0]["question"] == expected[0] and top.iloc[0]["change"] > 0.7
    assert list(top["rank"]) == list(range(1, len(top) + 1))


def test_dont_know_is_counted_but_not_scored():
    a = pd.DataFrame(
        {
            "response_id": range(7),
            "round": "r",
            "respondent": "user",
            "question": "u_heard",
            "value_text": ["5", "4", "4", "3", "5", "vet_ikke", "ikke_aktuelt"],
        }
    )
    summary = analysis.item_summary(a, FORM).iloc[0]
    assert summary["n"] == 5 and summary["n_no_opinion"] == 2
    assert summary["mean"] == pytest.approx(4.2) and summary["pct_agree"] == pytest.approx(80.0)
    dist = analysis.distributions(a, FORM)
    assert dist["percent"].sum() == pytest.approx(100.0)
    assert dist.loc[dist["choice"] == "vet_ikke", "count"].item() == 1


def test_groups_under_five_are_suppressed_everywhere():
    a = pd.DataFrame(
        {
            "response_id": list(range(10)),
            "round": "r",
            "respondent": ["user"] * 6 + ["staff"] * 4,
            "question": ["u_heard"] * 6 + ["s_heard"] * 4,
            "value_text": ["3", "4", "2", "3", "4", "5", "5", "5", "4", "5"],
        }
    )
    summary = analysis.item_summary(a, FORM).set_index("respondent")
    assert not summary.loc["user", "suppressed"] and summary.loc["staff", "suppressed"]
    assert np.isnan(summary.loc["staff", "mean"])
    dist = analysis.distributions(a, FORM)
    assert dist.loc[dist["respondent"] == "staff", "count"].isna().all()
    gaps = analysis.gaps(a, FORM).set_index("question")
    assert gaps.loc["u_heard", "suppressed"] and np.isnan(gaps.loc["u_heard", "gap"])
    assert analysis.largest_gaps(gaps.reset_index()).empty


def test_rank_test_agrees_with_scipy_brunner_munzel():
    rng = np.random.default_rng(1)
    a = rng.integers(1, 6, 40).astype(float)
    b = np.clip(rng.integers(1, 6, 15) + 1, 1, 5).astype(float)
    row = analysis.compare_groups([("q", b, a)]).iloc[0]
    expected = stats.brunnermunzel(b, a)
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert row["difference"] == pytest.approx(b.mean() - a.mean())


def test_holm_adjustment_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan])
    expected = multipletests(p[:4], method="holm")[1]
    assert analysis.holm_adjust(p)[:4] == pytest.approx(expected)
    assert np.isnan(analysis.holm_adjust(p)[4])


def test_theme_counts_count_each_theme_of_a_comment():
    comments = pd.DataFrame(
        {
            "respondent": ["user", "user", "staff"],
            "themes": [["tilgang", "informasjon"], ["tilgang"], []],
        }
    )
    counts = analysis.theme_counts(comments)
    got = {(r.respondent, r.theme): r.comments for r in counts.itertuples()}
    assert got == {("user", "tilgang"): 2, ("user", "informasjon"): 1, ("staff", ""): 1}


def test_analysis_does_not_change_its_input(answers):
    before = answers.copy()
    analysis.gaps(answers, FORM)
    analysis.distributions(answers, FORM)
    pd.testing.assert_frame_equal(answers, before)
