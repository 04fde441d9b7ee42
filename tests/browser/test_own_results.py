"""«Mine resultater» in headless Chromium: the team lead picks one clinician and sees the
headline and three charts, on a phone and a small laptop, nothing outside the viewport.
Writes the screenshots ``mine-resultater-*.png``."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1024, 768)])
def test_a_lead_picks_a_clinician_and_sees_the_charts(served, page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(served + "/voila/render/mine_resultater.ipynb", timeout=240_000)
    page.wait_for_selector(".kor-own-pick select", timeout=120_000)
    page.locator(".kor-own-pick select").select_option(label="ingrid.berg")
    page.wait_for_selector("text=Resultater for ingrid.berg", timeout=60_000)
    page.wait_for_selector(".kor-own-headline", timeout=60_000)
    assert "Klientene dine endret seg i snitt" in page.locator(".kor-own-headline").inner_text()
    images = page.locator(".kor-own img")
    images.first.wait_for(timeout=60_000)
    assert images.count() == 3
    assert page.locator("a.kor-download").count() >= 3
    page.wait_for_timeout(1000)
    overflow = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth, "
        "Math.max(...[...document.querySelectorAll('.kor-own *')]"
        ".map(e => e.getBoundingClientRect().right))]"
    )
    scroll_width, viewport, rightmost = overflow
    assert scroll_width <= viewport and rightmost <= viewport + 1, overflow
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"mine-resultater-{width}.png"), full_page=True)
