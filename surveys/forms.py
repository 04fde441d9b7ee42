"""Questionnaire definitions as data: a documented subset of XLSForm (ODK, KoboToolbox).

Services may already have their forms in KoboToolbox; reading the same workbook means
they do not type a form twice. The subset a «Bruker spør bruker» interview needs:

* sheets ``survey``, ``choices`` and (optional) ``settings``;
* ``survey`` columns: ``type``, ``name``, ``label::Norsk bokmål (nb)`` /
  ``label::English (en)`` (or ``label::nb``; a plain ``label`` counts as bokmål),
  ``hint::…``, ``required``, ``respondent`` (``user`` | ``staff`` | empty = both) and
  ``pair`` (the name of the counterpart question asked of the other group);
* types ``select_one LIST``, ``select_multiple LIST``, ``range`` (``parameters`` such as
  ``start=0 end=10 step=1``; default 0-10), ``integer``, ``text``, ``note``,
  ``begin_group``/``end_group`` (a group is one section of the interview);
* ``choices`` columns ``list_name``, ``name``, labels as above. A choice whose name is a
  number is scored with that number; any other choice (``vet_ikke``, ``ikke_aktuelt``) is
  counted but never scored.

XPath columns (``relevant``, ``constraint``, ``calculation``, ``choice_filter``,
``repeat_count``) are not evaluated by the workbench, so a form using them is refused
with a message naming the sheet, row and column rather than run with its logic ignored.
:func:`read_form` checks everything and raises one :class:`InvalidFormError` listing
*every* problem, like :func:`kor.io.read_sessions` does for session files.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kor.errors import FormError, ImportFileError
from kor.i18n import get_language

__all__ = [
    "RESPONDENTS",
    "SUPPORTED_TYPES",
    "UNSUPPORTED_COLUMNS",
    "Choice",
    "Question",
    "Section",
    "Questionnaire",
    "InvalidFormError",
    "read_form",
    "default_form",
    "DEFAULT_FORM_PATH",
]

#: Respondent groups: users of the service and its staff.
RESPONDENTS: tuple[str, ...] = ("user", "staff")
SUPPORTED_TYPES: tuple[str, ...] = (
    "select_one",
    "select_multiple",
    "range",
    "integer",
    "text",
    "note",
    "begin_group",
    "end_group",
)
#: XLSForm columns holding XPath expressions the workbench does not evaluate.
UNSUPPORTED_COLUMNS: tuple[str, ...] = (
    "relevant",
    "constraint",
    "calculation",
    "choice_filter",
    "repeat_count",
)
DEFAULT_FORM_PATH = Path(__file__).with_name("default_form.xlsx")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_LANG = re.compile(r"\(([a-z]{2})\)\s*$")
_YES = {"yes", "true", "1", "ja", "true()"}
_NO = {"", "no", "false", "0", "nei", "false()"}


class InvalidFormError(ImportFileError):
    """A form workbook has problems; ``problems`` are :class:`~kor.errors.FormError` with
    ``row``/``column`` and a ``sheet`` parameter."""


@dataclass(frozen=True)
class Choice:
    """One answer option; ``score`` is None for «vet ikke»/«ikke aktuelt»-type options."""

    name: str
    labels: dict[str, str]
    score: float | None

    def label(self, language: str | None = None) -> str:
        return _pick(self.labels, language) or self.name


@dataclass(frozen=True)
class Question:
    """One question (or note) of the form.

    type: one of :data:`SUPPORTED_TYPES` except the group markers.
    respondent: ``"user"``, ``"staff"`` or None (asked of both).
    pair: the counterpart question of the other respondent group, or None.
    section: the name of the enclosing group ("" outside any group).
    start/end/step: the scale of a ``range`` question.
    """

    name: str
    type: str
    labels: dict[str, str]
    hints: dict[str, str] = field(default_factory=dict)
    list_name: str | None = None
    required: bool = False
    respondent: str | None = None
    pair: str | None = None
    section: str = ""
    start: float | None = None
    end: float | None = None
    step: float | None = None
    row: int = 0

    def label(self, language: str | None = None) -> str:
        return _pick(self.labels, language) or self.name

    def hint(self, language: str | None = None) -> str:
        return _pick(self.hints, language)

    def asked_of(self, respondent: str) -> bool:
        return self.respondent in (None, respondent)


@dataclass(frozen=True)
class Section:
    """A group of the form: one page of the interview."""

    name: str
    labels: dict[str, str]
    questions: tuple[str, ...]

    def label(self, language: str | None = None) -> str:
        return _pick(self.labels, language) or self.name


@dataclass(frozen=True)
class Questionnaire:
    """A validated form: questions in order, sections, choice lists, settings.

    Built by :func:`read_form` (or :func:`default_form`), never by hand: reading
    checks the supported XLSForm subset (module docstring). Attributes: ``form_id``
    and ``version`` (the ``settings`` sheet), ``titles`` (language -> title),
    ``questions`` (:class:`Question`, form order), ``sections`` (one per group, the
    themes comments are coded to), ``choices`` (list name -> :class:`Choice`; a choice
    whose name is a number scores that number, e.g. 1-5 on a Likert item, and
    «vet ikke»/«ikke aktuelt» score nothing). Serialise with :meth:`to_json` /
    :meth:`from_json`.

    References: XLSForm specification, https://xlsform.org (the subset used by
    KoboToolbox and ODK).

    >>> form = default_form()
    >>> form.pairs()[0], form.is_likert("u_heard")
    (('u_access_speed', 's_access_speed'), True)
    """

    form_id: str
    version: str
    titles: dict[str, str]
    questions: tuple[Question, ...]
    sections: tuple[Section, ...]
    choices: dict[str, tuple[Choice, ...]]

    # ---------------------------------------------------------------- lookups
    def title(self, language: str | None = None) -> str:
        return _pick(self.titles, language) or self.form_id

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(q.name == name for q in self.questions)

    def choice_list(self, name: str) -> tuple[Choice, ...]:
        q = self.question(name)
        return self.choices.get(q.list_name or "", ())

    def for_respondent(self, respondent: str) -> tuple[Question, ...]:
        """The questions (and notes) asked of ``respondent``, in form order."""
        return tuple(q for q in self.questions if q.asked_of(respondent))

    def sections_for(self, respondent: str) -> tuple[Section, ...]:
        """Sections with at least one question or note for ``respondent``."""
        out = []
        for s in self.sections:
            names = tuple(n for n in s.questions if self.question(n).asked_of(respondent))
            if names:
                out.append(Section(s.name, s.labels, names))
        return tuple(out)

    def is_scored(self, name: str) -> bool:
        """Ordinal/numeric questions: Likert-type single choice with numeric choices, range,
        integer."""
        q = self.question(name)
        if q.type in ("range", "integer"):
            return True
        return q.type == "select_one" and any(c.score is not None for c in self.choice_list(name))

    def is_likert(self, name: str) -> bool:
        q = self.question(name)
        return q.type == "select_one" and self.is_scored(name)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(user question, staff question) for every pair, in form order."""
        out = []
        for q in self.questions:
            if q.respondent == "user" and q.pair:
                out.append((q.name, q.pair))
        return tuple(out)

    def themes(self) -> dict[str, dict[str, str]]:
        """Section name -> labels; the default themes comments are coded to."""
        return {s.name: s.labels for s in self.sections if s.name}

    # ---------------------------------------------------------- serialisation
    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Questionnaire:
        data = json.loads(text)
        return cls(
            form_id=data["form_id"],
            version=data["version"],
            titles=data["titles"],
            questions=tuple(Question(**q) for q in data["questions"]),
            sections=tuple(
                Section(s["name"], s["labels"], tuple(s["questions"])) for s in data["sections"]
            ),
            choices={k: tuple(Choice(**c) for c in v) for k, v in data["choices"].items()},
        )


