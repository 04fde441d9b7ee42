"""The improvement-cycle app end to end in headless Chromium, with screenshots."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_create_project_tick_move_set_goal_log_a_change_and_see_the_chart(served, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(served + "/voila/render/forbedring.ipynb", timeout=60_000)
    page.wait_for_selector("text=Forbedringsarbeid", timeout=60_000)

    page.get_by_text("Nytt prosjekt", exact=True).click()
    page.locator(".kor-cycle-title input").fill("SRS i hver økt")
    page.locator(".kor-team-VOP input").check()
    page.locator(".kor-cycle-create").click()
    page.wait_for_selector(".kor-cycle-project", timeout=30_000)
    assert "Fase 1 av 5" in page.locator(".kor-cycle-project").inner_text()

    # moving on with items open is refused, and the open items are listed
    page.locator(".kor-advance").click()
    page.wait_for_selector(".kor-error", timeout=15_000)
    assert "Brukerrepresentanter er med i arbeidsgruppen" in page.locator(".kor-error").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "forbedring-blokkert.png"), full_page=True)

    boxes = page.locator(".kor-phase-forberedelse .kor-check input")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.wait_for_timeout(500)
    page.locator(".kor-advance").click()
    page.wait_for_selector("text=Fase 2 av 5", timeout=15_000)

    # a SMART goal on live data
    page.locator(".kor-goal-start input").fill("2025-01-01")
    page.locator(".kor-goal-end input").fill("2025-06-30")
    page.locator(".kor-goal-compute").click()
    page.wait_for_selector("text=Utgangspunkt fra dataene", timeout=30_000)
    target = page.locator(".kor-goal-target input")
    target.fill("97")
    target.press("Enter")
    page.locator(".kor-goal-save").click()
    page.wait_for_selector(".kor-smart", timeout=30_000)
    page.locator(".kor-goal-agreed input").fill("Arbeidsgruppen med brukerrepresentant")
    page.locator(".kor-goal-agree").click()
    page.wait_for_selector("text=Enighet: Arbeidsgruppen", timeout=30_000)

    boxes = page.locator(".kor-phase-planlegging .kor-check input")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.wait_for_timeout(500)
    page.locator(".kor-advance").click()
    page.wait_for_selector("text=Fase 3 av 5", timeout=15_000)

    # a dated change splits the goal's chart
    page.locator(".kor-change-date input").fill("2025-12-01")
    page.locator(".kor-change-text input").fill("SRS på nettbrett i alle økter")
    page.locator(".kor-change-add").click()
    page.wait_for_selector(".kor-changes", timeout=30_000)
    page.wait_for_selector("img.kor-chart-img", timeout=30_000)
    assert page.locator("a.kor-download").count() >= 2
    assert "Regel:" in page.content()
    assert "Traceback" not in page.content()
    page.locator(".kor-cycle-project").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "forbedring-prosjekt.png"), full_page=True)
    page.locator("img.kor-chart-img").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "forbedring-diagram.png"))

    # the project list shows the project and its phase
    assert "SRS i hver økt" in page.locator(".kor-projects").first.inner_text()
