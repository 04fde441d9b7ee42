"""Reading and writing session files (CSV and XLSX): a file in, a validated frame out.

One row of a file is one measurement (a session with ORS and SRS is two rows);
the format, its Norwegian header aliases and the conventions accepted are documented
in ``docs/import-format.md``. :func:`read_sessions` checks *every* row and raises one
:class:`~kor.errors.ImportFileError` listing *all* problems (row and column as the
spreadsheet shows them), so a user fixes a file in one pass instead of one error at a
time. :func:`write_sessions` writes the same format, so an export can be edited in
Excel and imported again.

Nothing here touches the database (that is :mod:`kor.store`), and no message ever
carries a client code or an item value: only positions and kinds of problem.

Why the checks are vectorised: a service exporting years of data gives files of
hundreds of thousands of rows; every check runs over whole columns with pandas, and
per-row Python runs only for the cells that failed (to ask :func:`kor.measures.score`
for the exact reason).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import math
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from kor import measures, raters
from kor.errors import ImportFileError, MissingColumnsError, ValidationError
from kor.files import write_atomically
from kor.frames import CORE_ITEM_COLUMNS, FILE_COLUMNS, ITEM_COLUMNS, file_columns, item_columns
from kor.i18n import t
from kor.pseudonyms import is_client_code

__all__ = [
    "COLUMNS",
    "ITEM_COLUMNS",
    "REQUIRED_COLUMNS",
    "ALIASES",
    "FRAME_COLUMNS",
    "RATER_COLUMN",
    "MAX_BYTES",
    "TOTAL_TOLERANCE",
    "canonical_column",
    "read_sessions",
    "read_cells",
    "write_sessions",
]

#: File columns in the order :func:`write_sessions` writes them (canonical headers);
#: ``item5``..``item10`` follow ``item4`` when a measure that wide is in the file.
COLUMNS: tuple[str, ...] = FILE_COLUMNS
#: The optional ``rater`` column (:mod:`kor.raters`): who rated; blank or absent = client.
RATER_COLUMN = "rater"
_ANY_COLUMNS = (*file_columns(ITEM_COLUMNS), RATER_COLUMN)  # with every optional column
#: Columns a file must have; in addition ``age_group`` or ``birth_year`` (or both).
#: ``item5``..``item10`` are optional: needed only by rows of a measure that wide.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "client_code",
    "team",
    "clinician",
    "episode_start",
    "session_date",
    "format",
    "measure",
    *CORE_ITEM_COLUMNS,
)
#: Columns of the frame :func:`read_sessions` returns (item columns as in :data:`COLUMNS`;
#: ``rater`` before ``source_row`` when the file has that column).
FRAME_COLUMNS: tuple[str, ...] = (*FILE_COLUMNS, "source_row")
#: Accepted headers per canonical column. Matching ignores case, surrounding space and
#: the characters space, ``_``, ``-`` and ``.`` (so "Økt nr." matches ``øktnr``).
ALIASES: dict[str, tuple[str, ...]] = {
    "client_code": ("client_code", "client", "klient", "klientkode"),
    "age_group": ("age_group", "aldersgruppe"),
    "birth_year": ("birth_year", "fødselsår", "fodselsar", "foedselsaar"),
    "team": ("team", "team_code", "teamkode"),
    "clinician": ("clinician", "behandler"),
    "episode_start": ("episode_start", "forløpsstart", "forlopsstart", "forløp_start"),
    "session_date": ("session_date", "dato", "øktdato", "oktdato"),
    "session_no": ("session_no", "session_number", "øktnr", "oktnr", "øktnummer"),
    "format": ("format", "økttype"),
    "measure": ("measure", "skjema"),
    **{f"item{k}": (f"item{k}", f"ledd{k}") for k in range(1, len(ITEM_COLUMNS) + 1)},
    "total": ("total", "sum", "totalskår"),
    "rater": ("rater", "utfylt_av", "utfyller", "vurdert_av"),
}
#: Files larger than this are refused before they are read (bytes; 50 MB).
MAX_BYTES: int = 50 * 1024 * 1024
#: How far a ``total`` cell may lie from the sum of the items (points).
TOTAL_TOLERANCE: float = 0.05

_TEXT_COLUMNS = ("client_code", "team", "clinician")
_DATE_COLUMNS = ("episode_start", "session_date")
_FLOAT_COLUMNS = (*ITEM_COLUMNS, "total")
_INT_COLUMNS = ("birth_year", "session_no")
_FORMULA_START = ("=", "+", "-", "@")
_NEUTRALISE_START = ("=", "+", "-", "@", "\t", "\r")
_EARLIEST_YEAR = 1900
#: A number as a file may write it: ASCII digits, optionally one decimal point or comma
#: with digits on both sides, optionally a sign first (so that "-1" and "\u22121" are
#: "out of range" rather than "not a number"). No exponent, "_", space, other scripts'
#: digits, "inf" or "nan". Cells are stripped of surrounding space before matching.
_NUMBER = r"[+\-\u2212]?[0-9]+(?:[.,][0-9]+)?"
_DIGITS = r"[0-9]+"
_MAX_SESSION_NO = 2**31 - 1  # the database's integer column; larger would wrap round
_NORWEGIAN_DATE = r"\A(?P<day>[0-9]{1,2})\.(?P<month>[0-9]{1,2})\.(?P<year>[0-9]{4})\Z"
_ISO_DATE = r"\A(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})\Z"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ROW_LEVEL = 10_000  # sort position of problems that concern a whole row


def _compact(name: object) -> str:
    """Header key for matching: lower case, without space, ``_``, ``-`` and ``.``."""
    return re.sub(r"[\s_\-.]+", "", str(name).replace("\ufeff", "").strip().lower())


_HEADER_LOOKUP: dict[str, str] = {
    _compact(alias): canon for canon, aliases in ALIASES.items() for alias in aliases
}


def canonical_column(header: str) -> str | None:
    """The canonical column a header names (``"Øktdato"`` -> ``"session_date"``), or None.

    >>> canonical_column(" Klientkode "), canonical_column("Ledd 3"), canonical_column("x")
    ('client_code', 'item3', None)
    """
    return _HEADER_LOOKUP.get(_compact(header))


# ---------------------------------------------------------------------------
# choices: age group, format, measure
# ---------------------------------------------------------------------------


def _norm_choice(value: str) -> str:
    """Key for matching a choice: lower case, en dash as hyphen, no "år"/"years", no spaces."""
    text = value.strip().lower().replace("\u2013", "-").replace("\u2014", "-")
    text = re.sub(r"\b(år|years?)\b", "", text)
    return re.sub(r"[\s_]+", "", text)


_AGE_ALIASES: dict[str, tuple[str, ...]] = {
    "under_6": ("under 6", "0-5"),
    "age_6_12": ("6-12",),
    "age_13_17": ("13-17", "ungdom"),
    "adult": ("voksen", "18+"),
}
_FORMAT_ALIASES: dict[str, tuple[str, ...]] = {
    "individual": ("individuell", "individuelt"),
    "group": ("gruppe", "gruppeøkt"),
}
_RATER_ALIASES: dict[str, tuple[str, ...]] = {
    "client": ("klient", "selv"),
    "parent": ("foreldre", "forelder", "mor", "far"),
    "teacher": ("lærer", "laerer"),
    "other": ("annen", "annen voksen"),
}


def _choice_lookup(
    codes: Iterable[str], aliases: dict[str, tuple[str, ...]], prefix: str
) -> dict[str, str]:
    """Normalised name -> code, from the codes, their aliases and their catalog labels."""
    lookup: dict[str, str] = {}
    for code in codes:
        names = [code, *aliases.get(code, ())]
        names += [t(f"{prefix}.{code}", language=lang) for lang in ("nb", "en")]
        for name in names:
            lookup[_norm_choice(name)] = code
    return lookup


# ---------------------------------------------------------------------------
# loading: bytes -> header + cells (all text)
# ---------------------------------------------------------------------------


class _Refused(Exception):
    """The file cannot be read as a table; carries the problem to report."""

    def __init__(self, *problems: ValidationError) -> None:
        super().__init__(problems[0].key)
        self.problems = list(problems)


def _bad_file(reason: str, **where: object) -> _Refused:
    return _Refused(ValidationError("error.bad_file", reason=t(f"io.reason.{reason}"), **where))


def _decode(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    A file that is UTF-8 but for a few bytes (a cell pasted from an old program) is
    refused with the row of the first bad byte: read as Windows-1252 instead, its
    headers would be mangled ("FÃ¸dselsÃ¥r") and the user told of missing columns.
    Windows-1252 is taken only when the file does not look like UTF-8 (see
    :func:`_looks_like_utf8`), as old Excel writes it.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _Refused(ValidationError("error.bad_encoding")) from None
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")  # the BOM decodes to U+FEFF: offsets stay the file's
    except UnicodeDecodeError as error:
        if bom or _looks_like_utf8(data):
            raise _Refused(_not_utf8(data, error.start)) from None
    else:
        return text[1:] if bom else text
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise _Refused(ValidationError("error.bad_encoding")) from None


def _looks_like_utf8(data: bytes) -> bool:
    """Whether a file that fails to decode as UTF-8 is still meant as UTF-8.

    Yes if its header row names more columns read as UTF-8 than as Windows-1252 ("Øktdato"
    against "Ã˜ktdato"), or if it holds more valid UTF-8 letters than invalid bytes
    (Norwegian Windows-1252 text has no valid UTF-8 sequences: "ø" is one byte before a
    letter, and random bytes have far more invalid than valid sequences).
    """
    lines = re.split(rb"\r\n|\r|\n", data.removeprefix(codecs.BOM_UTF8), maxsplit=2)
    header = lines[1] if re.fullmatch(rb"sep=.", lines[0].lower()) and len(lines) > 1 else lines[0]
    as_utf8 = _recognised(header.decode("utf-8", errors="replace"))
    if as_utf8 > _recognised(header.decode("cp1252", errors="replace")):
        return True
    text = data.decode("utf-8", errors="surrogateescape")  # a bad byte -> U+DC80..U+DCFF
    invalid = len(text) - len(text.encode("utf-8", errors="ignore").decode("utf-8"))
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - invalid > invalid


def _not_utf8(data: bytes, offset: int) -> ValidationError:
    """``io.not_utf8`` at the row (and column) of the byte at ``offset``.

    Rows are counted as a spreadsheet shows them, like every other problem: a line
    break inside a quoted cell stays in its row, an ``sep=`` line and blank lines count.
    """
    before = data[:offset].decode("utf-8", errors="replace")
    first_line = re.split(r"\r\n|\r|\n", before, maxsplit=1)[0].lstrip("\ufeff")
    header_row = 2 if re.fullmatch(r"sep=.", first_line.lower()) else 1
    sep = first_line[4] if header_row == 2 else _sniff_separator(first_line)
    header: list[str] = []
    cells: list[str] = []
    row = 0
    try:  # "x" after the cut: a new row if the cut is at a row's end, else the same cell
        rows = csv.reader(io.StringIO(before + "x", newline=""), delimiter=sep, strict=False)
        for row, cells in enumerate(rows, 1):
            if row == header_row:
                header = [h.replace("\ufeff", "").strip() for h in cells]
    except (csv.Error, TypeError, ValueError):  # e.g. a cell over the csv size limit
        return ValidationError("io.not_utf8", row=len(re.findall(r"\r\n|\r|\n", before)) + 1)
    position = len(cells) - 1
    column = header[position] if row > header_row and position < len(header) else None
    return ValidationError("io.not_utf8", row=row, column=column or None)


def _sniff_separator(header_line: str) -> str:
    """The separator that makes the most recognised headers (``;`` wins ties, as Excel writes)."""
    return _header_fit(header_line)[0]


def _recognised(header_line: str) -> int:
    """How many cells of a header line name a column, split by the separator that fits best."""
    return _header_fit(header_line)[1]


def _header_fit(header_line: str) -> tuple[str, int]:
    """The best separator for a header line and how many columns it then recognises."""
    best, best_score, best_count = ";", -1, 0
    for sep in (";", ",", "\t"):
        try:
            fields = next(csv.reader([header_line], delimiter=sep), [])
        except csv.Error:
            fields = []
        count = sum(canonical_column(f) is not None for f in fields)
        score = count * 1000 + len(fields)  # recognised headers first, then field count
        if score > best_score:
            best, best_score, best_count = sep, score, count
    return best, best_count


class _Sheet(NamedTuple):
    """A file read as text cells: header, cells ("" when empty), row of the first data row."""

    header: list[str]
    cells: pd.DataFrame
    first_row: int
    problems: list[ValidationError]


_NO_SHEET = _Sheet([], pd.DataFrame(), 2, [])


def _read_text(data: bytes) -> _Sheet:
    """The table of a CSV file (separator sniffed, Excel's ``sep=`` line honoured)."""
    text = _decode(data)
    if _CONTROL.search(text):
        raise _bad_file("not_tabular")
    first_data_row = 2
    first_line, *rest = re.split(r"\r\n|\r|\n", text, maxsplit=1)
    first_line = first_line.strip("\ufeff")
    if re.fullmatch(r"sep=.", first_line.lower()):
        sep = first_line[4]  # the separator hint line Excel reads and writes
        text, first_data_row = (rest or [""])[0], 3
    else:
        sep = _sniff_separator(first_line)
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=object,
            na_filter=False,
            skip_blank_lines=False,
            quotechar='"',
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return _NO_SHEET
    except (pd.errors.ParserError, ValueError, csv.Error, MemoryError, OverflowError):
        return _read_text_slowly(text, sep, first_data_row)
    raw = raw.fillna("")
    header = [str(h).replace("\ufeff", "").strip() for h in raw.iloc[0].tolist()]
    cells = raw.iloc[1:].reset_index(drop=True)
    cells.columns = range(len(header))
    return _Sheet(header, cells, first_data_row, [])


def _read_text_slowly(text: str, sep: str, first_data_row: int) -> _Sheet:
    """Fallback for rows pandas refuses: trailing empty cells are fine, longer rows reported.

    A longer row is left out of the other checks: its cells are likely shifted.
    """
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=sep, strict=False))
    except (csv.Error, TypeError, ValueError):
        raise _bad_file("not_tabular") from None
    if not rows:
        return _NO_SHEET
    header = [h.replace("\ufeff", "").strip() for h in rows[0]]
    width = len(header)
    problems = []
    body = []
    for i, row in enumerate(rows[1:]):
        if len(row) > width and any(c.strip() for c in row[width:]):
            problems.append(
                ValidationError(
                    "io.too_many_cells", row=first_data_row + i, count=len(row), expected=width
                )
            )
            row = []
        body.append((row + [""] * width)[:width])
    cells = pd.DataFrame(body, columns=range(width), dtype=object)
    return _Sheet(header, cells, first_data_row, problems)


