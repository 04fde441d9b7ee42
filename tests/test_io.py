"""Tests for kor.io: session files in (validated, every problem reported) and out."""

from __future__ import annotations

import codecs
import random
import re
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kor.io as kio
from kor.errors import ImportFileError, MissingColumnsError, ValidationError
from kor.i18n import catalog

DATA = Path(__file__).parent / "data" / "io"
TODAY = date(2026, 6, 30)
HEADER = (
    "klient",
    "aldersgruppe",
    "team",
    "behandler",
    "forløpsstart",
    "dato",
    "format",
    "skjema",
    "ledd1",
    "ledd2",
    "ledd3",
    "ledd4",
    "total",
)
GOOD = {
    "klient": "K001",
    "aldersgruppe": "voksen",
    "team": "T1",
    "behandler": "kari",
    "forløpsstart": "05.01.2025",
    "format": "individuell",
    "skjema": "ORS",
    **{f"ledd{k}": "5" for k in range(1, 5)},
}
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write_csv(tmp_path: Path, *rows: dict[str, str], header=HEADER, name="f.csv") -> Path:
    """A `;` CSV of GOOD rows changed by ``rows``; each row on its own date unless given."""
    lines = [";".join(header)]
    for i, change in enumerate(rows):
        row = GOOD | {"dato": f"{6 + i:02d}.01.2025"} | change
        lines.append(";".join(row.get(h, "") for h in header))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_of(path: Path, **kwargs) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ImportFileError) as caught:
        kio.read_sessions(path, today=TODAY, **kwargs)
    return [(p.row, p.column, p.key) for p in caught.value.problems]


def read(path: Path) -> pd.DataFrame:
    return kio.read_sessions(path, today=TODAY)


# --- reading: formats and conventions ---------------------------------------------------


def test_norwegian_csv_reads_decimal_comma_dates_and_aliases():
    frame = read(DATA / "valid_nb.csv")
    assert list(frame.columns) == list(kio.FRAME_COLUMNS)
    assert frame["item1"].tolist() == [4.5, 9.0, 6.0, 9.5, 7.0, 10.0]
    assert frame["item3"].iloc[0] == 6.2
    # totals computed from the items: 4.5 + 5 + 6.2 + 3 = 18.7; 9 + 8.5 + 9.1 + 9 = 35.6
    assert frame["total"].tolist() == [18.7, 35.6, 24.5, 38.0, 28.0, 40.0]
    assert frame["episode_start"].iloc[4] == pd.Timestamp("2025-03-01")  # "1.3.2025"
    assert frame["session_date"].iloc[2] == pd.Timestamp("2025-01-12")
    assert frame["format"].tolist() == ["individual"] * 5 + ["group"]
    assert frame["source_row"].tolist() == [2, 3, 4, 5, 6, 7]
    assert frame["birth_year"].isna().sum() == 4 and frame["birth_year"].iloc[4] == 2015


def test_session_number_follows_dates_within_episode_when_column_absent():
    frame = read(DATA / "valid_nb.csv")
    # ORS and SRS of one day share a number; each episode counts from 1
    assert frame["session_no"].tolist() == [1, 1, 2, 2, 1, 2]
    assert frame["session_no"].dtype == np.int64


def test_age_group_derived_from_birth_year_at_episode_start():
    frame = read(DATA / "valid_nb.csv")
    # born 2015, episode 2025: 10 years old -> 6-12, and CORS/CSRS fit
    assert frame["age_group"].tolist() == ["adult"] * 4 + ["age_6_12"] * 2


def test_dtypes_of_returned_frame():
    frame = read(DATA / "valid_nb.csv")
    assert str(frame["birth_year"].dtype) == "Int64"
    assert frame["episode_start"].dtype == "datetime64[ns]"
    assert frame["session_date"].dtype == "datetime64[ns]"
    for c in (*kio.ITEM_COLUMNS[:4], "total"):  # item5-item10: only for wider measures
        assert frame[c].dtype == np.float64
    assert frame["source_row"].dtype == np.int64


def test_bom_is_optional(tmp_path):
    with_bom = (DATA / "valid_nb.csv").read_bytes()
    assert with_bom.startswith(codecs.BOM_UTF8)
    plain = tmp_path / "plain.csv"
    plain.write_bytes(with_bom[len(codecs.BOM_UTF8) :])
    pd.testing.assert_frame_equal(read(plain), read(DATA / "valid_nb.csv"))


