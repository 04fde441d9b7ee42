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

from kor import change, report
from kor.access import SYSTEM
from kor.frames import Dataset, session_table
from kor.i18n import set_language, t
from kor.indicators import service_indicators, severity_reference
from kor.sample import generate

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CODE = re.compile(r"K\d{5}")
COUNT_LABELS = {"Klienter", "Forløp", "Økter", "Forløp med målt endring"}


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
    # the case-mix model of the whole service (all teams, closed by the period's end)
    model = severity_reference(
        change.episode_change(sessions.loc[sessions["session_date"] <= end]), end=end
    )
    assert r.severity == model
    expected = service_indicators(chosen, by=(), start=start, end=end, severity=model).iloc[0]
    for column in ("clients", "episodes", "sessions", *[s.column for s in report.INDICATORS]):
        assert _same(r.totals[column].iloc[0], expected[column]), column
    # a team is adjusted against the service, not itself: adjusted differs from raw
    assert r.totals["severity_adjusted_es"].iloc[0] != pytest.approx(
        r.totals["effect_size"].iloc[0]
    )
    assert r.headline.set_index("indicator")["value"].to_dict().keys() == {
        s.column for s in report.INDICATORS
    }
    unit = "clinician" if team else "team"
    comparison = service_indicators(
        chosen, by=(unit,), start=start, end=end, complement=True, severity=model
    )
    pd.testing.assert_frame_equal(r.comparison, comparison)
    trend_start = (pd.Period(end, freq="M") - 23).start_time
    trends = service_indicators(
        chosen, by=(), period="M", start=trend_start, end=end, severity=model
    )
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
    # one case-mix model for the whole report: the service's, as of the period's end
    model = r.severity
    expected = service_indicators(chosen, by=(), start=prev_start, end=prev_end, severity=model)
    pd.testing.assert_frame_equal(r.previous, expected)
    start, end = report.period_window(period)
    unit = "clinician" if filters.get("team") else "team"
    pd.testing.assert_frame_equal(
        r.comparison,
        service_indicators(
            chosen, by=(unit,), start=start, end=end, complement=True, severity=model
        ),
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


# ------------------------------------------------------------------ direction (item 4)


@pytest.mark.parametrize(
    ("value", "previous", "higher_is_better", "label"),
    [
        (40.0, 35.0, True, "↑ bedre"),  # higher is better, rose
        (30.0, 35.0, True, "↓ dårligere"),  # higher is better, fell
        (4.0, 9.0, False, "↓ bedre"),  # lower is better, fell
        (12.0, 9.0, False, "↑ dårligere"),  # lower is better, rose
        (35.04, 35.0, True, "→ uendret"),  # equal as shown (one decimal)
        (35.0, None, False, "–"),
    ],
)
def test_the_arrow_follows_the_number_and_the_word_the_declared_direction(
    value, previous, higher_is_better, label
):
    set_language("nb")
    moved = report.movement(value, previous, 1)
    judged = report.direction(value, previous, higher_is_better, 1)
    assert report.direction_label(moved, judged) == label


def test_every_headline_arrow_matches_the_shown_numbers_and_the_indicators_direction(built):
    r = built["_report"]
    specs = {s.column: s for s in report.INDICATORS}
    table = r.tables()["headline"].iloc[3:]  # the three count rows carry no direction
    assert {s.higher_is_better for s in report.INDICATORS} == {True, False}
    for (_, row), head in zip(table.iterrows(), r.headline.itertuples(), strict=True):
        now, before = (float(str(row[c]).replace(",", ".")) for c in (r.period, r.previous_label))
        arrow = row["Retning"]
        assert arrow[0] == ("↑" if now > before else "↓" if now < before else "→"), head
        if now != before:
            better = (now > before) == specs[head.indicator].higher_is_better
            assert arrow.endswith("bedre" if better else "dårligere"), (head.indicator, arrow)


# ------------------------------------------------------------------ empty periods (item 6)


def test_a_first_quarter_reports_no_data_before_it_and_compares_nothing(sessions, tmp_path):
    set_language("nb")
    first = report.filter_options(sessions)["period"][-1]
    r = report.compute_report(sessions, period=first)
    head = r.tables()["headline"]
    assert set(head[r.previous_label].iloc[3:]) == {"ingen data"}
    assert list(head[r.previous_label].iloc[:3]) == ["0", "0", "0"]
    assert set(r.headline["direction"]) == {"unknown"}
    assert "ingen data" not in set(head[r.period])
    assert r.previous_label in r.data_note() and "sammenlignes ikke" in r.data_note()
    for fmt in report.FORMATS:
        assert r.save(tmp_path / f"first.{fmt}", fmt).stat().st_size > 1000


def _tiny_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """A near-empty service: the sessions of one episode."""
    return sessions.loc[sessions["episode"] == sessions["episode"].iloc[0]].reset_index(drop=True)


_FILTERS = {
    "team": [None, "VOP", "RUS", "TINY", "NONE"],
    "clinician": [None, "nobody"],
    "age_group": [None, "adult", "age_13_17"],
    "measure": [None, "ORS", "CORS"],
}


def test_every_filter_and_period_gives_a_report_on_the_sample_and_a_near_empty_service():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    set_language("nb")
    small = session_table(generate(60, seed=5))  # a small service: the test takes seconds
    tables = {"sample": small, "tiny": _tiny_sessions(small)}
    clinicians = sorted(small["clinician"].unique())[:3]
    caches: dict[str, dict] = {name: {} for name in tables}
    first = report.filter_options(small)["period"][-1]
    periods = st.sampled_from(
        ["2020Q1", first, "2025Q3", report.default_period(small), "2027Q1", "2026", "2026-01"]
    )

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        which=st.sampled_from(sorted(tables)),
        period=periods,
        team=st.sampled_from(_FILTERS["team"]),
        clinician=st.sampled_from(_FILTERS["clinician"] + clinicians),
        age_group=st.sampled_from(_FILTERS["age_group"]),
        measure=st.sampled_from(_FILTERS["measure"]),
    )
    def check(which, period, team, clinician, age_group, measure):
        filters = {"team": team, "clinician": clinician, "age_group": age_group}
        r = report.compute_report(
            tables[which], period=period, cache=caches[which], measure=measure, **filters
        )
        shown = r.tables()
        assert len(shown["headline"]) == 3 + len(report.INDICATORS)
        if not report._has_data(r.previous):
            assert set(r.headline["direction"]) <= {"unknown", "partial"}
            assert r.data_note()
        if not report._has_data(r.totals):
            assert set(shown["headline"][r.period].iloc[3:]) == {"ingen data"}
        text = " ".join(str(v) for frame in shown.values() for v in frame.to_numpy().ravel())
        assert not CODE.search(text) and "nan" not in text.lower().split()

    check()


