"""The leader report: same numbers as the library, suppression in every format, no codes."""

from __future__ import annotations

import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from kor import report
from kor.access import SYSTEM
from kor.frames import Dataset, session_table
from kor.i18n import set_language
from kor.indicators import service_indicators
from kor.sample import generate

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CODE = re.compile(r"K\d{5}")
COUNT_LABELS = {"Klienter", "Forløp", "Timer", "Forløp med målt endring"}


def _with_tiny_team(data: Dataset, period: str) -> Dataset:
    """Move three clients seen in ``period`` into a new team «TINY» (3 clients)."""
    start, end = report.period_window(period)
    s = session_table(data)
    seen = s.loc[(s["session_date"] >= start) & (s["session_date"] <= end), "client"]
    codes = list(dict.fromkeys(seen))[:3]
    teams = pd.concat(
        [data.teams, pd.DataFrame({"team_id": [99], "code": ["TINY"], "name": ["Lite team"]})],
        ignore_index=True,
    )
    clients = data.clients.copy()
    clients.loc[clients["code"].isin(codes), "team_id"] = 99
    return Dataset(
        teams=teams,
        users=data.users,
        clients=clients,
        episodes=data.episodes,
        sessions=data.sessions,
        measurements=data.measurements,
    )


@pytest.fixture(scope="module")
def data() -> Dataset:
    base = generate(300, seed=11)
    period = report.default_period(session_table(base))
    return _with_tiny_team(base, period)


@pytest.fixture(scope="module")
def sessions(data) -> pd.DataFrame:
    return session_table(data)


@pytest.fixture(scope="module")
def period(sessions) -> str:
    return report.default_period(sessions)


@pytest.fixture(scope="module")
def built(sessions, period, tmp_path_factory) -> dict[str, Path]:
    set_language("nb")
    r = report.compute_report(sessions, period=period)
    out = tmp_path_factory.mktemp("report")
    return {fmt: r.save(out / f"r.{fmt}", fmt) for fmt in report.FORMATS} | {"_report": r}


