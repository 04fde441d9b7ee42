"""The supervision list as a team lead uses it: legend, «økter», Norwegian dates, the
chart below the case, and «drøftet» with a note the clinician then reads."""

from __future__ import annotations

import ipywidgets as w
import pytest

from kor.access import SYSTEM
from kor.i18n import set_language
from kor.sample import generate
from kor.store import Store
from widgets.dashboard import dashboard_app


def _texts(widget: w.Widget) -> list[str]:
    out = [widget.value] if isinstance(widget, w.HTML) else []
    if isinstance(widget, w.Button):
        out.append(widget.description)
    for child in getattr(widget, "children", ()):
        out.extend(_texts(child))
    return out


def _find(widget: w.Widget, cls: str) -> list[w.Widget]:
    found = [widget] if cls in getattr(widget, "_dom_classes", ()) else []
    for child in getattr(widget, "children", ()):
        found.extend(_find(child, cls))
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("supervision") / "kor.sqlite"
    st = Store.open(f"sqlite:///{path}")
    st.load_dataset(SYSTEM, generate(150, seed=5))
    yield st
    st.close()


def _app(store, username):
    set_language("nb")
    app = dashboard_app(store, store.actor_for(username))._kor_app
    app.tabs.selected_index = 2
    return app


def test_a_team_lead_marks_a_case_discussed_below_its_row(store):
    app = _app(store, "guro.nesheim")
    text = " ".join(_texts(app.supervision_box))
    assert "Forklaring:" in text and " økter · " in text and " timer " not in text
    buttons = app.case_buttons
    assert buttons and all("kor-case" in b._dom_classes for b in buttons)
    assert {c for b in buttons for c in b._dom_classes} & {"kor-case-alert", "kor-case-warning"}
    assert all(b.button_style == "" for b in buttons)  # no low-contrast orange buttons
    months = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
              "september", "oktober", "november", "desember")  # fmt: skip
    assert any(m in buttons[0].description for m in months)
    buttons[0].click()
    children = list(app.supervision_box.children)
    assert children.index(app.case_box) == children.index(buttons[0]) + 1  # next to the case
    (note,) = _find(app.case_box, "kor-supervision-note")
    note.value = "Ta opp målene på nytt"
    (mark,) = _find(app.case_box, "kor-supervision-mark")
    mark.click()
    assert "Merket som drøftet" in " ".join(_texts(app.status))
    assert "Drøftet" in app.case_buttons[0].description
    assert "Ta opp målene på nytt" in " ".join(_texts(app.case_box))
    episode = int(app.cases["episode"].iloc[0])
    clinician = store.actor_for(app.cases["clinician"].iloc[0])
    seen = store.supervision_marks(clinician)
    assert seen["episode"].tolist() == [episode] and seen["note"].tolist() == [
        "Ta opp målene på nytt"
    ]
    # a national identity number in the note is refused with a message, nothing stored
    app.case_buttons[0].click()
    (note,) = _find(app.case_box, "kor-supervision-note")
    note.value = "fnr 311299 56715"
    _find(app.case_box, "kor-supervision-mark")[0].click()
    assert "fødselsnummer" in " ".join(_texts(app.status))
    assert len(store.supervision_marks(clinician)) == 1


def test_a_clinician_sees_the_list_without_a_mark_button(store):
    app = _app(store, "ingrid.berg")
    if app.case_buttons:
        app.case_buttons[0].click()
        assert not _find(app.case_box, "kor-supervision-mark")


def test_the_clinician_reads_the_note_next_to_the_clients_flags(store):
    from widgets.clinician import ClinicianApp

    lead = _app(store, "guro.nesheim")
    episode = int(lead.cases["episode"].iloc[1])
    store.mark_discussed(lead.actor, episode, "Vurder henvisning")
    clinician = store.actor_for(lead.cases["clinician"].iloc[1])
    app = ClinicianApp(store, clinician)
    app._select_episode(episode)
    text = " ".join(_texts(app.flag_box))
    assert "Drøftet i veiledning" in text and "Vurder henvisning" in text
