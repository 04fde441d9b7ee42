"""Page request to ready for any served app, with Voilà's preheated kernels.

    python benchmarks/bench_app_ready.py --data-dir DIR [--app behandler.ipynb]
        [--selector ".kor-client-list option"] [--user sindre.aasen --role clinician]
        [--repeats 4] [--gap 25]

DIR holds ``kor.sqlite`` (e.g. the 100,000-client database that ``bench_clinician.py``
builds in /tmp/kor-clinician-bench/big). ``kor app`` is started on a free port as the
given user; each visit waits ``gap`` seconds first, so the pool of preheated kernels (one
per app, refilled after each visit) is ready, as when clinicians open the app minutes
apart. Prints each time and the median, and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--app", default="behandler.ipynb")
    parser.add_argument("--selector", default=".kor-client-list option")
    parser.add_argument("--user", default="sindre.aasen")
    parser.add_argument("--role", default="clinician")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--gap", type=float, default=25.0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import chromium_path

    env = {k: v for k, v in os.environ.items() if k != "KOR_DATABASE_URL"}
    token = secrets.token_urlsafe(32)  # kor app's login token; each visit logs in with it
    env.update(
        KOR_DATA_DIR=args.data_dir, KOR_USER=args.user, KOR_ROLE=args.role, KOR_APP_TOKEN=token
    )
    port = _free_port()
    log = open(Path(args.data_dir) / "bench-app-ready.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "kor.cli", "app", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    times: list[float] = []
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(url + "/", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
            )
            for _ in range(args.repeats):
                time.sleep(args.gap)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.request.get(f"{url}/?token={token}")  # the login cookie, no kernel
                page = context.new_page()
                start = time.perf_counter()
                page.goto(f"{url}/voila/render/{args.app}", timeout=120_000)
                page.wait_for_selector(args.selector, state="attached", timeout=120_000)
                times.append(time.perf_counter() - start)
                print(f"ready {times[-1]:.2f} s", flush=True)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    result = {
        "app": args.app,
        "data_dir": args.data_dir,
        "user": args.user,
        "gap_s": args.gap,
        "ready_s": times,
        "median_s": statistics.median(times),
    }
    out = ROOT / "benchmarks" / "results" / f"ready-{Path(args.app).stem}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median {result['median_s']:.2f} s -> {out}")


if __name__ == "__main__":
    main()
