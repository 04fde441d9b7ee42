"""Questionnaire definitions as data: XLSForm workbooks (ODK, KoboToolbox), read with pyxform.

Services may already have their forms in KoboToolbox; reading the same workbook means
they do not type a form twice. The workbook is parsed by ``pyxform``, the maintained
reference implementation of XLSForm (it knows the aliases — ``list name``/``list_name``,
``select one from X``, ``select all that apply X``, ``or_other`` — the header spellings and
the metadata types), and the workbench builds its :class:`Questionnaire` from pyxform's
output. A form is loaded only if pyxform converts it to an XForm, so what the workbench
runs is what Kobo or ODK would run.

What the interview uses:

* types ``select_one``, ``select_multiple``, ``range`` (pyxform's defaults 1–10 when
  ``parameters`` are empty), ``integer``, ``text``, ``note`` and groups; a top-level group
  is one section (page) of the interview, groups inside it belong to that section;
* labels and hints in every language column pyxform reads (``label::Norsk bokmål (nb)``,
  ``label::nb``, a plain ``label`` = the form's default language, bokmål unless the
  settings say otherwise); ``label:nb`` with one colon is kept as the language ``nb``;
* ``relevant``, ``required`` (``yes``/``no`` or an expression) and ``constraint`` (with
  ``constraint_message``) written in the small language of :mod:`surveys.expressions`;
* the workbench columns ``respondent`` (``user`` | ``staff`` | empty = both) and ``pair``
  (the counterpart question of the other group); in ``settings`` the extra
  ``kor_title::<language>`` columns translate the title (pyxform has no translated
  ``form_title``);
* metadata (``start``, ``end``, ``today``, ``deviceid``, ``audit``, …, and constant
  ``calculate`` rows such as Kobo's ``__version__``) are kept by name in
  :attr:`Questionnaire.metadata` and otherwise ignored.

Everything else — repeats, other question types, ``calculation`` formulas,
``choice_filter``, ``repeat_count``, expressions beyond the supported language — is
refused with the sheet, row and column and the construct named, rather than run with
its logic ignored. :func:`read_form` raises one :class:`InvalidFormError` listing every
problem it found (pyxform stops at its first).
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kor.errors import FormError, ImportFileError
from kor.i18n import get_language, t
from surveys.expressions import Expression, ExpressionError, is_literal, parse

__all__ = [
    "RESPONDENTS",
    "SUPPORTED_TYPES",
    "UNSUPPORTED_COLUMNS",
    "METADATA_TYPES",
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
#: XLSForm columns (pyxform's canonical names) the workbench does not evaluate.
UNSUPPORTED_COLUMNS: tuple[str, ...] = ("calculation", "choice_filter", "repeat_count")
#: Question types that record metadata, not answers; kept by name, never asked.
METADATA_TYPES: frozenset[str] = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start-geopoint",
        "background-audio",
        "background-geopoint",
        "imei",
        "xml-external",
        "csv-external",
        "hidden",
    }
)
DEFAULT_FORM_PATH = Path(__file__).with_name("default_form.xlsx")
_TYPES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "range": "range",
    "integer": "integer",
    "text": "text",
    "note": "note",
    "string": "text",  # pyxform's own spellings of text and integer
    "int": "integer",
}
_YES = {"yes", "true", "true()", "1", "ja"}
_NO = {"", "no", "false", "false()", "0", "nei"}
_LANGUAGE_NAMES = {
    "norsk": "nb",
    "norsk bokmål": "nb",
    "bokmål": "nb",
    "norwegian": "nb",
    "norwegian bokmål": "nb",
    "nynorsk": "nn",
    "norsk nynorsk": "nn",
    "english": "en",
    "engelsk": "en",
}
#: Expression columns (pyxform's canonical bind names) and how the workbench treats them.
_EXPRESSION_COLUMNS = {"relevant", "required", "constraint"}


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
    section: the name of the enclosing top-level group ("" outside any group).
    start/end/step: the scale of a ``range`` question.
    required: always required (``required = yes``); ``required_if`` holds the expression
    when the form makes it required on a condition.
    relevant: when the question is asked (its own ``relevant`` and its groups', joined
    with ``and``); "" = always. constraint: what an answer must meet (``.`` = the
    answer), with ``constraint_messages`` (language -> text) when the form gives one.
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
    relevant: str = ""
    required_if: str = ""
    constraint: str = ""
    constraint_messages: dict[str, str] = field(default_factory=dict)

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


@functools.lru_cache(maxsize=2048)
def _expression(text: str) -> Expression:
    return parse(text)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], ())


@dataclass(frozen=True)
class Questionnaire:
    """A validated form: questions in order, sections, choice lists, settings.

    Built by :func:`read_form` (or :func:`default_form`), never by hand: reading
    checks what the workbench supports (module docstring). Attributes: ``form_id``
    and ``version`` (the ``settings`` sheet), ``titles`` (language -> title),
    ``questions`` (:class:`Question`, form order), ``sections`` (one per top-level group,
    the themes comments are coded to), ``choices`` (list name -> :class:`Choice`; a
    choice whose name is a number scores that number, e.g. 1-5 on a Likert item, and
    «vet ikke»/«ikke aktuelt» score nothing), ``metadata`` (names of the form's metadata
    and constant calculate rows, not asked). Serialise with :meth:`to_json` /
    :meth:`from_json`.

    The interview asks what :meth:`relevant_names` allows, refuses to finish while
    :meth:`missing_required` is not empty and shows :meth:`constraint_message` next to
    an answer that breaks its constraint.

    References: XLSForm specification, https://xlsform.org; pyxform,
    https://github.com/XLSForm/pyxform.

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
    metadata: tuple[str, ...] = ()

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

    # ------------------------------------------------------- interview logic
    def relevant_names(self, answers: Mapping[str, Any]) -> frozenset[str]:
        """Names of the questions asked given ``answers`` so far (name -> answer).

        As in XForms, the answer to a question that is not asked counts as empty when a
        later ``relevant`` reads it.
        """
        asked: set[str] = set()
        seen: set[str] = set()

        def lookup(name: str) -> Any:
            if name in seen and name not in asked:
                return None
            return answers.get(name)

        for q in self.questions:
            if not q.relevant or _expression(q.relevant).evaluate(lookup, answers.get(q.name)):
                asked.add(q.name)
            seen.add(q.name)
        return frozenset(asked)

    def is_relevant(self, name: str, answers: Mapping[str, Any]) -> bool:
        """Whether question ``name`` is asked given ``answers``."""
        return name in self.relevant_names(answers)

    def is_required(self, name: str, answers: Mapping[str, Any]) -> bool:
        """Whether ``name`` must be answered: asked, and required always or on condition."""
        q = self.question(name)
        if q.type == "note" or not self.is_relevant(name, answers):
            return False
        if q.required:
            return True
        return bool(q.required_if) and _expression(q.required_if).evaluate(
            answers.get, answers.get(name)
        )

    def missing_required(self, respondent: str, answers: Mapping[str, Any]) -> list[str]:
        """Required questions for ``respondent`` that are asked and still empty (form order)."""
        asked = self.relevant_names(answers)
        out = []
        for q in self.for_respondent(respondent):
            if q.type == "note" or q.name not in asked or not _empty(answers.get(q.name)):
                continue
            if q.required or (
                q.required_if
                and _expression(q.required_if).evaluate(answers.get, answers.get(q.name))
            ):
                out.append(q.name)
        return out

    def constraint_message(
        self, name: str, answers: Mapping[str, Any], language: str | None = None
    ) -> str | None:
        """The message to show when the answer to ``name`` breaks its ``constraint``
        (the form's ``constraint_message`` if it has one), else None. An empty answer
        or a question not asked is never checked."""
        q = self.question(name)
        value = answers.get(name)
        if not q.constraint or _empty(value) or not self.is_relevant(name, answers):
            return None
        if _expression(q.constraint).evaluate(answers.get, value):
            return None
        return _pick(q.constraint_messages, language) or t(
            "surveys.form.constraint_failed", language=language
        )

    def constraint_problems(
        self, respondent: str, answers: Mapping[str, Any], language: str | None = None
    ) -> dict[str, str]:
        """Question name -> message for every answer of ``respondent`` breaking its
        constraint."""
        out = {}
        for q in self.for_respondent(respondent):
            text = self.constraint_message(q.name, answers, language) if q.constraint else None
            if text:
                out[q.name] = text
        return out

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
            metadata=tuple(data.get("metadata", ())),
        )


