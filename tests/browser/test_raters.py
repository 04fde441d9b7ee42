"""A parent's CORS in a child's session, entered in the clinician app in headless Chromium.

The shared served workbench acts as VOP's team lead, whose clients are adults, so this
module serves its own copy of the sample as BUP's team lead (the children's team).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest

from tests.browser.conftest import SCREENSHOTS, TOKEN, serve_app
from tests.browser.test_clinician import _set_slider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = "/voila/render/behandler.ipynb"
CLINICIAN = "Kari Lundeby (BUP)"


@pytest.fixture(scope="module")
def served_bup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Base URL of a ``kor app`` acting as the sample's BUP team lead, and its data dir."""
    data = tmp_path_factory.mktemp("served-bup")
    with serve_app(data, KOR_USER="liv.kleppe", KOR_ROLE="team_lead", KOR_TEAM="BUP") as url:
        yield url, str(data)


def test_a_parents_cors_is_entered_in_the_childs_session(browser, served_bup):
    url, data = served_bup
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 768, "height": 1024}, locale="nb-NO")
    assert context.request.get(f"{url}/?token={TOKEN}").ok
    page = context.new_page()
    page.goto(url + APP, timeout=180_000)
    page.wait_for_selector(".kor-clinician-ready", timeout=180_000)
    page.locator(".kor-clinician-picker select").select_option(label=CLINICIAN)
    page.wait_for_selector(".kor-client-list option", timeout=30_000)
    today = date.today().strftime("%d.%m.%Y")
    options = page.locator(".kor-client-list option").all_inner_texts()
    children = [o for o in options if "6–12 år" in o.replace("\xa0", " ") and today not in o]
    assert children, options[:5]
    label = children[0]
    client = re.search(r"K\d+", label).group(0)
    page.locator(".kor-client-list select").select_option(label=label)
    page.wait_for_selector(".kor-chart img.kor-chart-img", timeout=120_000)
    picker = page.locator(".kor-rater-picker")
    assert picker.is_visible()
    for name in ("Klienten", "Forelder", "Lærer", "Annen voksen"):
        button = picker.get_by_role("button", name=name, exact=True)
        assert button.bounding_box()["height"] >= 44  # a finger's size
    # the child's own CORS first
    for i, v in enumerate((4.0, 5.0, 4.5, 4.0), start=1):
        _set_slider(page, f".kor-outcome-{i}", v)
    page.locator(".kor-save button, button.kor-save").first.click()
    page.wait_for_selector(".kor-status .kor-success", timeout=15_000)
    assert "CORS 17,5" in page.locator(".kor-status").inner_text()
    # then the parent's, in the same session
    picker.get_by_role("button", name="Forelder", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('.kor-form-alliance').offsetParent === null",
        timeout=10_000,
    )
    for i, v in enumerate((7.0, 6.5, 6.0, 7.0), start=1):
        _set_slider(page, f".kor-outcome-{i}", v)
    picker.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -80)")  # the session row above the picker too
    page.screenshot(path=str(SCREENSHOTS / "behandler-forelder-skjema.png"))
    page.locator(".kor-save button, button.kor-save").first.click()
    page.wait_for_function(
        "() => document.querySelector('.kor-status')?.innerText.includes('(Forelder)')",
        timeout=15_000,
    )
    assert "CORS 26,5 (Forelder)" in page.locator(".kor-status").inner_text()
    page.wait_for_timeout(1500)  # the chart follows the confirmation
    page.locator(".kor-chart img.kor-chart-img").screenshot(
        path=str(SCREENSHOTS / "behandler-forelder-graf.png")
    )
    assert "Traceback" not in page.content()
    context.close()

    from kor.access import SYSTEM
    from kor.store import Store

    store = Store.open(f"sqlite:///{data}/kor.sqlite", migrate=False)
    try:
        m = store.dataset(SYSTEM, client=client).measurements
        today_ids = store.dataset(SYSTEM, client=client).sessions
        latest = today_ids.loc[today_ids["session_date"].dt.date == date.today(), "session_id"]
        rows = m.loc[m["session_id"].isin(latest)].sort_values("measurement_id")
        assert rows["rater"].tolist() == ["client", "parent"]
        assert rows["total"].tolist() == [17.5, 26.5]
    finally:
        store.close()
