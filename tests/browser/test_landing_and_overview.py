"""The served workbench in a real headless Chromium: landing page and data overview."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_root_opens_the_start_page_whose_tiles_lead_to_the_apps(served, page):
    page.goto(served + "/", timeout=60_000)
    page.wait_for_selector(".kor-start a.kor-tile", timeout=60_000)
    assert page.url == served + "/voila/render/start.ipynb"
    assert "KOR-arbeidsbenken" in page.content() and "Select items" not in page.content()
    tiles = page.locator("a.kor-tile")
    assert tiles.count() == 7  # every app has a tile: the team lead's own first, then research
    assert page.locator("text=Dine verktøy").count() == 1
    assert page.locator("a.kor-tile:not(.kor-other)").count() == 6
    assert "guro.nesheim" in page.locator(".kor-who").inner_text()  # not an admin
    box = tiles.first.bounding_box()
    assert box is not None and box["height"] >= 88  # a touch target, not a text link
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "landing.png"), full_page=True)
    page.get_by_text("English", exact=True).click()
    page.wait_for_selector("text=Your tools", timeout=30_000)
    page.locator("a.kor-tile", has_text="Data overview").click()
    page.wait_for_url(served + "/voila/render/oversikt.ipynb?lang=en", timeout=30_000)
    page.wait_for_selector("text=Data overview", timeout=60_000)  # the language came along
    page.goto(served + "/voila/tree/forskning", timeout=60_000)  # a folder: the start page too
    page.wait_for_selector(".kor-start", timeout=60_000)
    page.goto(served + "/?classic-tree=true", timeout=60_000)  # Voilà's other tree template
    page.wait_for_selector(".kor-start", timeout=60_000)


def test_overview_app_shows_the_sample_in_norwegian_and_switches_to_english(served, page):
    page.goto(served + "/voila/render/oversikt.ipynb", timeout=60_000)
    page.wait_for_selector("text=Oversikt over dataene", timeout=60_000)
    page.wait_for_selector("img.kor-chart-img", timeout=30_000)
    summary = page.locator(".kor-message").first.inner_text()
    # the team lead's own team, as in the charts below: not the service's 400 clients
    counts = re.search(r"(\d+) team · \d+ behandlere · (\d+) klienter", summary)
    assert counts and counts.group(1) == "1" and 0 < int(counts.group(2)) < 400, summary
    assert page.locator("img.kor-chart-img").count() == 2
    assert page.locator("a.kor-download").count() == 4
    assert "Traceback" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "oversikt.png"), full_page=True)
    page.get_by_text("English", exact=True).click()
    page.wait_for_selector("text=Data overview", timeout=30_000)
    assert f"clients {counts.group(2)}" in page.locator(".kor-message").first.inner_text()


def test_notebook_sources_and_data_files_are_not_served(served, page):
    for path in ("/voila/files/oversikt.ipynb", "/voila/files/../data/sample/clients.csv"):
        response = page.request.get(served + path)
        assert response.status in (403, 404), path