def test_windows_1252_file_with_norwegian_letters(tmp_path):
    raw = (DATA / "cp1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    frame = read(DATA / "cp1252.csv")
    assert frame["team"].tolist() == ["Søndre", "Søndre", "Østre"]
    assert frame["clinician"].tolist() == ["bjørn", "bjørn", "ærlig_åse"]
    assert frame["session_no"].tolist() == [1, 1, 2]
    # born 2010, episode 2025: 15 -> 13-17; ORS fits adolescents, also in groups
    assert frame["age_group"].tolist() == ["adult", "adult", "age_13_17"]


def test_headers_in_another_order_and_english_comma_file():
    swapped = read(DATA / "swapped.csv")
    expected = read(DATA / "valid_nb.csv").iloc[:2]
    pd.testing.assert_frame_equal(swapped, expected)


def test_utf16_tab_separated_export(tmp_path):
    text = (DATA / "valid_nb.csv").read_text(encoding="utf-8-sig").replace(";", "\t")
    path = tmp_path / "unicode.txt"
    path.write_bytes(text.encode("utf-16"))
    pd.testing.assert_frame_equal(read(path), read(DATA / "valid_nb.csv"))


def test_excel_sep_line_is_honoured_and_shifts_rows(tmp_path):
    path = write_csv(tmp_path, {}, {"ledd2": "11"})
    path.write_text("sep=;\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert problems_of(path) == [(4, "ledd2", "error.out_of_range")]


def test_blank_rows_are_skipped_but_counted(tmp_path):
    path = write_csv(tmp_path, {}, {"ledd1": "x"})
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0], lines[1], ";;;;", "", lines[2]]) + "\n", "utf-8")
    assert problems_of(path) == [(5, "ledd1", "error.not_a_number")]


def test_unknown_extra_columns_are_ignored(tmp_path):
    path = write_csv(tmp_path, {"merknad": "fritekst"}, header=(*HEADER, "merknad"))
    assert len(read(path)) == 1


def test_xlsx_with_real_dates_numbers_and_text_numbers(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(HEADER))
    sheet.append(
        ["K001", "voksen", "T1", "kari", date(2025, 1, 5), date(2025, 1, 5)]
        + ["individuell", "ORS", 4.5, "6,5", 7, 10, None]
    )
    sheet.append(
        ["K001", "voksen", "T1", "kari", "05.01.2025", "2025-01-05"]
        + ["individuell", "SRS", 9, 9, 9, 9, 36]
    )
    path = tmp_path / "book.xlsx"
    book.save(path)
    frame = read(path)
    assert frame["item1"].tolist() == [4.5, 9.0]
    assert frame["item2"].tolist() == [6.5, 9.0]
    assert frame["episode_start"].tolist() == [pd.Timestamp("2025-01-05")] * 2
    assert frame["total"].tolist() == [28.0, 36.0]


def test_xlsx_formula_cells_are_rejected(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(HEADER))
    sheet.append(
        ["K001", "voksen", "T1", "kari", "05.01.2025", "05.01.2025"]
        + ["individuell", "ORS", 5, 5, 5, 5, "=SUM(I2:L2)"]
    )
    path = tmp_path / "formula.xlsx"
    book.save(path)
    assert problems_of(path) == [(2, "total", "io.formula_cell")]


# --- reading: every problem, with row and column -----------------------------------------


def test_bad_file_reports_every_problem_with_row_and_column():
    assert problems_of(DATA / "bad_several.csv") == [
        (3, "Ledd2", "error.out_of_range"),
        (3, "Ledd3", "error.out_of_range"),
        (3, "Ledd4", "error.too_many_decimals"),
        (4, "Klient", "error.client_code"),
        (4, "Dato", "error.bad_date"),
        (5, "Aldersgruppe", "error.bad_choice"),
        (5, "Format", "error.bad_choice"),
        (5, "Ledd2", "error.not_a_number"),
        (6, None, "error.duplicate_row"),
        (7, "Team", "io.formula_cell"),
        (7, "Skjema", "error.measure_age_group"),
        (8, "Dato", "error.date_before_start"),
        (8, "Total", "io.total_mismatch"),
        (9, "Skjema", "error.measure_format"),
        (9, "Ledd4", "error.missing_item"),
        (10, "Behandler", "error.required"),
        (10, "Dato", "error.date_future"),
    ]


