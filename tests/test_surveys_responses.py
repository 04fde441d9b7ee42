"""Answers in canonical form, and import of Kobo/Nettskjema-like exports (all or nothing)."""

from __future__ import annotations

import pytest

from kor.errors import ImportFileError, ValidationError
from surveys.forms import default_form
from surveys.responses import check_answer, check_complete, read_responses
from surveys.sample import SAMPLE_DIR, STAFF, USERS

FORM = default_form()


def test_choice_answers_accept_names_and_labels_in_both_languages():
    assert check_answer(FORM, "u_heard", "4").text == "4"
    assert check_answer(FORM, "u_heard", "Litt enig").number == 4.0
    assert check_answer(FORM, "u_heard", "strongly AGREE").text == "5"
    dont_know = check_answer(FORM, "u_heard", "Vet ikke")
    assert dont_know.text == "vet_ikke" and dont_know.number is None


def test_multiple_choice_is_stored_as_names_in_form_order():
    assert check_answer(FORM, "u_help_forms", "gruppe samtaler").text == "samtaler gruppe"
    assert check_answer(FORM, "u_help_forms", "Gruppetilbud; Samtaler").text == "samtaler gruppe"
    assert check_answer(FORM, "u_help_forms", ["digitalt"]).text == "digitalt"


def test_scale_answers_must_lie_on_the_scale():
    assert check_answer(FORM, "u_overall", "7").number == 7.0
    for bad, key in (
        ("11", "surveys.answer.out_of_range"),
        ("6,5", "surveys.answer.not_on_step"),
        ("mye", "surveys.answer.not_a_number"),
    ):
        with pytest.raises(ValidationError) as caught:
            check_answer(FORM, "u_overall", bad)
        assert caught.value.key == key


def test_free_text_is_marked_as_text_and_empty_answers_are_none():
    assert check_answer(FORM, "u_improve", " Mer tid ").is_text
    assert check_answer(FORM, "u_heard", "") is None
    assert check_answer(FORM, "u_heard", None) is None


def test_staff_cannot_answer_a_user_question():
    with pytest.raises(ValidationError) as caught:
        check_answer(FORM, "u_heard", "4", respondent="staff")
    assert caught.value.key == "surveys.answer.not_asked"


def test_required_questions_without_answer_are_listed():
    missing = check_complete(FORM, "user", {"u_access_speed": "3"})
    assert "u_access_speed" not in missing and "u_heard" in missing
    assert "u_improve" not in missing  # free text is optional


def test_kobo_csv_export_imports_every_interview():
    imported = read_responses(SAMPLE_DIR / "responses_baseline.csv", FORM)
    assert len(imported.responses) == USERS + STAFF
    assert set(imported.responses["respondent"]) == {"user", "staff"}
    assert imported.responses["external_id"].str.startswith("id:").all()
    assert "start" in imported.ignored and "_uuid" in imported.ignored


def test_nettskjema_xlsx_with_question_texts_and_labels_imports():
    imported = read_responses(SAMPLE_DIR / "responses_follow_up.xlsx", FORM)
    assert len(imported.responses) == USERS + STAFF
    heard = imported.answers[imported.answers["question"] == "u_heard"]
    assert set(heard["value_text"]) <= {"1", "2", "3", "4", "5", "vet_ikke", "ikke_aktuelt"}


def test_a_bad_file_lists_every_problem_and_returns_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "respondent;u_heard;s_heard;u_overall;mystery\n"
        "bruker;4;;7;x\n"
        "ansatt;5;;12;\n"
        "pasient;Helt enig;;3;\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as caught:
        read_responses(path, FORM)
    found = [(p.key, p.row, p.column) for p in caught.value.problems]
    assert found == [("surveys.import.unknown_column", 1, "mystery")]
    path.write_text(
        "respondent;u_heard;s_heard;s_overall\nbruker;4;;\nansatt;5;;12\npasient;Helt enig;;\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as caught:
        read_responses(path, FORM)
    found = [(p.key, p.row, p.column) for p in caught.value.problems]
    assert found == [
        ("surveys.answer.not_asked", 3, "u_heard"),
        ("surveys.answer.out_of_range", 3, "s_overall"),
        ("surveys.import.bad_respondent", 4, "respondent"),
    ]
    assert "rad 3" in caught.value.report("nb")


def test_a_file_of_one_group_needs_the_group_chosen(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("u_heard,u_overall\n4,7\n3,5\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        read_responses(path, FORM)
    assert caught.value.problems[0].key == "surveys.import.no_respondent_column"
    imported = read_responses(path, FORM, respondent="user")
    assert list(imported.responses["respondent"]) == ["user", "user"]


def test_cp1252_csv_from_excel_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "gruppe;u_heard\nbruker;Helt enig\nbruker;Verken enig eller uenig\n".encode("cp1252")
    )
    imported = read_responses(path, FORM)
    assert list(imported.answers["value_text"]) == ["5", "3"]
