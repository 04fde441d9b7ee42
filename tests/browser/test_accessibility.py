"""Universal design (WCAG 2.1 AA, required of ICT by Norwegian law): axe-core on every app.

Each app is opened once and checked at a phone (390×844), a tablet in portrait (768×1024)
and a tablet in landscape (1024×768); a serious or critical violation fails the test and
its rule ids and elements are printed. axe-core comes from npm: ``workbench.py test``
installs it into ``.cache/axe`` (``deploy/install-axe.sh``). Each viewport's screenshot is
kept under ``docs/screenshots/`` as ``<app>-<width>x<height>.png``, so the responsive layout
(one column under about 700 px) can be looked at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = ((390, 844), (768, 1024), (1024, 768))
#: WCAG 2.0/2.1 A and AA rules (what the law refers to).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
CLINICIAN = "Sindre Aasen (VOP)"

#: notebook, what shows that it is ready, the screenshot's name
APPS = (
    ("start.ipynb", ".kor-start a.kor-tile", "start"),
    ("oversikt.ipynb", "img.kor-chart-img", "oversikt"),
    ("behandler.ipynb", ".kor-clinician-ready", "behandler"),
    ("kvalitet.ipynb", "img.kor-chart-img", "kvalitet"),
    ("forbedring.ipynb", "text=Forbedringsarbeid", "forbedring"),
    ("bruker_spor_bruker.ipynb", "text=Bruker spør bruker", "bruker-spor-bruker"),
    ("mine_resultater.ipynb", ".kor-own-pick", "mine-resultater"),
)


def axe_source() -> str:
    """The axe-core script, or a failure that says how to get it."""
    if not AXE.exists():
        pytest.fail(
            f"axe-core not found at {AXE.relative_to(ROOT)}: run `bash deploy/install-axe.sh` "
            "(needs npm: apt-get install nodejs npm), or `python3 workbench.py test`, which runs it"
        )
    return AXE.read_text(encoding="utf-8")


def blocking_violations(page, source: str) -> list[dict]:  # noqa: ANN001
    """Run axe on the page; the serious and critical violations, as axe reports them."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        TAGS,
    )
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [json.dumps(n["target"]) for n in v["nodes"][:4]]
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}×): {', '.join(targets)}")
    return "\n".join(lines)


def check_viewports(page, source: str, name: str) -> dict[str, list[str]]:  # noqa: ANN001
    """axe at each viewport; a screenshot of each; the failing rule ids per viewport."""
    failures = {}
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the layout settles (media queries, images)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}x{height}.png"), full_page=True)
        found = blocking_violations(page, source)
        if found:
            print(f"{name} at {width}x{height}:\n{describe(found)}")
            failures[f"{width}x{height}"] = sorted(v["id"] for v in found)
    return failures


@pytest.mark.parametrize(("notebook", "ready", "name"), APPS, ids=[a[2] for a in APPS])
def test_app_has_no_serious_or_critical_axe_violations(served, page, notebook, ready, name):
    source = axe_source()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{served}/voila/render/{notebook}", timeout=120_000, wait_until="commit")
    page.wait_for_selector(ready, timeout=180_000)  # the first page also waits for preheating
    if name == "behandler":  # with a client open: the list, the forms and the chart
        page.locator(".kor-clinician-picker select").select_option(label=CLINICIAN)
        page.wait_for_selector(".kor-client-list option", timeout=30_000)
        first = page.locator(".kor-client-list option").first.inner_text()
        page.locator(".kor-client-list select").select_option(label=first)
        page.wait_for_selector(".kor-chart img.kor-chart-img", timeout=30_000)
    failures = check_viewports(page, source, name)
    assert not failures, failures


def test_the_clinician_hand_over_view_has_no_serious_or_critical_axe_violations(served, page):
    source = axe_source()
    page.goto(f"{served}/voila/render/behandler.ipynb", timeout=120_000, wait_until="commit")
    page.wait_for_selector(".kor-clinician-ready", timeout=90_000)
    page.locator(".kor-clinician-picker select").select_option(label=CLINICIAN)
    page.wait_for_selector(".kor-client-list option", timeout=30_000)
    first = page.locator(".kor-client-list option").first.inner_text()
    page.locator(".kor-client-list select").select_option(label=first)
    page.wait_for_selector(".kor-chart img.kor-chart-img", timeout=30_000)
    page.locator("button.kor-handover-outcome").click()
    page.wait_for_selector(".kor-handover", timeout=15_000)
    try:
        failures = check_viewports(page, source, "behandler-klientvisning")
    finally:  # the hand-over is stored: end it, or the next visit opens in it
        page.locator("button.kor-handover-back").click()
        page.locator("button.kor-handover-confirm").click()
        page.wait_for_selector(".kor-handover", state="detached", timeout=30_000)
    assert not failures, failures
