"""The clinician's app in a real headless Chromium against the served workbench.

Open the app, choose a clinician (the served app runs as the default local user, the
sample's team lead of VOP, who picks among the team's clinicians) and a client,
enter an ORS with the four sliders, save, see the confirmation, reload: the new point is
on the chart (the caption counts it) and in the database. Only one client of the shared
served sample gets one new session, dated today.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLINICIAN = "Sindre Aasen (VOP)"
APP = "/voila/render/behandler.ipynb"


def _open(page, served: str) -> None:
    page.goto(served + APP, timeout=180_000)  # a cold kernel on a busy machine
    page.wait_for_selector(".kor-clinician-ready", timeout=180_000)
    page.locator(".kor-clinician-picker select").select_option(label=CLINICIAN)
    page.wait_for_selector(".kor-client-list option", timeout=30_000)


def _choose(page, label: str) -> None:
    page.locator(".kor-client-list select").select_option(label=label)
    page.wait_for_selector(".kor-chart-caption p", timeout=120_000)  # a busy shared machine
    page.wait_for_selector(".kor-chart img.kor-chart-img", timeout=120_000)


def _sessions_shown(page) -> int:
    return int(page.locator(".kor-chart-caption p").get_attribute("data-sessions"))


def _set_slider(page, css: str, value: float) -> None:
    """Type the value, with a decimal comma, into the item's box beside its line."""
    box = page.locator(css.replace(".kor-", ".kor-value-", 1) + " input")
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{value:.1f}".replace(".", ","))
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


#: Everything of the entry form that must be reachable with a finger.
_FORM_PARTS = (
    ".kor-form, .kor-form *, .kor-save, .kor-session-picker, .kor-chart .kor-chart-img,"
    " .kor-client-list, .kor-client-list select, .kor-caseload .widget-text"
)

_OUTSIDE = """(sel) => [...document.querySelectorAll(sel)]
  .filter(e => e.offsetParent !== null && e.getBoundingClientRect().width > 0)
  .filter(e => { const r = e.getBoundingClientRect();
                 return r.left < -1 || r.right > window.innerWidth + 1; })
  .map(e => e.className + ' ' + Math.round(e.getBoundingClientRect().left) + '..'
            + Math.round(e.getBoundingClientRect().right))"""

_IN_VIEW = """(sel) => { const e = document.querySelector(sel); if (!e) return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight
         && r.left >= 0 && r.right <= window.innerWidth; }"""


