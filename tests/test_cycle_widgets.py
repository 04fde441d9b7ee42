"""The cycle app outside a kernel: clicks and values call the library."""

from __future__ import annotations

from datetime import date

import ipywidgets as w
import pytest

from kor.access import SYSTEM
from tests.test_cycle_store import CHANGE, TODAY, rising_dataset
from widgets.chart_image import ChartImage
from widgets.cycle import cycle_app


def find(widget, cls=None, kind=None):
    """All descendants with CSS class ``cls`` and/or of type ``kind``."""
    out = []
    stack = [widget]
    while stack:
        node = stack.pop()
        if (cls is None or cls in getattr(node, "_dom_classes", ())) and (
            kind is None or isinstance(node, kind)
        ):
            out.append(node)
        stack.extend(getattr(node, "children", ()))
    return out


def one(widget, cls):
    found = find(widget, cls)
    assert len(found) == 1, cls
    return found[0]


def text_of(widget):
    return " ".join(h.value for h in find(widget, kind=w.HTML))


@pytest.mark.slow
def test_app_creates_a_project_ticks_moves_sets_a_goal_and_shows_the_verdict(tmp_path):
    from kor.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.load_dataset(SYSTEM, rising_dataset())
    store.add_user(SYSTEM, "leder.vop", "team_lead", team="VOP")
    lead = store.actor_for("leder.vop")
    app = cycle_app(store, lead, today=TODAY)
    one(app, "kor-cycle-title").value = "SRS i hver økt"
    one(app, "kor-cycle-create").click()
    assert "SRS i hver økt" in one(app, "kor-cycle-project").value
    # blocked: the open items are listed
    one(app, "kor-advance").click()
    assert "Brukerrepresentanter" in text_of(app)
    for box in find(one(app, "kor-phase-forberedelse"), "kor-check"):
        box.value = True
    one(app, "kor-advance").click()
    assert "Planlegging" in one(app, "kor-cycle-project").value
    one(app, "kor-goal-start").value = date(2025, 1, 1)
    one(app, "kor-goal-end").value = date(2025, 6, 30)
    one(app, "kor-goal-compute").click()
    assert "Utgangspunkt fra dataene" in one(app, "kor-goal-baseline").value
    one(app, "kor-goal-target").value = 90.0
    one(app, "kor-goal-save").click()
    one(app, "kor-goal-agreed").value = "Arbeidsgruppen"
    one(app, "kor-goal-agree").click()
    assert text_of(app).count("✅") == 6
    one(app, "kor-change-date").value = CHANGE
    one(app, "kor-change-text").value = "SRS på nettbrett"
    one(app, "kor-change-add").click()
    assert "SRS på nettbrett" in text_of(app)
    (chart,) = find(app, kind=ChartImage)
    assert chart.png[:4] == b"\x89PNG" and chart.alt.startswith("Diagram: målet over tid")
    assert "Forbedret" in text_of(app) and "Anhøjs serieregel" in text_of(app)
    one(app, "kor-report").click()
    assert "application/pdf" in one(app, "kor-report-links").value


def test_a_researcher_gets_a_friendly_message_not_a_traceback(tmp_path):
    from kor.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_user(SYSTEM, "forsker", "researcher")
    app = cycle_app(store, store.actor_for("forsker"))
    assert "kor-error" in text_of(app)
    assert "Traceback" not in text_of(app)


def test_a_refusal_replaces_an_old_success_message(tmp_path):
    from kor import cycle
    from kor.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.add_team(SYSTEM, "VOP", "Voksenpsykiatri")
    store.add_user(SYSTEM, "leder.vop", "team_lead", team="VOP")
    lead = store.actor_for("leder.vop")
    pid = store.create_project(lead, "Uten mål", ["VOP"])
    p = store.project(lead, pid)
    store.advance_phase(lead, pid, version=p.version, force=True, decision="Kjent behov")
    root = cycle_app(store, lead, today=TODAY)
    app = root.app
    app.project_id = pid
    app.render()
    boxes = find(one(root, "kor-phase-planlegging"), "kor-check")
    smart_text = cycle.item_text({"item_key": cycle.SMART_GOAL_ITEM}, "nb")
    other = next(b for b in boxes if b.description != smart_text)
    other.value = True
    assert "kor-success" in text_of(app.flash)
    next(b for b in boxes if b.description == smart_text).value = True
    flash = text_of(app.flash)
    assert "kor-error" in flash and "SMART mål" in flash and "kor-success" not in flash
    again = find(one(root, "kor-phase-planlegging"), "kor-check")
    assert not next(b for b in again if b.description == smart_text).value  # box back
    # the same one area for a refused move
    one(root, "kor-advance").click()
    flash = text_of(app.flash)
    assert "kor-error" in flash and "kor-success" not in flash
    assert len(app.flash.children) == 1
