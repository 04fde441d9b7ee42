"""The served workbench in a real headless Chromium: landing page and data overview."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_landing_page_lists_the_apps(served, page):
    page.goto(served + "/")
    page.wait_for_selector("text=oversikt.ipynb", timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "landing.png"), full_page=True)


def test_overview_app_shows_the_sample_in_norwegian_and_switches_to_english(served, page):
    page.goto(served + "/voila/render/oversikt.ipynb", timeout=60_000)
    page.wait_for_selector("text=Oversikt over dataene", timeout=60_000)
    page.wait_for_selector(".widget-image", timeout=30_000)
    summary = page.locator(".kor-message").first.inner_text()
    assert "400 klienter" in summary
    assert page.locator(".widget-image").count() == 2
    assert page.locator("a.kor-download").count() == 4
    assert "Traceback" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "oversikt.png"), full_page=True)
    page.get_by_text("English", exact=True).click()
    page.wait_for_selector("text=Data overview", timeout=30_000)
    assert "400 clients" in page.locator(".kor-message").first.inner_text()


def test_notebook_sources_and_data_files_are_not_served(served, page):
    for path in ("/voila/files/oversikt.ipynb", "/voila/files/../data/sample/clients.csv"):
        response = page.request.get(served + path)
        assert response.status in (403, 404), path
