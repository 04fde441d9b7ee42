"""The quality dashboard without a browser: filters, scoping, supervision list, report."""

from __future__ import annotations

import ipywidgets as w
import openpyxl
import pytest

from kor.access import SYSTEM
from kor.frames import session_table
from kor.i18n import set_language
from kor.sample import generate
from kor.store import Store
from widgets.chart_image import ChartImage
from widgets.dashboard import QualityDashboard, dashboard_app


def _texts(widget: w.Widget) -> list[str]:
    out = [widget.value] if isinstance(widget, w.HTML) else []
    if isinstance(widget, w.Button):
        out.append(widget.description)
    for child in getattr(widget, "children", ()):
        out.extend(_texts(child))
    return out


def _widgets(widget: w.Widget) -> list[w.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_widgets(child))
    return found


def _images(widget: w.Widget) -> list[ChartImage]:
    found = [widget] if isinstance(widget, ChartImage) else []
    for child in getattr(widget, "children", ()):
        found.extend(_images(child))
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash") / "kor.sqlite"
    st = Store.open(f"sqlite:///{path}")
    st.load_dataset(SYSTEM, generate(150, seed=5))
    yield st
    st.close()


def _app(store, username: str) -> QualityDashboard:
    set_language("nb")
    root = dashboard_app(store, store.actor_for(username))
    return root._kor_app


def test_the_dashboard_opens_with_trends_and_the_latest_complete_quarter(store):
    app = _app(store, "randi.saether")
    assert app.status.children == ()
    assert app.period.value == app.current.period
    assert "KOR-rapport" in app.headline.value and "skjult" in app.headline.value
    assert len(_images(app.trend_box)) == 1


def test_a_filter_change_recomputes_for_the_team_and_redraws_the_chart(store):
    app = _app(store, "randi.saether")
    before = _images(app.trend_box)[0].png
    app.team.value = "VOP"
    assert app.current.team == "VOP" and app.current.filters["team"] == "VOP"
    assert "team VOP" in app.headline.value
    assert _images(app.trend_box)[0].png != before
    clinicians = {v for _, v in app.clinician.options if v}
    assert clinicians and clinicians <= set(
        app.sessions.loc[app.sessions["team"] == "VOP", "clinician"]
    )
    app.group.value = "alliance"
    assert len(_images(app.trend_box)) == 1


def test_a_filter_seen_before_is_not_computed_again_and_the_pdf_is_made_on_demand(
    store, monkeypatch
):
    from kor import report

    app = _app(store, "randi.saether")
    app.team.value = "VOP"
    calls = []
    original = report.compute_report
    monkeypatch.setattr(
        report, "compute_report", lambda *a, **k: calls.append(k) or original(*a, **k)
    )
    app.team.value = ""
    app.team.value = "VOP"
    assert calls == [] and "team VOP" in app.headline.value
    html_links = [
        x for x in _widgets(app.trend_box) if isinstance(x, w.HTML) and "kor-download" in x.value
    ]
    assert ".png" in html_links[0].value and ".pdf" not in html_links[0].value
    button = next(x for x in _widgets(app.trend_box) if isinstance(x, w.Button))
    button.click()
    assert 'download="kor-trender-outcome.pdf"' in html_links[0].value
    assert "data:application/pdf;base64,JVBER" in html_links[0].value  # %PDF
    assert not any(isinstance(x, w.Button) for x in _widgets(app.trend_box))


def test_the_comparison_tab_shows_a_funnel_not_a_league_table(store):
    app = _app(store, "randi.saether")
    app.tabs.selected_index = 1
    text = " ".join(_texts(app.comparison_box))
    assert "Grensene blir smalere" in text and len(_images(app.comparison_box)) == 1
    assert _images(app.comparison_box)[0].alt.startswith("Traktdiagram: hver enhet")
    assert set(app.current.funnel["unit"]) <= {"VOP", "RUS", "BUP"}


def test_clinicians_see_only_their_own_cases_and_leads_their_team(store):
    clinician = _app(store, "ingrid.berg")
    assert set(clinician.sessions["clinician"]) == {"ingrid.berg"}
    clinician.tabs.selected_index = 2
    assert set(clinician.cases["clinician"]) <= {"ingrid.berg"}
    lead = _app(store, "guro.nesheim")
    lead.tabs.selected_index = 2
    assert set(lead.sessions["team"]) == {"VOP"}
    assert len(lead.cases) > 0 and set(lead.cases["team"]) == {"VOP"}


def test_a_click_on_a_case_shows_that_clients_chart(store):
    app = _app(store, "guro.nesheim")
    app.tabs.selected_index = 2
    buttons = [b for b in app.supervision_box.children if isinstance(b, w.Button)]
    assert buttons and app.cases["client"].iloc[0] in buttons[0].description
    buttons[0].click()
    assert app.status.children == ()
    assert app.cases["client"].iloc[0] in " ".join(_texts(app.case_box))
    (chart,) = _images(app.case_box)
    assert chart.alt.startswith(f"Diagram for {app.cases['client'].iloc[0]}: ORS-summen")


