"""The dialogue-conference report: content, no unapproved free text, PDF, improvement projects."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from kor.access import SYSTEM
from kor.store import Store
from surveys.analysis import holm_adjust
from surveys.improvements import create_projects, propose_projects
from surveys.report import build_report, discussion_questions, previous_survey
from surveys.sample import load_sample


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('bsb') / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    ids = load_sample(store, SYSTEM)
    yield store, ids
    store.close()


def _report(store, ids, **kw):
    answers = store.survey_answers(SYSTEM, ids.values())
    comments = store.survey_comments(SYSTEM, ids.values())  # approved AND unapproved
    form = store.survey_form(SYSTEM, ids["follow_up"])
    return build_report(
        answers,
        comments,
        form,
        title="BSB 2026",
        service="VOP",
        round="follow_up",
        previous_round="baseline",
        **kw,
    )


@pytest.fixture(scope="module")
def report(loaded):
    return _report(*loaded)


@pytest.fixture(scope="module")
def page(report):
    return report.to_html()


def test_report_shows_gaps_change_quotes_and_discussion_questions(loaded, report, page):
    store, ids = loaded
    assert report.top_gaps.iloc[0]["question"] == "u_info_service"
    assert report.top_improvements.iloc[0]["question"] == "u_heard"
    english = _report(store, ids, language="en").to_html()
    assert "Where users and staff see it differently" in english
    for text in (
        "Hva brukerne sa",
        "Der brukere og ansatte ser det ulikt",
        "Endring siden forrige runde",
        "Utvalgte sitater",
        "Spørsmål til dialogkonferansen",
        "informasjon om hva tjenesten",
    ):
        assert text in page
    assert page.count("<img") == 3 and len(report.questions) >= 4


def test_report_never_holds_unapproved_free_text(loaded, page):
    store, ids = loaded
    comments = store.survey_comments(SYSTEM, ids.values())
    unapproved = set(comments.loc[~comments["approved"], "text"])
    chosen = set(comments.loc[comments["quote"] & (comments["round"] == "follow_up"), "text"])
    assert unapproved and chosen
    assert not [text for text in unapproved - chosen if text in page]
    assert all(text in page for text in chosen)


def test_report_pdf_has_a_page_per_part(report):
    pdf = report.to_pdf()
    assert pdf.startswith(b"%PDF")
    assert b"/Count 6" in pdf  # summary, 3 charts, quotes, discussion questions


def test_previous_round_is_the_baseline_of_the_same_service(loaded):
    store, ids = loaded
    surveys = store.surveys(SYSTEM)
    assert previous_survey(surveys, ids["follow_up"]) == ids["baseline"]
    assert previous_survey(surveys, ids["baseline"]) is None


def test_agreed_gaps_become_improvement_projects(loaded, report):
    store, ids = loaded
    proposals = propose_projects(
        report.gaps, ["u_info_service"], report.form, service="VOP", survey_id=ids["follow_up"]
    )
    [p] = proposals
    assert p["theme"] == "informasjon" and p["question"] == "u_info_service"
    assert p["baseline"] == pytest.approx(
        report.gaps.set_index("question").loc["u_info_service", "mean_user"], abs=0.01
    )
    assert p["title"].startswith("Informasjon:") and p["team"] == "VOP"
    [project_id] = create_projects(store, SYSTEM, proposals)
    project = store.projects(SYSTEM)
    assert project_id in set(project["id"])


def test_numbers_have_a_decimal_comma_in_bokmal_and_a_point_in_english(loaded, report, page):
    gap = report.top_gaps.iloc[0]
    assert f"{gap['mean_user']:.1f}".replace(".", ",") in page
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert not [c for c in cells if re.fullmatch(r"[<+\-\s]*\d+\.\d+", c)]
    assert any(re.fullmatch(r"[+\-]?\d+,\d", c) for c in cells)
    assert any("," in q and re.search(r"\d,\d", q) for q in report.questions)
    english = _report(*loaded, language="en").to_html()
    assert f"{gap['mean_user']:.1f}" in english


def _gap_rows(p_values, questions, gaps):
    """A hand-made largest_gaps table: significant = Holm-adjusted p < 0.05."""
    adjusted = holm_adjust(p_values)
    return pd.DataFrame(
        {
            "question": questions,
            "gap": gaps,
            "mean_user": [3.0] * len(questions),
            "mean_staff": [3.0 + g for g in gaps],
            "p_value": p_values,
            "p_adjusted": adjusted,
            "significant": adjusted < 0.05,
        }
    )


def test_only_gaps_significant_after_holm_adjustment_become_conference_questions(report):
    form = report.form
    # Holm by hand: 0.01*4 = 0.04 < 0.05; 0.03*3 = 0.09; 0.04*2 = 0.08 -> 0.09; 0.20
    top = _gap_rows(
        [0.01, 0.04, 0.03, 0.20],
        ["u_info_service", "u_heard", "u_trust", "u_respect"],
        [1.2, 0.9, -0.8, 0.3],
    )
    assert top["significant"].tolist() == [True, False, False, False]
    no_lowest = report.user_summary.iloc[0:0]  # only the gap questions, then «choose»
    questions = discussion_questions(top, no_lowest, form, language="nb")
    assert len(questions) == 2
    labels = {q: form.question(q).label("nb") for q in top["question"]}
    assert sum(labels["u_info_service"] in q for q in questions) == 1
    assert not [q for q in questions for name in ("u_heard", "u_trust") if labels[name] in q]
    assert "mer enige (4,2) enn brukerne selv er (3,0)" in questions[0]
    none = discussion_questions(top.assign(significant=False), no_lowest, form, language="nb")
    assert "ikke tydelig ulikt" in none[0] and labels["u_info_service"] not in " ".join(none)


def test_a_gap_on_the_0_to_10_item_is_worded_as_a_score_not_as_agreement(report):
    form = report.form
    top = _gap_rows([0.001], ["u_overall"], [1.5])
    [first, *_] = discussion_questions(top, report.user_summary, form, language="nb")
    assert "høyere skår (4,5 av 10)" in first and "enig" not in first
    [first, *_] = discussion_questions(top, report.user_summary, form, language="en")
    assert "higher score (4.5 of 10)" in first and "agree" not in first


def test_identical_quotes_are_shown_once_with_a_count(report, page):
    quotes = report.quotes
    assert not quotes.duplicated(["theme", "respondent", "text"]).any()
    assert (quotes["count"] > 1).any() and quotes["count"].min() >= 1
    repeated = quotes.loc[quotes["count"].idxmax()]
    assert page.count(f"«{repeated['text']}»") == 1
    assert f"{repeated['count']} sa det samme" in page
