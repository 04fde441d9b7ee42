"""SMART goals bound to «Bruker spør bruker» items: one point per round, evaluated round
against round (pure functions on the sample survey, and the store on SQLite/PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kor import cycle
from kor.access import SYSTEM
from kor.cycle_report import project_report
from kor.errors import AccessDenied
from surveys import analysis, sample
from surveys import goal_measures as gm

BASELINE_START, BASELINE_END = date(2025, 1, 1), date(2025, 12, 31)
TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def survey() -> sample.SampleSurvey:
    return sample.generate()


@pytest.fixture(scope="module")
def answers(survey) -> pd.DataFrame:
    """The sample's answers as the store returns them, dated by round, for team VOP."""
    return survey.answers.rename(columns={"response": "response_id", "value": "value_text"}).assign(
        service="VOP", date=lambda d: d["round"].map(sample.ROUND_DATES)
    )


@pytest.fixture(scope="module")
def frame(answers, survey) -> pd.DataFrame:
    return gm.goal_frame(answers, survey.form)


def evaluate(frame: pd.DataFrame, key: str, target: float | None = None, today=TODAY):
    series = cycle.goal_series(frame, key, "VOP", BASELINE_START, today)
    return cycle.evaluate_goal(series, [], BASELINE_END, measure=key, target=target)