def _pick(labels: dict[str, str], language: str | None) -> str:
    lang = language or get_language()
    return labels.get(lang) or labels.get("nb") or next(iter(labels.values()), "")


# ------------------------------------------------------------------ reading
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Sheet:
    """One worksheet as header -> column letter, and rows as dicts keyed by header."""

    def __init__(self, title: str, rows: list[tuple[object, ...]]) -> None:
        from openpyxl.utils import get_column_letter

        self.title = title
        header = [_cell(v).lower() for v in rows[0]] if rows else []
        self.columns = {h: get_column_letter(i + 1) for i, h in enumerate(header) if h}
        self.header = header
        self.rows: list[tuple[int, dict[str, str]]] = []
        for number, row in enumerate(rows[1:], start=2):
            cells = {h: _cell(v) for h, v in zip(header, row, strict=False) if h}
            if any(cells.values()):
                self.rows.append((number, cells))

    def letter(self, column: str) -> str:
        return self.columns.get(column, column)


def _languages(sheet: _Sheet, prefix: str) -> dict[str, str]:
    """Header -> language code for ``label``/``hint`` columns."""
    out = {}
    for h in sheet.header:
        if h == prefix:
            out[h] = "nb"
        elif h.startswith(prefix + "::"):
            tail = h.split("::", 1)[1].strip()
            match = _LANG.search(tail)
            code = match.group(1) if match else tail[:2]
            if code in ("no", "nn"):
                code = "nb" if code == "no" else code
            out[h] = code
    return out


