"""The start page: every app has a tile, the user's own apps come first, texts in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kor.access import Actor
from kor.i18n import set_language
from widgets import common
from widgets.start import APPS, tiles_html

ROOT = Path(__file__).resolve().parents[1]


def _hrefs(page: str, section: str) -> list[str]:
    part = page.split(f"<h3>{section}</h3>")[1].split("</div>")[0]
    return re.findall(r'href="([^"?]+)\?lang=\w+"', part)


def test_every_app_notebook_has_a_tile_and_every_tile_a_notebook():
    served = {
        p.relative_to(ROOT / "notebooks").as_posix()
        for p in (ROOT / "notebooks").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    }
    research = {n for n in served if n.startswith("forskning/")}
    tiles = {a.notebook for a in APPS}
    apps = served - research - {"start.ipynb"}
    assert {n for n in tiles if not n.startswith("forskning/")} == apps
    # The research notebooks are examples, not apps: one tile opens the first of them.
    assert tiles & research == {"forskning/forventet_forlop.ipynb"}
    assert len(research) >= 3


def test_research_notebooks_get_no_preheated_kernel():
    research = {
        p.relative_to(ROOT / "notebooks").as_posix()
        for p in (ROOT / "notebooks" / "forskning").glob("*.ipynb")
    }
    settings = json.loads((ROOT / "voila.json").read_text())
    assert set(settings["VoilaKernelManager"]["preheat_denylist"]) == research


@pytest.mark.parametrize(
    ("role", "own"),
    [
        ("clinician", ["behandler.ipynb", "mine_resultater.ipynb", "forbedring.ipynb"]),
        ("researcher", ["forskning/forventet_forlop.ipynb"]),
        (
            "quality_lead",
            ["kvalitet.ipynb", "bruker_spor_bruker.ipynb", "forbedring.ipynb", "oversikt.ipynb"],
        ),
    ],
)
def test_the_roles_own_apps_come_first_and_the_rest_after(role, own):
    set_language("nb")
    page = tiles_html(Actor(username="x", role=role, team="VOP"))
    assert _hrefs(page, "Dine verktøy") == own
    others = _hrefs(page, "Andre verktøy")
    assert sorted(own + others) == sorted(a.notebook for a in APPS)


def test_the_links_carry_the_language_and_the_page_obeys_it(monkeypatch):
    admin = Actor(username="a", role="admin")
    try:
        set_language("en")
        page = tiles_html(admin)
        assert "Your tools" in page and "Andre verktøy" not in page  # admin: all are theirs
        assert page.count("?lang=en") == len(APPS)
        monkeypatch.setenv("QUERY_STRING", "lang=nb&x=1")
        common.request_language()
        assert "Dine verktøy" in tiles_html(admin)
        monkeypatch.setenv("QUERY_STRING", "lang=de")  # not a language of the catalog
        common.request_language()
        assert "Dine verktøy" in tiles_html(admin)
    finally:
        set_language("nb")