def test_item_problems_name_the_measure_field_and_duplicate_names_the_first_row():
    with pytest.raises(ImportFileError) as caught:
        kio.read_sessions(DATA / "bad_several.csv", today=TODAY)
    by_position = {(p.row, p.column): p for p in caught.value.problems}
    assert by_position[(3, "Ledd2")].field == "SRS.goals_topics"
    assert by_position[(5, "Ledd2")].field == "ORS.interpersonally"
    assert by_position[(6, None)].params == {"other": 2}


def test_february_31st_is_not_a_date(tmp_path):
    path = write_csv(tmp_path, {"dato": "31.02.2026"}, {"forløpsstart": "2025-13-01"})
    assert problems_of(path) == [
        (2, "dato", "error.bad_date"),
        (3, "forløpsstart", "error.bad_date"),
    ]


def test_dates_in_the_future_are_rejected(tmp_path):
    path = write_csv(tmp_path, {"dato": "01.07.2026"}, {"dato": "30.06.2026"})
    assert problems_of(path) == [(2, "dato", "error.date_future")]


@pytest.mark.parametrize(
    ("cell", "key"),
    [
        ("75", "error.out_of_range"),
        ("-1", "error.out_of_range"),
        ("\u22121", "error.out_of_range"),  # the minus sign U+2212 is a sign, too
        ("-0,5", "error.out_of_range"),
        ("+11", "error.out_of_range"),
        ("9" * 400, "error.out_of_range"),  # more digits than a float holds: still a number
        ("10,1", "error.out_of_range"),
        ("4,55", "error.too_many_decimals"),
        ("7.25", "error.too_many_decimals"),
        ("7,25", "error.too_many_decimals"),
        ("sju", "error.not_a_number"),
        ("", "error.missing_item"),
    ],
)
def test_item_values_that_are_rejected(tmp_path, cell, key):
    assert problems_of(write_csv(tmp_path, {"ledd3": cell})) == [(2, "ledd3", key)]


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("7,5", 7.5),
        ("7.5", 7.5),
        ("0", 0.0),
        ("10", 10.0),
        ("10,0", 10.0),  # as the exporter writes it
        ("7,50", 7.5),  # trailing zeros are no decimals
        ("07,5", 7.5),
        ("+5", 5.0),
        (" 5 ", 5.0),  # surrounding space is stripped from every cell
    ],
)
def test_item_values_that_are_accepted(tmp_path, cell, value):
    assert read(write_csv(tmp_path, {"ledd3": cell}))["item3"].iloc[0] == value


@pytest.mark.parametrize("cell", ["1.3.2025", "01.03.2025", "2025-03-01", "2025-3-1"])
def test_dates_in_the_documented_forms_are_read(tmp_path, cell):
    frame = read(write_csv(tmp_path, {"forløpsstart": "01.01.2025", "dato": cell}))
    assert frame["session_date"].iloc[0] == pd.Timestamp("2025-03-01")


def test_xlsx_number_cells_are_read_as_excel_shows_them(tmp_path):
    # Excel computes with 15 significant digits; a pasted 0.1 + 0.2 shows as 0.3
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([*HEADER, "fødselsår"])
    row = ["K001", "voksen", "T1", "kari", date(2025, 1, 5), date(2025, 1, 6)]
    sheet.append([*row, "individuell", "ORS", 4.5, 0.1 + 0.2, 7.0, 10, 21.8, 1990.0])
    path = tmp_path / "book.xlsx"
    book.save(path)
    frame = read(path)
    assert frame.loc[0, ["item1", "item2", "item3", "item4"]].tolist() == [4.5, 0.3, 7.0, 10.0]
    assert frame["birth_year"].iloc[0] == 1990
    sheet["J2"], sheet["N2"] = 1e-05, 1990.5  # no exponent: read as 0.00001
    book.save(path)
    assert problems_of(path) == [
        (2, "ledd2", "error.too_many_decimals"),
        (2, "fødselsår", "io.whole_number"),
    ]


def test_total_may_deviate_by_rounding_only(tmp_path):
    # items 5 + 5 + 5 + 5 = 20
    path = write_csv(tmp_path, {"total": "20,04"}, {"total": "20,1"}, {"total": "tjue"})
    assert problems_of(path) == [
        (3, "total", "io.total_mismatch"),
        (4, "total", "error.not_a_number"),
    ]