def _cell_text(value: object) -> str:
    """An XLSX cell as the text a CSV would hold (dates ISO, numbers with a point).

    A number cell is written without exponent and to Excel's 15 significant digits
    (what Excel shows and computes with), so 4.5 reads as "4.5", 1e-05 as "0.00001"
    and a pasted 0.1 + 0.2 as "0.3", all in the forms the number check accepts; an
    infinity or NaN comes through as "inf"/"nan" and is refused as not a number.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, datetime):
        return value.date().isoformat()  # four-digit year; strftime gives "1-01-01" for 0001
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        return np.format_float_positional(float(f"{value:.15g}"), trim="-")
    text = getattr(value, "text", None)  # openpyxl ArrayFormula / DataTableFormula
    return str(text if text is not None else value)


#: A formula cell in a worksheet's XML (``<f>…</f>``, ``<f t="shared" …/>``).
_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(data: bytes) -> bool:
    """Whether any worksheet of the workbook holds a formula (an ``<f>`` element)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with book.open(name) as sheet:
                    if _FORMULA_ELEMENT.search(sheet.read()):
                        return True
    return False


def _xlsx_rows(data: bytes) -> list[list[object]]:
    """The first worksheet's cell values, row by row, from A1.

    python-calamine (Rust's calamine) reads a 50,000-row sheet ten times as fast as
    openpyxl, but it gives a formula's cached result, not the formula. A workbook with
    any formula is therefore read with openpyxl, which gives the formula text that
    the check refuses (``io.formula_cell``), cell by cell.
    """
    if not _has_formulas(data):
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            if not book.sheet_names:
                return []
            return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        finally:
            book.close()
    import openpyxl

    book = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        if book is not None:
            with contextlib.suppress(Exception):
                book.close()


