"""Build the default questionnaire's XLSForm workbook from its source, ``default_form.toml``.

The wording is data (the TOML file); the workbook is what services open in Excel or
upload to KoboToolbox or ODK unchanged: it is a valid XLSForm (pyxform converts it; the
title is in bokmål in ``form_title``, its translations in the workbench's own
``kor_title::<language>`` columns, which pyxform passes over, because pyxform cannot
translate ``form_title``). Regenerate after editing the TOML::

    python -m surveys.default_workbook        # writes surveys/default_form.xlsx
    python -m surveys.default_workbook OUT.xlsx
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["SOURCE", "LANGUAGE_COLUMNS", "form_rows", "write_default_form"]

SOURCE = Path(__file__).with_name("default_form.toml")
#: XLSForm label/hint columns per language, as KoboToolbox names them.
LANGUAGE_COLUMNS = {"nb": "Norsk bokmål (nb)", "en": "English (en)"}
SURVEY_HEADER = (
    "type",
    "name",
    *(f"label::{v}" for v in LANGUAGE_COLUMNS.values()),
    "required",
    "respondent",
    "pair",
    "parameters",
)


def _labels(texts: dict[str, str]) -> list[str]:
    return [texts.get(lang, "") for lang in LANGUAGE_COLUMNS]


def form_rows(source: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """The three sheets (``survey``, ``choices``, ``settings``) as rows, header first."""
    survey: list[list[Any]] = [list(SURVEY_HEADER)]
    for section in source["sections"]:
        survey.append(["begin_group", section["name"], *_labels(section["label"]), "", "", "", ""])
        for note in section.get("notes", []):
            survey.append(
                ["note", note["name"], *_labels(note["label"]), "", note["respondent"], "", ""]
            )
        for item in section.get("items", []):
            required = "yes" if item.get("required", True) else "no"
            for prefix, respondent, other in (("u", "user", "s"), ("s", "staff", "u")):
                survey.append(
                    [
                        item["type"],
                        f"{prefix}_{item['key']}",
                        *_labels(item[respondent]),
                        required,
                        respondent,
                        f"{other}_{item['key']}",
                        item.get("parameters", ""),
                    ]
                )
        survey.append(["end_group", "", "", "", "", "", "", ""])
    choices: list[list[Any]] = [
        ["list_name", "name", *(f"label::{v}" for v in LANGUAGE_COLUMNS.values())]
    ]
    for list_name, options in source["choices"].items():
        for option in options:
            choices.append([list_name, option["name"], *_labels(option["label"])])
    settings = source["settings"]
    return {
        "survey": survey,
        "choices": choices,
        "settings": [
            [
                "form_id",
                "version",
                "form_title",
                *(f"kor_title::{v}" for k, v in LANGUAGE_COLUMNS.items() if k != "nb"),
                "default_language",
            ],
            [
                settings["form_id"],
                settings["version"],
                settings["title"]["nb"],
                *(settings["title"].get(k, "") for k in LANGUAGE_COLUMNS if k != "nb"),
                LANGUAGE_COLUMNS["nb"],
            ],
        ],
    }


def write_default_form(path: str | Path | None = None, *, source: Path = SOURCE) -> Path:
    """Write the XLSForm workbook built from ``source``; returns its path."""
    from openpyxl import Workbook

    out = Path(path) if path else Path(__file__).with_name("default_form.xlsx")
    sheets = form_rows(tomllib.loads(source.read_text(encoding="utf-8")))
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A2"
    book.properties.creator = "KOR workbench"
    book.save(out)
    return out


if __name__ == "__main__":  # pragma: no cover
    print(write_default_form(sys.argv[1] if len(sys.argv) > 1 else None))