def test_the_report_button_shows_progress_and_a_download_link(store):
    app = _app(store, "randi.saether")
    app.tabs.selected_index = 3
    app.report_format.value = "xlsx"
    app.report_button.click()
    assert app.status.children == ()
    assert app.progress.value == 1.0
    assert "kor-report-link" in app.download.value and ".xlsx" in app.download.value
    assert app.last_file is not None and app.last_file.stat().st_size > 1000


def test_the_dashboard_report_equals_the_cli_report(store):
    from kor.report import build_report, compute_report

    app = _app(store, "randi.saether")
    actor = store.actor_for("randi.saether")
    a = build_report(store, actor, period=app.period.value, team="VOP")
    b = compute_report(app.sessions, period=app.period.value, team="VOP", cache=app.cache)
    assert a.headline.equals(b.headline) and a.comparison.equals(b.comparison)


def test_the_report_button_reports_what_is_on_screen_and_equals_the_cli_with_those_filters(
    store, tmp_path, monkeypatch
):
    from kor.cli import main

    app = _app(store, "randi.saether")
    app.team.value = "VOP"
    app.age_group.value = "adult"
    app.measure.value = "ORS"
    app.tabs.selected_index = 3
    app.report_format.value = "xlsx"
    app.report_button.click()
    assert app.status.children == () and app.last_file is not None
    url = store.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("KOR_USER", "randi.saether")
    monkeypatch.setenv("KOR_ROLE", "quality_lead")
    out = tmp_path / "cli.xlsx"
    args = ["report", "--period", app.period.value, "--team", "VOP", "--age-group", "adult"]
    assert main([*args, "--measure", "ORS", "--out", str(out), "--database", url]) == 0
    button, cli = (openpyxl.load_workbook(f) for f in (app.last_file, out))
    for sheet in button.sheetnames:
        rows = [list(r) for r in button[sheet].iter_rows(values_only=True)]
        assert rows == [list(r) for r in cli[sheet].iter_rows(values_only=True)], sheet
    text = " ".join(str(v) for r in button.worksheets[0].iter_rows(values_only=True) for v in r)
    assert "Aldersgruppe: Voksen (18+) · Måleinstrument: ORS" in text  # named on the front page


def test_a_researcher_gets_a_friendly_message_not_a_traceback(store):
    app = _app(store, "hakon.vik")
    text = " ".join(_texts(app.status))
    assert "kor-error" in text and "Traceback" not in text


def test_english_switch_relabels_the_dashboard(store):
    app = _app(store, "randi.saether")
    try:
        set_language("en")
        app.relabel()
        assert "Quality" in app.title.value and app.tabs.get_title(2) == "Supervision list"
        assert "KOR report" in app.headline.value
    finally:
        set_language("nb")


def test_the_session_table_is_read_once_per_user(store, monkeypatch):
    calls = []
    original = store.session_table

    def counting(actor, **kw):
        calls.append(kw)
        return original(actor, **kw)

    monkeypatch.setattr(store, "session_table", counting)
    app = _app(store, "randi.saether")
    for team in ("VOP", "RUS", ""):
        app.team.value = team
    app.tabs.selected_index = 1
    assert len(calls) == 1
    assert len(app.sessions) == len(session_table(store.dataset(SYSTEM)))


def test_overdue_evaluations_of_improvement_projects_show_on_the_dashboard(tmp_path):
    from datetime import date, timedelta

    from kor.access import SYSTEM
    from kor.sample import generate

    st = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    st.load_dataset(SYSTEM, generate(40, seed=5))
    lead = st.actor_for("randi.saether")
    project = st.create_project(lead, "Mer SRS i VOP", ["VOP"])
    st.schedule_evaluations(lead, project, per_year=2, first_due=date.today() - timedelta(days=10))
    app = QualityDashboard(st, lead)
    app.load()
    text = " ".join(_texts(app.overdue))
    assert "Mer SRS i VOP" in text and "10 dager på overtid" in text
    st.close()


def test_a_team_leads_adjusted_figures_are_adjusted_against_the_whole_service(store):
    # the lead reads only their team; the case-mix model still comes from every team
    lead = _app(store, "guro.nesheim")
    team = str(lead.sessions["team"].iloc[0])
    assert lead.sessions["team"].nunique() == 1
    quality = _app(store, "randi.saether")
    quality.period.value = lead.period.value
    quality.team.value = team
    a, b = lead.current, quality.current
    assert a.severity == b.severity and a.severity.episodes > 0
    for column in ("change_mean", "severity_adjusted_change", "severity_adjusted_es"):
        x, y = a.totals[column].iloc[0], b.totals[column].iloc[0]
        assert (x != x and y != y) or x == pytest.approx(y), column


def test_a_team_lead_is_offered_the_team_not_the_whole_service_and_the_title_says_so(store):
    lead = _app(store, "guro.nesheim")
    assert [v for _, v in lead.team.options] == ["VOP"] and lead.team.value == "VOP"
    assert "team VOP" in lead.headline.value and "hele tjenesten" not in lead.headline.value
    quality = _app(store, "randi.saether")
    assert ("Hele tjenesten", "") in quality.team.options
    quality.clinician.value = quality.clinician.options[1][1]
    assert f"behandler {quality.clinician.value}" in quality.headline.value
