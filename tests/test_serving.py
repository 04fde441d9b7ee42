"""Safe serving: ``kor app`` listens on 127.0.0.1 only, lets nobody in without the login
token, answers only to loopback host names (no DNS rebinding), serves no source, data or
notebook files, executes only the notebooks in ``notebooks/``, and shows no traceback or
source.

Starts its own ``kor app`` (sample data in a temporary data directory, the token generated
into it) and, for the failing-notebook check, a second server with the same options on a
temporary folder. Requests go through ``http.client``, which follows no redirect and sends
the ``Host`` header it is given.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from kor import config, serve
from kor.errors import ValidationError

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


class Response(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: str


def _request(
    port: int,
    path: str,
    *,
    token: str | None = None,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    follow: bool = False,
) -> Response:
    """One request to the server on 127.0.0.1:``port``; ``token`` goes in the
    Authorization header, ``host`` replaces the Host header (default 127.0.0.1:port).
    ``follow``: follow redirects on this server, with the same headers."""
    if follow:
        for _ in range(5):
            r = _request(port, path, token=token, host=host, headers=headers, timeout=timeout)
            if r.status not in (301, 302, 303, 307, 308):
                return r
            where = urllib.parse.urlsplit(r.headers["Location"])
            path = where.path + (f"?{where.query}" if where.query else "")
        pytest.fail(f"redirect loop at {path}")
    sent = dict(headers or {})
    sent["Host"] = host or f"127.0.0.1:{port}"
    if token:
        sent["Authorization"] = f"token {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=sent)
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


class Served(NamedTuple):
    port: int
    data: Path
    token: str
    pid: int
    log: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Served]:
    """A running ``kor app`` (default host, token generated) on a free port."""
    port = _free_port()
    data = tmp_path_factory.mktemp("serving-data")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KOR_DATABASE_URL", "JUPYTERHUB_USER", "KOR_APP_TOKEN", "KOR_ALLOWED_HOSTS")
    }
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
    _wait(proc, f"http://127.0.0.1:{port}/login", log)
    token = (data / "app.token").read_text().strip()
    yield Served(port, data, token, proc.pid, log)
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
    with socket.create_connection(("127.0.0.1", app.port), timeout=5):
        pass
    for address in _other_local_addresses():
        with pytest.raises(OSError), socket.create_connection((address, app.port), timeout=3):
            pass


# ------------------------------------------------------------------ login token
def _refused(r: Response) -> bool:
    """403, or a redirect to the login page; never the app."""
    if r.status == 403:
        return True
    return r.status in (302, 303) and r.headers["Location"].split("?")[0].endswith("/login")


@pytest.mark.parametrize(
    "path", ["/", "/voila/render/start.ipynb", "/voila/render/behandler.ipynb", "/voila/tree/"]
)
def test_without_the_token_the_apps_are_not_served(app, path):
    r = _request(app.port, path)
    assert _refused(r), (path, r.status)
    assert "<title>start</title>" not in r.body and "voila/render/start.ipynb" not in r.body


def test_a_wrong_token_is_refused_in_the_address_and_in_the_header(app):
    wrong = app.token[:-4] + ("aaaa" if not app.token.endswith("aaaa") else "bbbb")
    assert _refused(_request(app.port, f"/voila/render/start.ipynb?token={wrong}"))
    assert _refused(_request(app.port, "/voila/render/start.ipynb", token=wrong))
    assert _request(app.port, f"/api/kernels/{_kernel_id(app)}", token=wrong).status == 403


def test_the_printed_address_logs_in_and_leads_to_the_start_page(app):
    printed = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", app.log.read_text()).group(0)
    assert printed == f"http://127.0.0.1:{app.port}/?token={app.token}"
    first = _request(app.port, f"/?token={app.token}")
    assert first.status == 200 and "voila/render/start.ipynb" in first.body
    cookie = first.headers["Set-Cookie"].split(";")[0]  # the browser keeps this
    page = _request(app.port, "/voila/render/start.ipynb", headers={"Cookie": cookie}, timeout=120)
    assert page.status == 200 and "<title>start</title>" in page.body


def test_the_token_is_on_no_command_line_and_in_no_kernel_environment(app):
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    _kernel_id(app)  # the kernels have started
    children = [p.parent.name for p in Path("/proc").glob("[0-9]*/stat") if _ppid(p) == app.pid]
    assert children  # the preheated kernels
    for pid in [str(app.pid), *children]:
        assert app.token not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    for pid in children:
        assert b"KOR_APP_TOKEN" not in Path(f"/proc/{pid}/environ").read_bytes()


def _ppid(stat_file: Path) -> int | None:
    try:
        return int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_the_token_file_is_made_for_the_owner_only(app):
    mode = stat.S_IMODE((app.data / "app.token").stat().st_mode)
    assert mode == 0o600
    assert len(app.token) >= 40  # secrets.token_urlsafe(32)


# ------------------------------------------------------------------ Host header
def _kernel_id(app: Served) -> str:
    """A kernel the server started (its preheated pool), from the server log."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.findall(r"Kernel started: ([0-9a-f-]{36})", app.log.read_text())
        if found:
            return found[0]
        time.sleep(0.5)
    pytest.fail("no kernel started")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example"])