def _read_xlsx(data: bytes) -> _Sheet:
    """Header and cells of the first worksheet; formulas come through as ``=...`` text."""
    try:
        rows = [[_cell_text(v) for v in row] for row in _xlsx_rows(data)]
    except Exception:  # noqa: BLE001 - both readers raise many types for a broken workbook
        raise _bad_file("not_xlsx") from None
    if not rows:
        return _NO_SHEET
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    header = [h.strip() for h in rows[0]]
    return _Sheet(header, pd.DataFrame(rows[1:], columns=range(width), dtype=object), 2, [])


def _load(data: bytes) -> _Sheet:
    if data.startswith(_XLS_MAGIC):
        raise _bad_file("xls")
    if data.startswith(_XLSX_MAGIC):
        return _read_xlsx(data)
    return _read_text(data)


# ---------------------------------------------------------------------------
# validation: every check runs once per distinct value of a column, then is
# spread over the rows with the factorize codes (files repeat values a lot)
# ---------------------------------------------------------------------------


class _Table:
    """The cells of a file, each column stored as distinct (stripped) values + row codes."""

    def __init__(self, cells: pd.DataFrame, rows: np.ndarray) -> None:
        self.codes: dict[str, np.ndarray] = {}
        self.values: dict[str, pd.Series] = {}
        for c in cells.columns:
            codes, uniques = pd.factorize(cells[c].fillna("").to_numpy(dtype=object))
            stripped = pd.Series(uniques, dtype=object).map(lambda v: str(v).strip())
            self.codes[c] = codes
            self.values[c] = stripped.astype(object)
        filled = np.zeros(len(cells), dtype=bool)
        for c in cells.columns:
            filled |= self.spread(c, self.values[c].ne(""))
        self.rows = rows[filled]
        self.codes = {c: codes[filled] for c, codes in self.codes.items()}
        self.n = len(self.rows)

    def spread(self, column: str, per_value: pd.Series | np.ndarray) -> np.ndarray:
        """Per-row array from an array with one entry per distinct value of ``column``."""
        return np.asarray(per_value)[self.codes[column]]


