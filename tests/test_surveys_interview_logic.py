"""The interview honours a form's relevant/required/constraint (the logic is in
surveys.forms; the widget only shows and hides)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ipywidgets as w
import pytest

from kor.access import SYSTEM
from kor.store import Store
from surveys.forms import read_form
from widgets.surveys import SurveysApp

FORM = Path(__file__).parent / "data" / "xlsform" / "kor_constructs.xlsx"


def _find(widget: w.Widget, cls: str) -> list[w.Widget]:
    found = [widget] if cls in getattr(widget, "_dom_classes", ()) else []
    for child in getattr(widget, "children", ()):
        found.extend(_find(child, cls))
    return found


@pytest.fixture
def app(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    qid = store.save_questionnaire(SYSTEM, read_form(FORM))
    app = SurveysApp(store, SYSTEM)
    app.survey_id = store.create_survey(
        SYSTEM,
        service="VOP",
        round="baseline",
        title="Logikk",
        questionnaire_id=qid,
        start=date(2026, 1, 1),
    )
    app.form, app.view = None, "interview"
    app.render()
    _find(app.root, "bsb-start-user")[0].click()
    yield app
    store.close()


def _shown(app: SurveysApp) -> set[str]:
    return {n for n, (holder, _) in app.holders.items() if holder.layout.display != "none"}


def test_questions_appear_when_relevant_and_constraint_messages_show(app):
    assert _shown(app) == {"u_used", "u_score"}
    app.controls["u_used"][1].value = "ja"
    assert _shown(app) == {"u_used", "u_help", "u_visits", "u_score"}
    [(name, toggle)] = [p for p in app.controls["u_help"][1] if p[0] == "other"]
    toggle.value = True
    assert "u_help_other" in _shown(app)
    buttons, _skip = app.controls["u_score"][1]
    buttons.value = 5
    assert "Ikke 5" in app.holders["u_score"][1].value
    buttons.value = 6
    assert app.holders["u_score"][1].value == ""


def test_finishing_waits_for_a_question_required_on_a_condition(app):
    app.controls["u_used"][1].value = "ja"  # makes u_visits required
    _find(app.root, "bsb-next")[0].click()
    _find(app.root, "bsb-finish")[0].click()
    assert app.response is not None  # still the draft: u_visits is missing
    assert app.store.drafts(SYSTEM, app.survey_id).shape[0] == 1


def test_a_question_not_asked_does_not_hold_up_finishing(app):
    app.controls["u_used"][1].value = "nei"  # u_visits is not asked, so not required
    _find(app.root, "bsb-next")[0].click()
    _find(app.root, "bsb-finish")[0].click()
    assert app.response is None
    assert app.store.drafts(SYSTEM, app.survey_id).shape[0] == 0


def test_finishing_with_an_answer_that_breaks_its_constraint_is_refused(app):
    app.controls["u_used"][1].value = "nei"
    buttons, _skip = app.controls["u_score"][1]
    buttons.value = 5  # the form's constraint on u_score: not 5
    _find(app.root, "bsb-next")[0].click()
    _find(app.root, "bsb-finish")[0].click()
    assert app.response is not None  # still the draft, and the store said why
    assert app.store.drafts(SYSTEM, app.survey_id).shape[0] == 1
    assert "Ikke 5" in str(app.root.children)
