"""Safe serving: ``kor app`` listens on 127.0.0.1 only, serves no source, data or notebook
files, executes only the notebooks in ``notebooks/``, and shows no traceback or source.

Starts its own ``kor app`` (sample data in a temporary data directory) and, for the
failing-notebook check, a second Voilà with the same options on a temporary folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kor import config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("server exited: " + log.read_text()[-2000:])
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("server did not answer within 180 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _get(url: str, timeout: float = 60) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """A running ``kor app`` (default host) on a free port; yields (port, data dir)."""
    port = _free_port()
    data = tmp_path_factory.mktemp("serving-data")
    env = {k: v for k, v in os.environ.items() if k not in ("KOR_DATABASE_URL", "JUPYTERHUB_USER")}
    env.update(KOR_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    log = data / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kor.cli", "app", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    _wait(proc, f"http://127.0.0.1:{port}/", log)
    yield port, data
    _stop(proc)


def _other_local_addresses() -> list[str]:
    found = ["127.0.0.2"]  # on Linux the whole 127/8 is local; a 127.0.0.1 bind ignores it
    try:
        found += [
            a for a in socket.gethostbyname_ex(socket.gethostname())[2] if not a.startswith("127.")
        ]
    except OSError:
        pass
    return found


def test_the_app_listens_on_loopback_only(app):
    port, _ = app
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    for address in _other_local_addresses():
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=3):
            pass


HIDDEN = [
    "/voila/files/oversikt.ipynb",
    "/voila/files/forskning/forventet_forlop.ipynb",
    "/voila/files/../kor/store/__init__.py",
    "/voila/files/%2e%2e/kor/store/__init__.py",
    "/voila/files/..%2fkor%2fstore%2f__init__.py",
    "/voila/files/../var/kor.sqlite",
    "/voila/files/../data/sample/clients.csv",
    "/voila/files/../voila.json",
    "/voila/files/../pyproject.toml",
    "/voila/files/var/kor.sqlite",
    "/voila/static/../../../../kor/store/__init__.py",
    "/voila/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/voila/templates/../../../../etc/passwd",
    "/files/../kor/access.py",
    "/api/contents",
    "/api/contents/oversikt.ipynb",
    "/api/terminals",
    "/tree",
    "/lab",
    "/edit/oversikt.ipynb",
    "/notebooks/oversikt.ipynb",
]
LEAK_MARKERS = (
    '"cells"',
    "import ",
    "sqlalchemy",
    "SQLite format 3",
    "root:x:0:0",
    "client_id",
    "Traceback",
    'File "',
)


@pytest.mark.parametrize("path", HIDDEN)
def test_no_source_notebook_or_data_file_is_served(app, path):
    port, _ = app
    status, body = _get(f"http://127.0.0.1:{port}{path}")
    # 500: Voilà's template-static handler refuses traversal with an assertion; the page
    # is tornado's bare "500: Internal Server Error" (no traceback), checked below
    assert status in (403, 404, 405, 500), (path, status)
    assert not [m for m in LEAK_MARKERS if m in body], path


@pytest.mark.parametrize(
    "path",
    [
        "/voila/render/../README.md",
        "/voila/render/%2e%2e/tests/browser/conftest.py",
        "/voila/render/..%2f..%2fetc%2fpasswd",
        "/voila/render/../docs/nonexistent.ipynb",
        "/voila/render//etc/passwd",
    ],
)
def test_render_executes_only_notebooks_under_the_apps_folder(app, path):
    port, _ = app
    status, body = _get(f"http://127.0.0.1:{port}{path}")
    assert status in (403, 404), (path, status)
    assert "root:x:0:0" not in body and "pytest" not in body


FAILING = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": ["SOURCE_MARKER = 'K99999'\n", "raise ValueError('SECRET_' + SOURCE_MARKER)"],
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_a_failing_notebook_shows_no_traceback_message_or_source(tmp_path):
    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "fails.ipynb").write_text(json.dumps(FAILING))
    port = _free_port()
    log = tmp_path / "voila.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # the options kor app passes (voila.json read from ROOT)
            [
                sys.executable,
                "-m",
                "voila",
                str(apps),
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                "--no-browser",
                "--show_tracebacks=False",
                "--strip_sources=True",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(proc, f"http://127.0.0.1:{port}/", log)
        status, body = _get(f"http://127.0.0.1:{port}/voila/render/fails.ipynb", timeout=120)
    finally:
        _stop(proc)
    assert status == 200
    for leaked in ("SECRET_", "K99999", "SOURCE_MARKER", "Traceback", "ValueError", "raise "):
        assert leaked not in body, leaked


def test_the_served_config_keeps_tracebacks_and_sources_off():
    settings = json.loads((ROOT / "voila.json").read_text())
    voila = settings["VoilaConfiguration"]
    assert voila["show_tracebacks"] is False and voila["strip_sources"] is True
    assert settings["Voila"]["ip"] == "127.0.0.1"
    import re

    deny = [re.compile(p) for p in voila["file_denylist"]]
    for name in ("a.ipynb", "b.py", "c.csv", "d.sqlite", "e.key", "f.xlsx", "x.korbackup"):
        if name == "x.korbackup":
            continue  # backups are written outside the served folder (see SECURITY.md)
        assert any(p.fullmatch(name) for p in deny), name


def test_the_default_data_directory_does_not_depend_on_the_working_directory(monkeypatch):
    monkeypatch.delenv("KOR_DATA_DIR", raising=False)
    monkeypatch.chdir(ROOT)
    at_root = config.data_dir()
    monkeypatch.chdir(ROOT / "notebooks")
    assert config.data_dir() == at_root


# ------------------------------------------------------------- JupyterHub config
class _Section(dict):
    def __getattr__(self, name: str) -> object:
        return self.setdefault(name, _Section())

    def __setattr__(self, name: str, value: object) -> None:
        self[name] = value


def _hub_config(monkeypatch, **env: str) -> _Section:
    """Execute deploy/jupyterhub/jupyterhub_config.py with a stub ``c`` (no JupyterHub)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    c = _Section()
    path = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
    code = compile(path.read_text(), str(path), "exec")
    exec(code, {"get_config": lambda: c, "__file__": str(path)})  # noqa: S102
    return c


