"""The clinician's app on a tablet (1024×768, headless Chromium): tap a client, save.

Starts ``kor app`` with the bundled sample in a fresh data directory as the clinician
``sindre.aasen`` and, in one page, ``--repeats`` times (each time another client):

* tap_s: choosing a client in the list until the entry form and the client's chart are
  shown (the caption names the client and the image is there);
* save_confirm_s: the tap on «Lagre» (four ORS values typed) until the confirmation shows;
* save_chart_s: the same tap until the chart counts the new session (its caption);
* list_ready_s against minimal_ready_s: page request until the client list is usable,
  against a minimal Voilà page (the same imports, one button) served by the same
  ``kor app`` in the same run, visits alternating and ``--gap`` seconds apart so Voilà's
  preheated kernel is ready for each (as when clinicians open the app minutes apart).
  The minimal notebook is written to ``notebooks/`` before ``kor app`` starts (so Voilà
  preheats a kernel for it too) and removed after the visits.

Prints medians and the machine's load (1-minute load average before and after: the
machine is shared, and the figures scale with it) and writes
``benchmarks/results/clinician-tablet.json``.

    .venv/bin/python benchmarks/bench_clinician_tablet.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_clinician import APP, CLINICIAN, Server  # noqa: E402

_SESSIONS = "() => document.querySelector('.kor-chart-caption p')?.dataset.sessions"

#: The reference page: the clinician notebook's imports and preheat, then one button.
MINIMAL = "_bench_minimal.ipynb"
_MINIMAL_CELLS = [
    "from voila.utils import wait_for_request\n\nfrom widgets.clinician import clinician_app\n"
    "\nwait_for_request()",
    "import ipywidgets as w\n\nb = w.Button(description='ok')\nb.add_class('kor-bench-ready')\nb",
]


def _minimal_notebook() -> dict[str, object]:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"bench{i}", "metadata": {},
         "outputs": [], "source": text}
        for i, text in enumerate(_MINIMAL_CELLS)
    ]  # fmt: skip
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4,
            "nbformat_minor": 5}  # fmt: skip


def _ready(page, url: str, selector: str) -> float:  # noqa: ANN001
    start = time.perf_counter()
    page.goto(url, timeout=180_000)
    page.wait_for_selector(selector, timeout=180_000)
    return time.perf_counter() - start


def _type(page, css: str, text: str) -> None:  # noqa: ANN001
    page.locator(f"{css} input").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def run(repeats: int, gap: float) -> dict[str, object]:
    """Page-ready, tap and save timings in tablet pages against a fresh sample."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import chromium_path

    taps, confirms, charts = [], [], []
    load_before = os.getloadavg()[0]
    directory = Path(tempfile.mkdtemp(prefix="kor-bench-tablet-"))
    minimal = ROOT / "notebooks" / MINIMAL  # before the server starts: preheated like ours
    minimal.write_text(json.dumps(_minimal_notebook(), indent=1))
    with Server(directory, CLINICIAN) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        context.request.get(f"{server.url}/?token={server.token}")
        page = context.new_page()
        lists, bare = [], []
        try:
            _ready(page, f"{server.url}/voila/render/{MINIMAL}", ".kor-bench-ready")  # warm
            for _ in range(repeats):
                time.sleep(gap)
                lists.append(_ready(page, server.url + APP, ".kor-client-list option"))
                time.sleep(gap)
                bare.append(
                    _ready(page, f"{server.url}/voila/render/{MINIMAL}", ".kor-bench-ready")
                )
        finally:
            minimal.unlink(missing_ok=True)
        time.sleep(gap)
        page.goto(server.url + APP, timeout=120_000)
        page.wait_for_selector(".kor-client-list option", timeout=120_000)
        labels = [o for o in page.locator(".kor-client-list option").all_inner_texts() if o]
        for i in range(repeats):
            label = labels[-1 - i]  # clients without a session today
            client = re.search(r"K\d+", label).group(0)  # rows may lead with the level word
            start = time.perf_counter()
            page.locator(".kor-client-list select").select_option(label=label)
            page.wait_for_function(
                "(c) => document.querySelector('.kor-chart-caption p')?.textContent"
                ".startsWith(c) && document.querySelector('.kor-chart img.kor-chart-img')"
                " && document.querySelector('.kor-form-outcome').offsetParent !== null",
                arg=client,
                timeout=60_000,
            )
            taps.append(time.perf_counter() - start)
            before = int(page.evaluate(_SESSIONS))
            for j, v in enumerate(("3,0", "4,5", "5,0", "6,0"), start=1):
                _type(page, f".kor-value-outcome-{j}", v)
            page.wait_for_timeout(500)
            start = time.perf_counter()
            page.locator(".kor-save").first.click()
            page.wait_for_selector(
                ".kor-status .kor-success, .kor-status .kor-error, .kor-value-error .kor-error",
                state="attached",
                timeout=30_000,
            )
            confirms.append(time.perf_counter() - start)
            refused = page.locator(".kor-status .kor-error, .kor-value-error .kor-error")
            if refused.count():  # a benchmark of a refused save measures nothing
                raise SystemExit("save refused: " + " | ".join(refused.all_inner_texts()))
            page.wait_for_function(f"() => ({_SESSIONS})() == '{before + 1}'", timeout=60_000)
            charts.append(time.perf_counter() - start)
        browser.close()
    return {
        "viewport": "1024x768",
        "repeats": repeats,
        "tap_s": taps,
        "save_confirm_s": confirms,
        "save_chart_s": charts,
        "list_ready_s": lists,
        "minimal_ready_s": bare,
        "medians": {
            "tap_s": round(statistics.median(taps), 3),
            "save_confirm_s": round(statistics.median(confirms), 3),
            "save_chart_s": round(statistics.median(charts), 3),
            "list_ready_s": round(statistics.median(lists), 3),
            "minimal_ready_s": round(statistics.median(bare), 3),
            "list_ready_ratio": round(statistics.median(lists) / statistics.median(bare), 2),
        },
        "goals": {
            "tap_s": 1.0,
            "save_confirm_s": 0.3,
            "save_chart_s": 1.0,
            "list_ready_ratio": 1.5,
        },
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gap", type=float, default=20.0, help="seconds between page visits")
    args = parser.parse_args()
    result = run(args.repeats, args.gap)
    out = ROOT / "benchmarks" / "results" / "clinician-tablet.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["medians"]), result["machine"], "->", out)


if __name__ == "__main__":
    main()
