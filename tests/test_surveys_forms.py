"""XLSForm subset: the default questionnaire reads cleanly; broken forms list every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from kor.errors import FormError
from surveys.default_workbook import write_default_form
from surveys.forms import (
    DEFAULT_FORM_PATH,
    InvalidFormError,
    Questionnaire,
    default_form,
    read_form,
)

NB, EN = "label::Norsk bokmål (nb)", "label::English (en)"


def _book(path: Path, survey: list[list], choices: list[list] | None = None) -> Path:
    book = Workbook()
    ws = book.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    if choices is not None:
        cs = book.create_sheet("choices")
        for row in choices:
            cs.append(row)
    book.save(path)
    return path


def test_default_form_pairs_every_user_question_with_a_staff_question():
    form = default_form()
    users = [q for q in form.questions if q.respondent == "user" and q.type != "note"]
    assert len(form.pairs()) == len(users) == 16
    for user_q, staff_q in form.pairs():
        assert form.question(staff_q).respondent == "staff"
        assert form.question(staff_q).pair == user_q
    sections = [s.name for s in form.sections]
    for theme in ("tilgang", "informasjon", "medvirkning", "relasjon", "samordning", "utbytte"):
        assert theme in sections


def test_default_form_has_bokmal_and_english_and_the_question_types_an_interview_needs():
    form = default_form()
    assert all(q.labels.get("nb") and q.labels.get("en") for q in form.questions)
    types = {q.type for q in form.questions}
    assert {"select_one", "select_multiple", "range", "text", "note"} <= types
    agreement = [c.name for c in form.choices["agreement"]]
    assert agreement[-2:] == ["vet_ikke", "ikke_aktuelt"]
    assert form.is_likert("u_heard") and not form.is_likert("u_overall")
    assert form.question("u_overall").start == 0 and form.question("u_overall").end == 10
    assert [c.score for c in form.choices["agreement"]][-2:] == [None, None]


def test_staff_and_user_see_only_their_own_questions():
    form = default_form()
    user = form.for_respondent("user")
    assert all(q.respondent in (None, "user") for q in user)
    assert "s_heard" not in [q.name for q in user]
    assert len(form.sections_for("staff")) == len(form.sections)


def test_shipped_workbook_is_the_one_built_from_its_toml_source(tmp_path):
    rebuilt = read_form(write_default_form(tmp_path / "form.xlsx"))
    assert rebuilt == default_form()


def test_questionnaire_survives_json_round_trip():
    form = default_form()
    assert Questionnaire.from_json(form.to_json()) == form


def test_read_form_accepts_bytes_of_an_upload():
    assert read_form(DEFAULT_FORM_PATH.read_bytes()).form_id == "bsb_standard"


def test_broken_form_reports_every_problem_with_sheet_row_and_column(tmp_path):
    path = _book(
        tmp_path / "broken.xlsx",
        [
            ["type", "name", NB, "respondent", "pair", "relevant"],
            ["begin_group", "g1", "Del 1", "", "", ""],
            ["select_one likert", "q1", "Spørsmål 1", "user", "q2", ""],  # unknown list
            ["select_one svar", "q2", "Spørsmål 2", "staff", "", "${q1} = '1'"],  # relevant
            ["geopoint", "where", "Hvor", "", "", ""],  # unsupported type
            ["text", "q1", "Igjen", "user", "", ""],  # duplicate
            ["text", "q5", "", "manager", "nope", ""],  # missing label, bad respondent, pair
            # the group is never closed
        ],
        [["list_name", "name", NB], ["svar", "1", "Ja"], ["svar", "1", "Ja igjen"]],
    )
    with pytest.raises(InvalidFormError) as caught:
        read_form(path)
    found = {(p.key, p.params["sheet"], p.row, p.column) for p in caught.value.problems}
    assert all(isinstance(p, FormError) for p in caught.value.problems)
    assert ("surveys.form.unknown_list", "survey", 3, "A") in found
    assert ("surveys.form.unsupported_column", "survey", 4, "F") in found
    assert ("surveys.form.unsupported_type", "survey", 5, "A") in found
    assert ("surveys.form.duplicate_name", "survey", 6, "B") in found
    assert ("surveys.form.missing_value", "survey", 7, "C") in found
    assert ("surveys.form.bad_respondent", "survey", 7, "D") in found
    assert ("surveys.form.unknown_pair", "survey", 7, "E") in found
    assert ("surveys.form.group_not_closed", "survey", 2, "A") in found
    assert ("surveys.form.duplicate_choice", "choices", 3, "B") in found
    assert ("surveys.form.pair_types", "survey", 3, "E") in found
    text = caught.value.report("nb")
    assert "Ark survey" in text and "rad 4" in text and "Ark choices" in text


def test_relevant_logic_is_refused_not_ignored(tmp_path):
    path = _book(
        tmp_path / "r.xlsx",
        [
            ["type", "name", NB, "relevant"],
            ["text", "a", "A", ""],
            ["text", "b", "B", "${a} != ''"],
        ],
    )
    with pytest.raises(InvalidFormError) as caught:
        read_form(path)
    [problem] = caught.value.problems
    assert problem.key == "surveys.form.unsupported_column" and problem.row == 3


def test_pair_must_join_a_user_and_a_staff_question(tmp_path):
    path = _book(
        tmp_path / "p.xlsx",
        [
            ["type", "name", NB, "respondent", "pair"],
            ["text", "a", "A", "user", "b"],
            ["text", "b", "B", "user", ""],
        ],
    )
    with pytest.raises(InvalidFormError) as caught:
        read_form(path)
    assert [p.key for p in caught.value.problems] == ["surveys.form.pair_respondents"]


def test_a_pair_declared_on_one_side_is_made_symmetric(tmp_path):
    path = _book(
        tmp_path / "ok.xlsx",
        [
            ["type", "name", NB, "respondent", "pair"],
            ["range", "a", "A", "user", "b"],
            ["range", "b", "B", "staff", ""],
        ],
    )
    form = read_form(path)
    assert form.question("b").pair == "a" and form.pairs() == (("a", "b"),)
    assert form.question("a").end == 10.0  # range defaults to 0-10


def test_missing_survey_sheet_and_unreadable_file(tmp_path):
    book = Workbook()
    book.active.title = "choices"
    book.save(tmp_path / "x.xlsx")
    with pytest.raises(InvalidFormError) as caught:
        read_form(tmp_path / "x.xlsx")
    assert caught.value.problems[0].key == "surveys.form.missing_sheet"
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(InvalidFormError) as caught:
        read_form(tmp_path / "bad.xlsx")
    assert caught.value.problems[0].key == "surveys.form.unreadable"
