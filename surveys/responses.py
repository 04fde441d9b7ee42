"""Answers: checking one answer against its question, and importing exported responses.

An interviewer types answers in the app, or a service exports them from KoboToolbox or
a Nettskjema-like tool as CSV/XLSX. Both go through :func:`check_answer`, so a value is
stored in one canonical form whatever its source:

* single choice: the choice *name* (a file may hold the name or the label in either language);
* multiple choice: the chosen names separated by one space (the XLSForm convention);
* range/integer: the number;
* free text: the text, stored apart as a comment that is *not approved* for any export.

:func:`read_responses` checks every cell and raises one :class:`~kor.errors.ImportFileError`
listing every problem (row and column as the spreadsheet shows them); nothing is stored
unless the whole file is good. Messages never carry the cell's text (free text can
identify people): only positions and the kind of problem.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kor.errors import ImportFileError, ValidationError
from surveys.forms import RESPONDENTS, Questionnaire

__all__ = [
    "RESPONDENT_ALIASES",
    "META_COLUMNS",
    "ANSWER_COLUMNS",
    "Answer",
    "ImportedResponses",
    "check_answer",
    "check_complete",
    "read_responses",
]

#: Accepted spellings of the respondent groups in files.
RESPONDENT_ALIASES: dict[str, str] = {
    "user": "user",
    "bruker": "user",
    "brukar": "user",
    "brukere": "user",
    "staff": "staff",
    "ansatt": "staff",
    "ansatte": "staff",
    "tilsett": "staff",
    "employee": "staff",
}
_RESPONDENT_HEADERS = ("respondent", "respondent_type", "respondenttype", "gruppe", "rolle")
_INTERVIEWER_HEADERS = ("interviewer", "intervjuer", "intervjuar")
_ID_HEADERS = ("_uuid", "meta/instanceid", "instanceid", "_id", "svar-id", "response_id")
#: Export metadata of KoboToolbox/ODK and Nettskjema that is not an answer (ignored).
META_COLUMNS: tuple[str, ...] = (
    "start",
    "end",
    "today",
    "deviceid",
    "username",
    "simserial",
    "subscriberid",
    "phonenumber",
    "audit",
    "__version__",
    "meta/instanceid",
    "instanceid",
    "innsendt",
    "innsendingsdato",
    "levert",
    "svar-id",
    "skjema-id",
    "response_id",
    "submitted",
)
#: Columns of :attr:`ImportedResponses.answers`.
ANSWER_COLUMNS: tuple[str, ...] = ("source_row", "question", "value_text", "value_number")
_SPLIT = re.compile(r"\s*[;,]\s*")


@dataclass(frozen=True)
class Answer:
    """An answer in canonical form; ``is_text`` marks free text (stored as a comment)."""

    question: str
    text: str | None
    number: float | None
    is_text: bool = False


@dataclass(frozen=True)
class ImportedResponses:
    """A checked file: one row per response in ``responses`` (``source_row``, ``respondent``,
    ``interviewer``, ``external_id``) and its answers in ``answers`` (:data:`ANSWER_COLUMNS`).
    ``ignored`` lists metadata columns that were skipped."""

    responses: pd.DataFrame
    answers: pd.DataFrame
    ignored: tuple[str, ...]


def _norm(text: object) -> str:
    return " ".join(str(text).strip().lower().split())


def check_answer(
    form: Questionnaire,
    question: str,
    value: Any,
    *,
    respondent: str | None = None,
    row: int | None = None,
    column: str | None = None,
) -> Answer | None:
    """The canonical :class:`Answer` for ``value``, or None when the answer is empty.

    Raises :class:`~kor.errors.ValidationError` (with ``row``/``column`` when given) when the
    value does not fit the question, or the question is not asked of ``respondent``.
    """
    if not form.has(question):
        raise ValidationError(
            "surveys.answer.unknown_question", field=question, row=row, column=column
        )
    q = form.question(question)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            return None
        value = " ".join(str(v) for v in value)
    text = str(value).strip()
    if text == "" or q.type == "note":
        return None
    if respondent is not None and not q.asked_of(respondent):
        raise ValidationError(
            "surveys.answer.not_asked",
            field=question,
            row=row,
            column=column,
            respondent=respondent,
        )
    where = {"field": question, "row": row, "column": column}
    if q.type == "text":
        return Answer(question, text, None, is_text=True)
    if q.type in ("range", "integer"):
        try:
            number = float(text.replace(",", ".").replace("\u2212", "-"))
        except ValueError:
            raise ValidationError("surveys.answer.not_a_number", **where) from None
        low = q.start if q.type == "range" else None
        high = q.end if q.type == "range" else None
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValidationError(
                "surveys.answer.out_of_range", **where, low=_fmt(low), high=_fmt(high)
            )
        step = q.step if q.type == "range" else 1.0
        base = low if low is not None else 0.0
        if step and abs((number - base) / step - round((number - base) / step)) > 1e-9:
            raise ValidationError("surveys.answer.not_on_step", **where, step=_fmt(step))
        return Answer(question, _fmt(number), number)
    lookup: dict[str, str] = {}
    for choice in form.choice_list(question):
        lookup[_norm(choice.name)] = choice.name
        for label in choice.labels.values():
            lookup.setdefault(_norm(label), choice.name)
    if q.type == "select_one":
        name = lookup.get(_norm(text))
        if name is None:
            raise ValidationError("surveys.answer.unknown_choice", **where)
        choice = next(c for c in form.choice_list(question) if c.name == name)
        return Answer(question, name, choice.score)
    # select_multiple: a whole label, labels/names split by ; or , or names split by spaces
    if _norm(text) in lookup:
        tokens = [text]
    else:
        tokens = [p for p in _SPLIT.split(text) if p]
        if any(_norm(p) not in lookup for p in tokens):
            tokens = text.split()
    names = []
    for token in tokens:
        name = lookup.get(_norm(token))
        if name is None:
            raise ValidationError("surveys.answer.unknown_choice", **where)
        if name not in names:
            names.append(name)
    order = [c.name for c in form.choice_list(question)]
    return Answer(question, " ".join(sorted(names, key=order.index)), None)


def check_complete(form: Questionnaire, respondent: str, answers: dict[str, Any]) -> list[str]:
    """Names of required questions for ``respondent`` that have no answer yet (form order)."""
    return [
        q.name
        for q in form.for_respondent(respondent)
        if q.required and q.type != "note" and answers.get(q.name) in (None, "", [], ())
    ]


def _fmt(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


# ------------------------------------------------------------------- import
def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_table(data: bytes, suffix: str) -> list[list[str]]:
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = book.worksheets[0]
        rows = [
            ["" if v is None else _cell_text(v) for v in row]
            for row in ws.iter_rows(values_only=True)
        ]
        book.close()
        return rows
    text = _decode(data)
    first = text.splitlines()[0] if text else ""
    sep = max((";", ",", "\t"), key=first.count) if first else ","
    return [list(r) for r in csv.reader(io.StringIO(text), delimiter=sep)]


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def read_responses(
    source: str | Path | bytes,
    form: Questionnaire,
    *,
    name: str | None = None,
    respondent: str | None = None,
) -> ImportedResponses:
    """Read a KoboToolbox/Nettskjema-like export (CSV or XLSX) of ``form``'s responses.

    Headers are question names (a Kobo group path such as ``tilgang/u_heard`` is fine) or
    question labels in either language. A ``respondent`` column (``user``/``bruker``,
    ``staff``/``ansatt``) says who answered; a file of one group may instead pass
    ``respondent=``. An ``interviewer`` column is optional. Kobo's per-option 0/1 columns
    of multiple-choice questions and export metadata (``start``, ``_uuid``, …) are skipped.

    Raises :class:`~kor.errors.ImportFileError` listing every problem; nothing is returned
    half-checked.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        label = name or path.name
        try:
            data = path.read_bytes()
        except OSError:
            raise ImportFileError(label, [ValidationError("surveys.import.unreadable")]) from None
        suffix = path.suffix.lower()
    else:
        label = name or "responses.csv"
        data = bytes(source)
        suffix = Path(label).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt"):
        raise ImportFileError(label, [ValidationError("surveys.import.bad_suffix", suffix=suffix)])
    try:
        rows = _read_table(data, suffix)
    except Exception:  # noqa: BLE001 - a broken file is one problem for the user
        raise ImportFileError(label, [ValidationError("surveys.import.unreadable")]) from None
    rows = [r for r in rows if any(str(c).strip() for c in r)]
    if len(rows) < 2:
        raise ImportFileError(label, [ValidationError("surveys.import.empty")])
    if respondent is not None and respondent not in RESPONDENTS:
        raise ValueError(f"respondent must be one of {RESPONDENTS}")
    header = [str(h).strip() for h in rows[0]]
    problems: list[ValidationError] = []
    columns, meta, ignored = _match_headers(header, form, problems)
    if "respondent" not in meta and respondent is None:
        problems.append(ValidationError("surveys.import.no_respondent_column", row=1))
    if problems:
        raise ImportFileError(label, problems)

    responses, answers = [], []
    for offset, cells in enumerate(rows[1:]):
        row = offset + 2
        cells = list(cells) + [""] * (len(header) - len(cells))
        who = respondent
        if "respondent" in meta:
            raw = _norm(cells[meta["respondent"]])
            who = RESPONDENT_ALIASES.get(raw)
            if who is None:
                problems.append(
                    ValidationError(
                        "surveys.import.bad_respondent", row=row, column=header[meta["respondent"]]
                    )
                )
        interviewer = cells[meta["interviewer"]].strip() if "interviewer" in meta else ""
        if "id" in meta and cells[meta["id"]].strip():
            external = "id:" + cells[meta["id"]].strip()
        else:
            digest = hashlib.sha1("\x1f".join([str(row), *map(str, cells)]).encode()).hexdigest()
            external = "row:" + digest[:24]
        responses.append(
            {
                "source_row": row,
                "respondent": who,
                "interviewer": interviewer or None,
                "external_id": external,
            }
        )
        for index, question in columns.items():
            try:
                answer = check_answer(
                    form, question, cells[index], respondent=who, row=row, column=header[index]
                )
            except ValidationError as exc:
                problems.append(exc)
                continue
            if answer is not None:
                answers.append(
                    {
                        "source_row": row,
                        "question": question,
                        "value_text": answer.text,
                        "value_number": answer.number,
                    }
                )
    if problems:
        problems.sort(
            key=lambda p: (p.row or 0, header.index(p.column) if p.column in header else -1)
        )
        raise ImportFileError(label, problems)
    return ImportedResponses(
        responses=pd.DataFrame(
            responses, columns=["source_row", "respondent", "interviewer", "external_id"]
        ),
        answers=pd.DataFrame(answers, columns=list(ANSWER_COLUMNS)),
        ignored=tuple(ignored),
    )


