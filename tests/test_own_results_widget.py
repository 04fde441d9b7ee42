"""«Mine resultater» without a browser: built on a real store, what it shows and to whom."""

from __future__ import annotations

import ipywidgets as w
import pytest

from kor.access import SYSTEM
from kor.i18n import set_language
from kor.own_results import own_results
from kor.sample import generate
from kor.store import Store
from tests.test_own_results import REFERENCE, _sessions
from tests.test_widgets import _images, _texts
from widgets.own_results import headline, own_results_app

VOP = ["eirik.fjellheim", "hanne.brekkesto", "ingrid.berg", "marte.solvik", "sindre.aasen"]


@pytest.fixture
def sample_store(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.load_dataset(SYSTEM, generate(150, seed=7))
    yield store
    store.close()


def _pickers(widget: w.Widget) -> list[w.Dropdown]:
    found = [widget] if isinstance(widget, w.Dropdown) else []
    for child in getattr(widget, "children", ()):
        found.extend(_pickers(child))
    return found


def test_the_headline_of_the_worked_example_in_plain_words():
    result = own_results(_sessions(), "u1", reference=REFERENCE, as_of="2026-06-30")
    lines = headline(result.total)
    assert lines[0] == (
        "Klientene dine endret seg i snitt 0,2 poeng mindre enn forventet (95 % KI −5,6 til 5,3)."
    )
    assert lines[1].startswith("Intervallet omfatter 0")
    assert "6 avsluttede forløp" in lines[2] and "5,2 poeng" in lines[2] and "5,3 poeng" in lines[2]
    assert lines[3] == "50 % ble pålitelig bedre og 17 % pålitelig verre."
    assert lines[4] == "Frafall: 33 % av 6 avsluttede forløp."
    try:
        set_language("en")
        assert headline(result.total)[0] == (
            "Your clients changed on average 0.2 points less than expected (95% CI −5.6 to 5.3)."
        )
    finally:
        set_language("nb")


def test_a_suppressed_window_says_so_in_a_sentence():
    result = own_results(_sessions(), "nobody", reference=REFERENCE, as_of="2026-06-30")
    lines = headline(result.total)
    assert lines[0].startswith("For få avsluttede forløp (under 5)")
    assert not any("Klientene dine" in line for line in lines)


def test_a_clinician_sees_their_figures_three_downloadable_charts_and_no_client(sample_store):
    ingrid = sample_store.actor_for("ingrid.berg")
    app = own_results_app(store=sample_store, actor=ingrid)
    text = " ".join(_texts(app))
    assert "Klientene dine endret seg i snitt" in text and "95 % KI" in text
    assert "Slik er tallene regnet ut" in text
    assert not _pickers(app)  # a clinician picks nobody
    images = _images(app)
    assert len(images) == 3 and all(img.png[:4] == b"\x89PNG" for img in images)
    assert text.count('download="mine-resultater-') == 6  # PNG and PDF of each chart
    clients = sample_store.session_table(SYSTEM)["client"].unique()
    assert not [code for code in clients if code in text]
    others = [name for name in VOP if name != "ingrid.berg"]
    assert not [name for name in others if name in text]


def test_a_team_lead_picks_one_clinician_from_an_alphabetical_list(sample_store):
    lead = sample_store.actor_for("guro.nesheim")
    app = own_results_app(store=sample_store, actor=lead)
    [picker] = _pickers(app)
    assert [value for _, value in picker.options] == [None, *VOP]
    assert "Klientene dine" not in " ".join(_texts(app)) and not _images(app)
    picker.value = "sindre.aasen"
    text = " ".join(_texts(app))
    assert "Resultater for sindre.aasen" in text and len(_images(app)) == 3
    assert not [name for name in VOP if name != "sindre.aasen" and name in text.split("<select")[0]]


def test_the_app_switches_to_english(sample_store):
    app = own_results_app(store=sample_store, actor=sample_store.actor_for("ingrid.berg"))
    [switch] = [c for c in app.children if isinstance(c, w.ToggleButtons)]
    try:
        switch.value = "en"
        text = " ".join(_texts(app))
        assert "My results" in text and "How the figures are computed" in text
    finally:
        set_language("nb")


def test_a_researcher_gets_a_message_not_a_traceback(sample_store):
    app = own_results_app(store=sample_store, actor=sample_store.actor_for("hakon.vik"))
    assert "Du har ikke tilgang til dette" in " ".join(_texts(app))