def test_formula_looking_text_cells_are_rejected(tmp_path):
    path = write_csv(
        tmp_path,
        {"team": "=1+1"},
        {"behandler": "+4712345678"},
        {"klient": "@SUM"},
        {"klient": "-K001"},
        {"ledd1": "=5"},
    )
    assert problems_of(path) == [
        (2, "team", "io.formula_cell"),
        (3, "behandler", "io.formula_cell"),
        (4, "klient", "io.formula_cell"),
        (5, "klient", "io.formula_cell"),
        (6, "ledd1", "io.formula_cell"),
    ]


@pytest.mark.parametrize("code", ["01017012345", "K01017012345", "0101701234 5", "ab", "x" * 21])
def test_bad_client_codes_are_rejected(tmp_path, code):
    assert problems_of(write_csv(tmp_path, {"klient": code})) == [
        (2, "klient", "error.client_code")
    ]


def test_national_identity_number_is_never_echoed(tmp_path):
    fnr = "01017012345"
    with pytest.raises(ImportFileError) as caught:
        kio.read_sessions(write_csv(tmp_path, {"klient": fnr}), today=TODAY)
    error = caught.value
    assert [p.key for p in error.problems] == ["error.client_code"]
    assert fnr not in str(error)
    assert fnr not in error.report() and fnr not in error.report("en")
    assert all(fnr not in str(p) and fnr not in repr(p.params) for p in error.problems)


def test_messages_never_echo_item_values_or_unknown_choices(tmp_path):
    path = write_csv(
        tmp_path, {"ledd1": "93,7", "skjema": "QQQ9", "format": "ZZZ8"}, {"ledd2": "98,3"}
    )
    with pytest.raises(ImportFileError) as caught:
        kio.read_sessions(path, today=TODAY)
    text = caught.value.report() + caught.value.report("en") + str(caught.value)
    for value in ("93", "QQQ9", "ZZZ8", "98"):
        assert value not in text


def test_unknown_choices_and_unfit_measures(tmp_path):
    path = write_csv(
        tmp_path,
        {"aldersgruppe": "pensjonist"},
        {"format": "par"},
        {"skjema": "PHQ9"},
        {"skjema": "cors"},
        {"skjema": "SRS", "format": "gruppe"},
        {"skjema": "gsrs", "format": "Gruppe"},
        {"aldersgruppe": "13–17 år", "skjema": "ors"},
    )
    assert problems_of(path) == [
        (2, "aldersgruppe", "error.bad_choice"),
        (3, "format", "error.bad_choice"),
        (4, "skjema", "error.bad_choice"),
        (5, "skjema", "error.measure_age_group"),
        (6, "skjema", "error.measure_format"),
    ]


def test_session_date_before_episode_start(tmp_path):
    path = write_csv(tmp_path, {"forløpsstart": "10.01.2025", "dato": "09.01.2025"})
    assert problems_of(path) == [(2, "dato", "error.date_before_start")]


def test_same_measurement_twice_names_the_first_row(tmp_path):
    same = {"dato": "08.01.2025"}
    path = write_csv(tmp_path, same, {"skjema": "SRS", **same}, same, same)
    with pytest.raises(ImportFileError) as caught:
        kio.read_sessions(path, today=TODAY)
    found = [(p.row, p.key, p.params) for p in caught.value.problems]
    assert found == [
        (4, "error.duplicate_row", {"other": 2}),
        (5, "error.duplicate_row", {"other": 2}),
    ]


def test_session_number_column_checks(tmp_path):
    header = (*HEADER, "øktnr")
    path = write_csv(
        tmp_path,
        {"øktnr": "1"},
        {"øktnr": "0"},
        {"øktnr": "1,5"},
        {"øktnr": ""},
        {"øktnr": "1", "skjema": "SRS"},  # session 1 again, but on another date
        header=header,
    )
    assert problems_of(path) == [
        (3, "øktnr", "io.session_no"),
        (4, "øktnr", "io.session_no"),
        (5, "øktnr", "error.required"),
        (6, "dato", "io.session_mismatch"),
    ]