def _pick(labels: dict[str, str], language: str | None) -> str:
    lang = language or get_language()
    return labels.get(lang) or labels.get("nb") or next(iter(labels.values()), "")


# ------------------------------------------------------------------ reading
_ROW = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
_SHEET = re.compile(r"[Oo]n the '(\w+)' sheet")
_COLUMN = re.compile(r"the '([\w:. ()-]+)' value")
_PARENT_REF = re.compile(r"\.\./([A-Za-z_][\w.\-]*)")


def _language(key: str, default: str) -> str:
    """pyxform's language key (``Norsk bokmål (nb)``, ``nb``, ``default``) -> code."""
    if key == "default":
        return default
    match = re.search(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\)\s*$", key)
    text = (match.group(1) if match else key).strip().lower()
    if not match and not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]+)?", text):
        text = _LANGUAGE_NAMES.get(text, text)
    return "nb" if text in ("no", "nob") else text


def _texts(element: Mapping[str, Any], value: Any, prefix: str, default: str) -> dict[str, str]:
    """Language -> text from pyxform's value (a string or language -> string) and the
    one-colon ``prefix:xx`` columns pyxform passes through untouched."""
    out: dict[str, str] = {}
    if isinstance(value, str) and value.strip():
        out[default] = value.strip()
    elif isinstance(value, Mapping):
        for key, text in value.items():
            if isinstance(text, str) and text.strip():
                out.setdefault(_language(str(key), default), text.strip())
    for key, text in element.items():
        if key.startswith(prefix + ":") and not key.startswith(prefix + "::"):
            if isinstance(text, str) and text.strip():
                out.setdefault(_language(key.split(":", 1)[1], default), text.strip())
    return out


