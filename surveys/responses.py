"""Answers: checking one answer against its question, and importing exported responses.

An interviewer types answers in the app, or a service exports them from KoboToolbox or
Nettskjema as CSV/TXT/XLSX (the layouts in :data:`LAYOUTS`; fixtures made by the real
tools are in ``tests/data/kobo`` and ``tests/data/nettskjema``). Both go through
:func:`check_answer`, so a value is stored in one canonical form whatever its source:

* single choice: the choice *name* (a file may hold the name or the label in either language);
* multiple choice: the chosen names separated by one space (the XLSForm convention); a
  file may hold names or labels, joined by spaces, ``;`` or ``,``, or one 0/1 column per
  option;
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
import html
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
    "LAYOUTS",
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
#: Submission-id headers, best first, with the prefix of ``external_id``: KoboToolbox's
#: ``_uuid`` (= ``meta/instanceID`` without ``uuid:``), Nettskjema's ``$submission_id`` (the
#: older export's ``NR``), then others.
_ID_HEADERS: dict[str, str] = {
    "_uuid": "id:",
    "meta/instanceid": "id:",
    "instanceid": "id:",
    "$submission_id": "nettskjema:",
    "nr": "nettskjema:",
    "_id": "id:",
    "svar-id": "id:",
    "response_id": "id:",
}
#: Export metadata of KoboToolbox/ODK and Nettskjema that is not an answer (ignored, as is
#: any header starting with ``_`` or ``$``).
META_COLUMNS: tuple[str, ...] = (
    "formhub/uuid",
    "meta/deprecatedid",
    "meta/rootuuid",
    "meta/instancename",
    "opprettet",
    "endret",
    "svartid",
    "e-post",
    "submission_reference",
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
#: The export layouts :func:`read_responses` reads; a header that fits none gets one message
#: naming them (``surveys.import.unknown_layout``).
LAYOUTS: tuple[str, ...] = (
    "KoboToolbox: XML values or labels, with or without group names (/ or .), "
    "_uuid, _submission_time, _index …",
    "Nettskjema CSV report: $submission_id, $created, $answer_time_ms, checkbox name.option",
    "Nettskjema older export: NR, Opprettet, Endret, Svartid, checkbox name_1 …",
    "plain table: one column per question name, optional respondent and interviewer",
)


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
    # select_multiple: a whole label, labels/names split by ; or , or names or labels
    # joined by spaces (KoboToolbox's label export: «Samtaler Telefon eller video»)
    if _norm(text) in lookup:
        tokens = [text]
    else:
        tokens = [p for p in _SPLIT.split(text) if p]
        if any(_norm(p) not in lookup for p in tokens):
            tokens = _segment(text.split(), lookup) or text.split()
    names = []
    for token in tokens:
        name = lookup.get(_norm(token))
        if name is None:
            raise ValidationError("surveys.answer.unknown_choice", **where)
        if name not in names:
            names.append(name)
    order = [c.name for c in form.choice_list(question)]
    return Answer(question, " ".join(sorted(names, key=order.index)), None)


def _segment(words: list[str], lookup: dict[str, str]) -> list[str] | None:
    """Split space-joined choice names/labels into whole choices (longest label first), or
    None when no split uses only known choices."""
    tail: list[list[str] | None] = [None] * len(words) + [[]]
    for i in range(len(words) - 1, -1, -1):
        for j in range(len(words), i, -1):
            piece = " ".join(words[i:j])
            rest = tail[j]
            if rest is not None and _norm(piece) in lookup:
                tail[i] = [piece, *rest]
                break
    return tail[0]


def check_complete(form: Questionnaire, respondent: str, answers: dict[str, Any]) -> list[str]:
    """Names of required questions for ``respondent`` that have no answer yet (form order).

    Only questions the form asks given these answers count (``relevant``), and a
    ``required`` condition is honoured (:meth:`Questionnaire.missing_required`)."""
    return form.missing_required(respondent, answers)


def _fmt(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


# ------------------------------------------------------------------- import
_TRUE = {"1", "1.0", "true", "sann", "yes", "ja", "x"}
_FALSE = {"", "0", "0.0", "false", "usann", "no", "nei"}
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


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
    first = _QUOTED.sub("", text.splitlines()[0]) if text else ""
    # KoboToolbox writes `;` (or `,`), Nettskjema's report `;`, its older export tabs
    sep = max((";", ",", "\t"), key=first.count) if first else ","
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep)]


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
    """Read an export of ``form``'s responses (CSV, TXT or XLSX) as a user downloads it.

    Layouts (:data:`LAYOUTS`): a KoboToolbox export (XML values or labels in any of the
    form's languages, with or without group names joined by ``/`` or ``.``,
    multiple choice as space-joined values and/or one 0/1 column per option, ``_uuid``
    and other ``_`` metadata); Nettskjema's CSV report (``$submission_id``, ``$created``,
    ``$answer_time_ms``, checkbox columns ``name.option``) and its older export (``NR``,
    ``Opprettet``, ``Endret``, ``Svartid``, checkbox columns ``name_1`` …); or a plain
    table of question names. A ``respondent`` column (``user``/``bruker``,
    ``staff``/``ansatt``) says who answered; else ``respondent=`` for the whole file;
    else each row's group follows from its answers (the default form asks every
    question of one group only). ``external_id`` is the export's submission id
    (``_uuid``, ``$submission_id``/``NR``), so the same submission imported twice, in
    any layout of the same tool, is one response.

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
        table = _read_table(data, suffix)
    except Exception:  # noqa: BLE001 - a broken file is one problem for the user
        raise ImportFileError(label, [ValidationError("surveys.import.unreadable")]) from None
    # keep the row numbers the spreadsheet shows, blank rows skipped
    rows = [(n, r) for n, r in enumerate(table, start=1) if any(str(c).strip() for c in r)]
    if len(rows) < 2:
        raise ImportFileError(label, [ValidationError("surveys.import.empty")])
    if respondent is not None and respondent not in RESPONDENTS:
        raise ValueError(f"respondent must be one of {RESPONDENTS}")
    header_row, raw_header = rows[0]
    header = [str(h).strip() for h in raw_header]
    problems: list[ValidationError] = []
    layout = _match_headers(header, form, problems, header_row)
    if problems:
        raise ImportFileError(label, problems)

    responses, answers = [], []
    for row, raw in rows[1:]:
        cells = [str(c) for c in raw] + [""] * (len(header) - len(raw))
        who = respondent
        if "respondent" in layout.meta:
            who = RESPONDENT_ALIASES.get(_norm(cells[layout.meta["respondent"]]))
            if who is None:
                problems.append(
                    ValidationError(
                        "surveys.import.bad_respondent",
                        row=row,
                        column=header[layout.meta["respondent"]],
                    )
                )
        found = _row_answers(form, layout, header, cells, row, who, problems)
        if who is None and "respondent" not in layout.meta:
            groups = {form.question(a.question).respondent for a in found} - {None}
            if len(groups) == 1:
                who = groups.pop()
            else:
                problems.append(ValidationError("surveys.import.respondent_unknown", row=row))
        interviewer = (
            cells[layout.meta["interviewer"]].strip() if "interviewer" in layout.meta else ""
        )
        responses.append(
            {
                "source_row": row,
                "respondent": who,
                "interviewer": interviewer or None,
                "external_id": _external_id(layout, cells, row),
            }
        )
        answers.extend(
            {
                "source_row": row,
                "question": a.question,
                "value_text": a.text,
                "value_number": a.number,
            }
            for a in found
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
        ignored=tuple(layout.ignored),
    )


