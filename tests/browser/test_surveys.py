"""«Bruker spør bruker» in headless Chromium: create a survey, fill one interview end to end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _answer_visible_section(page) -> None:  # noqa: ANN001
    groups = page.locator(".bsb-interview .bsb-choice.widget-toggle-buttons:not(.bsb-scale)")
    for i in range(groups.count()):
        groups.nth(i).locator("button").nth(3).click()  # «Litt enig»
    multi = page.locator(".bsb-interview button.bsb-multi")
    if multi.count():
        multi.first.click()
    scales = page.locator(".bsb-interview .bsb-scale")
    for i in range(scales.count()):  # the middle of 0-10 is one tap (it was lost before)
        scales.nth(i).locator("button", has_text=re.compile(r"^5$")).click()
        skip = scales.nth(i).locator("xpath=..").locator(".bsb-skip input[type=checkbox]")
        expect(skip).not_to_be_checked()
    texts = page.locator(".bsb-interview textarea")
    for i in range(texts.count()):
        texts.nth(i).fill("Godt å bli spurt.")


def test_interviewer_creates_a_survey_and_fills_one_interview(served, page):
    page.goto(served + "/voila/render/bruker_spor_bruker.ipynb", timeout=60_000)
    page.wait_for_selector("text=Bruker spør bruker", timeout=60_000)
    page.locator("button.bsb-new-survey").click()
    page.locator("button.bsb-create").click()
    page.wait_for_selector("text=er opprettet", timeout=30_000)
    page.locator("button.bsb-start-user").click()
    heading = page.locator(".bsb-section-heading")
    heading.wait_for(timeout=30_000)
    total = int(re.search(r"av (\d+)", heading.inner_text()).group(1))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for number in range(1, total + 1):
        page.wait_for_selector(
            f".bsb-section-heading >> text=del {number} av {total}", timeout=30_000
        )
        _answer_visible_section(page)
        if number == 3:
            page.screenshot(path=str(SCREENSHOTS / "bsb-interview.png"), full_page=True)
        if number < total:
            page.locator("button.bsb-next").click()
    page.screenshot(path=str(SCREENSHOTS / "bsb-last-section.png"), full_page=True)
    page.locator("button.bsb-finish").click()
    page.wait_for_selector("text=1 brukere og 0 ansatte intervjuet", timeout=30_000)
    picker = page.locator(".bsb-survey-picker").inner_text().replace("\xa0", " ")
    assert "(1 brukere, 0 ansatte)" in picker
    assert "Traceback" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "bsb-finished.png"), full_page=True)