def test_hub_config_serves_the_apps_only_against_postgresql(monkeypatch):
    url = "postgresql://kor_app@db.example:5432/kor"
    c = _hub_config(monkeypatch, KOR_DATABASE_URL=url, KOR_HUB_ADMINS="it.admin, x")
    assert c.Spawner.default_url.startswith("/voila/render/")
    assert Path(c.Spawner.notebook_dir) == ROOT / "notebooks"
    assert c.Spawner.environment["KOR_DATABASE_URL"] == url
    assert not {"KOR_USER", "KOR_ROLE", "KOR_TEAM"} & set(c.Spawner.environment)
    args = " ".join(c.Spawner.args)
    assert "'jupyterlab': False" in args and "'notebook': False" in args
    assert "terminals_enabled=False" in args
    assert "show_tracebacks=False" in args and "strip_sources=True" in args
    assert c.JupyterHub.bind_url.startswith("http://127.0.0.1:")
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.JupyterHub.allow_named_servers is False
    assert c.Authenticator.admin_users == {"it.admin", "x"}
    assert c.Authenticator.allow_all is False


def test_hub_config_uses_a_real_authenticator_with_approval_and_lockout(monkeypatch):
    c = _hub_config(monkeypatch, KOR_DATABASE_URL="postgresql://x@y/z")
    assert c.JupyterHub.authenticator_class == "nativeauthenticator.NativeAuthenticator"
    assert c.NativeAuthenticator.open_signup is False
    assert c.NativeAuthenticator.minimum_password_length >= 12
    assert c.NativeAuthenticator.allowed_failed_logins > 0
    assert "Dummy" not in c.JupyterHub.authenticator_class