def test_the_cli_gives_a_report_for_a_near_empty_database_and_a_clinician_without_sessions(
    data, tmp_path, monkeypatch, capsys
):
    from kor.cli import main
    from kor.store import Store

    code = data.clients["code"].iloc[0]
    clients = data.clients.loc[data.clients["code"] == code]
    episodes = data.episodes.loc[data.episodes["client_id"].isin(clients["client_id"])]
    sessions = data.sessions.loc[data.sessions["episode_id"].isin(episodes["episode_id"])]
    few = Dataset(
        teams=data.teams,
        users=data.users,
        clients=clients,
        episodes=episodes,
        sessions=sessions,
        measurements=data.measurements.loc[
            data.measurements["session_id"].isin(sessions["session_id"])
        ],
    )
    url = f"sqlite:///{tmp_path / 'few.sqlite'}"
    store = Store.open(url)
    store.load_dataset(SYSTEM, few)
    store.close()
    monkeypatch.setenv("KOR_USER", "admin")
    monkeypatch.setenv("KOR_ROLE", "admin")
    monkeypatch.chdir(tmp_path)
    for args in (
        ["--period", "2026Q3"],
        ["--period", "2020Q1", "--format", "xlsx"],
        ["--period", "2026Q3", "--clinician", "nobody", "--format", "html"],
    ):
        assert main(["report", *args, "--database", url]) == 0, args
        assert "Something went wrong" not in capsys.readouterr().err
    (page,) = tmp_path.glob("kor-rapport-2026Q3-*nobody.html")  # one team: its name too
    text = page.read_text(encoding="utf-8")
    assert "behandler nobody" in text and "hele tjenesten" not in text.split("<h2>")[0]


# ------------------------------------------------------------------ titles, file names (item 7)


def test_titles_and_file_names_follow_every_filter(sessions, period):
    set_language("nb")
    clinician = sessions.loc[sessions["team"] == "VOP", "clinician"].iloc[0]
    r = report.compute_report(sessions, period=period, clinician=clinician)
    assert f"behandler {clinician}" in r.title() and "hele tjenesten" not in r.title()
    assert r.file_name("pdf") == f"kor-rapport-{period}-{clinician}.pdf"
    r = report.compute_report(sessions, period=period, team="VOP", age_group="adult", measure="ORS")
    assert r.title() == f"KOR-rapport {period} – team VOP – Voksen (18+), ORS"
    assert r.file_name("xlsx") == f"kor-rapport-{period}-VOP-adult-ORS.xlsx"
    assert report.compute_report(sessions, period=period).title().endswith("hele tjenesten")
    assert report._slug("Bjørn Æsøy/å") == "Bjorn-AEsoy-a"