@pytest.mark.parametrize(
    ("width", "height", "pick"), [(390, 844, -1), (768, 1024, -2), (1024, 768, -3)]
)
def test_the_entry_form_fits_the_screen_and_the_save_is_confirmed_in_view(
    served, page, width, height, pick
):
    """Phone, tablet portrait and landscape: no part of the entry form lies outside the
    viewport's width, each 0-10 line takes the form's width, the chart's text is at least
    12 px on screen, and after «Lagre» the confirmation is inside the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": height})
    _open(page, served)
    today = date.today().strftime("%d.%m.%Y")  # a client saved today opens on that session
    rows = page.locator(".kor-client-list option").all_inner_texts()
    options = [o for o in rows if o.strip() and today not in o]
    _choose(page, options[pick])
    page.wait_for_timeout(300)
    assert page.evaluate(_OUTSIDE, _FORM_PARTS) == []
    line = page.locator(".kor-outcome-1 input.kor-range").bounding_box()
    form = page.locator(".kor-form-outcome").bounding_box()
    if width < 900:  # upright tablet and phone: the list is a picker above, the form full width
        assert form["width"] >= 0.85 * width, form
        assert page.locator(".kor-client-list select").bounding_box()["height"] <= 260
    assert line["width"] >= 0.8 * form["width"] - 40  # the line is the form's width
    assert line["width"] >= width * 0.3  # not 65 px in portrait
    assert "Svært dårlig" in page.locator(".kor-form-outcome").inner_text()
    image = page.locator(".kor-chart img.kor-chart-img").bounding_box()
    # the chart is drawn 572 px wide with 14 pt (21.4 px) text: shown at this width
    assert 21.4 * image["width"] / 572 >= 12.0
    # a typed «12» is refused beside the box and leaves the line alone
    _set_slider(page, ".kor-outcome-1", 12.0)
    page.wait_for_selector(".kor-value-error .kor-error", timeout=10_000)
    assert page.locator(".kor-outcome-1.kor-untouched").count() == 1
    for i, v in enumerate((3.2, 4.5, 5.0, 3.8), start=1):
        _set_slider(page, f".kor-outcome-{i}", v)
    page.wait_for_function(
        "() => !document.querySelector('.kor-value-error .kor-error')", timeout=10_000
    )
    assert page.locator(".kor-value-outcome-2 input").input_value() == "4,5"
    page.screenshot(path=str(SCREENSHOTS / f"behandler-skjema-{width}x{height}.png"))
    page.locator(".kor-save button, button.kor-save").first.click()
    page.wait_for_selector(".kor-status .kor-success", timeout=10_000)
    assert page.evaluate(_IN_VIEW, ".kor-status .kor-success")
    assert "Ny økt" not in page.locator(".kor-session-picker select").evaluate(
        "s => s.options[s.selectedIndex].text"
    )
    page.screenshot(path=str(SCREENSHOTS / f"behandler-lagret-{width}x{height}.png"))
    page.locator(".kor-chart").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"behandler-graf-{width}x{height}.png"))


def test_each_line_is_a_slider_named_by_its_item_and_moved_by_the_keyboard(served, page):
    """The 0-10 line is a native range input: a screen reader finds «ORS: Individuelt»
    (WCAG 4.1.2), and five presses of the right arrow move it 0,1 each (2.1.1): the
    value box shows «0,5» and the line no longer counts as untouched. Nothing is saved."""
    _open(page, served)
    today = date.today().strftime("%d.%m.%Y")
    rows = page.locator(".kor-client-list option").all_inner_texts()
    _choose(page, next(o for o in rows if o.strip() and today not in o))
    names = [f"ORS: {item}" for item in ("Individuelt", "Nære relasjoner", "Sosialt", "Generelt")]
    names += [f"SRS: {item}" for item in ("Relasjon", "Mål og tema", "Tilnærming eller metode")]
    for name in names:  # the accessible name as the browser computes it
        assert page.get_by_role("slider", name=name, exact=True).count() == 1, name
    line = page.get_by_role("slider", name="ORS: Individuelt", exact=True)
    assert line.evaluate("e => e.tagName + ' ' + e.type") == "INPUT range"
    assert (line.get_attribute("min"), line.get_attribute("max")) == ("0", "10")
    assert line.get_attribute("step") == "0.1"
    assert page.locator(".kor-outcome-1.kor-untouched").count() == 1
    line.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    box = page.locator(".kor-value-outcome-1 input")
    page.wait_for_function(
        "() => document.querySelector('.kor-value-outcome-1 input').value === '0,5'",
        timeout=10_000,
    )
    assert box.input_value() == "0,5" and line.input_value() == "0.5"
    assert line.get_attribute("aria-valuetext") == "0,5"
    assert page.locator(".kor-outcome-1.kor-untouched").count() == 0
    assert "ikke satt" not in page.locator(".kor-form-outcome .kor-item").first.inner_text()
    # the thumb is a finger's size: the line is at least 44 px high
    assert line.bounding_box()["height"] >= 44


def test_hand_over_survives_a_reload_and_the_page_holds_no_other_clients_code(served, page):
    """The tablet is with the client: a reload (or a tap on the browser's back and
    forward) opens the client's own form again, and no other client's code is anywhere
    in the page's DOM; only the clinician's confirmed «Tilbake» ends it."""
    _open(page, served)
    today = date.today().strftime("%d.%m.%Y")
    rows = [o for o in page.locator(".kor-client-list option").all_inner_texts() if o.strip()]
    codes = {re.search(r"K\d+", o).group(0) for o in rows}
    label = next(o for o in rows if today not in o)
    client = re.search(r"K\d+", label).group(0)
    _choose(page, label)
    page.locator("button.kor-handover-outcome").click()
    page.wait_for_selector(".kor-handover", timeout=15_000)
    try:
        page.reload(timeout=180_000)
        page.wait_for_selector(".kor-clinician-ready", timeout=180_000)
        page.wait_for_selector(".kor-handover .kor-form-handover", timeout=30_000)
        dom = page.content()
        assert [c for c in codes - {client} if c in dom] == []
        assert page.locator(".kor-client-list option").count() == 0
        assert page.locator(".kor-clinician-picker").count() == 0
    finally:
        page.locator("button.kor-handover-back").click()
        page.locator("button.kor-handover-confirm").click()
        page.wait_for_selector(".kor-handover", state="detached", timeout=30_000)
    assert page.locator(".kor-clinician-picker select").is_visible()  # the caseload is back