class _Problems:
    """Collects problems with their sort position (row, then column left to right)."""

    def __init__(self, rows: np.ndarray, headers: dict[str, str], order: dict[str, int]):
        self.rows = rows
        self.headers = headers
        self.order = order
        self.items: list[tuple[int, int, int, ValidationError]] = []

    def add(self, problem: ValidationError, column: str | None = None) -> None:
        position = self.order.get(column, _ROW_LEVEL) if column else _ROW_LEVEL
        self.items.append((problem.row or 0, position, len(self.items), problem))

    def at(
        self, key: str, i: int, column: str | None, field: str | None = None, **params
    ) -> ValidationError:
        """The problem ``key`` at row index ``i`` of the table, in ``column``."""
        problem = ValidationError(
            key,
            row=int(self.rows[i]),
            column=self.headers.get(column) if column else None,
            field=field or column,
            **params,
        )
        self.add(problem, column)
        return problem

    def sorted(self) -> list[ValidationError]:
        return [p for *_, p in sorted(self.items, key=lambda x: x[:3])]

    def __bool__(self) -> bool:
        return bool(self.items)


def _to_number(cells: pd.Series) -> np.ndarray:
    """Numbers from text in the documented forms (:data:`_NUMBER`); NaN for any other text.

    Strict on purpose: Python and pandas read far more as numbers than a person means
    ("1_0" is 10, "1e-400" is 0, "٥" is 5, "inf", "nan"), and a cell read as something
    other than what its writer meant would be stored silently. NaN makes the caller
    report "not a number" with row and column. Runs once per distinct value.
    """
    text = cells.astype(object)  # object dtype: Python regular expressions in any pandas
    ok = text.str.fullmatch(_NUMBER, na=False).to_numpy(dtype=bool)
    numbers = np.full(len(text), np.nan)
    plain = text[ok].str.replace(",", ".", regex=False).str.replace("\u2212", "-", regex=False)
    numbers[ok] = plain.astype("float64").to_numpy()  # digits only: float() reads them exactly
    return numbers + 0.0  # "-0" is 0.0, not -0.0


def _decimal_places(cells: pd.Series) -> np.ndarray:
    """Decimals written after the separator, trailing zeros not counted ("7,50" has 1).

    Counted in the text, not in the float: 4.000001 is within any float tolerance of
    4.0 but has six decimals, and must be refused rather than stored or rounded.
    """
    fraction = cells.astype(object).str.extract(r"[.,]([0-9]*)\Z", expand=False)
    return fraction.fillna("").str.rstrip("0").str.len().to_numpy(dtype="int64")


def _is_digits(cells: pd.Series) -> np.ndarray:
    """Whether each cell is ASCII digits only: the one form of a year or session number."""
    return cells.astype(object).str.fullmatch(_DIGITS, na=False).to_numpy(dtype=bool)


def _to_date(cells: pd.Series) -> np.ndarray:
    """Dates from ``d.m.yyyy`` (Norwegian) or ``yyyy-m-d``; NaT where not a calendar date.

    Returns ``datetime64[D]``, which holds years 0-9999, so "31.12.9999" or
    "0001-01-01" are dates the caller can call too late or too early; pandas'
    nanosecond timestamps end in 1677 and 2262 and would raise. Parsed here rather
    than by ``pd.to_datetime`` so that only ASCII digits count (strptime's ``%Y`` takes
    "２０２５") and the result does not depend on the pandas version.
    """
    text = cells.astype(object)  # object dtype: Python regular expressions in any pandas
    norwegian = text.str.extract(_NORWEGIAN_DATE)
    iso = text.str.extract(_ISO_DATE)
    parts = [
        pd.to_numeric(norwegian[k].fillna(iso[k]), errors="coerce").to_numpy(dtype="float64")
        for k in ("year", "month", "day")
    ]
    year, month, day = parts
    valid = ~np.isnan(year) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    year, month, day = (np.where(valid, x, 1).astype("int64") for x in parts)
    first = (year - 1970) * 12 + (month - 1)  # months since 1970-01
    month_start = first.astype("datetime64[M]")
    dates = month_start.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    valid &= dates.astype("datetime64[M]") == month_start  # 31.02 would run into March
    return np.where(valid, dates, np.datetime64("NaT", "D"))


def _item_problem(measure: measures.Measure, k: int, number: float, empty: bool) -> ValidationError:
    """Why the k-th item cell of ``measure`` failed the fast check, in the engine's terms.

    number: the cell as :func:`_to_number` read it (NaN if it is not a number).
    :func:`measures.score` gives the message for a missing item, a value out of range
    or (by value) too many decimals, so a file and the entry form say the same; what
    it would accept is refused here: text that is not a number in the documented
    forms, or more decimals written than the measure has (``4,000001``).
    """
    item = measure.items[k]
    if np.isnan(number) and not empty:
        return ValidationError("error.not_a_number", field=f"{measure.code}.{item}")
    one = replace(measure, items=(item,))  # so that score checks this one cell
    biggest = float(np.finfo("float64").max)  # "9" * 400 reads as inf: out of range, not NaN
    try:
        measures.score(one, {item: None if empty else min(max(number, -biggest), biggest)})
    except ValidationError as e:
        return e
    return ValidationError("error.too_many_decimals", field=f"{measure.code}.{item}")


