"""Benchmark of the clinician's app: page request -> widgets ready, and saving a session.

Starts ``kor app`` on a free loopback port with ``KOR_DATA_DIR`` pointing at (a) a fresh
directory (the bundled sample is loaded, as the README's run command does) and (b) a
database with 100,000 clients (built once with ``kor sample --clients 100000`` and
cached, default under /tmp). For each it measures, in headless Chromium, over
``--repeats`` runs:

* ready: ``page.goto`` of ``/voila/render/behandler.ipynb`` until the app's client list
  is filled (selector ``.kor-clinician-ready`` and a list option), for a clinician
  (``KOR_USER``, own caseload loaded at start) and for an admin (``KOR_ROLE=admin``;
  clinician picker first, then the chosen clinician's list). Each browser context logs
  in first with ``kor app``'s token (``KOR_APP_TOKEN``), outside the timing;
* click-to-confirmation: from the click on «Lagre» with four ORS sliders set until the
  success message shows;

and in-process on the same database: ``Store.record_session`` (one ORS) and the app's
whole save handler (write, re-read of the episode, flags, chart).

Each save adds a session dated today to a different client. The runs work on a fresh copy
of the cached 100,000-client directory, so a second run on the same day does not meet the
first run's sessions (a client's session today would turn the save into a correction).
Prints medians and writes ``benchmarks/results/clinician-<name>.json``.

    .venv/bin/python benchmarks/bench_clinician.py            # sample and 100,000 clients
    .venv/bin/python benchmarks/bench_clinician.py --only sample --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = "/voila/render/behandler.ipynb"
CLINICIAN = "sindre.aasen"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build_big(directory: Path, clients: int) -> None:
    db = directory / "kor.sqlite"
    if db.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    print(f"building {clients} clients into {db} (once) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "kor.cli", "sample", "--clients", str(clients)]
        + ["--database", f"sqlite:///{db}"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


class Server:
    """``kor app`` as a given local user, stopped on exit."""

    def __init__(self, data_dir: Path, user: str | None) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "KOR_DATABASE_URL"}
        env.update(KOR_DATA_DIR=str(data_dir), KOR_LANGUAGE="nb", PYTHONUNBUFFERED="1")
        self.token = secrets.token_urlsafe(32)  # kor app's login token
        env["KOR_APP_TOKEN"] = self.token
        if user:
            env.update(KOR_USER=user, KOR_ROLE="clinician")
        else:
            env.update(KOR_USER="admin", KOR_ROLE="admin")  # the default user is no admin
        self.log = open(data_dir / f"server-{user or 'admin'}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kor.cli", "app", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 900  # the first start on 100,000 clients fits the model
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("kor app exited; see " + self.log.name)
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
                return self
            except OSError:
                time.sleep(0.5)
        raise SystemExit("kor app did not answer")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _browser_runs(
    server: Server, repeats: int, *, admin: bool, first: int, gap: float = 0.0
) -> dict[str, list[float]]:
    """Page request to ready, and save to confirmation, ``repeats`` times.

    gap: seconds to wait before each visit, so Voilà's pool of preheated kernels (one per
    app, refilled after each visit) is ready, as it is when clinicians open the app minutes
    apart. With gap 0 most visits start a cold kernel.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import chromium_path

    ready, confirm = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        for run in range(repeats):
            time.sleep(gap)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.request.get(f"{server.url}/?token={server.token}")  # login cookie, no kernel
            page = context.new_page()
            start = time.perf_counter()
            page.goto(server.url + APP, timeout=120_000)
            page.wait_for_selector(".kor-clinician-ready", timeout=120_000)
            if admin:
                ready.append(time.perf_counter() - start)
                page.locator(".kor-clinician-picker select").select_option(index=_index(page))
            page.wait_for_selector(".kor-client-list option", timeout=120_000)
            if not admin:
                ready.append(time.perf_counter() - start)
            option = page.locator(".kor-client-list option").nth(first + run)
            page.locator(".kor-client-list select").select_option(label=option.inner_text())
            page.wait_for_selector(".kor-chart img.kor-chart-img", timeout=60_000)
            for i, v in enumerate((3.0, 4.0, 5.0, 6.0), start=1):
                page.locator(f".kor-value-outcome-{i} input").click()  # the typed-value box
                page.keyboard.press("Control+A")
                page.keyboard.type(str(v).replace(".", ","))
                page.keyboard.press("Enter")
            page.wait_for_timeout(300)
            start = time.perf_counter()
            page.locator(".kor-save").first.click()
            page.wait_for_selector(".kor-status .kor-success", timeout=30_000)
            confirm.append(time.perf_counter() - start)
            context.close()
        browser.close()
    return {"ready_s": ready, "click_to_confirmation_s": confirm}


