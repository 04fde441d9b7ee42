"""The clinician's entry form without a browser: typed values, anchors, save order, chart."""

from __future__ import annotations

from datetime import date

import pytest

from kor.access import Actor
from kor.client_chart import FONT_PT, client_chart
from kor.errors import ValidationError
from kor.i18n import set_language
from tests.test_clinician_app import _episode, _status, service  # noqa: F401 - fixture
from widgets.clinician import NEW, ClinicianApp

INGRID = Actor("ingrid.berg", "clinician", "VOP")


@pytest.fixture
def app(store, service):  # noqa: F811 - the imported fixture
    set_language("nb")
    app = ClinicianApp(store, INGRID)
    app.select_episode(_episode(app, "K10001"))
    return app


def test_a_typed_decimal_comma_means_the_value_and_shows_with_a_comma(app):
    form = app.forms["outcome"]
    assert form.enter(0, "4,5")
    assert form.sliders[0].value == 4.5 and form.touched[0]
    assert form.boxes[0].value == "4,5"
    form.boxes[1].value = "7.2"  # what the browser sends when the box is left
    assert form.sliders[1].value == 7.2 and form.boxes[1].value == "7,2"


@pytest.mark.parametrize(
    ("text", "words"), [("12", "utenfor skalaen"), ("-1", "utenfor"), ("fire", "ikke et tall")]
)
def test_a_typed_value_out_of_range_or_not_a_number_is_refused_beside_the_box(app, text, words):
    form = app.forms["outcome"]
    form.enter(0, "3,0")
    assert not form.enter(0, text)
    assert form.sliders[0].value == 3.0  # not clamped to 10.0, not changed at all
    assert words in form.errors[0].value
    assert form.enter(0, "3,5") and form.errors[0].value == ""


def test_too_many_decimals_are_refused_not_rounded(app):
    form = app.forms["outcome"]
    assert not form.enter(2, "4,55")
    assert not form.touched[2] and "desimal" in form.errors[2].value


def test_every_line_shows_its_end_anchors(app):
    form = app.forms["outcome"]
    anchors = form.anchors[0].value
    assert "0,0 · Svært dårlig" in anchors and "Svært bra · 10,0" in anchors
    assert "Passet godt" in app.forms["alliance"].anchors[0].value


def test_licensed_anchor_wording_replaces_the_default(app, monkeypatch):
    from kor import i18n

    key = "measure.ORS.anchor.low"
    monkeypatch.setitem(i18n.catalog(), key, {"nb": "Lisensiert lav", "en": "Licensed low"})
    app.forms["outcome"]._label(0)
    assert "Lisensiert lav" in app.forms["outcome"].anchors[0].value


def test_a_missing_item_is_named_as_the_form_shows_it(app):
    form = app.forms["outcome"]
    for i in range(3):
        form.enter(i, "5")
    app.save()
    status = _status(app)
    assert "ORS: " in status and "ORS.overall" not in status


def test_a_future_date_names_the_date_field_as_the_user_sees_it(app):
    exc = ValidationError("error.date_future", field="session_date")
    assert "«Dato»" in exc.message() and "session_date" not in exc.message()


def test_after_save_the_picker_the_form_and_the_confirmation_agree(app, store):
    form = app.forms["outcome"]
    for i, v in enumerate(("3,2", "4,5", "5", "3,8")):
        assert form.enter(i, v)
    calls = []
    original = app._render_chart
    app._render_chart = lambda: (calls.append(app.session_picker.value), original())[1]
    app.save()
    assert "Lagret" in _status(app) and "ORS 16,5" in _status(app)
    assert app.session_picker.value != NEW  # the saved session, not «Ny økt»
    assert calls == [app.session_picker.value]  # the chart was drawn after the picker moved
    assert app.forms["outcome"].current() == [3.2, 4.5, 5.0, 3.8]
    assert not app.forms["outcome"].dirty
    assert app.last_confirm_seconds is not None
    assert 'data-sessions="1"' in app.caption.value


def test_the_chart_keeps_low_points_inside_and_its_text_large(app):
    import pandas as pd

    sessions = pd.DataFrame(
        {"session_no": [1, 2], "outcome": [0.0, 40.0], "alliance": [20.0, 40.0]}
    )
    ax = client_chart(sessions, title="K1")
    low, high = ax.get_ylim()
    assert low < 0.0 and high > 40.0  # the markers at 0 and 40 are drawn whole
    fig = ax.figure
    texts = [t for a in fig.axes for t in a.get_yticklabels()] + fig.legends[0].get_texts()
    assert min(t.get_fontsize() for t in texts) >= FONT_PT
    # drawn 572 px wide at 110 dpi, shown no narrower than 360 px: 14 pt stays >= 12 px
    assert FONT_PT * 110 / 72 * 360 / (fig.get_figwidth() * 110) >= 12.0
    assert date.today()  # (the figure is independent of the day)
