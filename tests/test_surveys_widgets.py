"""The survey app without a browser: create a survey, interview, resume, import, code, report."""

from __future__ import annotations

from datetime import datetime

import ipywidgets as w
import pytest

from kor.access import SYSTEM, Actor
from kor.store import Store
from surveys.sample import SAMPLE_DIR
from widgets.surveys import SurveysApp, surveys_app

_T = datetime(2026, 1, 1)


def _find(widget: w.Widget, cls: str) -> list[w.Widget]:
    found = [widget] if cls in getattr(widget, "_dom_classes", ()) else []
    for child in getattr(widget, "children", ()):
        found.extend(_find(child, cls))
    return found


def _texts(widget: w.Widget) -> str:
    out = [widget.value] if isinstance(widget, w.HTML) else []
    for child in getattr(widget, "children", ()):
        out.append(_texts(child))
    return " ".join(out)


@pytest.fixture
def app(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    app = SurveysApp(store, SYSTEM)
    _find(app.root, "bsb-new-survey")[0].click()
    _find(app.root, "bsb-create")[0].click()
    yield app
    store.close()


def _answer_section(app: SurveysApp) -> None:
    for kind, control in app.controls.values():
        if kind == "single":
            control.value = control.options[3][1]
        elif kind in ("number", "scale"):
            control[0].value = 8
        elif kind == "multi":
            control[0][1].value = True
        else:
            control.value = "Fint"


def test_a_survey_is_created_from_the_default_form_in_two_taps(app):
    assert "er opprettet" in _texts(app.flash)
    surveys = app.store.surveys(SYSTEM)
    assert surveys["form_id"].tolist() == ["bsb_standard"] and surveys["service"].item() == "VOP"


def test_an_interview_is_entered_one_section_at_a_time_and_counted(app):
    _find(app.root, "bsb-start-user")[0].click()
    sections = 0
    while not _find(app.root, "bsb-finish"):
        _answer_section(app)
        _find(app.root, "bsb-next")[0].click()
        sections += 1
    _answer_section(app)
    _find(app.root, "bsb-finish")[0].click()
    assert sections == 7
    assert "1 brukere og 0 ansatte" in _texts(app.flash)
    answers = app.store.survey_answers(SYSTEM, [app.survey_id])
    assert answers.set_index("question").loc["u_heard", "value_text"] == "4"
    assert answers.set_index("question").loc["u_overall", "value_number"] == 8.0


def test_an_interview_can_be_paused_and_resumed_where_it_was(app):
    _find(app.root, "bsb-start-staff")[0].click()
    _find(app.root, "bsb-next")[0].click()  # intro
    _answer_section(app)
    _find(app.root, "bsb-pause")[0].click()
    resume = _find(app.root, "bsb-resume")
    assert len(resume) == 1 and "Ansatt" in resume[0].description
    resume[0].click()
    _find(app.root, "bsb-next")[0].click()
    kind, control = app.controls["s_access_speed"]
    assert control.value == "4"


def test_finishing_too_early_shows_what_is_missing_and_keeps_the_draft(app):
    _find(app.root, "bsb-start-user")[0].click()
    app.section = len(app._sections()) - 1
    app.render()
    _find(app.root, "bsb-finish")[0].click()
    assert "obligatoriske spørsmål" in _texts(app.flash)
    assert len(app.store.drafts(SYSTEM, app.survey_id)) == 1


def test_import_view_imports_a_kobo_export_and_lists_problems_of_a_bad_file(app):
    app.view = "import"
    app.render()
    upload = _find(app.root, "bsb-upload")[0]
    upload.value = (
        {
            "name": "bad.csv",
            "content": b"respondent,u_heard\nbruker,9\n",
            "type": "text/csv",
            "size": 30,
            "last_modified": _T,
        },
    )
    _find(app.root, "bsb-import")[0].click()
    assert "1 problem" in _texts(app.root) and "rad 2" in _texts(app.root)
    data = (SAMPLE_DIR / "responses_baseline.csv").read_bytes()
    upload.value = (
        {
            "name": "kobo.csv",
            "content": data,
            "type": "text/csv",
            "size": len(data),
            "last_modified": _T,
        },
    )
    _find(app.root, "bsb-import")[0].click()
    assert "55 svar importert" in _texts(app.flash)


def test_sample_analysis_comments_and_report(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    app = SurveysApp(store, SYSTEM)
    _find(app.root, "bsb-new-survey")[0].click()
    _find(app.root, "bsb-load-sample")[0].click()
    app.view = "analysis"
    app.render()
    assert "Største forskjeller" in _texts(app.root) and "bsb-gaps" in _texts(app.root)
    app.view = "comments"
    app.render()
    boxes = _find(app.root, "bsb-comment")
    assert boxes
    _find(boxes[0], "bsb-code-save")[0].click()
    assert "lagret" in _texts(app.flash)
    app.view = "report"
    app.render()
    _find(app.root, "bsb-make-report")[0].click()
    links = _texts(app.root)
    assert 'download="bsb-rapport-' in links and "application/pdf" in links
    store.close()


def test_an_interviewer_sees_only_the_interview_view(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    store.add_user(SYSTEM, "mona.haugen", "clinician", team="VOP")  # the store checks who acts
    root = surveys_app(store, Actor("mona.haugen", "clinician", "VOP"))
    assert not _find(root, "bsb-new-survey") and "Ingen undersøkelser" in _texts(root)
    store.close()


def _go_to_question(app: SurveysApp, name: str) -> None:
    while name not in app.controls:
        _answer_section(app)
        _find(app.root, "bsb-next")[0].click()


def test_the_middle_of_the_0_to_10_scale_is_recorded_with_one_tap(app):
    _find(app.root, "bsb-start-user")[0].click()
    _go_to_question(app, "u_overall")
    kind, (buttons, skip) = app.controls["u_overall"]
    assert kind == "scale" and buttons.options[5] == ("5", 5)
    assert buttons.value is None and skip.value  # nothing chosen yet: «Ikke besvart»
    buttons.value = 5  # the tap on «5»
    assert not skip.value
    skip.value = True  # «Ikke besvart» clears the choice again
    assert buttons.value is None
    buttons.value = 5
    _answer_section(app)
    buttons.value = 5
    _find(app.root, "bsb-finish")[0].click()
    answers = app.store.survey_answers(SYSTEM, [app.survey_id]).set_index("question")
    assert answers.loc["u_overall", "value_number"] == 5.0


def test_the_finish_check_names_missing_questions_and_sections_and_jumps_there(app):
    _find(app.root, "bsb-start-user")[0].click()
    _find(app.root, "bsb-next")[0].click()  # intro
    _answer_section(app)  # part 2 answered, the rest left empty
    _find(app.root, "bsb-next")[0].click()
    app.section = len(app._sections()) - 1
    app.render()
    _find(app.root, "bsb-finish")[0].click()
    text = _texts(app.flash)
    form = app._current_form()
    third = app._sections()[2]
    assert "obligatoriske spørsmål mangler svar" in text
    assert f"Del 3 «{third.label('nb')}»: {form.question(third.questions[0]).label('nb')}" in text
    assert "Del 2 «" not in text  # answered
    jumps = _find(app.flash, "bsb-jump")
    assert jumps[0].description == f"Gå til del 3: {third.label('nb')}"
    jumps[0].click()
    assert app.section == 2 and third.questions[0] in app.controls
    assert len(app.store.drafts(SYSTEM, app.survey_id)) == 1


def test_comments_that_may_name_someone_are_marked_and_left_out_of_bulk_approval(app):
    rid = app.store.start_response(SYSTEM, app.survey_id, "user")
    answers = {}
    for q in app._current_form().for_respondent("user"):
        if q.type == "select_one":
            answers[q.name] = "4"
        elif q.type == "range":
            answers[q.name] = 7
    answers["u_works_well"] = "Kari Hansen på kontoret er god, ring 412 34 567"
    answers["u_improve"] = "Kortere ventetid."
    app.store.save_answers(SYSTEM, rid, answers, finish=True)
    for c in app.store.survey_comments(SYSTEM, [app.survey_id]).itertuples():
        app.store.code_comment(SYSTEM, c.comment_id, themes=["tilgang"], approved=False)
    app.view = "comments"
    app.render()
    [flagged] = _find(app.root, "bsb-flagged")
    assert "<mark class='bsb-flag-name'>Kari Hansen</mark>" in _texts(flagged)
    assert "navn, telefonnummer" in _texts(flagged)
    [bulk] = _find(app.root, "bsb-approve-theme")
    assert bulk.description == "Godkjenn 1 i «Tilgjengelighet»"
    bulk.click()
    assert "1 kommentarer i «Tilgjengelighet» er godkjent" in _texts(app.flash)
    approved = app.store.survey_comments(SYSTEM, [app.survey_id], approved_only=True)
    assert approved["text"].tolist() == ["Kortere ventetid."]
    assert not _find(app.root, "bsb-approve-theme")  # nothing left to approve together