def _index(page) -> int:  # noqa: ANN001
    labels = page.locator(".kor-clinician-picker select option").all_inner_texts()
    return next(i for i, label in enumerate(labels) if "Sindre" in label)


def _in_process(data_dir: Path, repeats: int, skip: int) -> dict[str, list[float]]:
    from datetime import date

    from kor.store import Store
    from widgets.clinician import NEW, ClinicianApp

    store = Store.open(f"sqlite:///{data_dir / 'kor.sqlite'}", migrate=False)
    actor = store.actor_for(CLINICIAN)
    app = ClinicianApp(store, actor)
    episodes = [v for _, v in app.client_list.options]
    episodes = (episodes[skip:] or episodes) * (2 * repeats)  # cycle when the list is short
    record, handler = [], []
    ors = {"individually": 4.0, "interpersonally": 5.0, "socially": 6.0, "overall": 4.5}
    for i in range(repeats):
        start = time.perf_counter()
        store.record_session(
            actor, episodes[2 * i], session_date=date.today(), measurements={"ORS": ors}
        )
        record.append(time.perf_counter() - start)
        app.client_list.value = episodes[2 * i + 1]
        app.session_picker.value = NEW  # a new session even if the client had one today
        for slider, v in zip(app.forms["outcome"].sliders, (4.0, 5.0, 6.0, 4.5), strict=True):
            slider.value = v
        start = time.perf_counter()
        app.save_button.click()
        handler.append(time.perf_counter() - start)
        assert "kor-success" in app.status.children[0].value, app.status.children[0].value
    store.close()
    return {"record_session_s": record, "save_handler_s": handler}


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3) if xs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--big-dir", default="/tmp/kor-clinician-bench/big")
    parser.add_argument("--only", choices=("sample", "big"), default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--gap", type=float, default=20.0, help="seconds before each visit (preheated pool)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sets = []
    if args.only in (None, "sample"):
        sample_dir = Path(tempfile.mkdtemp(prefix="kor-bench-sample-"))
        sets.append(("sample", sample_dir))
    if args.only in (None, "big"):
        big = Path(args.big_dir)
        _build_big(big, args.clients)
        work = Path(tempfile.mkdtemp(prefix="kor-bench-big-")) / "data"
        shutil.copytree(big, work)
        sets.append((str(args.clients), work))
    for name, directory in sets:
        result: dict[str, object] = {"data": name, "repeats": args.repeats, "gap_s": args.gap}
        # a new session per run: clinician saves take list rows 0.., admin rows after them
        with Server(directory, CLINICIAN) as server:
            result["clinician"] = _browser_runs(
                server, args.repeats, admin=False, first=0, gap=args.gap
            )
        with Server(directory, None) as server:
            result["admin"] = _browser_runs(
                server, args.repeats, admin=True, first=args.repeats, gap=args.gap
            )
        result["in_process"] = _in_process(directory, args.repeats, skip=2 * args.repeats)
        summary = {
            f"{who}.{k}": _median(v)
            for who in ("clinician", "admin", "in_process")
            for k, v in result[who].items()  # type: ignore[union-attr]
        }
        result["medians"] = summary
        result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"clinician-{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"\n== {name} (median of {args.repeats}, seconds)")
        for key, value in summary.items():
            print(f"  {key:42s} {value:8.3f}")
        shutil.rmtree(directory if name == "sample" else directory.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