def _match_headers(
    header: list[str], form: Questionnaire, problems: list[ValidationError]
) -> tuple[dict[int, str], dict[str, int], list[str]]:
    """Column index -> question name; metadata role -> index; ignored headers."""
    by_label: dict[str, str] = {}
    for q in form.questions:
        for text in q.labels.values():
            by_label.setdefault(_norm(text), q.name)
    columns: dict[int, str] = {}
    meta: dict[str, int] = {}
    ignored: list[str] = []
    seen: dict[str, int] = {}
    for index, head in enumerate(header):
        key = _norm(head)
        parts = [p for p in head.strip().split("/") if p]
        last = parts[-1] if parts else ""
        question = None
        if form.has(last):
            question = last
        elif key in by_label:
            question = by_label[key]
        elif (
            len(parts) >= 2
            and form.has(parts[-2])
            and form.question(parts[-2]).type == "select_multiple"
        ):
            ignored.append(head)  # Kobo's separate 0/1 column per option
            continue
        if question is not None:
            if question in seen:
                problems.append(
                    ValidationError(
                        "surveys.import.duplicate_column", row=1, column=head, field=question
                    )
                )
                continue
            seen[question] = index
            columns[index] = question
        elif key in _RESPONDENT_HEADERS:
            meta["respondent"] = index
        elif key in _INTERVIEWER_HEADERS:
            meta["interviewer"] = index
        elif key in _ID_HEADERS:
            meta.setdefault("id", index)
            ignored.append(head)
        elif key.startswith("_") or key in META_COLUMNS or key == "":
            ignored.append(head)
        else:
            problems.append(
                ValidationError(
                    "surveys.import.unknown_column", row=1, column=head or _column_letter(index)
                )
            )
    if not columns:
        problems.append(ValidationError("surveys.import.no_questions", row=1))
    return columns, meta, ignored