@pytest.mark.parametrize(
    "path",
    [
        "/?token={token}",
        "/voila/render/start.ipynb",
        "/voila/static/voila.js",
        "/login",
        "/api/kernels/{kernel}",
        "/api/kernels/{kernel}/channels",
    ],
)
def test_a_foreign_host_is_refused_even_with_the_token(app, host, path):
    path = path.format(token=app.token, kernel=_kernel_id(app))
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    r = _request(
        app.port,
        path,
        token=app.token,
        host=host.format(port=app.port),
        headers=upgrade if path.endswith("/channels") else None,
    )
    assert r.status == 403, (host, path, r.status)
    assert app.token not in r.body and "kor-" not in r.body


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LOCALHOST"]
)
def test_loopback_host_names_are_accepted(app, host):
    host = host.format(port=app.port)
    assert _request(app.port, "/voila/static/voila.js", host=host).status == 200
    kernel = _request(app.port, f"/api/kernels/{_kernel_id(app)}", token=app.token, host=host)
    assert kernel.status == 200, host
    assert json.loads(kernel.body)["id"] == _kernel_id(app)


def test_allowed_hosts_come_from_the_environment_and_the_command_line(monkeypatch):
    monkeypatch.setenv("KOR_ALLOWED_HOSTS", " kor.intern , ,Team.Example")
    assert serve.allowed_hosts(["10.0.0.5"]) == {
        "localhost",
        "127.0.0.1",
        "[::1]",
        "kor.intern",
        "team.example",
        "10.0.0.5",
    }
    monkeypatch.delenv("KOR_ALLOWED_HOSTS")
    assert serve.allowed_hosts() == set(serve.LOOPBACK_HOSTS)


# ------------------------------------------------------------------ token file
def test_the_token_is_generated_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("KOR_APP_TOKEN", raising=False)
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path))
    first = serve.app_token()
    assert serve.token_path() == tmp_path / "app.token"
    assert stat.S_IMODE(serve.token_path().stat().st_mode) == 0o600
    assert serve.app_token() == first and len(first) >= 40
    monkeypatch.setenv("KOR_APP_TOKEN", "x" * 20)
    assert serve.app_token() == "x" * 20
    monkeypatch.setenv("KOR_APP_TOKEN", " ")  # empty: the file, never no login
    assert serve.app_token() == first


def test_a_token_file_others_may_read_or_a_short_token_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("KOR_APP_TOKEN", raising=False)
    path = tmp_path / "app.token"
    path.write_text("y" * 43)
    path.chmod(0o640)
    if os.name == "posix":
        with pytest.raises(ValidationError) as refused:
            serve.app_token(path)
        assert refused.value.key == "cli.app.token_permissions"
    path.chmod(0o600)
    assert serve.app_token(path) == "y" * 43
    path.write_text("\n")
    with pytest.raises(ValidationError, match="token_short"):
        serve.app_token(path)
    monkeypatch.setenv("KOR_APP_TOKEN", "short")
    with pytest.raises(ValidationError, match="token_short"):
        serve.app_token(path)


# ------------------------------------------------------------------ files
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
    status, _, body = _request(app.port, path, token=app.token, follow=True)  # logged in
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
    status, _, body = _request(app.port, path, token=app.token, follow=True)
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
    token = "t" * 32
    env = dict(os.environ, KOR_APP_TOKEN=token, KOR_DATA_DIR=str(tmp_path))
    with log.open("w") as out:
        proc = subprocess.Popen(  # the options kor app passes (voila.json read from ROOT)
            [
                sys.executable,
                "-m",
                "kor.serve",
                str(apps),
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                "--no-browser",
                "--show_tracebacks=False",
                "--strip_sources=True",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(proc, f"http://127.0.0.1:{port}/login", log)
        status, _, body = _request(port, "/voila/render/fails.ipynb", token=token, timeout=120)
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
