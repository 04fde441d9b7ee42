"""XLSForms read with pyxform: the shipped form, a corpus of real and constructed forms,
the interview logic (relevant/required/constraint) and the problems a broken form lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from pyxform.xls2xform import convert

from kor.errors import FormError
from surveys.default_workbook import write_default_form
from surveys.expressions import ExpressionError, parse
from surveys.forms import (
    DEFAULT_FORM_PATH,
    InvalidFormError,
    Questionnaire,
    default_form,
    read_form,
)

NB, EN = "label::Norsk bokmål (nb)", "label::English (en)"
CORPUS = Path(__file__).parent / "data" / "xlsform"
REPO = Path(__file__).resolve().parents[1]

#: Every corpus file and what reading it gives: None = loads, else the problem keys.
#: (tests/data/xlsform/README.md says where each came from.)
EXPECTED: dict[str, set[str] | None] = {
    "pyxform_specify_other.xlsx": None,
    "pyxform_text_and_integer.xlsx": None,
    "pyxform_yes_or_no_question.xlsx": None,
    "pyxform_table-list.xls": None,
    "pyxform_xml_escaping.xls": None,
    "pyxform_choice_filter_test.xlsx": {"surveys.form.unsupported_column"},
    "pyxform_widgets.xls": {"surveys.form.unsupported_expression", "surveys.form.unsupported_type"},
    "kpi_survey_names.xls": None,
    "kpi_battery_life.xls": None,
    "kpi_form_with_unicode_in_relevant_column.xlsx": {"surveys.form.unsupported_expression"},
    "kpi_tutorial.xls": {"surveys.form.unsupported_type"},
    "formpack_library-locking-example.xlsx": None,
    "kor_constructs.xlsx": None,
    "kor_label_spellings.xlsx": None,
    "kor_label_single_colon.xlsx": None,
    "kor_empty_choices.xlsx": None,
    "kor_kobo_download_layout.xlsx": None,
    "kor_refused_logic.xlsx": {
        "surveys.form.unsupported_expression",
        "surveys.form.unsupported_column",
        "surveys.form.unsupported_type",
    },
}


def _book(path: Path, survey: list[list], choices: list[list] | None = None, settings=None) -> Path:
    book = Workbook()
    ws = book.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows is not None:
            sheet = book.create_sheet(title)
            for row in rows:
                sheet.append(row)
    book.save(path)
    return path


def _problems(path: Path) -> set[tuple]:
    with pytest.raises(InvalidFormError) as caught:
        read_form(path)
    assert all(isinstance(p, FormError) for p in caught.value.problems)
    return {(p.key, p.params["sheet"], p.row, p.column) for p in caught.value.problems}


# ------------------------------------------------------------ every form converts
def _repository_forms() -> list[Path]:
    forms = sorted(CORPUS.glob("*.xls*")) + [DEFAULT_FORM_PATH]
    forms += [p for p in sorted((REPO / "docs").rglob("*.xlsx")) if "xlsform" in p.name.lower()]
    return forms


@pytest.mark.parametrize("path", _repository_forms(), ids=lambda p: p.name)
def test_every_form_in_the_repository_converts_with_pyxform(path):
    result = convert(path)
    assert "<h:html" in result.xform and "<instance>" in result.xform


def test_corpus_list_matches_the_folder_and_its_readme():
    files = {p.name for p in CORPUS.glob("*.xls*")}
    assert files == set(EXPECTED)
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in files)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_form_loads_or_is_refused_with_reasons(name):
    expected = EXPECTED[name]
    if expected is None:
        form = read_form(CORPUS / name)
        assert form.questions and all(q.labels for q in form.questions)
        return
    with pytest.raises(InvalidFormError) as caught:
        read_form(CORPUS / name)
    assert {p.key for p in caught.value.problems} == expected
    assert all(p.row and p.column and p.params.get("sheet") for p in caught.value.problems)


# ------------------------------------------------------------------ default form
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
    assert form.titles["nb"].startswith("Bruker spør bruker") and form.titles["en"]
    types = {q.type for q in form.questions}
    assert {"select_one", "select_multiple", "range", "text", "note"} <= types
    agreement = [c.name for c in form.choices["agreement"]]
    assert agreement[-2:] == ["vet_ikke", "ikke_aktuelt"]
    assert form.is_likert("u_heard") and not form.is_likert("u_overall")
    assert form.question("u_overall").start == 0 and form.question("u_overall").end == 10
    assert [c.score for c in form.choices["agreement"]][-2:] == [None, None]


def test_default_form_xform_carries_both_languages_and_the_bokmal_title():
    xform = convert(DEFAULT_FORM_PATH).xform
    assert 'lang="Norsk bokmål (nb)"' in xform and 'lang="English (en)"' in xform
    assert "<h:title>Bruker spør bruker – standardintervju</h:title>" in xform


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
    for form in (default_form(), read_form(CORPUS / "kor_constructs.xlsx")):
        assert Questionnaire.from_json(form.to_json()) == form


def test_read_form_accepts_bytes_of_an_upload():
    assert read_form(DEFAULT_FORM_PATH.read_bytes()).form_id == "bsb_standard"


# ------------------------------------------------------------- constructs
def test_constructs_form_aliases_metadata_nested_groups_and_or_other():
    form = read_form(CORPUS / "kor_constructs.xlsx")
    assert form.form_id == "kor_constructs" and form.version == "3"
    assert form.titles == {"nb": "Konstruksjoner", "en": "Constructs"}
    assert {"start", "end", "today", "deviceid", "audit", "__version__"} <= set(form.metadata)
    assert not any(form.has(m) for m in form.metadata)
    # `list name` + `select one from jn` / `select all that apply hjelp or_other`
    used = form.question("u_used")
    assert used.type == "select_one" and used.list_name == "jn"
    assert form.question("u_help").type == "select_multiple"
    assert [c.name for c in form.choice_list("u_help")] == ["samtale", "annet", "other"]
    assert form.choice_list("u_help")[-1].label("nb") == "Annet"
    other = form.question("u_help_other")
    assert other.type == "text" and other.respondent == "user" and other.label("nb")
    # the nested group belongs to its top-level section and passes on its relevant
    [section, loose] = form.sections
    assert section.name == "tilgang" and "u_visits" in section.questions
    assert loose.questions == ("comment",)
    assert form.question("u_visits").relevant == "${u_used} = 'ja'"
    assert form.question("u_visits").constraint_messages == {
        "nb": "Mellom 0 og 100",
        "en": "Between 0 and 100",
    }
    assert form.pairs() == (("u_used", "s_used"),)


def test_interview_logic_relevant_required_and_constraint():
    form = read_form(CORPUS / "kor_constructs.xlsx")
    nothing: dict = {}
    asked = form.relevant_names(nothing)
    assert "u_help" not in asked and "u_visits" not in asked and "u_used" in asked
    assert "u_score" in asked  # not(selected('', 'annet')) is true
    assert "comment" not in asked  # '' >= 7 and '' < 3 are false: empty is not a number
    used = {"u_used": "ja"}
    assert {"u_help", "u_visits"} <= form.relevant_names(used)
    # required on a condition, and only while asked
    assert form.missing_required("user", nothing) == ["u_used"]
    assert form.missing_required("user", used) == ["u_visits"]
    assert form.missing_required("user", {"u_used": "nei"}) == []
    assert form.is_required("u_visits", used) and not form.is_required("u_visits", {})
    # or_other: the text box follows the choice
    assert "u_help_other" not in form.relevant_names({**used, "u_help": "samtale"})
    assert "u_help_other" in form.relevant_names({**used, "u_help": ["samtale", "other"]})
    # a hidden question's answer counts as empty for later expressions
    assert "u_score" not in form.relevant_names({**used, "u_help": "annet"})
    assert "comment" not in form.relevant_names({"u_used": "ja", "u_help": "annet", "u_score": 9})
    assert "comment" in form.relevant_names({"u_score": "9"})
    # constraint with the form's message, in the language asked for
    assert form.constraint_message("u_visits", {**used, "u_visits": 12}) is None
    assert form.constraint_message("u_visits", {**used, "u_visits": "120"}, "nb") == (
        "Mellom 0 og 100"
    )
    assert form.constraint_message("u_visits", {**used, "u_visits": -1}, "en") == (
        "Between 0 and 100"
    )
    assert form.constraint_message("u_visits", {"u_visits": 120}) is None  # not asked
    assert form.constraint_problems("user", {**used, "u_visits": 500, "u_score": 5}, "en") == {
        "u_visits": "Between 0 and 100",
        "u_score": "Not 5",
    }


def test_label_spellings_and_allowed_duplicate_choices():
    form = read_form(CORPUS / "kor_label_spellings.xlsx")
    q1 = form.question("q1")
    assert q1.labels == {"nb": "Spørsmål", "en": "Question"} and q1.hint("nb") == "Velg ett"
    assert [c.label("en") for c in form.choice_list("q1")] == ["Yes", "Yes (again)"]
    single = read_form(CORPUS / "kor_label_single_colon.xlsx").question("q1")
    assert single.labels == {"nb": "Hva var best?", "en": "What was best?"}


def test_empty_choices_sheet_and_a_plain_label_is_bokmal():
    form = read_form(CORPUS / "kor_empty_choices.xlsx")
    assert form.choices == {} and form.question("q1").labels == {"nb": "Hva tenker du?"}


def test_kobo_download_layout_loads_with_its_version_row():
    form = read_form(CORPUS / "kor_kobo_download_layout.xlsx")
    assert [q.name for q in form.questions] == ["satisfied", "why"]
    assert form.question("satisfied").required and not form.question("why").required
    assert form.metadata[:3] == ("start", "end", "__version__")
    assert form.question("satisfied").label("nb") == "Fornøyd?"


def test_refused_logic_names_sheet_row_column_and_construct():
    with pytest.raises(InvalidFormError) as caught:
        read_form(CORPUS / "kor_refused_logic.xlsx")
    found = {(p.key, p.row, p.column, p.params.get("construct")) for p in caught.value.problems}
    assert found == {
        ("surveys.form.unsupported_expression", 2, "E", "«regex()»"),
        ("surveys.form.unsupported_expression", 3, "D", "«+»"),
        ("surveys.form.unsupported_column", 4, "F", None),
        ("surveys.form.unsupported_type", 5, "A", None),
    }
    text = caught.value.report("nb")
    assert "regex()" in text and "rad 3" in text and "${navn}" in text


def test_translated_form_title_is_refused_with_the_way_out(tmp_path):
    path = _book(
        tmp_path / "t.xlsx",
        [["type", "name", "label"], ["text", "a", "A"]],
        settings=[["form_title::English (en)"], ["Title"]],
    )
    [problem] = _problems(path)
    assert problem == ("surveys.form.translated_title", "settings", 2, "A")


# -------------------------------------------------------------- expressions
@pytest.mark.parametrize(
    ("text", "answers", "current", "expected"),
    [
        ("${a} = 'x'", {"a": "x"}, None, True),
        ("${a} != 'x'", {}, None, True),
        ("${a} > 3", {"a": "10"}, None, True),  # compares numbers, not text
        ("${a} > 3", {}, None, False),  # empty is not a number
        ("${a} = 3", {"a": 3.0}, None, True),
        (". >= -1 and . < 2.5", {}, "0", True),
        ("not(${a} = 1) or false()", {"a": 1}, None, False),
        ("selected(${m}, 'b')", {"m": "a b"}, None, True),
        ("selected(${m}, 'b')", {"m": ["a", "c"]}, None, False),
        ("(${a} = 1 or ${a} = 2) and true()", {"a": "2"}, None, True),
        ("${a}", {"a": ""}, None, False),
    ],
)
def test_expression_evaluates_like_xpath(text, answers, current, expected):
    assert parse(text).evaluate(answers, current) is expected


@pytest.mark.parametrize(
    ("text", "kind", "construct"),
    [
        ("${a} + 1", "unsupported", "«+»"),
        ("string-length(.) > 3", "unsupported", "«string-length()»"),
        ("/data/a = 1", "unsupported", "«/»"),
        ("../a = 1", "unsupported", "«..»"),
        ("__import__('os')", "unsupported", "«__import__()»"),
        ("${a} = 1 = 2", "unsupported", "«a = b = c»"),
        ("${a} - 1", "unsupported", "«-»"),
        ("(${a} = 1", "syntax", "«»"),
        ("selected(${a})", "syntax", "«selected()»"),
    ],
)
def test_expression_refuses_what_it_does_not_evaluate(text, kind, construct):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert (caught.value.kind, caught.value.construct) == (kind, construct)


# -------------------------------------------------------------- broken forms
def test_broken_form_reports_every_problem_with_sheet_row_and_column(tmp_path):
    path = _book(
        tmp_path / "broken.xlsx",
        [
            ["type", "name", NB, "respondent", "pair", "relevant"],
            ["begin_group", "g1", "Del 1", "", "", ""],
            ["select_one likert", "q1", "Spørsmål 1", "user", "q2", ""],  # unknown list
            ["text", "q2", "Spørsmål 2", "staff", "", "string-length(${q1}) > 2"],
            ["end_group", "", "", "", "", ""],
            ["begin_group", "g2", "Del 2", "", "", ""],
            ["text", "q1", "Igjen", "user", "", ""],  # same name in another group
            ["text", "q5", "Fem", "manager", "", ""],  # bad respondent
            ["end_group", "", "", "", "", ""],
        ],
        [["list_name", "name", NB], ["svar", "1", "Ja"]],
    )
    found = _problems(path)
    assert ("surveys.form.unsupported_expression", "survey", 4, "F") in found
    assert ("surveys.form.duplicate_name", "survey", 7, "B") in found
    assert ("surveys.form.bad_respondent", "survey", 8, "D") in found
    # pyxform's own first objection, with its row
    assert ("surveys.form.pyxform", "survey", 3, None) in found
    with pytest.raises(InvalidFormError) as caught:
        read_form(path)
    text = caught.value.report("nb")
    assert "Ark survey" in text and "rad 4" in text and "likert" in text


def test_unknown_question_type_and_repeat_are_refused_by_name(tmp_path):
    path = _book(
        tmp_path / "t.xlsx",
        [
            ["type", "name", "label"],
            ["geopoint", "where", "Hvor"],
            ["begin_repeat", "r", "R"],
            ["text", "x", "X"],
            ["end_repeat", "", ""],
            ["text", "ok", "OK"],
        ],
    )
    assert _problems(path) == {
        ("surveys.form.unsupported_type", "survey", 2, "A"),
        ("surveys.form.unsupported_type", "survey", 3, "A"),
    }


def test_pair_must_join_a_user_and_a_staff_question(tmp_path):
    path = _book(
        tmp_path / "p.xlsx",
        [
            ["type", "name", NB, "respondent", "pair"],
            ["text", "a", "A", "user", "b"],
            ["text", "b", "B", "user", ""],
        ],
    )
    assert _problems(path) == {("surveys.form.pair_respondents", "survey", 2, "E")}


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
    # an empty `parameters` gets pyxform's (and so ODK's) defaults, 1-10
    assert (form.question("a").start, form.question("a").end) == (1.0, 10.0)


def test_missing_survey_sheet_and_unreadable_file(tmp_path):
    book = Workbook()
    book.active.title = "choices"
    book.create_sheet("settings")
    book.save(tmp_path / "x.xlsx")
    with pytest.raises(InvalidFormError) as caught:
        read_form(tmp_path / "x.xlsx")
    assert caught.value.problems[0].key == "surveys.form.missing_sheet"
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(InvalidFormError) as caught:
        read_form(tmp_path / "bad.xlsx")
    assert caught.value.problems[0].key == "surveys.form.unreadable"
