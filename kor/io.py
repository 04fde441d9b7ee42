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
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from kor import measures
from kor.errors import ImportFileError, MissingColumnsError, ValidationError
from kor.frames import FILE_COLUMNS, ITEM_COLUMNS
from kor.i18n import t

__all__ = [
    "COLUMNS",
    "ITEM_COLUMNS",
    "REQUIRED_COLUMNS",
    "ALIASES",
    "FRAME_COLUMNS",
    "MAX_BYTES",
    "TOTAL_TOLERANCE",
    "canonical_column",
    "read_sessions",
    "write_sessions",
]

#: File columns in the order :func:`write_sessions` writes them (canonical headers).
COLUMNS: tuple[str, ...] = FILE_COLUMNS
#: Columns a file must have; in addition ``age_group`` or ``birth_year`` (or both).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "client_code",
    "team",
    "clinician",
    "episode_start",
    "session_date",
    "format",
    "measure",
    *ITEM_COLUMNS,
)
#: Columns of the frame :func:`read_sessions` returns.
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
    "item1": ("item1", "ledd1"),
    "item2": ("item2", "ledd2"),
    "item3": ("item3", "ledd3"),
    "item4": ("item4", "ledd4"),
    "total": ("total", "sum", "totalskår"),
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
_CLIENT_CODE = r"[A-Za-z0-9_-]{3,20}"
_NATIONAL_ID = r"\d{11}"  # fødselsnummer / D-nummer: eleven digits
_EARLIEST_YEAR = 1900
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
    """Text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
    except UnicodeDecodeError:
        raise _Refused(ValidationError("error.bad_encoding")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise _Refused(ValidationError("error.bad_encoding")) from None


def _sniff_separator(header_line: str) -> str:
    """The separator that makes the most recognised headers (``;`` wins ties, as Excel writes)."""
    best, best_score = ";", -1
    for sep in (";", ",", "\t"):
        try:
            fields = next(csv.reader([header_line], delimiter=sep), [])
        except csv.Error:
            fields = []
        score = sum(canonical_column(f) is not None for f in fields)
        score = score * 1000 + len(fields)  # recognised headers first, then field count
        if score > best_score:
            best, best_score = sep, score
    return best


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
    """An XLSX cell as the text a CSV would hold (dates ISO, numbers with a point)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = getattr(value, "text", None)  # openpyxl ArrayFormula / DataTableFormula
    return str(text if text is not None else value)