def test_age_group_or_birth_year_must_be_given(tmp_path):
    header = (*HEADER, "fødselsår")
    path = write_csv(
        tmp_path,
        {"aldersgruppe": ""},
        {"aldersgruppe": "", "fødselsår": "1899"},
        {"aldersgruppe": "", "fødselsår": "1990"},
        header=header,
    )
    assert problems_of(path) == [
        (2, "aldersgruppe", "io.age_or_birth_year"),
        (3, "fødselsår", "error.out_of_range"),
    ]


def test_missing_columns_are_one_problem_naming_them(tmp_path):
    header = tuple(h for h in HEADER if h not in ("skjema", "ledd4", "aldersgruppe"))
    with pytest.raises(ImportFileError) as caught:
        kio.read_sessions(write_csv(tmp_path, {}, header=header), today=TODAY)
    (problem,) = caught.value.problems
    assert isinstance(problem, MissingColumnsError)
    assert problem.missing == ["age_group/birth_year", "measure", "item4"]


def test_a_column_named_twice(tmp_path):
    header = (*HEADER, "Klientkode")
    assert problems_of(write_csv(tmp_path, {}, header=header)) == [
        (None, "Klientkode", "io.duplicate_column")
    ]


def test_row_with_more_cells_than_header(tmp_path):
    path = write_csv(tmp_path, {}, {"ledd2": "x"}, {})
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] += ";;"  # trailing empty cells are harmless
    lines[3] += ";ekstra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert problems_of(path) == [(3, "ledd2", "error.not_a_number"), (4, None, "io.too_many_cells")]


@pytest.mark.parametrize("content", [b"", b"  \r\n\r\n", ";".join(HEADER).encode() + b"\n;;;\n"])
def test_empty_files(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert problems_of(path) == [(None, None, "error.empty_file")]


def test_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = write_csv(tmp_path, {})
    assert problems_of(path, max_bytes=100) == [(None, None, "io.too_large")]
    assert kio.MAX_BYTES == 50 * 1024 * 1024


def test_missing_file_is_a_problem_not_a_traceback(tmp_path):
    assert problems_of(tmp_path / "nowhere.csv") == [(None, None, "error.bad_file")]


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (random.Random(7).randbytes(4000), "error.bad_encoding"),
        (b"PK\x03\x04" + random.Random(8).randbytes(4000), "error.bad_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "error.bad_file"),
        (b"klient;team\x00\x01\x02\nK001;T1\n", "error.bad_file"),
    ],
    ids=["random", "broken-zip", "old-xls", "control-bytes"],
)
def test_garbage_is_refused_with_a_problem(tmp_path, content, key):
    path = tmp_path / "garbage.xlsx"
    path.write_bytes(content)
    assert problems_of(path) == [(None, None, key)]


# --- writing ------------------------------------------------------------------------------


def test_written_csv_is_for_norwegian_excel(tmp_path):
    path = kio.write_sessions(read(DATA / "valid_nb.csv"), tmp_path / "out.csv")
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(";") == [c for c in kio.COLUMNS]
    first = dict(zip(lines[0].split(";"), lines[1].split(";"), strict=True))
    assert first["item1"] == "4,5" and first["total"] == "18,7"
    assert first["episode_start"] == "05.01.2025" and first["birth_year"] == ""
    assert first["age_group"] == "adult" and first["format"] == "individual"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_round_trip(tmp_path, suffix):
    frame = read(DATA / "valid_nb.csv")
    path = kio.write_sessions(frame, tmp_path / f"out{suffix}")
    pd.testing.assert_frame_equal(read(path), frame)


