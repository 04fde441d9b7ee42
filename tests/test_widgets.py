"""App factories without a browser: build them on a real store and look at what they show."""

from __future__ import annotations

import ast
from pathlib import Path

import ipywidgets as w
import pytest

from kor.access import SYSTEM
from kor.i18n import set_language
from kor.sample import generate
from kor.store import Store
from widgets.apps import overview_app
from widgets.chart_image import ChartImage

ROOT = Path(__file__).resolve().parents[1]


def _texts(widget: w.Widget) -> list[str]:
    out = []
    if isinstance(widget, w.HTML):
        out.append(widget.value)
    for child in getattr(widget, "children", ()):
        out.extend(_texts(child))
    return out


def _images(widget: w.Widget) -> list[ChartImage]:
    found = [widget] if isinstance(widget, ChartImage) else []
    for child in getattr(widget, "children", ()):
        found.extend(_images(child))
    return found


@pytest.fixture
def sample_store(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kor.sqlite'}")
    store.load_dataset(SYSTEM, generate(60, seed=7))
    yield store
    store.close()


def test_overview_shows_counts_and_two_downloadable_charts(sample_store):
    app = overview_app(store=sample_store, actor=SYSTEM)
    text = " ".join(_texts(app))
    assert "60 klienter" in text
    images = _images(app)
    assert len(images) == 2 and all(img.png[:4] == b"\x89PNG" for img in images)
    # each chart is an <img> with its text alternative, in plain words
    assert [img.alt for img in images] == [
        "Diagram: antall økter per måned, som en linje over tid.",
        "Diagram: andel økter med ORS registrert, i prosent per måned.",
    ]
    assert all(
        f'alt="{img.alt}"' in img.value and "data:image/png;base64," in img.value for img in images
    )
    assert text.count('download="') == 4


def test_a_team_leads_overview_counts_only_what_its_charts_show(sample_store):
    lead_name = next(u for u, r in _roles(sample_store).items() if r == "team_lead")
    lead = sample_store.actor_for(lead_name)
    text = " ".join(_texts(overview_app(store=sample_store, actor=lead)))
    rows = sample_store.session_table(lead)
    expected = (
        f"1 team · {rows.clinician.nunique()} behandlere · {rows.client.nunique()} klienter · "
        f"{rows.episode.nunique()} forløp · {len(rows)} økter"
    )
    assert expected in text
    assert rows.client.nunique() < 60 and "60 klienter" not in text  # not the whole service


def _roles(store: Store) -> dict[str, str]:
    users = store.dataset(SYSTEM, episode=-1).users
    return dict(zip(users.username, users.role, strict=True))


def test_overview_switches_language(sample_store):
    app = overview_app(store=sample_store, actor=SYSTEM)
    [switch] = [c for c in app.children if isinstance(c, w.ToggleButtons)]
    try:
        switch.value = "en"
        assert "clients 60" in " ".join(_texts(app))
    finally:
        set_language("nb")


def test_a_failure_shows_a_friendly_message_not_a_traceback(sample_store, caplog):
    class Broken:
        def session_table(self, actor):
            raise RuntimeError("K00001 secret detail")

        def counts(self, actor):
            return {}

        def current_actor(self):
            return SYSTEM

    app = overview_app(store=Broken(), actor=SYSTEM)
    text = " ".join(_texts(app))
    assert "Noe gikk galt" in text and "Traceback" not in text and "K00001" not in text
    assert "K00001" not in caplog.text and "RuntimeError" in caplog.text


def test_widgets_hold_no_statistics_or_sql():
    forbidden = {"statsmodels", "sqlalchemy", "scipy", "duckdb"}
    for path in (ROOT / "widgets").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & forbidden, path.name