@dataclass
class _Layout:
    """What each column of a file holds: ``columns`` index -> question; ``options``
    question -> {index: choice} (one 0/1 column per option); ``meta`` role -> index;
    ``id_column`` (index, prefix) of the submission id; ``ignored`` headers."""

    columns: dict[int, str]
    options: dict[str, dict[int, str]]
    meta: dict[str, int]
    id_column: tuple[int, str] | None
    ignored: list[str]


def _row_answers(
    form: Questionnaire,
    layout: _Layout,
    header: list[str],
    cells: list[str],
    row: int,
    who: str | None,
    problems: list[ValidationError],
) -> list[Answer]:
    found: list[Answer] = []

    def check(question: str, value: Any, column: str) -> None:
        try:
            answer = check_answer(form, question, value, respondent=who, row=row, column=column)
        except ValidationError as exc:
            problems.append(exc)
            return
        if answer is not None:
            found.append(answer)

    for index, question in layout.columns.items():
        check(question, cells[index], header[index])
    for question, columns in layout.options.items():
        chosen: list[str] = []
        ok = True
        for index, choice in columns.items():
            cell = _norm(cells[index])
            if cell in _FALSE:
                continue
            named = _choice_named(form, question, cell)
            if cell in _TRUE or named is not None:
                chosen.append(named or choice)
                continue
            problems.append(
                ValidationError(
                    "surveys.answer.bad_option_cell", field=question, row=row, column=header[index]
                )
            )
            ok = False
        if ok:
            check(question, chosen, header[next(iter(columns))])
    return found


