"""Bad input never corrupts or silently alters data (Hypothesis over importers and forms).

Every property runs on a real SQLite store. For each generated case: either the whole
file (or form) is accepted and the database then holds exactly the values given, or a
:class:`~kor.errors.KorError` with a catalog message is raised and a checksum of every
row of every table is unchanged. No other exception may escape. The number of cases
per property is in ``EXAMPLES`` (kept modest: CI has 2 cores).
"""

from __future__ import annotations

import codecs
import hashlib
import math
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kor.access import SYSTEM
from kor.errors import ImportFileError, KorError, ValidationError
from kor.i18n import catalog
from kor.io import read_sessions, write_sessions
from kor.store import Store, schema

DATA = Path(__file__).parent / "data" / "io"
VALID = (DATA / "valid_nb.csv").read_text(encoding="utf-8-sig")
HEADER, *ROWS = VALID.strip().splitlines()
EXAMPLES = {"bytes": 60, "cells": 80, "shape": 40, "encoding": 16, "form": 120, "export": 40}
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
TABLES = (
    schema.team,
    schema.app_user,
    schema.client,
    schema.episode,
    schema.session,
    schema.measurement,
    schema.audit,
)


def _store_with_users(folder: Path) -> Store:
    """A real SQLite store with the teams and users the test file names."""
    st_ = Store.open(f"sqlite:///{folder / 'kor.sqlite'}")
    for code in ("T1", "T2"):
        st_.add_team(SYSTEM, code, code)
    for user, team in (("kari", "T1"), ("ola", "T2"), ("admin", None)):
        st_.add_user(SYSTEM, user, "admin" if user == "admin" else "clinician", team=team)
    return st_


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory) -> Store:
    """One store for the whole module: the fuzz tests may store a valid mutated file."""
    st_ = _store_with_users(tmp_path_factory.mktemp("fuzz"))
    yield st_
    st_.close()


@pytest.fixture
def empty_store(tmp_path) -> Store:
    """A store of its own, for a test whose file must import: a fuzz test before it may
    have stored the same rows with other values, and the import would then conflict."""
    st_ = _store_with_users(tmp_path)
    yield st_
    st_.close()