def _same(a, b) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    return a == pytest.approx(b, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("team", [None, "VOP"])
def test_report_numbers_equal_the_library_indicators_for_the_same_filter(sessions, period, team):
    r = report.compute_report(sessions, period=period, team=team)
    start, end = report.period_window(period)
    chosen = sessions if team is None else sessions.loc[sessions["team"] == team]
    expected = service_indicators(chosen, by=(), start=start, end=end).iloc[0]
    for column in ("clients", "episodes", "sessions", *[s.column for s in report.INDICATORS]):
        assert _same(r.totals[column].iloc[0], expected[column]), column
    assert r.headline.set_index("indicator")["value"].to_dict().keys() == {
        s.column for s in report.INDICATORS
    }
    unit = "clinician" if team else "team"
    comparison = service_indicators(chosen, by=(unit,), start=start, end=end, complement=True)
    pd.testing.assert_frame_equal(r.comparison, comparison)
    trend_start = (pd.Period(end, freq="M") - 23).start_time
    trends = service_indicators(chosen, by=(), period="M", start=trend_start, end=end)
    pd.testing.assert_frame_equal(r.trends, trends)


@pytest.mark.parametrize("filters", [{}, {"team": "VOP"}, {"measure": "ORS", "age_group": "adult"}])
def test_the_previous_period_and_the_funnel_equal_the_library_on_the_whole_table(
    sessions, period, filters
):
    # compute_report works on each window's rows with change and flags computed once per
    # window end; the numbers must still be those of the library on the whole table
    cache: dict = {}
    r = report.compute_report(sessions, period=period, cache=cache, **filters)
    chosen = report.filter_sessions(sessions, **filters)
    prev_start, prev_end, label = report.previous_window(period)
    expected = service_indicators(chosen, by=(), start=prev_start, end=prev_end)
    pd.testing.assert_frame_equal(r.previous, expected)
    start, end = report.period_window(period)
    unit = "clinician" if filters.get("team") else "team"
    pd.testing.assert_frame_equal(
        r.comparison,
        service_indicators(chosen, by=(unit,), start=start, end=end, complement=True),
    )
    again = report.compute_report(sessions, period=period, cache=cache, **filters)
    pd.testing.assert_frame_equal(again.headline, r.headline)  # the cache changes nothing


def test_a_measure_filter_keeps_episodes_whose_measure_was_given_before_the_window(sessions):
    start, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-31")
    keep = report.filter_mask(sessions, measure="ORS")
    rows = report.window_rows(sessions, start, end, keep)
    whole = report.filter_sessions(sessions, measure="ORS")
    dates = pd.to_datetime(whole["session_date"])
    expected = whole.loc[(dates >= start) & (dates <= end)]
    pd.testing.assert_frame_equal(rows, expected)
    assert report.filter_mask(sessions) is None


def test_age_group_and_measure_filters_act_on_the_session_table(sessions, period):
    r = report.compute_report(sessions, period=period, age_group="adult", measure="ORS")
    start, end = report.period_window(period)
    chosen = report.filter_sessions(sessions, age_group="adult", measure="ORS")
    assert set(chosen["age_group"]) == {"adult"}
    expected = service_indicators(chosen, by=(), start=start, end=end).iloc[0]
    assert _same(r.totals["change_mean"].iloc[0], expected["change_mean"])
    assert (
        r.totals["clients"].iloc[0]
        < report.compute_report(sessions, period=period).totals["clients"].iloc[0]
    )


def test_the_small_team_is_in_the_data_with_three_clients(sessions, period):
    start, end = report.period_window(period)
    tiny = sessions.loc[(sessions["team"] == "TINY") & sessions["session_date"].between(start, end)]
    assert tiny["client"].nunique() == 3  # the test below is meaningful


def test_no_hidden_team_can_be_worked_out_as_the_total_minus_the_shown_teams(sessions, period):
    r = report.compute_report(sessions, period=period)
    comp = r.comparison
    hidden = comp.loc[comp["suppressed"], "team"].tolist()
    assert "TINY" in hidden and len(hidden) >= 2  # a real team is hidden beside it
    start, end = report.period_window(period)
    window = sessions.loc[sessions["session_date"].between(start, end)]
    true_hidden = window.loc[window["team"].isin(hidden), "client"].nunique()
    total = int(r.totals["clients"].iloc[0])
    shown = int(comp.loc[~comp["suppressed"], "clients"].sum())
    assert total - shown == true_hidden >= report.SUPPRESSION_MIN  # the attacker's sum
    # without the complement the subtraction gives the small team's 3 clients back
    plain = service_indicators(sessions, by=("team",), start=start, end=end)
    assert total - int(plain["clients"].sum()) == 3


class _Tables(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):  # noqa: ANN001
        if self._cell is not None:
            self._cell.append(data)


def _count_cells_ok(rows: list[list]) -> list[str]:
    """Problems: a count column holding 1-4, or a TINY row holding any number."""
    problems = []
    header = [str(c) for c in rows[0]]
    counts = [i for i, c in enumerate(header) if c in COUNT_LABELS]
    for row in rows[1:]:
        for i in counts:
            value = row[i] if i < len(row) else None
            number = pd.to_numeric(str(value).replace(",", ".").replace(" ", ""), errors="coerce")
            if not pd.isna(number) and 1 <= float(number) <= 4:
                problems.append(f"{header[i]}={value}")
        if row and str(row[0]) == "TINY":
            shown = [v for v in row[1:] if re.search(r"\d", str(v)) or isinstance(v, int | float)]
            if shown:
                problems.append(f"TINY row shows {shown}")
    return problems


def test_suppression_holds_in_every_table_of_the_html(built):
    parser = _Tables()
    text = built["html"].read_text(encoding="utf-8")
    parser.feed(text)
    assert len(parser.tables) >= 4
    tiny_rows = 0
    for table in parser.tables:
        assert _count_cells_ok(table) == []
        tiny_rows += sum(1 for row in table if row and row[0] == "TINY")
    assert tiny_rows >= 2  # shown as a row, with every number suppressed
    visible = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # drop the images
    assert "skjult" in visible and not CODE.search(visible)


def test_suppression_holds_in_every_sheet_of_the_xlsx(built):
    wb = openpyxl.load_workbook(built["xlsx"])
    tiny_rows = 0
    for ws in wb.worksheets:
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        start = next((i for i, r in enumerate(rows) if set(map(str, r)) & COUNT_LABELS), None)
        if start is not None:
            table = [r for r in rows[start:] if any(v is not None for v in r)]
            assert _count_cells_ok(table) == [], ws.title
            tiny_rows += sum(1 for r in table if r and r[0] == "TINY")
        for r in rows:
            for v in r:
                assert not (isinstance(v, str) and CODE.search(v)), ws.title
    assert tiny_rows >= 2


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_suppression_holds_in_the_pdf_text(built):
    text = subprocess.run(
        ["pdftotext", "-layout", str(built["pdf"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    tiny = [line for line in text.splitlines() if "TINY" in line]
    assert tiny, "the small team is listed (suppressed)"
    for line in tiny:
        assert not re.search(r"\d", line), line
        assert "skjult" in line
    # every count in the tables of teams is 5 or more
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] in ("VOP", "RUS", "BUP") and len(cells) > 1:
            number = pd.to_numeric(cells[1].replace(",", "."), errors="coerce")
            assert pd.isna(number) or number >= 5, line
    assert not CODE.search(text)
    assert "Metode" in text and "Spiegelhalter" in text and "↑" in text + "↓" + "→"


def test_the_funnel_leaves_out_the_small_team_and_the_trend_charts_leave_out_blank_months(built):
    r = built["_report"]
    shown = set(r.comparison.loc[~r.comparison["suppressed"], "team"])
    assert "TINY" not in set(r.funnel["unit"]) and set(r.funnel["unit"]) == shown
    assert len(r.funnel) == 2  # the small team and its complement are left out
    for spec in report.INDICATORS:
        chart = r.charts[spec.column]
        if chart is not None:
            assert len(chart.data) + len(r.left_out[spec.column]) == len(r.trends)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pdf_pages_turn_into_png_pages(built, tmp_path):
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(built["pdf"]), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 6  # front, 3 trend pages, comparison, completeness, methods
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pages[0], SCREENSHOTS / "report-front.png")
    shutil.copy(pages[-3], SCREENSHOTS / "report-comparison.png")


def test_a_team_report_for_a_team_under_five_clients_is_all_suppressed(sessions, period, tmp_path):
    r = report.compute_report(sessions, period=period, team="TINY")
    assert bool(r.totals["suppressed"].iloc[0])
    assert all(c is None for c in r.charts.values())
    path = r.to_html(tmp_path / "tiny.html")
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    for table in parser.tables:
        assert _count_cells_ok(table) == []


def test_spreadsheet_formulas_are_neutralised():
    assert report.neutralise("=1+1") == "'=1+1"
    assert report.neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert report.neutralise("+47") == "'+47" and report.neutralise("VOP") == "VOP"


def test_the_cli_writes_the_report_in_each_format(data, period, tmp_path, monkeypatch, capsys):
    from kor.cli import main
    from kor.store import Store

    url = f"sqlite:///{tmp_path / 'kor.sqlite'}"
    store = Store.open(url)
    store.load_dataset(SYSTEM, data)
    store.close()
    monkeypatch.setenv("KOR_USER", "admin")
    monkeypatch.setenv("KOR_ROLE", "admin")
    out = tmp_path / "r.xlsx"
    code = main(
        ["report", "--period", period, "--team", "VOP", "--out", str(out), "--database", url]
    )
    assert code == 0 and out.exists()
    assert str(out) in capsys.readouterr().out
    wb = openpyxl.load_workbook(out)
    assert len(wb.sheetnames) == 6
    assert main(["report", "--period", "2026Q9", "--database", url]) == 2


def test_the_supervision_list_holds_open_flagged_episodes_per_clinician(sessions):
    flags = report.case_flags(sessions)
    cases = report.supervision_list(sessions, flags)
    assert len(cases) > 0
    episodes = sessions.drop_duplicates("episode").set_index("episode")
    end = episodes.loc[cases["episode"], "episode_end"]
    assert (end.isna() | (end > sessions["session_date"].max())).all()  # open on the day
    assert list(cases["clinician"]) == sorted(cases["clinician"])
    kinds = {r: k for r, k in zip(flags["rule"], flags["kind"], strict=True)}
    assert all(kinds[r] in report.SUPERVISION_KINDS for rules in cases["rules"] for r in rules)


def test_periods_are_parsed_and_bad_ones_refused():
    assert report.previous_window("2026Q3")[2] == "2026Q2"
    assert report.period_window("2026-02")[1] == pd.Timestamp("2026-02-28")
    with pytest.raises(Exception, match="error.report.bad_period"):
        report.period_window("last year")