class _Validation:
    """Checks every cell of a :class:`_Table`; ``parsed`` holds the values (None/NaN if bad)."""

    def __init__(self, table: _Table, problems: _Problems, today: date) -> None:
        self.table = table
        self.problems = problems
        self.today = np.datetime64(today, "D")
        self.this_year = today.year
        self.has = set(table.codes)
        self.bad = {c: np.zeros(table.n, dtype=bool) for c in self.has}
        self.empty = {c: table.spread(c, table.values[c].eq("")) for c in self.has}
        self.parsed: dict[str, np.ndarray] = {}

    def fail(self, key: str, mask: np.ndarray, column: str, **params: object) -> None:
        """Report ``key`` for every row in ``mask`` whose cell has no problem yet."""
        mask = np.asarray(mask, dtype=bool) & ~self.bad[column]
        for i in np.flatnonzero(mask):
            self.problems.at(key, i, column, **params)
        self.bad[column] |= mask

    def run(self) -> pd.DataFrame:
        """All checks in order; a cell gets at most one problem (the first check it fails)."""
        self.formulas()
        self.required()
        self.client_code()
        self.choices()
        self.dates()
        self.whole_numbers()
        self.derive_age_group()
        self.fits()
        self.items()
        self.total()
        self.text()
        return pd.DataFrame(self.parsed)

    def formulas(self) -> None:
        # any cell starting with "="; a text cell also with "+", "-" or "@"
        for c in self.has:
            first = self.table.values[c].str[:1]
            starts = first.isin(_FORMULA_START) if c in _TEXT_COLUMNS else first.eq("=")
            self.fail("io.formula_cell", self.table.spread(c, starts), c)

    def required(self) -> None:
        # item cells are checked against their measure in items()
        columns = [c for c in REQUIRED_COLUMNS if c not in ITEM_COLUMNS]
        for c in columns + (["session_no"] if "session_no" in self.has else []):
            self.fail("error.required", self.empty[c], c)
        present = [c for c in ("age_group", "birth_year") if c in self.has]
        neither = np.logical_and.reduce([self.empty[c] for c in present])
        self.fail("io.age_or_birth_year", neither, present[0])

    def client_code(self) -> None:
        # a pseudonymous code, never a national identity number; the value is never echoed
        ok = self.table.values["client_code"].map(is_client_code)
        wrong = self.table.spread("client_code", ~ok.astype(bool))
        self.fail("error.client_code", wrong & ~self.empty["client_code"], "client_code")

    def _choice(self, column: str, lookup: dict[str, str], choices: Iterable[str]) -> np.ndarray:
        per_value = self.table.values[column].map(lambda v: lookup.get(_norm_choice(v)))
        result = self.table.spread(column, per_value.astype(object))
        unknown = pd.isna(result) & ~self.empty[column]
        self.fail("error.bad_choice", unknown, column, choices=", ".join(choices))
        return np.where(self.bad[column], None, result)

    def choices(self) -> None:
        if "age_group" in self.has:
            lookup = _choice_lookup(measures.AGE_GROUPS, _AGE_ALIASES, "age_group")
            self.parsed["age_group"] = self._choice("age_group", lookup, measures.AGE_GROUPS)
        else:
            self.parsed["age_group"] = np.full(self.table.n, None, dtype=object)
        lookup = _choice_lookup(measures.FORMATS, _FORMAT_ALIASES, "format")
        self.parsed["format"] = self._choice("format", lookup, measures.FORMATS)
        lookup = {_norm_choice(code): code for code in measures.MEASURES}
        self.parsed["measure"] = self._choice("measure", lookup, measures.MEASURES)
        if RATER_COLUMN in self.has:  # optional; a blank cell is the client's own rating
            lookup = _choice_lookup(raters.RATERS, _RATER_ALIASES, "rater")
            given = self._choice(RATER_COLUMN, lookup, raters.RATERS)
            blank = self.empty[RATER_COLUMN]
            self.parsed[RATER_COLUMN] = np.where(blank, raters.DEFAULT_RATER, given)

    def dates(self) -> None:
        # days (years 0-9999) until checked; nanosecond timestamps only for dates from 1900
        earliest = np.datetime64(f"{_EARLIEST_YEAR}-01-01", "D")
        for c in _DATE_COLUMNS:
            parsed = self.table.spread(c, _to_date(self.table.values[c]))
            self.fail("error.bad_date", np.isnat(parsed) & ~self.empty[c], c)
            self.fail("io.date_too_early", parsed < earliest, c, year=_EARLIEST_YEAR)
            self.fail("error.date_future", parsed > self.today, c)
            checked = np.where(self.bad[c], np.datetime64("NaT", "D"), parsed)
            self.parsed[c] = checked.astype("datetime64[ns]")
        before = self.parsed["session_date"] < self.parsed["episode_start"]
        self.fail("error.date_before_start", before, "session_date")

    def whole_numbers(self) -> None:
        # digits only ("1990", not "1990,0" or "+1990"); other numbers get the clearest
        # message: out of range for 1899 or -5, "a whole number" for 1990,5
        if "birth_year" in self.has:
            values = self.table.values["birth_year"]
            year = self.table.spread("birth_year", _to_number(values))
            missing = np.isnan(year)
            self.fail("error.not_a_number", missing & ~self.empty["birth_year"], "birth_year")
            with np.errstate(invalid="ignore"):
                inside = (year >= _EARLIEST_YEAR) & (year <= self.this_year)
            high = self.this_year
            wrong = ~inside & ~missing
            self.fail("error.out_of_range", wrong, "birth_year", low=_EARLIEST_YEAR, high=high)
            digits = self.table.spread("birth_year", _is_digits(values))
            self.fail("io.whole_number", ~digits & ~missing, "birth_year")
            self.parsed["birth_year"] = np.where(self.bad["birth_year"], np.nan, year)
        else:
            self.parsed["birth_year"] = np.full(self.table.n, np.nan)
        if "session_no" in self.has:
            values = self.table.values["session_no"]
            number = self.table.spread("session_no", _to_number(values))
            self.fail("error.not_a_number", np.isnan(number), "session_no")
            digits = self.table.spread("session_no", _is_digits(values))
            with np.errstate(invalid="ignore"):
                whole = digits & (number >= 1) & (number <= _MAX_SESSION_NO)
            self.fail("io.session_no", ~whole, "session_no")
            self.parsed["session_no"] = np.where(self.bad["session_no"], np.nan, number)

    def derive_age_group(self) -> None:
        # the age group at the start of the episode, where only the birth year is given
        age = self.parsed["age_group"]
        start = self.parsed["episode_start"]
        derive = pd.isna(age) & ~np.isnan(self.parsed["birth_year"]) & ~np.isnat(start)
        if "age_group" in self.has:
            derive &= self.empty["age_group"]
        if not derive.any():
            return
        pairs = pd.DataFrame(
            {
                "born": self.parsed["birth_year"][derive].astype("int64"),
                "year": pd.DatetimeIndex(start[derive]).year.astype("int64"),
            }
        )
        groups = {
            (born, year): measures.age_group_for(born, date(year, 7, 1))
            for born, year in pairs.drop_duplicates().itertuples(index=False, name=None)
        }
        age = age.copy()
        age[derive] = [groups[p] for p in pairs.itertuples(index=False, name=None)]
        self.parsed["age_group"] = age

    def fits(self) -> None:
        # one measures.check_fits per distinct (measure, age group, format)
        combos = pd.DataFrame(
            {k: self.parsed[k] for k in ("measure", "age_group", "format")}, dtype=object
        )
        known = combos.notna().all(axis=1).to_numpy()
        for m, a, f in combos[known].drop_duplicates().itertuples(index=False, name=None):
            try:
                measures.check_fits(measures.get(m), a, f)
            except ValidationError as e:
                same = (combos["measure"] == m) & (combos["age_group"] == a)
                hit = known & (same & (combos["format"] == f)).to_numpy()
                self.fail(e.key, hit, "measure", **e.params)
        if RATER_COLUMN in self.has:  # a parent or teacher rates a child's outcome only
            rater = pd.Series(self.parsed[RATER_COLUMN], dtype=object)
            collateral = (rater.notna() & rater.ne(raters.DEFAULT_RATER)).to_numpy()
            for m, a in (
                combos[known & collateral]
                .drop_duplicates(["measure", "age_group"])[["measure", "age_group"]]
                .itertuples(index=False, name=None)
            ):
                if not raters.allows_collateral(measures.get(m).kind, a):
                    same = ((combos["measure"] == m) & (combos["age_group"] == a)).to_numpy()
                    self.fail("error.rater_not_allowed", known & collateral & same,
                              RATER_COLUMN, measure=m)  # fmt: skip

    def items(self) -> None:
        # a fast range/decimal check per row; each failure is explained by _item_problem
        code = pd.Series(self.parsed["measure"], dtype=object)
        ok_measure = code.notna().to_numpy()
        declared = {c: measures.get(c) for c in code.dropna().unique()}

        def per_row(attribute) -> np.ndarray:
            values = {c: attribute(m) for c, m in declared.items()}
            return code.map(values).to_numpy(dtype="float64", na_value=np.nan)

        n_items = per_row(lambda m: len(m.items))
        low, high = per_row(lambda m: m.item_range[0]), per_row(lambda m: m.item_range[1])
        decimals = per_row(lambda m: m.decimals)
        self.items_ok = ok_measure.copy()
        item_sum = np.zeros(self.table.n)
        for k, c in enumerate(ITEM_COLUMNS):
            used = ok_measure & (np.nan_to_num(n_items) > k)
            if c not in self.has:  # an optional column (item5-item10) the file lacks
                for i in np.flatnonzero(used):
                    e = _item_problem(declared[code.iat[i]], k, np.nan, True)
                    self.problems.at(e.key, i, None, field=e.field, **e.params)
                self.items_ok &= ~used
                self.parsed[c] = np.full(self.table.n, np.nan)
                continue
            number = self.table.spread(c, _to_number(self.table.values[c]))
            places = self.table.spread(c, _decimal_places(self.table.values[c]))
            with np.errstate(invalid="ignore"):
                ok = (number >= low) & (number <= high) & (places <= decimals)
            ok &= ~self.bad[c]
            for i in np.flatnonzero(used & ~ok & ~self.bad[c]):
                e = _item_problem(declared[code.iat[i]], k, number[i], self.empty[c][i])
                self.problems.at(e.key, i, c, field=e.field, **e.params)
                self.bad[c][i] = True
            extra = ok_measure & ~used & ~self.empty[c] & ~self.bad[c]
            for i in np.flatnonzero(extra):
                self.problems.at("error.unknown_item", i, c, item=c, measure=code.iat[i])
                self.bad[c][i] = True
            self.items_ok &= ~used | ok
            self.parsed[c] = np.where(used & ok, number, np.nan)
            item_sum += np.nan_to_num(self.parsed[c])
        total = np.full(self.table.n, np.nan)
        for d in np.unique(decimals[~np.isnan(decimals)]):
            rows = (decimals == d) & self.items_ok
            total[rows] = np.round(item_sum[rows], int(d))
        self.parsed["total"] = total

    def total(self) -> None:
        if "total" not in self.has:
            return
        given = self.table.spread("total", _to_number(self.table.values["total"]))
        self.fail("error.not_a_number", np.isnan(given) & ~self.empty["total"], "total")
        with np.errstate(invalid="ignore"):
            off = np.abs(given - self.parsed["total"]) > TOTAL_TOLERANCE + 1e-9
        self.fail("io.total_mismatch", off & self.items_ok, "total")

    def text(self) -> None:
        for c in _TEXT_COLUMNS:
            values = self.table.spread(c, self.table.values[c])
            self.parsed[c] = np.where(self.bad[c] | self.empty[c], None, values)


