"""Answers in canonical form, and import of KoboToolbox/Nettskjema exports (all or nothing).

The exports under ``tests/data/kobo`` and ``tests/data/nettskjema`` were made by the real
tools or follow their real files (see the README there)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kor.access import SYSTEM
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


def test_the_group_follows_from_the_answers_or_is_chosen(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("u_heard,u_overall\n4,7\n3,5\n", encoding="utf-8")
    assert list(read_responses(path, FORM).responses["respondent"]) == ["user", "user"]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("u_heard,s_heard\n4,\n3,5\n,\n5,4\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        read_responses(mixed, FORM)
    found = [(p.key, p.row) for p in caught.value.problems]
    assert found == [
        ("surveys.import.respondent_unknown", 3),
        ("surveys.import.respondent_unknown", 5),  # row 4 is blank and skipped
    ]
    with pytest.raises(ImportFileError) as caught:
        read_responses(mixed, FORM, respondent="user")
    assert [(p.key, p.row, p.column) for p in caught.value.problems] == [
        ("surveys.answer.not_asked", 3, "s_heard"),
        ("surveys.answer.not_asked", 5, "s_heard"),
    ]
    imported = read_responses(path, FORM, respondent="user")
    assert list(imported.responses["respondent"]) == ["user", "user"]


def test_cp1252_csv_from_excel_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "gruppe;u_heard\nbruker;Helt enig\nbruker;Verken enig eller uenig\n".encode("cp1252")
    )
    imported = read_responses(path, FORM)
    assert list(imported.answers["value_text"]) == ["5", "3"]


# ------------------------------------------------- exports made by the real tools
DATA = Path(__file__).parent / "data"
KOBO = sorted((DATA / "kobo").glob("*.csv")) + sorted((DATA / "kobo").glob("*.xlsx"))
NETTSKJEMA = sorted((DATA / "nettskjema").glob("data-*"))
SOURCE = json.loads((DATA / "kobo" / "submissions.json").read_text(encoding="utf-8"))


def _as_read(imported) -> list[tuple[str, dict[str, str]]]:
    out = []
    for resp in imported.responses.itertuples():
        rows = imported.answers[imported.answers["source_row"] == resp.source_row]
        out.append(
            (
                resp.respondent,
                {
                    q: " ".join(v.split())
                    for q, v in zip(rows.question, rows.value_text, strict=True)
                },
            )
        )
    return out


def _source() -> list[tuple[str, dict[str, str]]]:
    # whitespace folded: the older Nettskjema export turns line breaks into spaces
    return [
        (s["respondent"], {q: " ".join(v.split()) for q, v in s["answers"].items()}) for s in SOURCE
    ]


def test_the_corpus_holds_every_layout():
    names = {p.name for p in KOBO}
    for stem in (
        "xml_groups_slash",
        "xml_nogroups",
        "xml_groups_dot_details",
        "labels_nb_nogroups",
        "labels_nb_groups_slash_summary",
        "labels_en_groups_dot",
    ):
        assert {f"{stem}.csv", f"{stem}.xlsx"} <= names
    assert len(NETTSKJEMA) == 3
    assert (DATA / "kobo" / "README.md").exists() and (DATA / "nettskjema" / "README.md").exists()


@pytest.mark.parametrize("path", KOBO + NETTSKJEMA, ids=lambda p: p.name)
def test_every_export_of_the_default_form_imports_with_the_source_answers(path):
    imported = read_responses(path, FORM)
    assert _as_read(imported) == _source()
    ids = list(imported.responses["external_id"])
    if path in KOBO:  # the submission's _uuid, whatever the layout
        assert ids == ["id:" + s["_uuid"] for s in SOURCE]
    else:
        assert all(i.startswith("nettskjema:") for i in ids) and len(set(ids)) == len(ids)


def test_kobo_metadata_columns_are_ignored_not_answers():
    imported = read_responses(DATA / "kobo" / "xml_groups_slash.csv", FORM)
    for meta in ("_id", "_uuid", "_submission_time", "_index", "_validation_status", "_tags"):
        assert meta in imported.ignored
    assert "helhet/u_help_forms" in imported.ignored  # the 0/1 option columns answer it
    ns = read_responses(DATA / "nettskjema" / "data-412345-2026-03-10-0930-utf.txt", FORM)
    assert {"NR", "Opprettet", "Endret", "Svartid"} <= set(ns.ignored)


def test_semicolon_and_comma_csv_read_the_same():
    semi = DATA / "kobo" / "xml_groups_slash.csv"
    comma = DATA / "kobo" / "xml_groups_slash_comma.csv"
    assert semi.read_text(encoding="utf-8").count(";") > comma.read_text(encoding="utf-8").count(
        ";"
    )
    assert _as_read(read_responses(semi, FORM)) == _as_read(read_responses(comma, FORM))


def test_space_joined_labels_split_into_whole_choices():
    answer = check_answer(FORM, "u_help_forms", "Samtaler Telefon eller video Annet")
    assert answer.text == "samtaler digitalt annet"
    with pytest.raises(ValidationError):
        check_answer(FORM, "u_help_forms", "Samtaler Telefon")


def test_importing_the_same_submissions_again_adds_nothing(store):
    qid = store.save_questionnaire(SYSTEM, FORM)
    survey = store.create_survey(
        SYSTEM, service="VOP", round="baseline", title="BSB", questionnaire_id=qid
    )
    first = read_responses(DATA / "kobo" / "labels_nb_nogroups.xlsx", FORM)
    assert store.import_responses(SYSTEM, survey, first, source="a.xlsx")["added"] == len(SOURCE)
    for again in ("labels_nb_nogroups.xlsx", "xml_groups_slash.csv", "labels_en_groups_dot.csv"):
        imported = read_responses(DATA / "kobo" / again, FORM)
        assert store.import_responses(SYSTEM, survey, imported, source=again) == {
            "added": 0,
            "unchanged": len(SOURCE),
        }
    ns = read_responses(DATA / "nettskjema" / "data-412345-2026-03-10-0930.txt", FORM)
    assert store.import_responses(SYSTEM, survey, ns, source="ns.txt")["added"] == len(SOURCE)
    assert store.import_responses(SYSTEM, survey, ns, source="ns.txt")["added"] == 0
    row = store.surveys(SYSTEM).iloc[0]
    users = sum(s["respondent"] == "user" for s in SOURCE)
    assert (row["users"], row["staff"]) == (2 * users, 2 * (len(SOURCE) - users))


def test_an_unknown_header_gets_one_message_naming_the_layouts(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("Navn;Alder;Dato\nx;3;2026-01-01\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        read_responses(path, FORM)
    assert [(p.key, p.row) for p in caught.value.problems] == [("surveys.import.unknown_layout", 1)]
    text = caught.value.report("nb")
    for named in ("other.csv", "KoboToolbox", "_uuid", "$submission_id", "NR", "Svartid"):
        assert named in text
    assert "$submission_id" in caught.value.report("en")


def test_bad_values_in_an_export_name_file_row_and_column(tmp_path):
    with (DATA / "kobo" / "labels_nb_nogroups.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    header, cells = rows[0], rows[2]
    heard = header.index("Jeg blir lyttet til og tatt på alvor.")
    option = header.index("Hvilke former for hjelp har du fått? (velg alle som passer)/Annet")
    cells[heard], cells[option] = "Kanskje", "2"
    path = tmp_path / "kobo_labels.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";", quoting=csv.QUOTE_ALL).writerows(rows)
    with pytest.raises(ImportFileError) as caught:
        read_responses(path, FORM)
    assert caught.value.path == "kobo_labels.csv"
    found = [(p.key, p.row, p.column) for p in caught.value.problems]
    assert found == [
        ("surveys.answer.unknown_choice", 3, header[heard]),
        ("surveys.answer.bad_option_cell", 3, header[option]),
    ]
    report = caught.value.report("nb")
    assert "kobo_labels.csv" in report and "rad 3" in report and "Kanskje" not in report


def test_old_nettskjema_checkbox_columns_hold_the_option_value(tmp_path):
    path = tmp_path / "data-1-utf.txt"
    path.write_text(
        "NR\tOpprettet\tu_heard\tu_help_forms_1\tu_help_forms_2\tu_help_forms_4\tSvartid\n"
        "17\t09.03.2026 10:14\t4\tsamtaler\t\tJa\t2 minutt\n",
        encoding="utf-8",
    )
    imported = read_responses(path, FORM)
    assert list(imported.answers["value_text"]) == ["4", "samtaler digitalt"]
    assert list(imported.responses["external_id"]) == ["nettskjema:17"]