def checksum(store: Store) -> str:
    """SHA-256 over every row of every table, rows in id order."""
    digest = hashlib.sha256()
    with store.engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(sa.select(table).order_by(table.c.id)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _stored_items(store: Store) -> dict[tuple, tuple]:
    with store.engine.connect() as conn:
        q = sa.select(
            schema.client.c.code,
            schema.session.c.number,
            schema.measurement.c.measure,
            schema.measurement.c.item1,
            schema.measurement.c.item2,
            schema.measurement.c.item3,
            schema.measurement.c.item4,
            schema.measurement.c.total,
        ).select_from(
            schema.measurement.join(schema.session).join(schema.episode).join(schema.client)
        )
        return {(r[0], r[1], r[2]): tuple(r[3:]) for r in conn.execute(q)}


def _same(a: object, b: object) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and abs(float(a) - float(b)) < 1e-9


def _assert_clear_message(exc: KorError) -> None:
    problems = exc.problems if isinstance(exc, ImportFileError) else [exc]
    assert problems
    for p in problems:
        assert getattr(p, "key", None) in catalog(), p


def import_case(store: Store, path: Path) -> str:
    """Read + import ``path``; check the all-or-nothing property; return the outcome."""
    before = checksum(store)
    admin = store.actor_for("admin")
    try:
        frame = read_sessions(path)
        store.import_sessions(admin, frame, source=str(path))
    except KorError as exc:
        _assert_clear_message(exc)
        assert checksum(store) == before, "a refused file changed the database"
        return "refused"
    stored = _stored_items(store)
    for rec in frame.itertuples(index=False):
        items = stored[(rec.client_code, int(rec.session_no), rec.measure)]
        given_ = (rec.item1, rec.item2, rec.item3, rec.item4, rec.total)
        assert all(_same(g, s) for g, s in zip(given_, items, strict=True)), "silently altered"
    return "imported"


OUTCOMES: dict[str, dict[str, int]] = {}


def _count(name: str, outcome: str) -> None:
    OUTCOMES.setdefault(name, {}).setdefault(outcome, 0)
    OUTCOMES[name][outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    if OUTCOMES:
        print("\nfuzz outcomes per property:", OUTCOMES)


# --------------------------------------------------------------------- files
@settings(FUZZ, max_examples=EXAMPLES["bytes"])
@given(data=st.one_of(st.binary(max_size=2000), st.binary(max_size=64).map(lambda b: b * 50)))
def test_random_bytes_are_refused_cleanly(fuzz_store, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "f.csv"
    path.write_bytes(data)
    _count("bytes", import_case(fuzz_store, path))


HOSTILE_CELLS = st.one_of(
    st.sampled_from(
        [
            "31.02.2026",
            "29.02.2025",
            "00.01.2025",
            "2025-13-01",
            "7,5",
            "7.5",
            "75",
            "-1",
            "\u22121",
            "10,05",
            "1e1",
            "NaN",
            "inf",
            "",
            " ",
            "=1+1",
            "+cmd|' /C calc'!A0",
            "@SUM(A1:A9)",
            "-2+3",
            '=HYPERLINK("http://x")',
            "01018012345",
            "K001",
            "ORS",
            "SRS",
            "voksen",
            "gruppe",
            "x" * 5000,
            "\x00",
            "K001\nK002",
            '"',
            ";",
        ]
    ),
    st.text(max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: str(f).replace(".", ",")),
)


@settings(FUZZ, max_examples=EXAMPLES["cells"])
@given(
    row=st.integers(0, len(ROWS) - 1),
    column=st.integers(0, HEADER.count(";")),
    value=HOSTILE_CELLS,
)
def test_one_hostile_cell_is_reported_or_stored_exactly(
    fuzz_store, tmp_path_factory, row, column, value
):
    lines = [HEADER, *ROWS]
    cells = lines[row + 1].split(";")
    cells[column] = value
    lines[row + 1] = ";".join(cells)
    path = tmp_path_factory.mktemp("c") / "f.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    _count("cells", import_case(fuzz_store, path))


@settings(FUZZ, max_examples=EXAMPLES["shape"])
@given(
    order=st.permutations(range(HEADER.count(";") + 1)),
    swap_headers=st.booleans(),
    duplicate=st.lists(st.integers(0, len(ROWS) - 1), max_size=3),
    drop=st.lists(st.integers(0, len(ROWS) - 1), max_size=2),
)
def test_swapped_columns_duplicated_and_missing_rows(
    fuzz_store, tmp_path_factory, order, swap_headers, duplicate, drop
):
    """Columns in any order are matched by header; headers swapped over data are caught."""
    table = [line.split(";") for line in (HEADER, *ROWS)]
    body = [r for i, r in enumerate(table[1:]) if i not in drop] + [table[1 + i] for i in duplicate]
    header = table[0]
    if swap_headers:  # headers of two value columns swapped: the data no longer fit
        header = list(header)
        header[9], header[5] = header[5], header[9]
    lines = [";".join(r[i] for i in order) for r in (header, *body)]
    path = tmp_path_factory.mktemp("s") / "f.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _count("shape", import_case(fuzz_store, path))


@settings(FUZZ, max_examples=EXAMPLES["encoding"])
@given(
    encoding=st.sampled_from(
        ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1", "shift_jis", "utf-32"]
    ),
    mangle=st.booleans(),
)
def test_wrong_encodings_are_read_right_or_refused(fuzz_store, tmp_path_factory, encoding, mangle):
    text = VALID.replace("\n", "\r\n")
    data = text.encode(encoding, errors="replace")
    if mangle:
        data = data[: len(data) // 2] + b"\xff\xfe\x00" + data[len(data) // 2 :]
    path = tmp_path_factory.mktemp("e") / "f.csv"
    path.write_bytes(data)
    _count("encoding", import_case(fuzz_store, path))


def test_a_huge_file_is_refused_unread(fuzz_store, tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:  # sparse: 60 MB without writing them
        f.write(VALID.encode())
        f.truncate(60 * 1024 * 1024)
    before = checksum(fuzz_store)
    with pytest.raises(ImportFileError) as err:
        read_sessions(path)
    assert [p.key for p in err.value.problems] == ["io.too_large"]
    assert checksum(fuzz_store) == before


def test_a_corrupt_or_hostile_workbook_is_refused_or_stored_exactly(fuzz_store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    for line in (HEADER, *ROWS):
        sheet.append(line.split(";"))
    sheet["J2"] = "=1+9"  # a formula where a score belongs
    path = tmp_path / "f.xlsx"
    book.save(path)
    assert import_case(fuzz_store, path) == "refused"
    truncated = tmp_path / "t.xlsx"
    truncated.write_bytes(path.read_bytes()[:900])
    assert import_case(fuzz_store, truncated) == "refused"


# ---------------------------------------------------------------- spreadsheets
PRINTABLE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).map(lambda s: "".join(c for c in s if c in "\t\r" or ord(c) >= 32))


@settings(max_examples=EXAMPLES["export"], deadline=None)
@given(
    text=PRINTABLE,
    lead=st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\u2212", ""]),
)
def test_exports_neutralise_formula_injection(tmp_path_factory, text, lead):
    """A cell starting with =, +, -, @, tab or CR is written with a leading ' (OWASP)."""
    frame = read_sessions(DATA / "valid_nb.csv").head(1).copy()
    frame["clinician"] = lead + text
    out = tmp_path_factory.mktemp("x")
    write_sessions(frame, out / "x.xlsx")
    cell = openpyxl.load_workbook(out / "x.xlsx").active.cell(row=2, column=5).value or ""
    dangerous = (lead + text).startswith(("=", "+", "-", "@", "\t", "\r"))
    if dangerous:
        assert cell.startswith("'"), cell
    else:
        assert not str(cell).startswith(("=", "+", "-", "@"))
    _count("export", "neutralised" if dangerous else "plain")


# ---------------------------------------------------------------------- forms
ITEM_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1, max_value=11).map(lambda f: round(f, 2)),
    st.integers(-5, 100),
    st.sampled_from(["7,5", "7.5", "75", "-1", "\u22121", "", "abc", "10,0", "0", "=1+1", "1e1"]),
    st.none(),
    st.booleans(),
)
DATES = st.dates(min_value=date(1999, 6, 1), max_value=date.today() + timedelta(days=400))
ORS_ITEMS = ("individually", "interpersonally", "socially", "overall")


@pytest.fixture(scope="module")
def form_episode(fuzz_store) -> int:
    kari = fuzz_store.actor_for("kari")
    fuzz_store.add_client(kari, "FORM01", team="T1", age_group="adult")
    return fuzz_store.open_episode(kari, "FORM01", start=date(2000, 1, 1))


VALID_ITEM = st.integers(0, 100).map(lambda i: i / 10)


@settings(FUZZ, max_examples=EXAMPLES["form"])
@given(
    valid=st.tuples(*[VALID_ITEM] * 4),
    hostile=st.lists(st.tuples(st.integers(0, 3), ITEM_VALUES), max_size=2),
    when=DATES,
    fmt=st.sampled_from(["individual", "individual", "individual", "group", "gruppe", ""]),
    measure=st.sampled_from(["ORS", "ORS", "ORS", "SRS", "CORS", "XYZ"]),
)
def test_entry_form_values_are_refused_or_stored_exactly(
    fuzz_store, form_episode, valid, hostile, when, fmt, measure
):
    values = list(valid)
    for index, value in hostile:  # up to two items replaced by hostile values
        values[index] = value
    kari = fuzz_store.actor_for("kari")
    before = checksum(fuzz_store)
    items = dict(zip(ORS_ITEMS, values, strict=True))
    if measure == "SRS":
        srs = ("relationship", "goals_topics", "approach_method", "overall")
        items = dict(zip(srs, values, strict=True))
    try:
        sid = fuzz_store.record_session(
            kari, form_episode, session_date=when, format=fmt, measurements={measure: items}
        )
    except KorError as exc:
        _assert_clear_message(exc)
        assert checksum(fuzz_store) == before
        _count("form", "refused")
        return
    except (ValueError, TypeError) as exc:  # pragma: no cover - reported as a failure
        pytest.fail(f"{type(exc).__name__} escaped instead of a clear message")
    with fuzz_store.engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.measurement).where(schema.measurement.c.session_id == sid)
        ).one()
    numbers = [float(str(v).replace(",", ".").replace("\u2212", "-")) for v in values]
    assert [row.item1, row.item2, row.item3, row.item4] == pytest.approx(numbers, abs=1e-9)
    assert all(0.0 <= n <= 10.0 for n in numbers)
    _count("form", "stored")


def test_a_duplicated_session_is_a_clear_conflict_not_a_second_row(fuzz_store, form_episode):
    kari = fuzz_store.actor_for("kari")
    sid = fuzz_store.record_session(
        kari,
        form_episode,
        session_date=date(2001, 1, 1),
        measurements={"ORS": {i: 5 for i in ORS_ITEMS}},
    )
    number = (
        fuzz_store.dataset(kari, episode=form_episode).sessions.set_index("session_id").number[sid]
    )
    before = checksum(fuzz_store)
    with pytest.raises(KorError) as err:
        fuzz_store.record_session(
            kari,
            form_episode,
            session_date=date(2001, 1, 1),
            number=int(number),
            measurements={"ORS": {i: 6 for i in ORS_ITEMS}},
        )
    assert err.value.key == "error.conflict"
    assert checksum(fuzz_store) == before
    with pytest.raises(ValidationError) as err:
        fuzz_store.add_measurement(kari, sid, "ORS", {i: 6 for i in ORS_ITEMS})
    assert err.value.key == "error.measure_twice"
    assert checksum(fuzz_store) == before


def test_control_characters_in_a_text_cell_do_not_break_the_xlsx_export(tmp_path):
    frame = read_sessions(DATA / "valid_nb.csv").head(1).copy()
    frame["clinician"] = "kari\x08"
    try:
        write_sessions(frame, tmp_path / "x.xlsx")
    except KorError:
        return
    assert openpyxl.load_workbook(tmp_path / "x.xlsx").active.cell(row=2, column=5).value


@pytest.mark.parametrize("text", ["31.02.2026", "2026-02-31", "", "not a date", "05.01.2025"])
def test_a_date_typed_as_text_is_refused_or_read_day_first(fuzz_store, form_episode, text):
    kari = fuzz_store.actor_for("kari")
    before = checksum(fuzz_store)
    try:
        sid = fuzz_store.record_session(
            kari, form_episode, session_date=text, measurements={"ORS": {i: 5 for i in ORS_ITEMS}}
        )
    except KorError as exc:
        _assert_clear_message(exc)
        assert checksum(fuzz_store) == before
        return
    stored = fuzz_store.dataset(kari, episode=form_episode).sessions.set_index("session_id")
    assert stored.session_date[sid].date() == date(2025, 1, 5)  # 5 January, as Norwegians write


# ------------------------------------- cells in undocumented forms (issue 14): refused
# Each case: one cell of the valid file changed; the problem is reported with its
# row and column, and importing through the store writes nothing.
TARGET_ROW = 1  # the SRS row of session 1: spreadsheet row 3
SESSION_NUMBERS = ("1", "1", "2", "2", "1", "2")  # an Øktnr column for the valid file


def _valid_lines(session_no: bool = False) -> list[str]:
    if not session_no:
        return [HEADER, *ROWS]
    return [f"{HEADER};Øktnr", *(f"{r};{n}" for r, n in zip(ROWS, SESSION_NUMBERS, strict=True))]


def _file_with(tmp_path: Path, column: str, value: str, row: int = TARGET_ROW) -> Path:
    """The valid file with the cell of ``column`` in data row ``row`` set to ``value``."""
    lines = _valid_lines(session_no=column == "Øktnr")
    position = lines[0].split(";").index(column)
    cells = lines[row + 1].split(";")
    cells[position] = value
    lines[row + 1] = ";".join(cells)
    path = tmp_path / "f.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return path


def refusal(store: Store, path: Path) -> list[tuple[int | None, str | None, str]]:
    """(row, column, key) of each problem of a file that must be refused, store unchanged."""
    before = checksum(store)
    admin = store.actor_for("admin")
    with pytest.raises(ImportFileError) as caught:
        store.import_sessions(admin, read_sessions(path), source=str(path))
    assert checksum(store) == before, "a refused file changed the database"
    _assert_clear_message(caught.value)
    return [(p.row, p.column, p.key) for p in caught.value.problems]


NOT_NUMBERS = [
    "1_0",  # Python reads 10
    "1e-400",  # 0.0
    "1e1",  # 10.0
    ",5",  # 0.5
    "5.",
    "\uff15",  # full-width 5
    "\u0665",  # Arabic-Indic 5
    "inf",
    "nan",
    "NaN",
    "Infinity",
    "0x5",
    "1 0",
    "7,5,0",
    "1.000,5",
    "--1",
]


@pytest.mark.parametrize("column", ["Ledd3", "Sum", "Fødselsår", "Øktnr"])
@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_a_number_in_an_undocumented_form_is_refused_with_row_and_column(
    fuzz_store, tmp_path, column, value
):
    path = _file_with(tmp_path, column, value)
    assert refusal(fuzz_store, path) == [(3, column, "error.not_a_number")]


def test_a_refused_item_names_the_measure_field(fuzz_store, tmp_path):
    with pytest.raises(ImportFileError) as caught:
        read_sessions(_file_with(tmp_path, "Ledd3", "1_0"))
    assert [p.field for p in caught.value.problems] == ["SRS.approach_method"]


@pytest.mark.parametrize("value", ["4,55", "4.55", "9,99", "0,05", "4,000001", "4,0000000001"])
def test_an_item_with_two_decimals_or_more_is_refused_not_rounded(fuzz_store, tmp_path, value):
    path = _file_with(tmp_path, "Ledd3", value)
    assert refusal(fuzz_store, path) == [(3, "Ledd3", "error.too_many_decimals")]


@pytest.mark.parametrize(
    ("column", "value", "key"),
    [
        ("Fødselsår", "2015,0", "io.whole_number"),
        ("Fødselsår", "2015.5", "io.whole_number"),
        ("Fødselsår", "+2015", "io.whole_number"),
        ("Fødselsår", "-2015", "error.out_of_range"),
        ("Fødselsår", "1899", "error.out_of_range"),
        ("Øktnr", "1,0", "io.session_no"),
        ("Øktnr", "+1", "io.session_no"),
        ("Øktnr", "-1", "io.session_no"),
        ("Øktnr", "0", "io.session_no"),
        ("Øktnr", "99999999999999999999", "io.session_no"),  # used to wrap round to < 0
    ],
)
def test_a_year_or_session_number_must_be_written_in_digits_only(
    fuzz_store, tmp_path, column, value, key
):
    assert refusal(fuzz_store, _file_with(tmp_path, column, value)) == [(3, column, key)]


@pytest.mark.parametrize("column", ["Forløpsstart", "Øktdato"])
@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("9999-12-31", "error.date_future"),
        ("31.12.9999", "error.date_future"),
        ("2262-04-12", "error.date_future"),  # the first day past pandas' nanoseconds
        ("0001-01-01", "io.date_too_early"),
        ("01.01.0001", "io.date_too_early"),
        ("0000-01-01", "io.date_too_early"),
        ("1677-09-21", "io.date_too_early"),  # the last day before them
        ("31.12.1899", "io.date_too_early"),
        ("29.02.1900", "error.bad_date"),  # 1900 was no leap year
        ("05.01.\uff12\uff10\uff12\uff15", "error.bad_date"),  # full-width year 2025
        ("5.1.25", "error.bad_date"),
    ],
)
def test_a_date_far_out_of_range_is_refused_with_row_and_column(
    fuzz_store, tmp_path, column, value, key
):
    assert refusal(fuzz_store, _file_with(tmp_path, column, value)) == [(3, column, key)]


