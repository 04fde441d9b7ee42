"""The clinician's app in a real headless Chromium against the served workbench.

Open the app, choose a clinician (the served app runs as the default local user, the
sample's team lead of VOP, who picks among the team's clinicians) and a client,
enter an ORS with the four sliders, save, see the confirmation, reload: the new point is
on the chart (the caption counts it) and in the database. Only one client of the shared
served sample gets one new session, dated today.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLINICIAN = "Sindre Aasen (VOP)"
APP = "/voila/render/behandler.ipynb"


def _open(page, served: str) -> None:
    page.goto(served + APP, timeout=60_000)
    page.wait_for_selector(".kor-clinician-ready", timeout=60_000)
    page.locator(".kor-clinician-picker select").select_option(label=CLINICIAN)
    page.wait_for_selector(".kor-client-list option", timeout=30_000)


def _choose(page, label: str) -> None:
    page.locator(".kor-client-list select").select_option(label=label)
    page.wait_for_selector(".kor-chart-caption p", timeout=30_000)
    page.wait_for_selector(".kor-chart .widget-image", timeout=30_000)


def _sessions_shown(page) -> int:
    return int(page.locator(".kor-chart-caption p").get_attribute("data-sessions"))


def _set_slider(page, css: str, value: float) -> None:
    readout = page.locator(f"{css} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{value:.1f}")
    page.keyboard.press("Enter")


def _stored_totals(tmp_path_factory, served: str, client: str) -> list[float]:
    """The ORS totals of ``client`` in the served database (read as the maintenance actor)."""
    from kor.access import SYSTEM
    from kor.store import Store

    port = served.rsplit(":", 1)[1]
    (db,) = {
        d.resolve() / "kor.sqlite"  # pytest also links served-datacurrent to it
        for d in tmp_path_factory.getbasetemp().glob("served-data*")
        if f":{port}/" in (d / "server.log").read_text()
    }
    store = Store.open(f"sqlite:///{db}", migrate=False)
    try:
        rows = store.session_table(SYSTEM, client=client)
        return rows.sort_values("session_no")["outcome"].tolist()
    finally:
        store.close()


def test_enter_ors_save_reload_and_the_point_is_on_the_chart(served, page, tmp_path_factory):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _open(page, served)
    # the client with the most urgent warning is on top; take the first without a
    # session today (a client we have not touched)
    options = page.locator(".kor-client-list option").all_inner_texts()
    label = next(o for o in options if o.strip())
    client = re.search(r"K\d+", label).group(0)
    page.screenshot(path=str(SCREENSHOTS / "behandler-liste.png"), full_page=True)
    _choose(page, label)
    before = _sessions_shown(page)
    assert page.locator(".kor-flags").inner_text().strip()
    values = (3.2, 4.5, 5.0, 3.8)
    for i, v in enumerate(values, start=1):
        _set_slider(page, f".kor-outcome-{i}", v)
    page.wait_for_function(
        # the visible sliders still untouched: the SRS's four (the form keeps hidden sliders
        # for measures of up to ten items)
        "() => [...document.querySelectorAll('.kor-untouched')]"
        ".filter(e => e.offsetParent !== null).length <= 4",
        timeout=10_000,
    )
    page.screenshot(path=str(SCREENSHOTS / "behandler-registrering.png"), full_page=True)
    page.locator(".kor-save button, button.kor-save").first.click()
    page.wait_for_selector(".kor-status .kor-success", timeout=5_000)
    status = page.locator(".kor-status").inner_text()
    assert "Lagret" in status and "ORS 16,5" in status
    page.wait_for_function(
        f"() => document.querySelector('.kor-chart-caption p')?.dataset.sessions == '{before + 1}'",
        timeout=15_000,
    )
    page.reload()
    page.wait_for_selector(".kor-clinician-ready", timeout=60_000)
    page.locator(".kor-clinician-picker select").select_option(label=CLINICIAN)
    page.wait_for_selector(".kor-client-list option", timeout=30_000)
    label = next(
        o for o in page.locator(".kor-client-list option").all_inner_texts() if client in o
    )
    _choose(page, label)
    assert _sessions_shown(page) == before + 1
    assert "16,5" in page.locator(".kor-chart-caption").inner_text()
    assert "Traceback" not in page.content()
    assert _stored_totals(tmp_path_factory, served, client)[-1] == 16.5
    page.locator(".kor-chart").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "behandler-graf.png"), full_page=True)
