"""The quality dashboard served by Voilà in headless Chromium: filter, charts, report."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_dashboard_filters_redraw_the_charts_and_the_report_button_gives_a_download(served, page):
    page.goto(served + "/voila/render/kvalitet.ipynb", timeout=60_000)
    page.wait_for_selector("text=Kvalitet: resultater", timeout=90_000)
    page.wait_for_selector("img.kor-chart-img", timeout=60_000)
    assert "Traceback" not in page.content()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "kvalitet-trender.png"), full_page=True)

    before = page.locator("img.kor-chart-img").first.get_attribute("src")
    # the team lead of VOP sees their one team only (no «Hele tjenesten»): filter on the
    # first of its clinicians, and the charts and the title follow
    clinician = page.locator("select").nth(1)
    name = clinician.locator("option").nth(1).get_attribute("value")
    clinician.select_option(name)
    page.wait_for_function(
        "b => { const i = document.querySelector('img.kor-chart-img'); return i && i.src !== b; }",
        arg=before,
        timeout=30_000,
    )
    page.wait_for_selector(f"text=behandler {name}", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "kvalitet-team.png"), full_page=True)

    page.get_by_text("Sammenligning", exact=True).click()
    page.wait_for_selector("text=Grensene blir smalere", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "kvalitet-trakt.png"), full_page=True)

    page.locator(".lm-TabBar-tab", has_text="Rapport").click()
    page.locator("button", has_text="Lag rapport").click()
    link = page.wait_for_selector("a.kor-report-link", timeout=90_000)
    page.wait_for_selector(".widget-hprogress", state="visible", timeout=10_000)
    assert link.get_attribute("download").endswith(".pdf")
    page.screenshot(path=str(SCREENSHOTS / "kvalitet-rapport.png"), full_page=True)
