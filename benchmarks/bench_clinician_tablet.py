"""The clinician's app on a tablet (1024×768, headless Chromium): tap a client, save.

Starts ``kor app`` with the bundled sample in a fresh data directory as the clinician
``sindre.aasen`` and, in one page, ``--repeats`` times (each time another client):

* tap_s: choosing a client in the list until the entry form and the client's chart are
  shown (the caption names the client and the image is there);
* save_confirm_s: the tap on «Lagre» (four ORS values typed) until the confirmation shows;
* save_chart_s: the same tap until the chart counts the new session (its caption).

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


def _type(page, css: str, text: str) -> None:  # noqa: ANN001
    page.locator(f"{css} input").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def run(repeats: int) -> dict[str, object]:
    """Tap and save timings in one tablet page against a fresh sample."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import chromium_path

    taps, confirms, charts = [], [], []
    load_before = os.getloadavg()[0]
    directory = Path(tempfile.mkdtemp(prefix="kor-bench-tablet-"))
    with Server(directory, CLINICIAN) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        context.request.get(f"{server.url}/?token={server.token}")
        page = context.new_page()
        page.goto(server.url + APP, timeout=120_000)
        page.wait_for_selector(".kor-client-list option", timeout=120_000)
        labels = [o for o in page.locator(".kor-client-list option").all_inner_texts() if o]
        for i in range(repeats):
            label = labels[-1 - i]  # clients without a session today
            client = label.split("·")[0].strip(" !‼i")
            start = time.perf_counter()
            page.locator(".kor-client-list select").select_option(label=label)
            page.wait_for_function(
                "(c) => document.querySelector('.kor-chart-caption p')?.textContent"
                ".startsWith(c) && document.querySelector('.kor-chart .widget-image')"
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
            page.wait_for_selector(".kor-status .kor-success", state="attached", timeout=30_000)
            confirms.append(time.perf_counter() - start)
            page.wait_for_function(f"() => ({_SESSIONS})() == '{before + 1}'", timeout=60_000)
            charts.append(time.perf_counter() - start)
        browser.close()
    return {
        "viewport": "1024x768",
        "repeats": repeats,
        "tap_s": taps,
        "save_confirm_s": confirms,
        "save_chart_s": charts,
        "medians": {
            "tap_s": round(statistics.median(taps), 3),
            "save_confirm_s": round(statistics.median(confirms), 3),
            "save_chart_s": round(statistics.median(charts), 3),
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
    args = parser.parse_args()
    result = run(args.repeats)
    out = ROOT / "benchmarks" / "results" / "clinician-tablet.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["medians"]), result["machine"], "->", out)


if __name__ == "__main__":
    main()
