"""The clinician's app without a browser: set sliders, press save, look in the database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import ipywidgets as w
import pytest

from kor.access import SYSTEM, Actor
from kor.frames import Dataset
from kor.i18n import set_language
from kor.store import Store
from widgets.clinician import NEW, ClinicianApp, clinician_app

ROOT = Path(__file__).resolve().parents[1]
TODAY = date.today()


def _texts(widget: w.Widget) -> str:
    out = []
    if isinstance(widget, w.HTML):
        out.append(widget.value)
    for child in getattr(widget, "children", ()):
        out.append(_texts(child))
    return " ".join(out)


def _status(app: ClinicianApp) -> str:
    return _texts(app.status)


@pytest.fixture
def service(store: Store, small_service):
    """Ingrid (VOP) has an adult and a child client; Ola (VOP) has one adult."""
    start = TODAY - timedelta(days=60)
    for code, age, who in [
        ("K10001", "adult", "ingrid.berg"),
        ("K10002", "age_6_12", "ingrid.berg"),
        ("K10003", "adult", "ola.nilsen"),
    ]:
        store.add_client(SYSTEM, code, team="VOP", age_group=age)
        store.open_episode(SYSTEM, code, start=start, clinician=who)
    return small_service


def _episode(app: ClinicianApp, client: str) -> int:
    return next(e for e, r in app.rows.items() if r["client"] == client)


def _ors(app: ClinicianApp, values=(4.0, 5.5, 6.0, 4.5)) -> None:
    for slider, v in zip(app.forms["outcome"].sliders, values, strict=True):
        slider.value = v


def _measurements(store: Store, actor, client: str):
    return store.dataset(actor, client=client).measurements


def test_clinician_sees_only_own_clients(store, service):
    app = ClinicianApp(store, service["ingrid.berg"])
    assert app.clinician_picker is None
    assert sorted(r["client"] for r in app.rows.values()) == ["K10001", "K10002"]
    assert "kor-clinician-ready" in app.widget._dom_classes


def test_setting_four_ors_sliders_and_saving_stores_the_session(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    assert app.session_picker.value == NEW and app.session_date.value == TODAY
    _ors(app)
    app.save_button.click()
    assert "Lagret" in _status(app) and "ORS 20,0" in _status(app)
    m = _measurements(store, ingrid, "K10001")
    assert m["measure"].tolist() == ["ORS"] and m["total"].tolist() == [20.0]
    assert 'data-sessions="1"' in app.caption.value
    chart = app.chart.children[0].children[0]  # the chart as <img alt=…>, then the links
    assert chart.png[:4] == b"\x89PNG" and chart.alt.startswith("Diagram for K10001: ORS-summen")
    assert app.last_save_seconds is not None and app.last_save_seconds < 1.0


def test_srs_at_the_end_is_added_to_the_same_session(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    app.save_button.click()
    session_id = app.session_picker.value
    assert session_id != NEW  # the app stays on today's session
    for slider, v in zip(app.forms["alliance"].sliders, (9.0, 9.2, 8.8, 9.5), strict=True):
        slider.value = v
    app.save_button.click()
    ds = store.dataset(ingrid, client="K10001")
    assert len(ds.sessions) == 1
    assert sorted(ds.measurements["measure"]) == ["ORS", "SRS"]
    assert set(ds.measurements["session_id"]) == {session_id}


def test_today_session_is_chosen_again_when_the_app_is_reopened(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    app.save_button.click()
    again = ClinicianApp(store, ingrid)
    again.client_list.value = _episode(again, "K10001")
    assert again.session_picker.value == app.session_picker.value
    assert again.forms["outcome"].current() == [4.0, 5.5, 6.0, 4.5]
    assert not again.forms["outcome"].dirty  # stored values are not saved again


def test_an_untouched_slider_is_not_saved_as_zero(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    sliders = app.forms["outcome"].sliders
    for slider, v in zip(sliders[:3], (4.0, 5.0, 6.0), strict=True):
        slider.value = v
    assert "kor-untouched" in sliders[3]._dom_classes
    app.save_button.click()
    assert "Mangler verdi for Generelt" in _status(app)
    assert _measurements(store, ingrid, "K10001").empty
    sliders[3].value = 0.5
    sliders[3].value = 0.0  # a real zero, moved on purpose
    app.save_button.click()
    assert _measurements(store, ingrid, "K10001")["total"].tolist() == [15.0]


def test_nothing_entered_is_refused_with_a_message(store, service):
    app = ClinicianApp(store, service["ingrid.berg"])
    app.save_button.click()
    assert "Velg en klient først" in _status(app)
    app.client_list.value = _episode(app, "K10001")
    app.save_button.click()
    assert "Ingenting å lagre" in _status(app)


def test_a_date_in_the_future_is_refused_and_nothing_is_written(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    app.session_date.value = TODAY + timedelta(days=2)
    _ors(app)
    app.save_button.click()
    assert "fram i tid" in _status(app)
    assert store.dataset(ingrid, client="K10001").sessions.empty


def test_a_child_gets_the_child_form_labels_and_is_saved_as_cors(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10002")
    assert app.forms["outcome"].measure.code == "CORS"
    assert app.forms["alliance"].measure.code == "CSRS"
    assert "CORS" in app.forms["outcome"].title.value
    _ors(app)
    app.save_button.click()
    assert _measurements(store, ingrid, "K10002")["measure"].tolist() == ["CORS"]


def test_group_session_uses_the_group_form(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    app.session_format.value = "group"
    assert app.forms["alliance"].measure.code == "GSRS"
    for slider, v in zip(app.forms["alliance"].sliders, (9.0, 9.0, 9.0, 9.0), strict=True):
        slider.value = v
    app.save_button.click()
    ds = store.dataset(ingrid, client="K10001")
    assert ds.sessions["format"].tolist() == ["group"]
    assert ds.measurements["measure"].tolist() == ["GSRS"]


def test_a_correction_is_kept_in_the_audit_trail(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    app.save_button.click()
    app.forms["outcome"].sliders[0].value = 7.0  # the client meant 7, not 4
    app.save_button.click()
    assert "rettet" in _status(app)
    m = _measurements(store, ingrid, "K10001")
    assert m["total"].tolist() == [23.0] and len(m) == 1
    audit = store.audit_log(SYSTEM)
    row = audit.loc[audit["action"] == "correct"].iloc[0]
    detail = json.loads(row["detail"])
    assert detail["old"]["total"] == 20.0 and detail["new"]["total"] == 23.0


def test_a_conflicting_correction_shows_the_catalog_message(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    app.save_button.click()
    other = ClinicianApp(store, ingrid)
    other.client_list.value = _episode(other, "K10001")
    other.forms["outcome"].sliders[1].value = 9.0
    other.save_button.click()  # someone else corrected it first
    app.forms["outcome"].sliders[0].value = 7.0
    app.save_button.click()
    assert "Noen andre har endret dette" in _status(app)


def test_switching_client_keeps_the_unsaved_entry_as_a_draft(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    first, second = _episode(app, "K10001"), _episode(app, "K10002")
    app.client_list.value = first
    _ors(app, (1.0, 2.0, 3.0, 4.0))
    app.client_list.value = second  # by mistake
    assert app.forms["outcome"].current() == [0.0, 0.0, 0.0, 0.0]
    assert not app.forms["outcome"].dirty
    app.client_list.value = first
    assert app.forms["outcome"].current() == [1.0, 2.0, 3.0, 4.0]
    assert "Ulagret utfylling" in _status(app)
    app.save_button.click()
    assert _measurements(store, ingrid, "K10001")["total"].tolist() == [10.0]
    assert first not in app.drafts


def test_register_a_client_and_end_the_episode(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.new_code.value = "K10009"
    app.new_age.value = "age_13_17"
    app.register_button.click()
    assert "K10009" in _status(app)
    episode = _episode(app, "K10009")
    assert app.client_list.value == episode and app.episode == episode
    app.end_reason.value = "dropout"
    app.end_button.click()
    _button(app.end_confirm, "kor-end-yes").click()
    assert "K10009" not in [r["client"] for r in app.rows.values()]
    eps = store.dataset(ingrid, client="K10009").episodes
    assert eps["end_reason"].tolist() == ["dropout"]


def test_an_invalid_client_code_is_refused(store, service):
    app = ClinicianApp(store, service["ingrid.berg"])
    app.new_code.value = "12039912345"  # looks like a national identity number
    app.register_button.click()
    assert "fødselsnummer" in _texts(app.new_status)  # next to the form, not in the panel


def test_admin_picks_a_clinician_first(store, service):
    admin = store.ensure_user(SYSTEM, Actor(username="admin", role="admin"))
    app = ClinicianApp(store, admin)
    assert app.clinician_picker is not None and app.clinician_picker.value is None
    assert app.rows == {}
    app.clinician_picker.value = "ola.nilsen"
    assert [r["client"] for r in app.rows.values()] == ["K10003"]
    app.client_list.value = _episode(app, "K10003")
    _ors(app)
    app.save_button.click()
    assert "Lagret" in _status(app)


def test_team_lead_picks_among_own_team(store, service):
    store.add_client(SYSTEM, "K20001", team="BUP", age_group="adult")
    store.open_episode(SYSTEM, "K20001", start=TODAY, clinician="kari.lund")
    app = ClinicianApp(store, service["leder.vop"])
    assert {v for _, v in app.clinician_picker.options} == {"ingrid.berg", "ola.nilsen"}


def test_warnings_are_listed_with_explanation(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    for slider in app.forms["alliance"].sliders:
        slider.value = 8.0
    app.save_button.click()
    text = _texts(app.flag_box)
    assert "Varsler" in text and "36" in text  # SRS 32 is below the alliance threshold
    assert app.rows[app.episode]["flag_level"] in ("alert", "warning")
    assert app.client_list.options[0][1] == app.episode  # warnings first
    app.language.value = "en"
    try:
        assert "Warnings" in _texts(app.flag_box)
        assert app.save_button.description == "Save in the chosen session"
    finally:
        set_language("nb")


def test_a_failure_shows_a_friendly_message_and_logs_no_client_code(store, service, caplog):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")

    def broken(*args, **kwargs):
        raise RuntimeError("K10001 secret")

    app.store = type("Broken", (), {"record_session": staticmethod(broken)})()
    _ors(app)
    app.save_button.click()
    assert "Noe gikk galt" in _status(app) and "Traceback" not in _status(app)
    assert "K10001" not in caplog.text and "RuntimeError" in caplog.text


def test_factory_defaults_to_the_configured_store_and_user(tmp_path, monkeypatch):
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("KOR_USER", raising=False)
    monkeypatch.delenv("KOR_ROLE", raising=False)
    store = Store.open()  # the sample registers the default local user (its team lead)
    store.load_dataset(SYSTEM, Dataset.read_csv(ROOT / "data" / "sample"))
    store.close()
    widget = clinician_app()
    assert "kor-clinician" in widget._dom_classes


def test_app_start_does_not_import_statsmodels(tmp_path):
    db = tmp_path / "kor.sqlite"
    store = Store.open(f"sqlite:///{db}")
    store.load_dataset(SYSTEM, Dataset.read_csv(ROOT / "data" / "sample"))
    from kor.model_registry import fit_and_store

    fit_and_store(store)
    store.close()
    code = (
        "import sys\n"
        "from kor.store import Store\n"
        "from widgets.clinician import ClinicianApp\n"
        f"st = Store.open('sqlite:///{db}')\n"
        "app = ClinicianApp(st, st.actor_for('sindre.aasen'))\n"
        "app.client_list.value = app.client_list.options[0][1]\n"
        "assert app.chart.children, 'no chart'\n"
        "print('statsmodels' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def _button(widget: w.Widget, css: str) -> w.Button:
    """The button with class ``css`` inside ``widget``."""
    if isinstance(widget, w.Button) and css in widget._dom_classes:
        return widget
    for child in getattr(widget, "children", ()):
        found = _button(child, css)
        if found is not None:
            return found
    return None


def _ids(widget: w.Widget) -> set[str]:
    """The model ids of every widget reachable from ``widget`` (what the page shows)."""
    found = {widget.model_id}
    for child in getattr(widget, "children", ()):
        found |= _ids(child)
    return found


def test_ending_asks_first_and_cancel_keeps_the_episode(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    app.end_button.click()
    assert "Avslutte forløpet for K10001" in _texts(app.end_confirm)
    _button(app.end_confirm, "kor-end-cancel").click()
    assert app.end_confirm.children == ()
    assert store.dataset(ingrid, client="K10001").episodes["end_date"].isna().all()


def test_an_ended_episode_can_be_undone_the_same_day(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    episode = _episode(app, "K10001")
    app.client_list.value = episode
    app.end_button.click()
    _button(app.end_confirm, "kor-end-yes").click()
    assert episode not in app.rows
    _button(app.undo_box, "kor-undo-end").click()
    assert app.episode == episode and episode in app.rows
    assert "åpnet igjen" in _status(app)
    eps = store.dataset(ingrid, client="K10001").episodes
    assert eps["end_date"].isna().all() and eps["end_reason"].isna().all()


def test_a_returning_client_gets_a_new_episode(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    old = _episode(app, "K10001")
    app.client_list.value = old
    app.end_button.click()
    _button(app.end_confirm, "kor-end-yes").click()
    app.new_code.value = "K10001"
    app.register_button.click()
    text = _texts(app.new_status)
    assert "er tilbake" in text and "finnes allerede" not in text
    new = _episode(app, "K10001")
    assert new != old and app.episode == new
    eps = store.dataset(ingrid, client="K10001").episodes.sort_values("episode_id")
    assert eps["end_date"].notna().tolist() == [True, False]


def test_registering_a_client_with_an_open_episode_selects_it(store, service):
    app = ClinicianApp(store, service["ingrid.berg"])
    app.new_code.value = "K10002"
    app.register_button.click()
    assert app.episode == _episode(app, "K10002")
    assert "allerede et åpent forløp" in _texts(app.new_status)
    assert len(store.dataset(SYSTEM, client="K10002").episodes) == 1


def test_list_rows_name_the_level_in_words_and_the_last_session_date(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    for slider in app.forms["alliance"].sliders:
        slider.value = 8.0
    app.save_button.click()
    label = app.client_list.options[0][0]
    level = app.rows[app.episode]["flag_level"]
    word = {"alert": "Alvorlig varsel", "warning": "Varsel"}[level]
    assert label.startswith(("‼ " if level == "alert" else "! ") + word + " · K10001")
    assert f"sist {TODAY:%d.%m.%Y}" in label
    labels = {episode: label for label, episode in app.client_list.options}
    assert "ingen økter ennå" in labels[_episode(app, "K10002")]
    assert "option:nth-child(n+1):nth-child(-n+1)" in app.list_style.value


def test_hand_over_shows_only_the_clients_form_and_returns_only_when_confirmed(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    episode = _episode(app, "K10001")
    app.client_list.value = episode
    hand = app.handover
    _button(app.entry, "kor-handover-outcome").click()
    assert hand.active
    shown = _ids(app.widget)
    for hidden in (app.client_list, app.search, app.left, app.entry, app.new_box):
        assert hidden.model_id not in shown  # not on the page at all
    assert app.client_list.options == ()  # and the options left the browser too
    assert "K10002" not in _texts(app.widget)
    for slider, v in zip(hand.form.sliders, (6.0, 6.5, 7.0, 6.5), strict=True):
        slider.value = v
    hand.save_button.click()
    path = _texts(hand.path)
    assert "Slik har du hatt det" in path and "første gang" in path.lower()
    assert "persentil" not in path.lower()
    assert any("kor-download" in _texts(c) for c in hand.path.children)
    hand.back_button.click()
    assert hand.active  # one tap is not enough
    _button(hand.confirm_box, "kor-handover-cancel").click()
    assert hand.active and hand.confirm_box.children == ()
    hand.back_button.click()
    _button(hand.confirm_box, "kor-handover-confirm").click()
    assert not hand.active and app.left.model_id in _ids(app.widget)
    assert "K10002" in [label.split(" · ")[0].strip(" !‼") for label, _ in app.client_list.options]
    assert "Klienten har lagt inn ORS 26,0" in _status(app)
    m = _measurements(store, ingrid, "K10001")
    assert m["total"].tolist() == [26.0]


def test_hand_over_survives_a_reload_and_ends_only_when_confirmed(store, service):
    """A reload (a new app for the same user) opens straight on the client's form: the
    caseload is never built into the page; after saving, the client's own path."""
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _button(app.entry, "kor-handover-outcome").click()
    reloaded = ClinicianApp(store, ingrid)
    hand = reloaded.handover
    assert hand.active and hand.kind == "outcome"
    shown = _ids(reloaded.widget)
    for hidden in (reloaded.client_list, reloaded.search, reloaded.left, reloaded.entry):
        assert hidden.model_id not in shown
    assert reloaded.client_list.options == ()
    assert "K10002" not in _texts(reloaded.widget) and "K10003" not in _texts(reloaded.widget)
    for slider, v in zip(hand.form.sliders, (6.0, 6.5, 7.0, 6.5), strict=True):
        slider.value = v
    hand.save_button.click()
    again = ClinicianApp(store, ingrid)  # reloaded after saving: the path, not the form
    assert again.handover.active and "Slik har du hatt det" in _texts(again.handover.path)
    assert again.handover.form.box.layout.display == "none"
    again.handover.back_button.click()
    _button(again.handover.confirm_box, "kor-handover-confirm").click()
    assert not again.handover.active
    assert not ClinicianApp(store, ingrid).handover.active  # ended: the caseload again
    assert not ClinicianApp(store, service["ola.nilsen"]).handover.active  # per user


def test_hand_over_of_the_srs_adds_it_to_todays_session(store, service):
    ingrid = service["ingrid.berg"]
    app = ClinicianApp(store, ingrid)
    app.client_list.value = _episode(app, "K10001")
    _ors(app)
    app.save_button.click()
    _button(app.entry, "kor-handover-outcome").click()  # the ORS is in: refused
    assert not app.handover.active and "allerede registrert i dag" in _status(app)
    _button(app.entry, "kor-handover-alliance").click()
    hand = app.handover
    for slider in hand.form.sliders:
        slider.value = 9.5
    hand.save_button.click()
    m = _measurements(store, ingrid, "K10001")
    assert sorted(m["measure"].tolist()) == ["ORS", "SRS"]
    assert m["session_id"].nunique() == 1
