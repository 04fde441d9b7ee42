"""Write the constructed forms of this corpus (``kor_*.xlsx``); see README.md.

Each form exercises XLSForm constructs the workbench must load (or refuse) and is
converted by pyxform in tests/test_surveys_forms.py. Regenerate with::

    .venv/bin/python tests/data/xlsform/build_forms.py
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent
NB, EN = "label::Norsk bokmål (nb)", "label::English (en)"

FORMS: dict[str, dict[str, list[list[object]]]] = {
    # Canonical `list name` header, `select one from` / `select all that apply` aliases,
    # metadata rows, nested groups, or_other, relevant/required/constraint, pairs.
    "kor_constructs.xlsx": {
        "survey": [
            [
                "type",
                "name",
                NB,
                EN,
                "required",
                "relevant",
                "constraint",
                "constraint_message::Norsk bokmål (nb)",
                "constraint_message::English (en)",
                "respondent",
                "pair",
                "parameters",
                "calculation",
            ],
            ["start", "start"],
            ["end", "end"],
            ["today", "today"],
            ["deviceid", "deviceid"],
            ["audit", "audit"],
            ["begin group", "tilgang", "Tilgang", "Access"],
            [
                "select one from jn",
                "u_used",
                "Har du brukt tjenesten?",
                "Used it?",
                "yes",
                "",
                "",
                "",
                "",
                "user",
                "s_used",
            ],
            [
                "select one from jn",
                "s_used",
                "Har brukeren brukt tjenesten?",
                "Has the user?",
                "yes",
                "",
                "",
                "",
                "",
                "staff",
            ],
            ["begin group", "detaljer", "Detaljer", "Details", "", "${u_used} = 'ja'"],
            [
                "select all that apply hjelp or_other",
                "u_help",
                "Hvilken hjelp?",
                "Which help?",
                "",
                "",
                "",
                "",
                "",
                "user",
            ],
            [
                "integer",
                "u_visits",
                "Antall besøk",
                "Visits",
                "${u_used} = 'ja'",
                "",
                ". >= 0 and . <= 100",
                "Mellom 0 og 100",
                "Between 0 and 100",
                "user",
            ],
            ["end group"],
            [
                "range",
                "u_score",
                "Hvor fornøyd?",
                "How satisfied?",
                "no",
                "not(selected(${u_help}, 'annet'))",
                ". != 5",
                "Ikke 5",
                "Not 5",
                "user",
                "",
                "start=0 end=10 step=1",
            ],
            ["end group"],
            ["text", "comment", "Kommentar", "Comment", "", "${u_score} >= 7 or ${u_score} < 3"],
            ["calculate", "__version__", "", "", "", "", "", "", "", "", "", "", "'v3'"],
        ],
        "choices": [
            ["list name", "name", NB, EN],
            ["jn", "ja", "Ja", "Yes"],
            ["jn", "nei", "Nei", "No"],
            ["hjelp", "samtale", "Samtale", "Conversation"],
            ["hjelp", "annet", "Noe annet", "Something else"],
        ],
        "settings": [
            ["form_id", "version", "form_title", "kor_title::English (en)", "default_language"],
            ["kor_constructs", "3", "Konstruksjoner", "Constructs", "Norsk bokmål (nb)"],
        ],
    },
    # Label spellings pyxform accepts (label::nb, plain label as the default language),
    # list_name header, allow_choice_duplicates.
    "kor_label_spellings.xlsx": {
        "survey": [
            ["type", "name", "label::nb", "label::en", "hint::nb"],
            ["select_one svar", "q1", "Spørsmål", "Question", "Velg ett"],
            ["text", "q2", "Fritekst", "Free text", ""],
        ],
        "choices": [
            ["list_name", "name", "label::nb", "label::en"],
            ["svar", "1", "Ja", "Yes"],
            ["svar", "1", "Ja (igjen)", "Yes (again)"],
        ],
        "settings": [["allow_choice_duplicates", "form_title"], ["yes", "Stavemåter"]],
    },
    # `label:nb` with one colon: pyxform 4 passes it through as an unknown column (the
    # XForm gets only the English label); the workbench reads it as bokmål.
    "kor_label_single_colon.xlsx": {
        "survey": [
            ["type", "name", "label:nb", "label::English (en)"],
            ["text", "q1", "Hva var best?", "What was best?"],
        ],
    },
    # A choices sheet with only its header.
    "kor_empty_choices.xlsx": {
        "survey": [["type", "name", "label"], ["text", "q1", "Hva tenker du?"]],
        "choices": [["list_name", "name", "label"]],
    },
    # The layout of a KoboToolbox «Download XLS»: what kpi/mixins/xls_exportable.py
    # (to_xlsx_io(versioned=True)) writes — Kobo's default start/end rows, labels as
    # label::English (en), required true/false, a closing `calculate __version__` row
    # with the version id quoted, and `version` + `form_title` in settings.
    "kor_kobo_download_layout.xlsx": {
        "survey": [
            [
                "type",
                "name",
                "label::English (en)",
                "label::Norsk bokmål (nb)",
                "required",
                "calculation",
            ],
            ["start", "start", "", "", "", ""],
            ["end", "end", "", "", "", ""],
            ["select_one yn", "satisfied", "Satisfied?", "Fornøyd?", "true", ""],
            ["text", "why", "Why?", "Hvorfor?", "false", ""],
            ["calculate", "__version__", "", "", "", "'vHcTGQGhxK4LrVYMsGUrLR'"],
        ],
        "choices": [
            ["list_name", "name", "label::English (en)", "label::Norsk bokmål (nb)"],
            ["yn", "yes", "Yes", "Ja"],
            ["yn", "no", "No", "Nei"],
        ],
        "settings": [["version", "form_title"], ["3 (2026-11-30 10:12:04)", "BSB pilot"]],
    },
    # Logic beyond the interview's expression language: refused, every cell named.
    "kor_refused_logic.xlsx": {
        "survey": [
            ["type", "name", "label", "relevant", "constraint", "calculation"],
            ["integer", "age", "Alder", "", "regex(., '[0-9]+')", ""],
            ["text", "name2", "Navn", "${age} + 1 > 3", "", ""],
            ["calculate", "double", "", "", "", "${age} * 2"],
            ["begin repeat", "kids", "Barn", "", "", ""],
            ["text", "kid", "Barn", "", "", ""],
            ["end repeat", "", "", "", "", ""],
        ],
    },
}


def write_all(folder: Path = HERE) -> list[Path]:
    """Write every constructed form; returns their paths."""
    out = []
    for filename, sheets in FORMS.items():
        book = Workbook()
        book.remove(book.active)
        for title, rows in sheets.items():
            ws = book.create_sheet(title)
            for row in rows:
                ws.append(row)
        book.save(folder / filename)
        out.append(folder / filename)
    return out


if __name__ == "__main__":  # pragma: no cover
    for path in write_all():
        print(path)