def test_xlsx_number_cells_import_and_text_cells_keep_the_csv_forms(empty_store, tmp_path):
    fuzz_store = empty_store
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(";"))
    for line in ROWS:
        cells = line.split(";")
        items = [float(c.replace(",", ".")) for c in cells[9:13]]  # real number cells
        sheet.append([*cells[:9], *items, None])
    sheet["K3"] = "1_0"  # a text cell where a number belongs
    sheet["L4"] = "\uff15"
    path = tmp_path / "f.xlsx"
    book.save(path)
    assert refusal(fuzz_store, path) == [
        (3, "Ledd2", "error.not_a_number"),
        (4, "Ledd3", "error.not_a_number"),
    ]
    sheet["K3"], sheet["L4"] = 8.5, 7.5  # number cells again: the file imports exactly
    book.save(path)
    assert import_case(fuzz_store, path) == "imported"
    assert read_sessions(path)["item1"].tolist() == [4.5, 9.0, 6.0, 9.5, 7.0, 10.0]


def test_an_xlsx_date_cell_in_the_year_9999_is_in_the_future(fuzz_store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    for line in (HEADER, *ROWS):
        sheet.append(line.split(";"))
    sheet["G3"] = date(9999, 12, 31)  # Excel's last date
    path = tmp_path / "f.xlsx"
    book.save(path)
    assert refusal(fuzz_store, path) == [(3, "Øktdato", "error.date_future")]


# ------------------------------ a stray byte in a UTF-8 file (issue 14): its row, not a
# fallback to Windows-1252 that mangles the header into "missing columns"
def _exported(tmp_path: Path) -> bytes:
    """The valid file as the exporter writes it (UTF-8 with BOM, canonical headers)."""
    return write_sessions(read_sessions(DATA / "valid_nb.csv"), tmp_path / "x.csv").read_bytes()


@pytest.mark.parametrize("stray", [b"\x96", b"\xe6"], ids=["cp1252-dash", "cp1252-ae"])
@pytest.mark.parametrize(
    ("source", "layout", "row", "column"),
    [
        ("nb", "with BOM", 4, "Behandler"),
        ("nb", "without BOM", 4, "Behandler"),
        ("nb", "sep line", 5, "Behandler"),  # the sep=; line is row 1
        ("nb", "quoted line break", 4, "Behandler"),  # a break inside a cell is no row
        ("export", "with BOM", 4, "clinician"),
    ],
)
def test_a_stray_cp1252_byte_in_a_utf8_file_is_reported_with_its_row(
    fuzz_store, tmp_path, stray, source, layout, row, column
):
    data = (DATA / "valid_nb.csv").read_bytes() if source == "nb" else _exported(tmp_path)
    bom, body = data[:3], data[3:]
    assert bom == codecs.BOM_UTF8
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    lines[3] = lines[3].replace(b"kari", b"ka" + stray + b"ri", 1)  # data row 3: row 4
    if layout == "sep line":
        lines.insert(0, b"sep=;")
    if layout == "quoted line break":
        lines[1] = lines[1].replace(b";kari;", b';"ka\nri";', 1)
    data = (b"" if layout == "without BOM" else bom) + b"\r\n".join(lines)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert refusal(fuzz_store, path) == [(row, column, "io.not_utf8")]


def test_a_stray_byte_in_the_header_row_is_reported_in_row_one(fuzz_store, tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(VALID.replace("Behandler", "Behand\x00ler").encode().replace(b"\x00", b"\x96"))
    assert refusal(fuzz_store, path) == [(1, None, "io.not_utf8")]


def test_a_file_entirely_in_windows_1252_still_imports(empty_store, tmp_path):
    fuzz_store = empty_store
    path = tmp_path / "f.csv"
    path.write_bytes(VALID.replace("\n", "\r\n").encode("cp1252"))
    assert import_case(fuzz_store, path) == "imported"
    assert read_sessions(path)["item3"].tolist() == [6.2, 9.1, 7.5, 9.5, 7.0, 10.0]