def test_xlsx_has_real_dates_and_numbers(tmp_path):
    path = kio.write_sessions(read(DATA / "valid_nb.csv"), tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert row["episode_start"].is_date and row["episode_start"].number_format == "DD.MM.YYYY"
    assert row["item1"].value == 4.5 and row["session_no"].value == 1


def test_formula_text_is_neutralised_when_written(tmp_path):
    frame = (
        read(DATA / "valid_nb.csv")
        .iloc[:4]
        .assign(
            team=["=cmd|' /C calc'!A0", "+47", "-x", "@SUM(1)"],
            clinician=["\tkari", "\rkari", "a=b", "ok"],
        )
    )
    csv_path = kio.write_sessions(frame, tmp_path / "out.csv")
    cells = [
        line.split(";") for line in csv_path.read_bytes().decode("utf-8-sig").split("\r\n")[1:5]
    ]
    assert [c[3] for c in cells] == ["'=cmd|' /C calc'!A0", "'+47", "'-x", "'@SUM(1)"]
    assert [c[4] for c in cells[2:]] == ["a=b", "ok"]
    xlsx_path = kio.write_sessions(frame, tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(xlsx_path).active
    teams = [sheet.cell(row=r, column=4) for r in range(2, 6)]
    assert [c.value for c in teams] == ["'=cmd|' /C calc'!A0", "'+47", "'-x", "'@SUM(1)"]
    assert all(c.data_type == "s" for c in teams)
    assert sheet.cell(row=2, column=5).value == "'\tkari"


def test_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("old content", encoding="utf-8")

    def broken(columns, handle):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(kio, "_write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        kio.write_sessions(read(DATA / "valid_nb.csv"), target)
    assert target.read_text(encoding="utf-8") == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_refuses_unknown_suffix_and_incomplete_frames(tmp_path):
    frame = read(DATA / "valid_nb.csv")
    with pytest.raises(ValidationError) as caught:
        kio.write_sessions(frame, tmp_path / "out.ods")
    assert caught.value.key == "io.unsupported_suffix"
    with pytest.raises(MissingColumnsError) as missing:
        kio.write_sessions(
            frame.drop(columns=["measure", "age_group", "birth_year"]), tmp_path / "o.csv"
        )
    assert missing.value.missing == ["age_group/birth_year", "measure"]
    assert list(tmp_path.iterdir()) == []


def test_write_does_not_change_the_frame(tmp_path):
    frame = read(DATA / "valid_nb.csv").assign(team="=x")
    before = frame.copy()
    kio.write_sessions(frame, tmp_path / "out.csv")
    pd.testing.assert_frame_equal(frame, before)


# --- catalog --------------------------------------------------------------------------------


def test_every_message_key_used_exists_in_both_languages():
    source = Path(kio.__file__).read_text(encoding="utf-8")
    keys = set(re.findall(r'"((?:io|error)\.[a-z_.]+)"', source))
    keys |= {f"io.reason.{r}" for r in re.findall(r'_bad_file\("([a-z_]+)"', source)}
    entries = catalog()
    assert keys, "no keys found"
    for key in sorted(keys):
        assert key in entries, key
        assert entries[key].get("nb") and entries[key].get("en"), key


# --- properties -------------------------------------------------------------------------------

_PLAN = {  # measure -> (age group, formats it fits)
    "ORS": ("adult", ("individual", "group")),
    "SRS": ("adult", ("individual",)),
    "GSRS": ("adult", ("group",)),
    "CORS": ("age_6_12", ("individual", "group")),
    "CSRS": ("age_6_12", ("individual", "group")),
    "YCORS": ("under_6", ("individual", "group")),
}
_codes = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{2,19}", fullmatch=True).filter(
    lambda c: not re.search(r"\d{11}", c)
)
_names = st.from_regex(r"[a-zA-ZæøåÆØÅ0-9_.][a-zA-ZæøåÆØÅ0-9 _.=;,\"'-]{0,15}", fullmatch=True).map(
    str.strip
)
_row = st.fixed_dictionaries(
    {
        "client_code": _codes,
        "team": _names,
        "clinician": _names,
        "measure": st.sampled_from(sorted(_PLAN)),
        "format_pick": st.integers(0, 1),
        "birth_year": st.one_of(st.none(), st.integers(1930, 2024)),
        "start": st.integers(0, 1500),
        "gap": st.integers(0, 400),
        "items": st.lists(st.integers(0, 100), min_size=4, max_size=4),
    }
)


def _frame_from(rows: list[dict]) -> pd.DataFrame:
    records = []
    for i, r in enumerate(rows):
        age, formats = _PLAN[r["measure"]]
        start = pd.Timestamp("2020-01-01") + pd.Timedelta(days=r["start"])
        items = [v / 10 for v in r["items"]]
        records.append(
            {
                "client_code": r["client_code"],
                "age_group": age,
                "birth_year": r["birth_year"],
                "team": r["team"],
                "clinician": r["clinician"],
                "episode_start": start,
                "session_date": start + pd.Timedelta(days=r["gap"]),
                "session_no": i + 1,  # unique: no duplicate or mismatched sessions
                "format": formats[r["format_pick"] % len(formats)],
                "measure": r["measure"],
                **{f"item{k + 1}": v for k, v in enumerate(items)},
                "total": round(sum(items), 1),
                "source_row": i + 2,
            }
        )
    frame = pd.DataFrame.from_records(records)
    text = ("client_code", "age_group", "team", "clinician", "format", "measure")
    return frame.astype(
        {c: str for c in text}
        | {"birth_year": "Int64", "episode_start": "datetime64[ns]"}
        | {"session_date": "datetime64[ns]", "session_no": "int64"}
    )


@settings(SETTINGS, max_examples=25)
@given(rows=st.lists(_row, min_size=1, max_size=8), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_valid_tables_round_trip(tmp_path, rows, suffix):
    frame = _frame_from(rows)
    back = read(kio.write_sessions(frame, tmp_path / f"p{suffix}"))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert back.dtypes.to_dict() == read(DATA / "valid_nb.csv").dtypes.to_dict()


@settings(SETTINGS, max_examples=60)
@given(
    content=st.binary(max_size=3000), prefix=st.sampled_from([b"", b"PK\x03\x04", codecs.BOM_UTF8])
)
def test_garbage_bytes_raise_only_import_file_error(tmp_path, content, prefix):
    path = tmp_path / "g.csv"
    path.write_bytes(prefix + content)
    with pytest.raises(ImportFileError):
        kio.read_sessions(path, today=TODAY)


@settings(SETTINGS, max_examples=60)
@given(body=st.text(alphabet=st.characters(codec="utf-8"), max_size=600))
def test_garbage_under_a_valid_header_raises_only_import_file_error(tmp_path, body):
    path = tmp_path / "h.csv"
    path.write_text(";".join(HEADER) + "\n" + body, encoding="utf-8")
    try:
        frame = kio.read_sessions(path, today=TODAY)
    except ImportFileError as error:
        assert error.problems
    else:  # whatever gets through is valid
        assert frame["total"].between(0, 40).all()


# --- measures with more than four items (item5-item10 optional) --------------------------


@pytest.fixture
def six_items():
    from kor import measures

    wide = measures.Measure(
        code="WIDE6",
        items=tuple("abcdef"),
        kind="outcome",
        given="start",
        age_groups=("adult",),
        item_range=(0.0, 3.0),
        decimals=0,
        higher_is_better=False,
        reliable_change=3.0,
    )
    measures.register(wide)
    yield wide
    measures.unregister("WIDE6")


def test_a_six_item_measure_uses_item5_and_item6_and_no_more(tmp_path, six_items):
    path = tmp_path / "wide.csv"
    path.write_text(
        "klient;aldersgruppe;team;behandler;forløpsstart;dato;format;skjema;"
        "ledd1;ledd2;ledd3;ledd4;ledd5;ledd6\n"
        "K001;voksen;VOP;ingrid;05.01.2025;05.01.2025;individuell;WIDE6;1;2;3;0;1;2\n"
        "K001;voksen;VOP;ingrid;05.01.2025;05.01.2025;individuell;SRS;9;9;9;9;;\n",
        encoding="utf-8",
    )
    frame = read(path)
    assert [c for c in frame.columns if c.startswith("item")] == [f"item{k}" for k in range(1, 7)]
    assert frame["total"].tolist() == [9.0, 36.0] and np.isnan(frame.loc[1, "item5"])
    header = kio.write_sessions(frame, tmp_path / "out.csv").read_text("utf-8-sig").splitlines()
    assert header[0].endswith(";item4;item5;item6;total")
    pd.testing.assert_frame_equal(
        read(tmp_path / "out.csv").drop(columns="source_row"), frame.drop(columns="source_row")
    )


def test_a_six_item_measure_without_its_item6_column_names_the_missing_item(tmp_path, six_items):
    path = tmp_path / "short.csv"
    path.write_text(
        "klient;aldersgruppe;team;behandler;forløpsstart;dato;format;skjema;"
        "ledd1;ledd2;ledd3;ledd4;ledd5\n"
        "K001;voksen;VOP;ingrid;05.01.2025;05.01.2025;individuell;WIDE6;1;2;3;0;1\n",
        encoding="utf-8",
    )
    assert problems_of(path) == [(2, None, "error.missing_item")]