def _read_xlsx(data: bytes) -> _Sheet:
    """Header and cells of the first worksheet; formulas come through as ``=...`` text."""
    import openpyxl

    book = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            sheet = book.worksheets[0]
            rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    except Exception:  # noqa: BLE001 - openpyxl raises many types for a broken workbook
        raise _bad_file("not_xlsx") from None
    finally:
        if book is not None:
            with contextlib.suppress(Exception):
                book.close()
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

    def text(self, column: str, row: int) -> str:
        """The cell of ``column`` in table row ``row`` (stripped text)."""
        return self.values[column].iat[self.codes[column][row]]


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
    """Numbers from text with decimal point or comma; NaN where the cell is not a number."""
    text = cells.str.replace(",", ".", regex=False).str.replace("\u2212", "-", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")


def _to_date(cells: pd.Series) -> np.ndarray:
    """Dates from ``dd.mm.yyyy`` (Norwegian) or ``yyyy-mm-dd``; NaT where not a real date."""
    norwegian = pd.to_datetime(cells, format="%d.%m.%Y", errors="coerce")
    iso = pd.to_datetime(cells, format="%Y-%m-%d", errors="coerce")
    parsed = norwegian.fillna(iso).astype("datetime64[ns]")
    return parsed.where(parsed >= pd.Timestamp(_EARLIEST_YEAR, 1, 1)).to_numpy()


def _single_item_measure(measure: measures.Measure, k: int) -> measures.Measure:
    """The measure reduced to its k-th item, so :func:`measures.score` checks one cell."""
    return replace(measure, items=(measure.items[k],))


class _Validation:
    """Checks every cell of a :class:`_Table`; ``parsed`` holds the values (None/NaN if bad)."""

    def __init__(self, table: _Table, problems: _Problems, today: date) -> None:
        self.table = table
        self.problems = problems
        self.today = pd.Timestamp(today).to_datetime64()
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
        values = self.table.values["client_code"]
        ok = values.str.fullmatch(_CLIENT_CODE) & ~values.str.contains(_NATIONAL_ID)
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

    def dates(self) -> None:
        for c in _DATE_COLUMNS:
            parsed = self.table.spread(c, _to_date(self.table.values[c]))
            self.fail("error.bad_date", np.isnat(parsed) & ~self.empty[c], c)
            self.fail("error.date_future", parsed > self.today, c)
            self.parsed[c] = np.where(self.bad[c], np.datetime64("NaT"), parsed)
        before = self.parsed["session_date"] < self.parsed["episode_start"]
        self.fail("error.date_before_start", before, "session_date")

    def whole_numbers(self) -> None:
        if "birth_year" in self.has:
            year = self.table.spread("birth_year", _to_number(self.table.values["birth_year"]))
            missing = np.isnan(year)
            self.fail("error.not_a_number", missing & ~self.empty["birth_year"], "birth_year")
            with np.errstate(invalid="ignore"):
                whole = (year % 1 == 0) & (year >= _EARLIEST_YEAR) & (year <= self.this_year)
            high = self.this_year
            wrong = ~whole & ~missing
            self.fail("error.out_of_range", wrong, "birth_year", low=_EARLIEST_YEAR, high=high)
            self.parsed["birth_year"] = np.where(self.bad["birth_year"], np.nan, year)
        else:
            self.parsed["birth_year"] = np.full(self.table.n, np.nan)
        if "session_no" in self.has:
            number = self.table.spread("session_no", _to_number(self.table.values["session_no"]))
            self.fail("error.not_a_number", np.isnan(number), "session_no")
            with np.errstate(invalid="ignore"):
                whole = (number % 1 == 0) & (number >= 1)
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

    def items(self) -> None:
        # a fast range/decimal check per row; measures.score explains each failure
        code = pd.Series(self.parsed["measure"], dtype=object)
        ok_measure = code.notna().to_numpy()
        declared = {c: measures.get(c) for c in code.dropna().unique()}

        def per_row(attribute) -> np.ndarray:
            values = {c: attribute(m) for c, m in declared.items()}
            return code.map(values).to_numpy(dtype="float64", na_value=np.nan)

        n_items = per_row(lambda m: len(m.items))
        low, high = per_row(lambda m: m.item_range[0]), per_row(lambda m: m.item_range[1])
        decimals = per_row(lambda m: m.decimals)
        scale = 10.0**decimals
        self.items_ok = ok_measure.copy()
        item_sum = np.zeros(self.table.n)
        for k, c in enumerate(ITEM_COLUMNS):
            used = ok_measure & (np.nan_to_num(n_items) > k)
            number = self.table.spread(c, _to_number(self.table.values[c])).copy()
            with np.errstate(invalid="ignore"):
                scaled = number * scale
                ok = (
                    (number >= low) & (number <= high) & (np.abs(scaled - np.round(scaled)) <= 1e-6)
                )
            ok &= ~self.bad[c]
            for i in np.flatnonzero(used & ~ok & ~self.bad[c]):
                measure = declared[code.iat[i]]
                try:
                    value = measures.score(
                        _single_item_measure(measure, k), {measure.items[k]: self.table.text(c, i)}
                    )
                except ValidationError as e:
                    self.problems.at(e.key, i, c, field=e.field, **e.params)
                    self.bad[c][i] = True
                else:  # the engine accepts what the fast check did not (other digits)
                    number[i] = value[measure.items[k]]
                    ok[i] = True
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
    by_measure = sub.groupby([*keys, "measure"], sort=False)
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
    or point, dates ``dd.mm.yyyy`` or ``yyyy-mm-dd``. XLSX: the first worksheet; real
    Excel dates and numbers, or text in the CSV conventions. The type is told by the
    content, not the suffix. Headers are matched by name (:data:`ALIASES`), in any order;
    other columns are ignored, and so are rows with no cell filled in.
    max_bytes: larger files are refused unread (default :data:`MAX_BYTES`, 50 MB).
    today: dates after it count as "in the future" (default: today).

    Returns one row per measurement with :data:`FRAME_COLUMNS`: text columns,
    ``birth_year`` (Int64), ``episode_start``/``session_date`` (datetime64[ns]),
    ``session_no`` (int64; numbered by date within the episode when the file has no
    such column), ``item1``-``item4`` (float, NaN past the measure's items), ``total``
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
    return out.loc[:, list(FRAME_COLUMNS)].reset_index(drop=True)


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
    for c in COLUMNS:
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            writers[suffix](columns, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