def _check_sessions(parsed: pd.DataFrame, problems: _Problems, has: set[str]) -> None:
    """Same measurement twice; rows of one session that disagree on date, format, clinician."""
    session = "session_no" if "session_no" in has else "session_date"
    keys = ["client_code", "episode_start", session]
    frame = parsed.assign(_row=problems.rows)
    complete = frame[keys].notna().all(axis=1)

    sub = frame[complete & frame["measure"].notna()]
    per = ["measure", RATER_COLUMN] if RATER_COLUMN in frame.columns else ["measure"]
    by_measure = sub.groupby([*keys, *per], sort=False, dropna=False)
    first_row = by_measure["_row"].transform("first").to_numpy()
    repeat = by_measure.cumcount().to_numpy() > 0
    for idx in np.flatnonzero(repeat):
        problem = ValidationError(
            "error.duplicate_row", row=int(sub["_row"].iat[idx]), other=int(first_row[idx])
        )
        problems.add(problem)

    sub = frame[complete]
    grouped = sub.groupby(keys, sort=False)
    first_row = grouped["_row"].transform("first").to_numpy()
    compare = ["format", "clinician"] + (["session_date"] if session == "session_no" else [])
    for c in compare:
        first = grouped[c].transform("first")
        differs = (sub[c].notna() & first.notna() & sub[c].ne(first)).to_numpy()
        for idx in np.flatnonzero(differs):
            problem = ValidationError(
                "io.session_mismatch",
                row=int(sub["_row"].iat[idx]),
                column=problems.headers[c],
                field=c,
                other=int(first_row[idx]),
            )
            problems.add(problem, c)


def _missing_columns(present: Iterable[str]) -> list[str]:
    """Required columns not in ``present``, in file order; age group or birth year as one."""
    present = set(present)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if "age_group" not in present and "birth_year" not in present:
        missing.insert(1 if "client_code" in missing else 0, "age_group/birth_year")
    return missing