def _canonical(header: str) -> str:
    """pyxform's canonical name of a survey column (``relevance`` -> ``relevant``)."""
    from pyxform import aliases

    h = header.strip()
    alias = aliases.survey_header.get(h)
    if isinstance(alias, tuple):
        h = alias[1]
    elif h.startswith("bind::"):
        h = h.split("::", 1)[1]
    return {"calculate": "calculation", "jr:count": "repeat_count"}.get(h, h)


def _file_type(data: bytes, label: str) -> str | None:
    if data[:4] == b"PK\x03\x04":
        return "xlsm" if label.lower().endswith(".xlsm") else "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    return None


def _header_letters(data: bytes, file_type: str) -> dict[str, dict[str, str]]:
    """Sheet (lower case) -> header as pyxform cleans it -> column letter."""
    from openpyxl.utils import get_column_letter

    out: dict[str, dict[str, str]] = {}
    try:
        if file_type == "xls":
            import xlrd

            book = xlrd.open_workbook(file_contents=data)
            for sheet in book.sheets():
                first = sheet.row_values(0) if sheet.nrows else []
                out[sheet.name.lower()] = _letters(first, get_column_letter)
            return out
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        for ws in wb.worksheets:
            first = next(ws.iter_rows(max_row=1, values_only=True), ())
            out[ws.title.lower()] = _letters(first, get_column_letter)
        wb.close()
    except Exception:  # noqa: BLE001 - letters are a courtesy; pyxform reads the file
        return out
    return out


def _letters(first: Iterable[Any], letter: Any) -> dict[str, str]:
    out = {}
    for i, value in enumerate(first):
        if value is not None and str(value).strip():
            out.setdefault(re.sub(r"\s+", " ", str(value).strip()), letter(i + 1))
    return out


def read_form(source: str | Path | bytes | io.BytesIO, *, name: str | None = None) -> Questionnaire:
    """Read and validate an XLSForm workbook (.xlsx or .xls) with pyxform.

    source: a path, or the workbook's bytes (an upload). Raises :class:`InvalidFormError`
    with every problem found (each a :class:`~kor.errors.FormError` with ``row``, ``column``
    and ``sheet``).

    >>> read_form(DEFAULT_FORM_PATH).pairs()[0]
    ('u_access_speed', 's_access_speed')
    """
    from pyxform.errors import PyXFormError
    from pyxform.xls2json_backends import get_xlsform

    label = name or (Path(source).name if isinstance(source, (str, Path)) else "form.xlsx")
    try:
        if isinstance(source, (str, Path)):
            data = Path(source).read_bytes()
        else:
            data = source.getvalue() if isinstance(source, io.BytesIO) else bytes(source)
    except OSError:
        raise InvalidFormError(label, [FormError("surveys.form.unreadable", sheet="-")]) from None
    file_type = _file_type(data, label)
    book = None
    if file_type is not None:
        try:
            book = get_xlsform(xlsform=data, file_type="." + file_type)
        except (PyXFormError, ValueError, KeyError, OSError):
            book = None
    if book is None or file_type is None:
        raise InvalidFormError(label, [FormError("surveys.form.unreadable", sheet="-")])
    problems: list[FormError] = []
    form = _Reader(book, _header_letters(data, file_type), problems).build()
    if problems or form is None:
        order = ("survey", "choices", "settings")
        problems.sort(
            key=lambda p: (
                order.index(p.params["sheet"]) if p.params.get("sheet") in order else 3,
                p.row or 0,
            )
        )
        raise InvalidFormError(label, problems)
    return form


