"""The clinician app's rater picker without a browser: a parent's CORS in the child's session."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kor.access import SYSTEM
from kor.store import Store
from widgets.clinician import NEW, ClinicianApp

TODAY = date.today()


@pytest.fixture
def app(store: Store, small_service) -> ClinicianApp:
    start = TODAY - timedelta(days=60)
    for code, age in [("K20001", "adult"), ("K20002", "age_6_12")]:
        store.add_client(SYSTEM, code, team="VOP", age_group=age)
        store.open_episode(SYSTEM, code, start=start, clinician="ingrid.berg")
    return ClinicianApp(store, small_service["ingrid.berg"])


def _open(app: ClinicianApp, client: str) -> None:
    app.client_list.value = next(e for e, r in app.rows.items() if r["client"] == client)


def _outcome(app: ClinicianApp, values: tuple[float, ...]) -> None:
    for slider, v in zip(app.forms["outcome"].sliders, values, strict=True):
        slider.value = v


def _status(app: ClinicianApp) -> str:
    return " ".join(getattr(c, "value", "") for c in app.status.children)


def test_picker_is_shown_for_a_child_only_with_touch_sized_buttons(app):
    _open(app, "K20001")
    assert app.rater_picker.box.layout.display == "none"
    _open(app, "K20002")
    assert app.rater_picker.box.layout.display is None
    assert [label for label, _ in app.rater_picker.toggle.options] == [
        "Klienten",
        "Forelder",
        "Lærer",
        "Annen voksen",
    ]
    assert app.rater_picker.value == "client"
    assert "min-height:44px" in app.rater_picker.box.children[0].value


def test_parent_rating_is_saved_beside_the_childs_own(app, store):
    ingrid = store.actor_for("ingrid.berg")
    _open(app, "K20002")
    _outcome(app, (5.0, 4.0, 6.0, 5.0))
    app.save_button.click()
    assert "CORS 20,0" in _status(app)
    session = app.session_picker.value
    assert session != NEW
    app.rater_picker.choose("parent")
    # the parent's form starts empty (never the child's values) and the alliance form is hidden
    assert not any(app.forms["outcome"].touched)
    assert app.forms["alliance"].box.layout.display == "none"
    _outcome(app, (7.0, 6.5, 6.0, 7.0))
    app.save_button.click()
    assert "CORS 26,5 (Forelder)" in _status(app), _status(app)
    m = store.dataset(ingrid, client="K20002").measurements.sort_values("measurement_id")
    assert m["rater"].tolist() == ["client", "parent"]
    assert m["total"].tolist() == [20.0, 26.5]
    assert m["session_id"].nunique() == 1  # the same session
    # back to the client's own rating; the child's stored values are shown again
    assert app.rater_picker.value == "client"
    assert app.forms["alliance"].box.layout.display is None
    assert store.session_table(ingrid, client="K20002")["outcome"].tolist() == [20.0]
    assert app.view.collateral["rater"].tolist() == ["parent"]