def _match_headers(header: list[str], path: Path) -> dict[str, int]:
    """Canonical column -> position in the file; raises if columns are missing or doubled."""
    if not header:
        raise ImportFileError(str(path), [ValidationError("error.empty_file")])
    columns: dict[str, int] = {}
    problems: list[ValidationError] = []
    for position, head in enumerate(header):
        canon = canonical_column(head)
        if canon is None:
            continue  # other columns (comments, ids of another system) are ignored
        if canon in columns:
            problems.append(ValidationError("io.duplicate_column", column=head, field=canon))
        else:
            columns[canon] = position
    missing = _missing_columns(columns)
    if missing:
        problems.insert(0, MissingColumnsError(missing, where=path.name))
    if problems:
        raise ImportFileError(str(path), problems)
    return columns


def read_sessions(
    path: str | Path, *, max_bytes: int | None = None, today: date | None = None
) -> pd.DataFrame:
    """Read a session file (.csv or .xlsx) into a validated frame, or report every problem.

    path: the file. CSV: separator ``;``, ``,`` or tab (sniffed; Norwegian Excel writes
    ``;``), UTF-8 with or without BOM, UTF-16 with BOM or Windows-1252, decimal comma
    or point, dates ``dd.mm.yyyy`` or ``yyyy-mm-dd``: exactly the forms
    ``docs/import-format.md`` lists (ASCII digits, no exponent or "_"; dates from 1900
    to today). XLSX: the first worksheet; real Excel dates and numbers, or text in the
    CSV conventions. The type is told by the
    content, not the suffix. Headers are matched by name (:data:`ALIASES`), in any order;
    other columns are ignored, and so are rows with no cell filled in.
    max_bytes: larger files are refused unread (default :data:`MAX_BYTES`, 50 MB).
    today: dates after it count as "in the future" (default: today).

    Returns one row per measurement with :data:`FRAME_COLUMNS`: text columns,
    ``birth_year`` (Int64), ``episode_start``/``session_date`` (datetime64[ns]),
    ``session_no`` (int64; numbered by date within the episode when the file has no
    such column), ``item1``-``item4`` (float, NaN past the measure's items; up to
    ``item10`` when a measure that wide is in the file), ``total``
    (float, computed from the items), ``source_row`` (the spreadsheet row, header = 1).
    ``age_group`` is derived from ``birth_year`` at the episode start where not given.

    Raises :class:`~kor.errors.ImportFileError` listing every problem found, sorted by
    row, each a :class:`~kor.errors.ValidationError` with ``row`` and ``column`` (the
    header as written). Messages never contain a client code or an item value.

    Example (the file is the one in ``docs/import-format.md``)::

        >>> frame = read_sessions("tests/data/io/valid_nb.csv")  # doctest: +SKIP
        >>> frame.loc[:2, ["client_code", "session_no", "measure", "total", "source_row"]]
        ... # doctest: +SKIP
          client_code  session_no measure  total  source_row
        0        K001           1     ORS   18.7           2
        1        K001           1     SRS   35.6           3
        2        K001           2     ORS   24.5           4
    """
    path = Path(path)
    name = str(path)
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > max_bytes:
            mb = 1024 * 1024
            raise _Refused(
                ValidationError(
                    "io.too_large", size_mb=f"{size / mb:.1f}", limit_mb=f"{max_bytes / mb:.1f}"
                )
            )
        data = path.read_bytes()
        if not data.strip():
            raise _Refused(ValidationError("error.empty_file"))
        sheet = _load(data)
    except _Refused as refused:
        raise ImportFileError(name, refused.problems) from None
    except OSError:
        raise ImportFileError(name, _bad_file("unreadable").problems) from None

    columns = _match_headers(sheet.header, path)
    cells = sheet.cells.iloc[:, list(columns.values())]
    cells.columns = list(columns)
    rows = np.arange(sheet.first_row, sheet.first_row + len(cells), dtype=np.int64)
    table = _Table(cells, rows)
    if table.n == 0:
        raise ImportFileError(name, sheet.problems or [ValidationError("error.empty_file")])
    headers = {c: sheet.header[p] for c, p in columns.items()}
    found = _Problems(table.rows, headers, columns)
    for problem in sheet.problems:
        found.add(problem)
    parsed = _Validation(table, found, today or date.today()).run()
    _check_sessions(parsed, found, set(columns))
    if found:
        raise ImportFileError(name, found.sorted())
    return _frame(parsed, table.rows, "session_no" in columns)


def read_cells(
    cells: pd.DataFrame,
    *,
    source: str,
    rows: np.ndarray | None = None,
    today: date | None = None,
) -> pd.DataFrame:
    """Validate cells that another format's reader took out, with every check of
    :func:`read_sessions`, so that format needs no second set of rules (:mod:`kor.fhir`).

    cells: one row per measurement, columns named by canonical name (:data:`COLUMNS`;
    others are ignored), each cell text as a file would hold it ("" when empty).
    source: named in the error. rows: the position of each row as problems report it
    (default 2, 3, ... as a spreadsheet counts); columns are reported by canonical name.
    Returns the frame :func:`read_sessions` returns, ``source_row`` = ``rows``; raises
    :class:`~kor.errors.ImportFileError` listing every problem.
    """
    columns = [c for c in _ANY_COLUMNS if c in cells.columns]
    missing = _missing_columns(columns)
    if missing:
        raise ImportFileError(source, [MissingColumnsError(missing, where=source)])
    if rows is None:
        rows = np.arange(2, 2 + len(cells), dtype=np.int64)
    text = cells.loc[:, columns].reset_index(drop=True).astype(object)
    table = _Table(text, np.asarray(rows, dtype=np.int64))
    if table.n == 0:
        raise ImportFileError(source, [ValidationError("error.empty_file")])
    order = {c: i for i, c in enumerate(columns)}
    found = _Problems(table.rows, {c: c for c in columns}, order)
    parsed = _Validation(table, found, today or date.today()).run()
    _check_sessions(parsed, found, set(columns))
    if found:
        raise ImportFileError(source, found.sorted())
    return _frame(parsed, table.rows, "session_no" in columns)