def test_kor_does_not_import_surveys_until_the_measures_are_read():
    code = (
        "import sys; from kor import cycle; "
        "assert 'surveys.goal_measures' not in sys.modules; "
        "m = cycle.GOAL_MEASURES['bsb:u_heard']; "
        "assert 'surveys.goal_measures' in sys.modules; "
        "assert cycle.GOAL_SOURCES['bsb'] is sys.modules['surveys.goal_measures'].load_goal_data"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_scored_user_item_of_the_default_form_is_a_goal_measure(survey):
    keys = {k for k in cycle.GOAL_MEASURES if k.startswith("bsb:")}
    scored_user = {
        f"bsb:{q.name}"
        for q in survey.form.for_respondent("user")
        if q.respondent == "user" and q.type != "note" and survey.form.is_scored(q.name)
    }
    assert keys == scored_user and "bsb:u_heard" in keys and "bsb:u_overall" in keys
    heard, overall = cycle.GOAL_MEASURES["bsb:u_heard"], cycle.GOAL_MEASURES["bsb:u_overall"]
    assert (heard.bounds, heard.max_gap, heard.chart, heard.source) == ((1.0, 5.0), 1.2, "i", "bsb")
    assert overall.bounds == (0.0, 10.0) and overall.max_gap == 3.0
    assert "«Jeg blir lyttet til og tatt på alvor.»" in heard.label("nb")
    assert "listened to" in heard.label("en") and "0–10" in overall.label("en")
    # the key the dialogue conference's proposals carry
    assert gm.measure_key("u_heard") == "bsb:u_heard"


def test_one_point_per_round_with_the_users_mean_and_count(frame, answers, survey):
    s = cycle.goal_series(frame, "bsb:u_heard", "VOP", BASELINE_START, TODAY)
    summary = analysis.item_summary(answers, survey.form)
    users = summary[(summary["respondent"] == "user") & (summary["question"] == "u_heard")]
    expected = users.set_index("round")
    assert s["round"].tolist() == ["baseline", "follow_up"]
    assert s["month"].dt.date.tolist() == [date(2025, 3, 3), date(2026, 3, 2)]
    for _, row in s.iterrows():
        assert row["value"] == pytest.approx(expected.loc[row["round"], "mean"])
        assert row["n"] == expected.loc[row["round"], "n"]
        assert row["ci_low"] < row["value"] < row["ci_high"]
        assert len(row["scores"]) == row["n"]
    assert s["count"].isna().all()
    assert cycle.goal_series(frame, "bsb:u_heard", "RUS").empty  # another team: no rounds


def test_the_baseline_is_the_value_in_the_baseline_round(frame):
    s = cycle.goal_series(frame, "bsb:u_heard", "VOP", BASELINE_START, TODAY)
    baseline = cycle.goal_baseline(frame, "bsb:u_heard", "VOP", BASELINE_START, BASELINE_END)
    assert baseline == round(s.loc[0, "value"], 2)
    goal = cycle.Goal("bsb:u_heard", "VOP", BASELINE_START, BASELINE_END, baseline, 3.8,
                      date(2026, 12, 31), "Arbeidsgruppen", pd.Timestamp("2025-06-01"))  # fmt: skip
    assert all(ok for ok, _ in cycle.smart_check(goal).values())
    too_far = cycle.smart_check(goal.__class__(**{**goal.__dict__, "target": 4.9}))
    assert too_far["R"] == (False, "cycle.smart.R.too_far")


def test_being_heard_improves_and_the_verdict_names_the_round_to_round_test(frame, answers, survey):
    ev = evaluate(frame, "bsb:u_heard", target=3.8)
    assert isinstance(ev, gm.RoundEvaluation) and isinstance(ev, cycle.Evaluation)
    assert (ev.outcome, ev.direction, ev.state) == ("improved", "signal_up", "compared")
    # the same statistics as the survey report's round-to-round table
    ch = analysis.changes(answers, survey.form).set_index("question").loc["u_heard"]
    assert ev.comparison["difference"] == pytest.approx(ch["change"])
    assert ev.comparison["p_value"] == pytest.approx(ch["p_value"])
    assert ev.comparison["ci_low"] == pytest.approx(ch["ci_low"])
    assert ev.comparison["ci_low"] > 0
    assert (ev.baseline, ev.latest) == (
        pytest.approx(ch["mean_before"]),
        pytest.approx(ch["mean_after"]),
    )
    assert ev.target_reached is True
    nb, en = ev.text("nb"), ev.text("en")
    assert nb.startswith("Forbedret:") and "Brunner–Munzel" in nb and "Anhøj" in nb
    assert "p < 0,001" in nb and "statistisk sikker på 5 %-nivå" in nb
    assert en.startswith("Improved:") and "Brunner–Munzel" in en and "95% CI" in en
    assert ev.headline("en") == "Improved"


def test_an_unchanged_question_gives_no_signal(frame, answers, survey):
    ev = evaluate(frame, "bsb:u_respect")
    ch = analysis.changes(answers, survey.form).set_index("question").loc["u_respect"]
    assert ch["p_value"] > 0.05
    assert (ev.outcome, ev.direction, ev.rules) == ("no_signal", "no_signal", ())
    assert ev.text("nb").startswith("Ingen signal ennå:")
    assert "ikke statistisk sikker" in ev.text("nb")
    assert ev.text("en").startswith("No signal yet:") and "Brunner–Munzel" in ev.text("en")


def test_a_drop_is_worse(frame):
    swapped = frame["round"].map({"baseline": "follow_up", "follow_up": "baseline"})
    flipped = frame.assign(round=swapped, date=pd.to_datetime(swapped.map(sample.ROUND_DATES)))
    ev = evaluate(flipped, "bsb:u_heard")
    assert ev.outcome == "worse" and ev.text("en").startswith("Worse:")


def keep_users(frame: pd.DataFrame, question: str, rnd: str, n: int) -> pd.DataFrame:
    """The frame with only the first ``n`` user answers to ``question`` in round ``rnd``."""
    hit = (
        (frame["question"] == question) & (frame["round"] == rnd) & (frame["respondent"] == "user")
    )
    drop = frame.index[hit][n:]
    return frame.drop(index=drop)


def test_rounds_with_fewer_than_five_user_answers_are_suppressed(frame):
    four = keep_users(frame, "u_heard", "follow_up", 4)
    s = cycle.goal_series(four, "bsb:u_heard", "VOP", BASELINE_START, TODAY)
    assert s["round"].tolist() == ["baseline"]  # the follow-up round is left out
    ev = evaluate(four, "bsb:u_heard")
    assert (ev.outcome, ev.state, ev.latest) == ("no_signal", "no_follow_up", None)
    assert "minst 5 brukersvar" in ev.text("nb")
    five = keep_users(frame, "u_heard", "follow_up", 5)
    s5 = cycle.goal_series(five, "bsb:u_heard", "VOP", BASELINE_START, TODAY)
    assert s5["n"].tolist()[-1] == 5
    # a suppressed baseline round gives no baseline at all
    base = keep_users(frame, "u_heard", "baseline", 4)
    assert cycle.goal_baseline(base, "bsb:u_heard", "VOP", BASELINE_START, BASELINE_END) is None
    assert evaluate(base, "bsb:u_heard").state == "no_baseline"


def test_before_the_follow_up_round_the_goal_waits(frame):
    ev = evaluate(frame, "bsb:u_heard", today=date(2026, 1, 31))
    assert (ev.outcome, ev.state) == ("no_signal", "no_follow_up")
    assert ev.baseline == pytest.approx(
        cycle.goal_series(frame, "bsb:u_heard", "VOP").loc[0, "value"]
    )
    assert ev.text("en").startswith("No signal yet:") and "next round" in ev.text("en")


def test_the_chart_shows_the_rounds_baseline_target_and_changes(frame):
    series = cycle.goal_series(frame, "bsb:u_heard", "VOP", BASELINE_START, TODAY)
    ev = cycle.evaluate_goal(series, [(date(2025, 6, 1), "Ny samtalemal")], BASELINE_END,
                             measure="bsb:u_heard", target=3.8)  # fmt: skip
    ax = ev.plot()
    labels = ax.get_legend_handles_labels()[1]
    assert len(labels) == 3 and "Ny samtalemal" in [x.get_text() for x in ax.texts]
    ys = np.concatenate([line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 2])
    assert 3.8 in ys


# --------------------------------------------------------------------------- store


@pytest.fixture
def bsb_store(store):
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    store.add_team(SYSTEM, "BUP", "Barn og unge")
    store.add_user(SYSTEM, "leder.vop", "team_lead", team="VOP")
    store.add_user(SYSTEM, "leder.bup", "team_lead", team="BUP")
    store.add_user(SYSTEM, "forsker", "researcher")
    sample.load_sample(store, SYSTEM, code_comments=False)
    return store


def test_a_bsb_goal_in_the_store_gets_its_baseline_and_verdict_from_the_survey(bsb_store):
    store = bsb_store
    lead = store.actor_for("leder.vop")
    pid = store.create_project(lead, "Bli hørt", teams=["VOP"], source="bsb")
    gid = store.set_goal(lead, pid, measure="bsb:u_heard", team="VOP",
                         period_start=BASELINE_START, period_end=BASELINE_END,
                         target=3.8, deadline=date(2026, 12, 31))  # fmt: skip
    goal = store.project(lead, pid).goals[0]
    data = store.goal_data(lead, "bsb:u_heard", "VOP")
    assert set(gm.FRAME_COLUMNS) <= set(data.columns) and data["survey_id"].notna().all()
    stored = store.survey_answers(lead, data["survey_id"].unique())
    summary = analysis.item_summary(stored, store.survey_form(lead, int(data["survey_id"][0])))
    first = summary.set_index(["round", "respondent", "question"]).loc[
        ("baseline", "user", "u_heard"), "mean"
    ]
    assert goal["baseline"] == pytest.approx(round(first, 2))
    store.agree_goal(lead, gid, "Arbeidsgruppen", version=goal["version"])
    assert all(ok for ok, _ in cycle.smart_check(store.project(lead, pid).goals[0]).values())

    ev = store.goal_evaluation(lead, gid, today=TODAY)
    assert isinstance(ev, gm.RoundEvaluation) and ev.outcome == "improved"
    assert ev.comparison["n_b"] >= 5 and ev.comparison["n_a"] >= 5
    report = project_report(store, lead, pid, today=TODAY, language="nb")
    html = report.to_html()
    assert "Brunner–Munzel" in html and "Forbedret" in html

    with pytest.raises(AccessDenied):  # another team's surveys
        store.goal_data(store.actor_for("leder.bup"), "bsb:u_heard", "VOP")
    with pytest.raises(AccessDenied):
        store.goal_data(store.actor_for("forsker"), "bsb:u_heard", None)
    assert (
        store.goal_baseline(lead, "bsb:u_heard", "VOP", BASELINE_START, BASELINE_END)
        == (goal["baseline"])
    )


def test_the_cycle_app_binds_a_goal_to_a_bsb_item_and_shows_the_round_comparison(tmp_path):
    import ipywidgets as w

    from kor.store import Store
    from widgets.chart_image import ChartImage
    from widgets.cycle import cycle_app

    def find(widget, cls=None, kind=None):
        out, stack = [], [widget]
        while stack:
            node = stack.pop()
            if (cls is None or cls in getattr(node, "_dom_classes", ())) and (
                kind is None or isinstance(node, kind)
            ):
                out.append(node)
            stack.extend(getattr(node, "children", ()))
        return out

    def one(cls):
        (found,) = find(app, cls)
        return found

    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    store.add_user(SYSTEM, "leder.vop", "team_lead", team="VOP")
    sample.load_sample(store, SYSTEM, code_comments=False)
    app = cycle_app(store, store.actor_for("leder.vop"), today=TODAY)
    one("kor-cycle-title").value = "Bli hørt"
    one("kor-cycle-create").click()
    one("kor-goal-measure").value = "bsb:u_heard"
    one("kor-goal-start").value = BASELINE_START
    one("kor-goal-end").value = BASELINE_END
    one("kor-goal-compute").click()
    assert "3,2" in one("kor-goal-baseline").value
    one("kor-goal-target").value = 3.8
    one("kor-goal-save").click()
    text = " ".join(h.value for h in find(app, kind=w.HTML))
    assert find(app, kind=ChartImage)
    assert "Forbedret" in text and "Brunner–Munzel" in text and "Traceback" not in text
    store.close()
