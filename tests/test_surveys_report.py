"""The dialogue-conference report: content, no unapproved free text, PDF, improvement projects."""

from __future__ import annotations

import pytest

from kor.access import SYSTEM
from kor.store import Store
from surveys.improvements import create_projects, propose_projects
from surveys.report import build_report, previous_survey
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
