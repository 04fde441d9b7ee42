"""The supervision list in headless Chromium: legend, rows, the chart below the case,
«drøftet» with a note. Writes the screenshots ``veiledning-*.png``."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_case_opens_below_its_row_and_is_marked_discussed(served, page):
    page.goto(served + "/voila/render/kvalitet.ipynb", timeout=240_000)
    page.wait_for_selector("text=Kvalitet: resultater", timeout=90_000)
    page.locator(".lm-TabBar-tab", has_text="Veiledningsliste").click()
    page.wait_for_selector(".kor-supervision-legend", timeout=60_000)
    rows = page.locator("button.kor-case")
    assert rows.count() > 0
    assert "økter" in rows.first.inner_text()
    colour = rows.first.evaluate("b => getComputedStyle(b).color")
    background = rows.first.evaluate("b => getComputedStyle(b).backgroundColor")
    assert (colour, background) == ("rgb(31, 31, 31)", "rgb(255, 255, 255)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "veiledning-liste.png"), full_page=True)
    rows.first.click()
    page.wait_for_selector(".kor-supervision-note textarea", timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SCREENSHOTS / "veiledning-graf.png"), full_page=True)
    page.locator(".kor-supervision-note textarea").fill("Ta opp målene på nytt")
    page.locator("button.kor-supervision-mark").click()
    page.wait_for_selector("text=Merket som drøftet", timeout=60_000)
    page.wait_for_selector("text=Ta opp målene på nytt", timeout=60_000)
    assert "Drøftet" in page.locator("button.kor-case").first.inner_text()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SCREENSHOTS / "veiledning-drøftet.png"), full_page=True)