def _frame(parsed: pd.DataFrame, rows: np.ndarray, numbered: bool) -> pd.DataFrame:
    """The returned frame in :data:`FRAME_COLUMNS` order and dtypes."""
    if numbered:
        number = parsed["session_no"].astype("int64")
    else:  # numbered by date within the episode; ORS and SRS of one day share a number
        number = (
            parsed.groupby(["client_code", "episode_start"], sort=False)["session_date"]
            .rank(method="dense")
            .astype("int64")
        )
    text = {c: parsed[c].astype(str) for c in ("client_code", "age_group", "team", "clinician")}
    out = pd.DataFrame(
        {
            **text,
            "birth_year": pd.array(parsed["birth_year"].round(), dtype="Int64"),
            "episode_start": parsed["episode_start"].astype("datetime64[ns]"),
            "session_date": parsed["session_date"].astype("datetime64[ns]"),
            "session_no": number,
            "format": parsed["format"].astype(str),
            "measure": parsed["measure"].astype(str),
            **{c: parsed[c].astype("float64") for c in ITEM_COLUMNS},
            "total": parsed["total"].astype("float64"),
            "source_row": rows.astype("int64"),
        }
    )
    rater = [RATER_COLUMN] if RATER_COLUMN in parsed.columns else []
    for c in rater:
        out[c] = parsed[c].astype(str)
    items = item_columns(out["measure"].unique())  # past the widest measure's: left out
    return out.loc[:, [*file_columns(items), *rater, "source_row"]].reset_index(drop=True)


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _per_value(values: pd.Series, render: Callable[[object], str]) -> np.ndarray:
    """``render`` applied once per distinct value (files repeat values a lot); "" if missing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([render(v) for v in uniques] + [""], dtype=object)
    return texts[codes]  # code -1 (missing) takes the trailing ""


def _neutral_text(value: object) -> str:
    """Text with ``'`` before a leading =, +, -, @, tab or CR (OWASP: CSV injection)."""
    text = str(value)
    return "'" + text if text.startswith(_NEUTRALISE_START) else text


def _neutralise(cells: pd.Series) -> np.ndarray:
    """Text cells ready to write: formula-looking text neutralised, "" for missing."""
    return _per_value(cells, _neutral_text)


def _decimal_comma(values: pd.Series) -> np.ndarray:
    """Shortest exact text of each float (so reading back gives the same float), comma decimal."""
    return _per_value(values, lambda v: repr(float(v)).replace(".", ","))


def _as_dates(values: pd.Series, column: str) -> pd.Series:
    """Dates of a frame column; text is read day first (05.01.2025 is 5 January)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.to_datetime(values, format="mixed", dayfirst=True)
    except (TypeError, ValueError):
        raise ValidationError("error.bad_date", column=column, field=column) from None


def _prepared(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The frame's canonical columns, dates as datetime64 and numbers as numbers."""
    missing = _missing_columns(set(frame.columns))
    if missing:
        raise MissingColumnsError(missing, where="frame")
    columns: dict[str, pd.Series] = {}
    codes = frame["measure"].dropna().unique() if "measure" in frame.columns else []
    wanted = (*file_columns(item_columns(codes)), RATER_COLUMN)  # none past the widest items
    for c in wanted:
        if c not in frame.columns:
            continue
        if c in _DATE_COLUMNS:
            columns[c] = _as_dates(frame[c], c)
        elif c in _FLOAT_COLUMNS + _INT_COLUMNS:
            try:
                columns[c] = pd.to_numeric(frame[c])
            except (TypeError, ValueError):
                raise ValidationError("error.not_a_number", column=c, field=c) from None
        else:
            columns[c] = frame[c]
    return columns


def _write_csv(columns: dict[str, pd.Series], handle: IO[bytes]) -> None:
    text: dict[str, np.ndarray] = {}
    for c, values in columns.items():
        if c in _DATE_COLUMNS:
            text[c] = _per_value(values, lambda v: v.strftime("%d.%m.%Y"))
        elif c in _FLOAT_COLUMNS:
            text[c] = _decimal_comma(values)
        elif c in _INT_COLUMNS:
            text[c] = _per_value(values, lambda v: str(int(v)))
        else:
            text[c] = _neutralise(values)
    out = pd.DataFrame(text)
    wrapper = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    out.to_csv(wrapper, sep=";", index=False, lineterminator="\r\n")
    wrapper.flush()
    wrapper.detach()


def _write_xlsx(columns: dict[str, pd.Series], handle: IO[bytes]) -> None:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("sessions")
    sheet.append(list(columns))

    def date_cell(value: pd.Timestamp) -> WriteOnlyCell:
        # one styled cell per distinct date: a write-only sheet writes each row as appended
        cell = WriteOnlyCell(sheet, value=value.to_pydatetime())
        cell.number_format = "DD.MM.YYYY"
        return cell

    cells: list[np.ndarray] = []
    for c, values in columns.items():
        if c in _DATE_COLUMNS:
            codes, uniques = pd.factorize(values)
            styled = [date_cell(pd.Timestamp(v)) for v in uniques]
            cells.append(np.array([*styled, None], dtype=object)[codes])
        elif c in _FLOAT_COLUMNS:
            cells.append(np.array([None if pd.isna(v) else float(v) for v in values], dtype=object))
        elif c in _INT_COLUMNS:
            cells.append(np.array([None if pd.isna(v) else int(v) for v in values], dtype=object))
        else:
            text = np.array(
                [ILLEGAL_CHARACTERS_RE.sub("", v) for v in _neutralise(values)], dtype=object
            )
            cells.append(np.where(text == "", None, text))
    for row in zip(*cells, strict=True):
        sheet.append(row)
    book.save(handle)


def write_sessions(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write sessions in the import format; ``.csv`` or ``.xlsx`` by the path's suffix.

    frame: one row per measurement with the canonical columns (:data:`COLUMNS`; the
    frame :func:`read_sessions` returns will do; other columns are left out).
    CSV is written for Norwegian Excel: UTF-8 with BOM, separator ``;``, decimal comma,
    dates ``dd.mm.yyyy``, CRLF line ends. XLSX has real dates and numbers.
    Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, tab or CR) is prefixed with ``'``. The file is written to a temporary file
    beside the target and renamed, so a failed write leaves nothing half-written; the
    file is readable by its owner only (mode 0600), as befits client data.

    Returns the path written. :func:`read_sessions` reads back exactly what this writes.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    writers = {".csv": _write_csv, ".xlsx": _write_xlsx}
    if suffix not in writers:
        raise ValidationError("io.unsupported_suffix", field="path", suffix=suffix or "-")
    columns = _prepared(frame)
    return write_atomically(path, lambda handle: writers[suffix](columns, handle))