def _choice_named(form: Questionnaire, question: str, text: str) -> str | None:
    """The choice whose name or label is ``text`` (normalised), if any."""
    for choice in form.choice_list(question):
        if text == _norm(choice.name) or text in {_norm(v) for v in choice.labels.values()}:
            return choice.name
    return None


def _external_id(layout: _Layout, cells: list[str], row: int) -> str:
    if layout.id_column is not None:
        index, prefix = layout.id_column
        value = cells[index].strip()
        if value.lower().startswith("uuid:"):
            value = value[5:]
        if value:
            return prefix + value
    digest = hashlib.sha1("\x1f".join([str(row), *cells]).encode()).hexdigest()
    return "row:" + digest[:24]


def _header_keys(form: Questionnaire) -> dict[str, tuple[str, str | None]]:
    """Every header a tool writes for a question (or one option of it), normalised ->
    (question, choice or None): names, labels in each language, with the group's name or
    label before them (``/`` or ``.``), options as ``…/option``, ``….option`` or the
    older Nettskjema ``name_1`` (choice number in form order)."""
    groups = {s.name: s.labels for s in form.sections if s.name}
    keys: dict[str, tuple[str, str | None]] = {}
    bases: dict[str, list[str]] = {}
    for q in form.questions:
        names = [q.name, *q.labels.values()]
        if q.section:
            for sep in ("/", "."):
                names.append(f"{q.section}{sep}{q.name}")
                for lang, text in q.labels.items():
                    group = groups.get(q.section, {}).get(lang)
                    if group:
                        names.append(f"{group}{sep}{text}")
        bases[q.name] = names
        for text in names:
            keys.setdefault(_norm(text), (q.name, None))
    for q in form.questions:
        if q.type != "select_multiple":
            continue
        choices = form.choice_list(q.name)
        for base in bases[q.name]:
            for sep in ("/", "."):
                for c in choices:
                    for text in (c.name, *c.labels.values()):
                        keys.setdefault(_norm(f"{base}{sep}{text}"), (q.name, c.name))
        for number, c in enumerate(choices, start=1):
            keys.setdefault(_norm(f"{q.name}_{number}"), (q.name, c.name))
    return keys


def _match_headers(
    header: list[str], form: Questionnaire, problems: list[ValidationError], header_row: int = 1
) -> _Layout:
    """Which question, option or metadata each column holds (see :class:`_Layout`)."""
    keys = _header_keys(form)
    layout = _Layout({}, {}, {}, None, [])
    unknown: list[ValidationError] = []
    seen: set[tuple[str, str | None]] = set()
    id_rank = len(_ID_HEADERS)
    for index, head in enumerate(header):
        key = _norm(html.unescape(head))
        target = keys.get(key)
        if target is None:
            parts = [p for p in re.split(r"[/.]", key) if p]
            if parts and form.has(parts[-1]):
                target = (parts[-1], None)
            elif (
                len(parts) >= 2
                and form.has(parts[-2])
                and form.question(parts[-2]).type == "select_multiple"
            ):
                target = (parts[-2], _choice_named(form, parts[-2], parts[-1]))
                if target[1] is None:
                    target = None
        if target is not None:
            if target in seen:
                problems.append(
                    ValidationError(
                        "surveys.import.duplicate_column",
                        row=header_row,
                        column=head,
                        field=target[0],
                    )
                )
                continue
            seen.add(target)
            question, choice = target
            if choice is None:
                layout.columns[index] = question
            else:
                layout.options.setdefault(question, {})[index] = choice
        elif key in _RESPONDENT_HEADERS:
            layout.meta["respondent"] = index
        elif key in _INTERVIEWER_HEADERS:
            layout.meta["interviewer"] = index
        elif key in _ID_HEADERS:
            rank = list(_ID_HEADERS).index(key)
            if rank < id_rank:
                id_rank = rank
                layout.id_column = (index, _ID_HEADERS[key])
            layout.ignored.append(head)
        elif key.startswith(("_", "$")) or key in META_COLUMNS or key == "":
            layout.ignored.append(head)
        else:
            unknown.append(
                ValidationError(
                    "surveys.import.unknown_column",
                    row=header_row,
                    column=head or _column_letter(index),
                )
            )
    # a multiple-choice question with one column per option: those columns are the answer
    for index, question in list(layout.columns.items()):
        if question in layout.options:
            del layout.columns[index]
            layout.ignored.append(header[index])
    if not layout.columns and not layout.options:
        # nothing matches: one message naming the layouts that were expected
        problems.append(ValidationError("surveys.import.unknown_layout", row=header_row))
    else:
        problems.extend(unknown)
    return layout