class _Reader:
    """Checks pyxform's reading of one workbook and maps it onto :class:`Questionnaire`."""

    def __init__(
        self, book: Any, letters: dict[str, dict[str, str]], problems: list[FormError]
    ) -> None:
        self.book = book
        self.letters = letters
        self.problems = problems
        #: survey row number and cells by name (first occurrence)
        self.rows: dict[str, tuple[int, dict[str, str]]] = {}
        self.metadata: list[str] = []

    def problem(
        self,
        key: str,
        sheet: str,
        row: int | None = None,
        column: str | None = None,
        **params: object,
    ) -> None:
        letter = self.letters.get(sheet.lower(), {}).get(column or "", column) if column else None
        self.problems.append(FormError(key, row=row, column=letter, sheet=sheet, **params))

    # ------------------------------------------------------------- raw rows
    def check_rows(self) -> None:
        """Workbench rules on the rows as written: names unique in the whole form (answers
        are keyed by name), respondent values, and the expression columns."""
        for index, cells in enumerate(self.book.survey or ()):
            row = index + 2
            kind = str(cells.get("type", "")).strip().lower()
            name = str(cells.get("name", "")).strip()
            if name and not kind.startswith("end"):
                if name in self.rows:
                    self.problem(
                        "surveys.form.duplicate_name",
                        "survey",
                        row,
                        "name",
                        value=name,
                        other=self.rows[name][0],
                    )
                else:
                    self.rows[name] = (row, cells)
            for header, value in cells.items():
                text = str(value).strip()
                if not text:
                    continue
                column = _canonical(header)
                if column == "respondent" and text.lower() not in RESPONDENTS:
                    self.problem("surveys.form.bad_respondent", "survey", row, header, value=text)
                elif column == "calculation":
                    if kind != "calculate" or not is_literal(text):
                        self.problem(
                            "surveys.form.unsupported_column",
                            "survey",
                            row,
                            header,
                            what=header,
                        )
                elif column in ("choice_filter", "repeat_count"):
                    self.problem(
                        "surveys.form.unsupported_column", "survey", row, header, what=header
                    )
                elif column in _EXPRESSION_COLUMNS:
                    if column == "required" and text.lower() in _YES | _NO:
                        continue
                    self.check_expression(text, row, header)

    def check_expression(self, text: str, row: int, header: str) -> None:
        try:
            _expression(text)
        except ExpressionError as exc:
            key = (
                "surveys.form.unsupported_expression"
                if exc.kind == "unsupported"
                else "surveys.form.bad_expression"
            )
            self.problem(key, "survey", row, header, value=text, construct=exc.construct)

    # --------------------------------------------------------------- pyxform
    def convert(self) -> dict[str, Any] | None:
        """pyxform's JSON form, or None (and one problem) when pyxform refuses it.

        The XForm is built too, so a loaded form is one Kobo and ODK accept."""
        from pyxform.builder import create_survey_element_from_dict
        from pyxform.errors import PyXFormError
        from pyxform.xls2json import workbook_to_json

        warnings: list[str] = []
        try:
            data = workbook_to_json(workbook_dict=self.book, warnings=warnings)
            if isinstance(data.get("title"), Mapping):
                # pyxform reads form_title::<language> but cannot write it (it crashes)
                header = next(
                    (h for h in (self.book.settings or [{}])[0] if h.startswith("form_title::")),
                    "form_title",
                )
                self.problem("surveys.form.translated_title", "settings", 2, header, what=header)
                return None
            create_survey_element_from_dict(data).to_xml(validate=False, warnings=warnings)
        except PyXFormError as exc:
            self.pyxform_problem(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - pyxform crashed on this workbook
            self.pyxform_problem(f"{type(exc).__name__}: {exc}")
            return None
        return data

    def pyxform_problem(self, message: str) -> None:
        row_match = _ROW.match(message)
        row = int(row_match.group(1)) if row_match else None
        sheet_match = _SHEET.search(message)
        sheet = sheet_match.group(1) if sheet_match else "survey"
        column_match = _COLUMN.search(message)
        column = column_match.group(1) if column_match else None
        text = _ROW.sub("", message).strip()
        self.problem("surveys.form.pyxform", sheet, row, column, message=text)

    # -------------------------------------------------------------- mapping
    def build(self) -> Questionnaire | None:
        if self.book.survey is None:
            self.problem("surveys.form.missing_sheet", "survey", what="survey")
            return None
        self.check_rows()
        data = self.convert()
        if data is None:
            return None
        default = _language(str(data.get("default_language") or "default"), "nb")
        self.default = default
        self.choices = {
            list_name: tuple(self.choice(c) for c in options)
            for list_name, options in (data.get("choices") or {}).items()
        }
        self.questions: list[Question] = []
        self.sections: list[Section] = []
        self.walk(data.get("children") or [], None, ())
        self.questions = _check_pairs(self.questions, self.problem)
        if not self.problems and not any(q.type != "note" for q in self.questions):
            self.problem("surveys.form.no_questions", "survey")
        if self.problems:
            return None
        settings = (self.book.settings or [{}])[0] if self.book.settings else {}
        form_id = str(data.get("id_string") or "form") if settings.get("form_id") else "form"
        titles = _texts({}, data.get("title"), "title", default) if settings else {}
        titles.update(_texts({}, data.get("kor_title"), "kor_title", default))
        return Questionnaire(
            form_id=form_id,
            version=str(data.get("version") or "1"),
            titles=titles or {"nb": form_id},
            questions=tuple(self.questions),
            sections=tuple(_merge_loose(self.sections)),
            choices=self.choices,
            metadata=tuple(self.metadata),
        )

    def choice(self, element: Mapping[str, Any]) -> Choice:
        name = str(element.get("name", ""))
        labels = _texts(element, element.get("label"), "label", self.default)
        try:
            score: float | None = float(name)
        except ValueError:
            score = None
        return Choice(name=name, labels=labels, score=score)

    def walk(self, children: list[dict[str, Any]], top: str | None, when: tuple[str, ...]) -> None:
        for element in children:
            kind = element.get("type", "")
            name = str(element.get("name", ""))
            row, cells = self.rows.get(name, (0, {}))
            relevant = str((element.get("bind") or {}).get("relevant", "")).strip()
            if kind == "group":
                if (element.get("control") or {}).get("bodyless") and name == "meta":
                    self.metadata.extend(str(c.get("name", "")) for c in element["children"])
                    continue
                inner = (*when, relevant) if relevant else when
                if top is None:
                    labels = _texts(element, element.get("label"), "label", self.default)
                    start = len(self.questions)
                    self.walk(element.get("children") or [], name, inner)
                    names = tuple(q.name for q in self.questions[start:])
                    self.sections.append(Section(name, labels, names))
                else:
                    self.walk(element.get("children") or [], top, inner)
                continue
            if kind in METADATA_TYPES or _preloaded(kind):
                self.metadata.append(name)
                continue
            if kind == "calculate":
                self.metadata.append(name)  # a constant (check_rows refuses formulas)
                continue
            if kind not in _TYPES:
                shown = str(cells.get("type") or kind)
                self.problem(
                    "surveys.form.unsupported_type", "survey", row or None, "type", value=shown
                )
                continue
            question = self.question(element, _TYPES[kind], row, cells, top or "", when)
            if question is not None:
                self.questions.append(question)
                if top is None:
                    self.sections.append(Section("", {}, (question.name,)))

    def question(
        self,
        element: Mapping[str, Any],
        kind: str,
        row: int,
        cells: Mapping[str, Any],
        section: str,
        when: tuple[str, ...],
    ) -> Question | None:
        name = str(element["name"])
        bind = element.get("bind") or {}
        relevant = str(bind.get("relevant", "")).strip()
        labels = _texts(element, element.get("label"), "label", self.default)
        if not row:  # made by pyxform: the text box of ``or_other``
            relevant = _PARENT_REF.sub(lambda m: "${" + m.group(1) + "}", relevant)
            labels = {lang: t("surveys.form.specify_other", language=lang) for lang in ("nb", "en")}
            row, cells = self.rows.get(name.removesuffix("_other"), (0, {}))
            element = {**element, "respondent": cells.get("respondent", "")}
        if relevant:
            try:
                _expression(relevant)
            except ExpressionError:
                return None  # reported by check_rows with its cell
        required_text = str(bind.get("required", "")).strip()
        required = required_text.lower() in _YES
        required_if = "" if required_text.lower() in _YES | _NO else required_text
        list_name = None
        start = end = step = None
        if kind in ("select_one", "select_multiple"):
            list_name = str(element.get("list_name") or element.get("itemset") or "")
            if list_name not in self.choices:
                self.problem("surveys.form.unknown_list", "survey", row, "type", value=list_name)
            elif "or_other" in str(cells.get("type", "")):
                self.choices[list_name] = tuple(
                    Choice(
                        "other",
                        {lang: t("surveys.form.other", language=lang) for lang in ("nb", "en")},
                        None,
                    )
                    if c.name == "other"
                    else c
                    for c in self.choices[list_name]
                )
        if kind == "range":
            params = element.get("parameters") or {}
            try:
                start, end, step = (
                    float(params.get(k, d)) for k, d in (("start", 1), ("end", 10), ("step", 1))
                )
            except (TypeError, ValueError):
                start, end, step = 1.0, 10.0, 1.0
            if not (start < end and step > 0):
                self.problem(
                    "surveys.form.bad_parameters",
                    "survey",
                    row,
                    "parameters",
                    value=str(cells.get("parameters", "")),
                )
        respondent = str(element.get("respondent") or "").strip().lower() or None
        if respondent not in (None, *RESPONDENTS):
            respondent = None  # reported by check_rows
        conditions = [*when, relevant] if relevant else list(when)
        return Question(
            name=name,
            type=kind,
            labels=labels,
            hints=_texts(element, element.get("hint"), "hint", self.default),
            list_name=list_name,
            required=required,
            respondent=respondent,
            pair=str(element.get("pair") or "").strip() or None,
            section=section,
            start=start,
            end=end,
            step=step,
            row=row,
            relevant=" and ".join(f"({c})" if len(conditions) > 1 else c for c in conditions),
            required_if=required_if,
            constraint=str(bind.get("constraint", "")).strip(),
            constraint_messages=_texts(
                element, bind.get("jr:constraintMsg"), "constraint_message", self.default
            ),
        )


def _preloaded(kind: str) -> bool:
    """pyxform's metadata types are those it fills itself (``jr:preload``), whatever
    their spelling (``uri:deviceid``, ``start time``, …)."""
    from pyxform.question_type_dictionary import QUESTION_TYPE_DICT

    return bool((QUESTION_TYPE_DICT.get(kind) or {}).get("bind", {}).get("jr:preload"))


def _merge_loose(sections: Iterable[Section]) -> list[Section]:
    """Consecutive questions outside any group form one unnamed section."""
    out: list[Section] = []
    for s in sections:
        if not s.name and out and not out[-1].name:
            out[-1] = Section("", {}, out[-1].questions + s.questions)
        else:
            out.append(s)
    return out


def _check_pairs(questions: list[Question], problem) -> list[Question]:  # noqa: ANN001
    """Pairs must join a user question and a staff question of the same kind; they are made
    symmetric (declaring the pair on one side is enough)."""
    by_name = {q.name: q for q in questions}
    partner: dict[str, str] = {}
    for q in questions:
        if not q.pair:
            continue
        other = by_name.get(q.pair)
        where = ("survey", q.row, "pair")
        if other is None:
            problem("surveys.form.unknown_pair", *where, value=q.pair)
            continue
        if {q.respondent, other.respondent} != {"user", "staff"}:
            problem("surveys.form.pair_respondents", *where, value=q.pair)
            continue
        if (q.type, q.list_name) != (other.type, other.list_name):
            problem("surveys.form.pair_types", *where, value=q.pair)
            continue
        if other.pair and other.pair != q.name:
            problem("surveys.form.pair_conflict", *where, value=q.pair)
            continue
        if (
            partner.get(other.name, q.name) != q.name
            or partner.get(q.name, other.name) != other.name
        ):
            problem("surveys.form.pair_conflict", *where, value=q.pair)
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
    return _default_form()


@functools.lru_cache(maxsize=1)
def _default_form() -> Questionnaire:
    return read_form(DEFAULT_FORM_PATH)