def _texts(cells: dict[str, str], languages: dict[str, str]) -> dict[str, str]:
    return {lang: cells[h] for h, lang in languages.items() if cells.get(h)}


def _parameters(text: str) -> dict[str, float] | None:
    out: dict[str, float] = {}
    for part in text.replace(";", " ").replace(",", " ").split():
        if "=" not in part:
            return None
        key, value = part.split("=", 1)
        try:
            out[key.strip().lower()] = float(value)
        except ValueError:
            return None
    return out


def read_form(source: str | Path | bytes | io.BytesIO, *, name: str | None = None) -> Questionnaire:
    """Read and validate an XLSForm workbook (the supported subset, see the module docstring).

    source: a path, or the workbook's bytes (an upload). Raises :class:`InvalidFormError`
    with every problem found (each a :class:`~kor.errors.FormError` with ``row``, ``column``
    and ``sheet``).

    >>> read_form(DEFAULT_FORM_PATH).pairs()[0]
    ('u_access_speed', 's_access_speed')
    """
    from openpyxl import load_workbook

    label = name or (Path(source).name if isinstance(source, (str, Path)) else "form.xlsx")
    if isinstance(source, (str, Path)):
        data: Any = source
    else:
        data = io.BytesIO(source.getvalue() if isinstance(source, io.BytesIO) else bytes(source))
    try:
        book = load_workbook(data, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable workbook is one problem for the user
        raise InvalidFormError(label, [FormError("surveys.form.unreadable", sheet="-")]) from None
    sheets = {
        ws.title.strip().lower(): _Sheet(ws.title, list(ws.iter_rows(values_only=True)))
        for ws in book.worksheets
    }
    book.close()
    problems: list[FormError] = []
    form = _build(sheets, problems)
    if problems or form is None:
        raise InvalidFormError(label, problems)
    return form


def _build(sheets: dict[str, _Sheet], problems: list[FormError]) -> Questionnaire | None:
    def problem(
        key: str,
        sheet: _Sheet | str,
        row: int | None = None,
        column: str | None = None,
        **params: object,
    ) -> None:
        title = sheet.title if isinstance(sheet, _Sheet) else sheet
        col = sheet.letter(column) if isinstance(sheet, _Sheet) and column else column
        problems.append(FormError(key, row=row, column=col, sheet=title, **params))

    survey = sheets.get("survey")
    if survey is None:
        problem("surveys.form.missing_sheet", "survey", what="survey")
        return None
    for col in ("type", "name"):
        if col not in survey.columns:
            problem("surveys.form.missing_column", survey, 1, None, what=col)
    if problems:
        return None
    label_langs = _languages(survey, "label")
    hint_langs = _languages(survey, "hint")
    if "nb" not in label_langs.values():
        problem("surveys.form.missing_column", survey, 1, None, what="label::Norsk bokmål (nb)")

    choices = _read_choices(sheets.get("choices"), problem)
    settings = sheets.get("settings")
    form_id, version, titles = "form", "1", {}
    if settings is not None and settings.rows:
        cells = settings.rows[0][1]
        form_id = cells.get("form_id") or form_id
        version = cells.get("version") or version
        titles = _texts(cells, _languages(settings, "form_title")) or {}

    questions: list[Question] = []
    sections: list[Section] = []
    open_group: tuple[str, dict[str, str], int, list[str]] | None = None
    seen: dict[str, int] = {}
    for row, cells in survey.rows:
        for col in UNSUPPORTED_COLUMNS:
            if cells.get(col):
                problem("surveys.form.unsupported_column", survey, row, col, what=col)
        raw_type = cells.get("type", "")
        name = cells.get("name", "")
        parts = raw_type.split()
        kind = parts[0].lower().replace(" ", "_") if parts else ""
        if raw_type.lower() in ("begin group", "end group"):
            kind = raw_type.lower().replace(" ", "_")
        if not kind:
            problem("surveys.form.missing_value", survey, row, "type", what="type")
            continue
        if kind not in SUPPORTED_TYPES:
            problem("surveys.form.unsupported_type", survey, row, "type", value=raw_type)
            continue
        if kind == "end_group":
            if open_group is None:
                problem("surveys.form.end_without_begin", survey, row, "type")
            else:
                g_name, g_labels, _, g_questions = open_group
                sections.append(Section(g_name, g_labels, tuple(g_questions)))
                open_group = None
            continue
        if not name:
            problem("surveys.form.missing_value", survey, row, "name", what="name")
            continue
        if not _NAME.match(name):
            problem("surveys.form.bad_name", survey, row, "name", value=name)
        if name in seen:
            problem(
                "surveys.form.duplicate_name", survey, row, "name", value=name, other=seen[name]
            )
            continue
        seen[name] = row
        labels = _texts(cells, label_langs)
        if "nb" in label_langs.values() and not labels.get("nb"):
            nb_col = next(h for h, lang in label_langs.items() if lang == "nb")
            problem("surveys.form.missing_value", survey, row, nb_col, what="label (nb)")
        if kind == "begin_group":
            if open_group is not None:
                problem("surveys.form.nested_group", survey, row, "type")
                continue
            open_group = (name, labels, row, [])
            continue
        respondent = cells.get("respondent", "").lower() or None
        if respondent is not None and respondent not in RESPONDENTS:
            problem("surveys.form.bad_respondent", survey, row, "respondent", value=respondent)
            respondent = None
        required_text = cells.get("required", "").lower()
        if required_text not in _YES | _NO:
            problem("surveys.form.bad_required", survey, row, "required", value=required_text)
        list_name = None
        start = end = step = None
        if kind in ("select_one", "select_multiple"):
            if len(parts) != 2:
                problem("surveys.form.missing_list", survey, row, "type", value=raw_type)
            else:
                list_name = parts[1]
                if list_name not in choices:
                    problem("surveys.form.unknown_list", survey, row, "type", value=list_name)
        elif len(parts) > 1:
            problem("surveys.form.unsupported_type", survey, row, "type", value=raw_type)
        if kind == "range":
            params = _parameters(cells.get("parameters", "")) if cells.get("parameters") else {}
            if params is None or not set(params) <= {"start", "end", "step"}:
                problem(
                    "surveys.form.bad_parameters",
                    survey,
                    row,
                    "parameters",
                    value=cells.get("parameters", ""),
                )
                params = {}
            start, end, step = (
                params.get("start", 0.0),
                params.get("end", 10.0),
                params.get("step", 1.0),
            )
            if not (start < end and step > 0):
                problem(
                    "surveys.form.bad_parameters",
                    survey,
                    row,
                    "parameters",
                    value=cells.get("parameters", ""),
                )
        questions.append(
            Question(
                name=name,
                type=kind,
                labels=labels,
                hints=_texts(cells, hint_langs),
                list_name=list_name,
                required=required_text in _YES,
                respondent=respondent,
                pair=cells.get("pair") or None,
                section=open_group[0] if open_group else "",
                start=start,
                end=end,
                step=step,
                row=row,
            )
        )
        if open_group is not None:
            open_group[3].append(name)
        else:
            sections.append(Section("", {}, (name,)))
    if open_group is not None:
        problem("surveys.form.group_not_closed", survey, open_group[2], "type", value=open_group[0])
    questions = _check_pairs(questions, survey, problem)
    if not any(q.type != "note" for q in questions):
        problem("surveys.form.no_questions", survey, None, None)
    if problems:
        return None
    return Questionnaire(
        form_id=form_id,
        version=version,
        titles=titles or {"nb": form_id},
        questions=tuple(questions),
        sections=tuple(_merge_loose(sections)),
        choices=choices,
    )


def _merge_loose(sections: Iterable[Section]) -> list[Section]:
    """Consecutive questions outside any group form one unnamed section."""
    out: list[Section] = []
    for s in sections:
        if not s.name and out and not out[-1].name:
            out[-1] = Section("", {}, out[-1].questions + s.questions)
        else:
            out.append(s)
    return out


def _read_choices(sheet: _Sheet | None, problem) -> dict[str, tuple[Choice, ...]]:  # noqa: ANN001
    if sheet is None:
        return {}
    for col in ("list_name", "name"):
        if col not in sheet.columns:
            problem("surveys.form.missing_column", sheet, 1, None, what=col)
            return {}
    langs = _languages(sheet, "label")
    lists: dict[str, list[Choice]] = {}
    for row, cells in sheet.rows:
        list_name, name = cells.get("list_name", ""), cells.get("name", "")
        if not list_name:
            problem("surveys.form.missing_value", sheet, row, "list_name", what="list_name")
            continue
        if not name:
            problem("surveys.form.missing_value", sheet, row, "name", what="name")
            continue
        if " " in name:
            problem("surveys.form.bad_name", sheet, row, "name", value=name)
        existing = lists.setdefault(list_name, [])
        if any(c.name == name for c in existing):
            problem("surveys.form.duplicate_choice", sheet, row, "name", value=name)
            continue
        labels = _texts(cells, langs)
        if not labels:
            problem("surveys.form.missing_value", sheet, row, "label", what="label")
        try:
            score: float | None = float(name)
        except ValueError:
            score = None
        existing.append(Choice(name=name, labels=labels, score=score))
    return {k: tuple(v) for k, v in lists.items()}


def _check_pairs(questions: list[Question], sheet: _Sheet, problem) -> list[Question]:  # noqa: ANN001
    """Pairs must join a user question and a staff question of the same kind; they are made
    symmetric (declaring the pair on one side is enough)."""
    by_name = {q.name: q for q in questions}
    partner: dict[str, str] = {}
    for q in questions:
        if not q.pair:
            continue
        other = by_name.get(q.pair)
        if other is None:
            problem("surveys.form.unknown_pair", sheet, q.row, "pair", value=q.pair)
            continue
        if {q.respondent, other.respondent} != {"user", "staff"}:
            problem("surveys.form.pair_respondents", sheet, q.row, "pair", value=q.pair)
            continue
        if (q.type, q.list_name) != (other.type, other.list_name):
            problem("surveys.form.pair_types", sheet, q.row, "pair", value=q.pair)
            continue
        if other.pair and other.pair != q.name:
            problem("surveys.form.pair_conflict", sheet, q.row, "pair", value=q.pair)
            continue
        if (
            partner.get(other.name, q.name) != q.name
            or partner.get(q.name, other.name) != other.name
        ):
            problem("surveys.form.pair_conflict", sheet, q.row, "pair", value=q.pair)
            continue
        partner[q.name], partner[other.name] = other.name, q.name
    out = []
    for q in questions:
        if q.name in partner and q.pair != partner[q.name]:
            q = Question(**{**asdict(q), "pair": partner[q.name]})
        out.append(q)
    return out


def default_form() -> Questionnaire:
    """The shipped «Bruker spør bruker» questionnaire (``surveys/default_form.xlsx``)."""
    return read_form(DEFAULT_FORM_PATH)
