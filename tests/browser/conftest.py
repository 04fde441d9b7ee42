"""A served workbench (``kor app`` on a free loopback port) and headless Debian Chromium.

The server gets its own data directory with the bundled sample loaded, exactly as
the README's run command does, and acts as its default local user (the sample's team
lead of VOP). Its login token is :data:`TOKEN` (``KOR_APP_TOKEN``); each test's browser
context first requests the printed address ``/?token=…``, as a user opens it, and holds
the login cookie from then on. Chromium is Debian's (``/usr/bin/chromium``, or
``KOR_CHROMIUM``); Playwright's own browser download is not used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import chromium_path  # noqa: F401 - the browser fixture is in tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: The login token of the served workbench.
TOKEN = secrets.token_urlsafe(32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(data: Path, **user: str) -> Iterator[str]:
    """``kor app`` on a free loopback port with its own data directory ``data`` (the
    sample loaded on first start), acting as ``user`` (``KOR_USER``, ``KOR_ROLE``,
    ``KOR_TEAM``; none: the default local user). Yields the base URL; on exit stops the
    server and fails if its log holds a traceback from our code."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KOR_DATABASE_URL", "KOR_USER", "KOR_ROLE", "KOR_TEAM")
    }
    env.update(KOR_DATA_DIR=str(data), KOR_LANGUAGE="nb", PYTHONUNBUFFERED="1", KOR_APP_TOKEN=TOKEN)
    env.update(user)
    log = open(data / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "kor.cli", "app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            pytest.fail("kor app exited: " + (data / "server.log").read_text()[-2000:])
        try:
            urllib.request.urlopen(url + "/", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("kor app did not answer within 120 s")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    server_log = (data / "server.log").read_text()
    assert "Traceback" not in server_log or "kor" not in server_log.split("Traceback", 1)[1][:2000]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running ``kor app`` with the sample data, as the default local user."""
    with serve_app(tmp_path_factory.mktemp("served-data")) as url:
        yield url


@pytest.fixture
def page(browser, served):  # noqa: ANN001, ANN201
    """A logged-in page: the context's request shares its cookies, and fetching the
    printed address sets the login cookie without rendering an app."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
    assert context.request.get(f"{served}/?token={TOKEN}").ok
    pg = context.new_page()
    yield pg
    context.close()