def test_one_team_in_view_is_not_offered_as_the_whole_service(sessions):
    assert report.filter_options(sessions)["whole_service"] is True
    team = sessions.loc[sessions["team"] == "VOP"]
    assert report.filter_options(team)["whole_service"] is False


# ------------------------------------------------------------------ presentation (item 8)


_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)


def _pdf_words(
    pdf: Path,
) -> list[tuple[float, float, list[tuple[float, float, float, float, str]]]]:
    """Per page: (width, height, words as (x0, y0, x1, y1, text)) from ``pdftotext -bbox``."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in out.split("<page ")[1:]:
        size = re.match(r'width="([\d.]+)" height="([\d.]+)"', page)
        words = [
            (*map(float, m.groups()[:4]), html.unescape(m.group(5)))
            for m in re.finditer(_WORD, page)
        ]
        pages.append((float(size.group(1)), float(size.group(2)), words))
    return pages


def _overlapping_words(pdf: Path) -> list[tuple]:
    """Words on one line whose boxes run into each other, and words off the page."""
    found = []
    for number, (width, height, words) in enumerate(_pdf_words(pdf), 1):
        for i, a in enumerate(words):
            if a[0] < 0 or a[1] < 0 or a[2] > width or a[3] > height:
                found.append((number, a[4], "off the page"))
            for b in words[i + 1 :]:
                dx = min(a[2], b[2]) - max(a[0], b[0])
                dy = min(a[3], b[3]) - max(a[1], b[1])
                if dx > 0.3 and dy > 0.5 * min(a[3] - a[1], b[3] - b[1]):
                    found.append((number, a[4], b[4]))
    return found


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_no_text_in_the_pdf_runs_into_other_text_even_with_the_longest_verdicts(
    sessions, period, tmp_path
):
    import dataclasses

    set_language("nb")
    r = report.compute_report(sessions, period=period, team="VOP")
    long = r.headline.assign(verdict="signal_shift")  # the longest verdict in every row
    r = dataclasses.replace(r, headline=long)
    pdf = r.to_pdf(tmp_path / "long.pdf")
    assert _overlapping_words(pdf) == []
    front = " ".join(w[4] for w in _pdf_words(pdf)[0][2])
    assert "(se diagrammet)" in front and "↑" in front + "↓" + "→"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")]
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(next(tmp_path.glob("p-*.png")), SCREENSHOTS / "report-front-long-verdicts.png")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_the_pdf_of_the_whole_service_has_no_overlapping_text(built):
    assert _overlapping_words(built["pdf"]) == []


def test_chart_ticks_are_norwegian_month_names_and_decimal_commas(built):
    from kor import dashboard_plot, plotting

    set_language("nb")
    r = built["_report"]
    assert plotting.month_label(pd.Timestamp("2025-10-01")) == "okt."
    assert plotting.month_label(pd.Timestamp("2026-01-01")) == "2026"
    assert plotting.tick_number(1.5, 2) == "1,50"
    assert plotting.tick_number(-0.0, 1) == "0,0"
    ax = dashboard_plot.indicator_chart(r.charts["effect_size"], "effect_size")
    ax.figure.canvas.draw()
    x = [label.get_text() for label in ax.get_xticklabels() if label.get_text()]
    y = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    months = {t(f"report.month.{m}") for m in range(2, 13)}
    assert x and all(label in months or label.isdigit() for label in x), x
    assert any("," in label for label in y) and not any("." in label for label in y), y
    set_language("en")
    try:
        assert plotting.month_label(pd.Timestamp("2025-10-01")) == "Oct"
        assert plotting.tick_number(1.5, 2) == "1.50"
    finally:
        set_language("nb")


def test_legends_are_never_cut_off(built):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from kor import dashboard_plot

    r = built["_report"]
    figures = [dashboard_plot.indicator_figure(r, [s.column for s in report.INDICATORS[:4]])]
    for spec in report.INDICATORS[:2]:
        ax = dashboard_plot._plain_axes(9, 3.4, right=0.7)
        dashboard_plot.indicator_chart(r.charts[spec.column], spec.column, ax=ax)
        figures.append(ax.figure)
    ax = dashboard_plot._plain_axes(9, 4.5, right=0.74)
    dashboard_plot.funnel_plot(r.funnel, r.funnel_centre, r.funnel_sd, unit_label="Team", ax=ax)
    figures.append(ax.figure)
    checked = 0
    for fig in figures:
        renderer = FigureCanvasAgg(fig).get_renderer()
        page = fig.bbox
        for axes in fig.axes:
            legend = axes.get_legend()
            if legend is None:
                continue
            box = legend.get_window_extent(renderer)
            assert box.x0 >= page.x0 and box.x1 <= page.x1, (box, page)
            assert box.y0 >= page.y0 and box.y1 <= page.y1, (box, page)
            checked += 1
    assert checked >= 4


def test_the_xlsx_holds_numbers_rounded_as_shown_with_number_formats(built):
    wb = openpyxl.load_workbook(built["xlsx"])
    numbers = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, float):
                    places = (
                        len(cell.number_format.split(".")[1]) if "." in cell.number_format else 0
                    )
                    assert cell.number_format in ("0", "0.0", "0.00"), (ws.title, cell.coordinate)
                    assert round(value, places) == value, (ws.title, cell.coordinate, value)
                    numbers += 1
                elif isinstance(value, str):
                    # the formula guard is for text: a number never shows as «'-3,1»
                    assert not re.fullmatch(r"'?[-+]?\d[\d.,\s–-]*", value), (ws.title, value)
    assert numbers > 50
    funnel = wb.worksheets[3]
    heads = [c.value for c in next(funnel.iter_rows(min_row=1, max_row=1))]
    assert "95 %-grenser (nedre)" in heads and "95 %-grenser (øvre)" in heads


def test_headline_numbers_are_equal_on_screen_in_html_xlsx_and_pdf(built):
    set_language("nb")
    r = built["_report"]
    screen = r.tables()["headline"]  # what the dashboard shows (html_table of this frame)
    parser = _Tables()
    parser.feed(built["html"].read_text(encoding="utf-8"))
    page = parser.tables[0]
    assert page[0] == list(screen.columns)
    assert page[1:] == [[str(v) for v in row] for row in screen.itertuples(index=False)]
    ws = openpyxl.load_workbook(built["xlsx"]).worksheets[0]
    sheet = {row[0]: row for row in ws.iter_rows(values_only=True) if row and row[0]}
    pdf = subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(built["pdf"]), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = {line.strip().split("  ")[0]: line for line in pdf.splitlines() if line.strip()}
    for row in screen.itertuples(index=False):
        label, now, before = row[0], row[1], row[2]
        for shown, cell in ((now, sheet[label][1]), (before, sheet[label][2])):
            if isinstance(cell, int | float):
                assert _number_text(cell, shown) == shown, (label, cell, shown)
            else:
                assert cell == shown, label
        assert now in lines[label].split() and before in lines[label].split(), lines[label]


def _number_text(value: float, like: str) -> str:
    decimals = len(like.split(",")[1]) if "," in like else 0
    return f"{value:.{decimals}f}".replace(".", ",")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_a_table_longer_than_a_page_goes_on_over_the_next_pages(tmp_path):
    """A service with many clinicians: the comparison and completeness tables once ran off
    the bottom of the page and the last rows were lost."""
    from matplotlib.backends.backend_pdf import PdfPages

    from kor import dashboard_plot

    set_language("nb")
    frame = pd.DataFrame({"Enhet": [f"enhet-{i:03d}" for i in range(150)], "Klienter": range(150)})
    pdf = tmp_path / "long-table.pdf"
    with PdfPages(pdf) as pages:
        fig = dashboard_plot._page("Datafullstendighet")
        fig, bottom = dashboard_plot._paged_table(
            pages, fig, frame, 0.07, 0.87, 0.86, title="Datafullstendighet", fontsize=8
        )
        assert 0.05 <= bottom < 0.87
        pages.savefig(fig)
    found = _pdf_words(pdf)
    words = [w[4] for _width, _height, page in found for w in page]
    assert [w for w in words if w.startswith("enhet-")] == list(frame["Enhet"])  # all, in order
    assert len(found) >= 3
    for _width, _height, page in found[1:]:  # every continued page: title and header again
        text = [w[4] for w in page]
        assert "(forts.)" in text and "Enhet" in text
    for number, (_width, height, page) in enumerate(found, 1):
        assert all(w[3] <= height * 0.96 for w in page if w[4].startswith("enhet-")), number
    assert _overlapping_words(pdf) == []
