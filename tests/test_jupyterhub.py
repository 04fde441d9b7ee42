"""The multi-user setup, run for real: JupyterHub from ``deploy/jupyterhub/jupyterhub_config.py``
with its NativeAuthenticator, configurable-http-proxy, one server per user running the Voilà
apps, against a real PostgreSQL database holding the bundled sample.

What the test overrides, and why (everything else is the production configuration):

* ports: the public proxy, the hub and the proxy's API on free 127.0.0.1 ports;
* the hub's state (its SQLite file and cookie secret) in a temporary folder;
* the spawner: ``SimpleLocalProcessSpawner`` instead of ``LocalProcessSpawner``, which needs a
  Unix account per hub user. Creating throwaway accounts would change the machine's
  ``/etc/passwd`` for a test and needs root; the simple spawner runs every server as the
  test's own user with a temporary home per hub user, which is all the test needs: the
  workbench tells users apart by ``JUPYTERHUB_USER``, never by the Unix account. As root it
  adds ``--allow-root`` to the server's arguments (Jupyter refuses root otherwise);
* the proxy's command: ``.cache/chp`` in the checkout (``deploy/jupyterhub/install-proxy.sh``).

Requires ``KOR_TEST_POSTGRES_URL`` (skipped without it, as the other PostgreSQL tests are);
when it is set, a hub that cannot start FAILS the test with the reason.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kor.access import SYSTEM
from kor.frames import Dataset
from kor.i18n import t
from kor.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
PROXY = ROOT / ".cache" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_BIN = Path(sys.executable).with_name("jupyterhub")

PASSWORD = "Fjordtur-til-Voss-2026"  # >= 12 characters, not in the common-password list
HUB_ADMIN = "hub.admin"  # manages hub accounts only; not a workbench user
CLINICIAN = "ingrid.berg"  # clinician, team VOP, in the bundled sample
TEAM_LEAD = "guro.nesheim"  # team lead of VOP
COLLEAGUE = "sindre.aasen"  # another VOP clinician
COLLEAGUE_LABEL = "Sindre Aasen (VOP)"  # as the team lead's picker names him
STRANGER = "ukjent.person"  # approved by the hub, unknown to the workbench
CODE = re.compile(r"K\d{5}")
APP = "behandler.ipynb"

OVERRIDES = """\
# tests/test_jupyterhub.py: the repository's configuration, then only what a test must change
load_subconfig({config!r})
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.args = list(c.Spawner.args) + {extra_args!r}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


@pytest.fixture(scope="module")
def workbench_db(pg_database: str) -> Iterator[str]:
    """The PostgreSQL database of the hub's users: a database of its own (the session's
    test database is shared with the store tests), holding the bundled sample, migrated."""
    import sqlalchemy as sa

    from tests.conftest import _pg_admin_engine

    name = f"kor_hub_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(pg_database).set(database=name).render_as_string(hide_password=False)
    store = Store.open(url)
    try:
        store.load_dataset(SYSTEM, Dataset.read_csv(ROOT / "data" / "sample"))
    finally:
        store.close()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def _open_codes(url: str, username: str) -> set[str]:
    """Client codes of the open episodes ``username`` may read (what the list should show)."""
    store = Store.open(url)
    try:
        data = store.dataset(store.actor_for(username), open_only=True)
        return set(data.clients["code"])
    finally:
        store.close()


@pytest.fixture(scope="module")
def hub(workbench_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running JupyterHub (the repository's configuration) on 127.0.0.1."""
    if not HUB_BIN.exists():
        pytest.fail(
            f"JupyterHub is not installed in this environment ({HUB_BIN} missing): "
            "pip install jupyterhub jupyterhub-nativeauthenticator jupyterhub-idle-culler"
        )
    if not PROXY.exists():
        pytest.fail(
            f"configurable-http-proxy not found at {PROXY}: run deploy/jupyterhub/install-proxy.sh"
        )
    state = tmp_path_factory.mktemp("hub-state")
    homes = tmp_path_factory.mktemp("hub-homes")
    port = _free_port()
    extra = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    config = state / "test_config.py"
    config.write_text(
        OVERRIDES.format(
            config=str(HUB_CONFIG),
            hub_port=_free_port(),
            api_port=_free_port(),
            proxy=str(PROXY),
            homes=str(homes),
            extra_args=extra,
        )
    )
    # the hub's environment: the deployment's settings, nothing of the test run's KOR_* values
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOR_", "JUPYTERHUB_"))}
    env.update(
        KOR_DATABASE_URL=workbench_db,
        KOR_HUB_ADMINS=HUB_ADMIN,
        KOR_HUB_BIND_URL=f"http://127.0.0.1:{port}",
        KOR_HUB_DATA=str(state),
        PYTHONUNBUFFERED="1",
    )
    log = state / "hub.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(HUB_BIN), "-f", str(config)],
            cwd=state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the hub, its proxy and the user servers: one group
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterHub exited with {proc.returncode}:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(url + "/hub/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterHub did not answer within 60 s:\n{_tail(log)}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()  # the hub stops its user servers and its proxy
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, 9)  # whatever is left of this test's own process group
        except ProcessLookupError:
            pass
        proc.wait()


def _signup(page, hub: str, username: str) -> str:  # noqa: ANN001
    page.goto(f"{hub}/hub/signup")
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.fill("#password_confirmation_input", PASSWORD)
    page.click("#signup_submit")
    return page.locator(".alert").inner_text()


def _login(page, hub: str, username: str, then: str = "") -> None:  # noqa: ANN001
    page.goto(f"{hub}/hub/login" + (f"?next={then}" if then else ""))
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")


@pytest.fixture(scope="module")
def accounts(hub: str, browser) -> Iterator[dict[str, object]]:  # noqa: ANN001
    """Sign-up of every user, a login refused before approval, approval by the hub admin.

    Returns what the steps answered and one logged-in browser context per approved user.
    """
    seen: dict[str, object] = {}
    anonymous = browser.new_context()
    page = anonymous.new_page()
    for username in (HUB_ADMIN, CLINICIAN, TEAM_LEAD, STRANGER):
        seen[f"signup:{username}"] = _signup(page, hub, username)
    _login(page, hub, CLINICIAN)
    page.wait_for_load_state()
    seen["login before approval"] = page.locator("body").inner_text()
    anonymous.close()

    admin = browser.new_context()
    page = admin.new_page()
    _login(page, hub, HUB_ADMIN, then="/hub/authorize")  # no server of their own
    page.wait_for_url(f"{hub}/hub/authorize")
    for username in (CLINICIAN, TEAM_LEAD, STRANGER):
        page.goto(f"{hub}/hub/authorize/{username}")  # NativeAuthenticator's approve toggle
    seen["authorize page"] = page.locator("body").inner_text()
    admin.close()

    landing = {}
    for username in (CLINICIAN, TEAM_LEAD, STRANGER):  # log in; the servers spawn in parallel
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
        seen[username] = context
        landing[username] = context.new_page()
        _login(landing[username], hub, username)
    for username, page in landing.items():  # each lands on the config's default_url
        page.wait_for_url(
            f"{hub}/user/{username}/voila/render/**", timeout=120_000, wait_until="commit"
        )
        seen[f"landing:{username}"] = page.url
        page.close()
    yield seen
    for username in (CLINICIAN, TEAM_LEAD, STRANGER):
        seen[username].close()


def _open_app(accounts: dict[str, object], hub: str, username: str):  # noqa: ANN202
    """The user's page on their own server's clinician app (the server is spawned on first use)."""
    page = accounts[username].new_page()
    page.goto(f"{hub}/user/{username}/voila/render/{APP}", timeout=120_000)
    return page


def _list_codes(page) -> set[str]:  # noqa: ANN001
    return set(CODE.findall(" ".join(page.locator(".kor-client-list option").all_inner_texts())))


def test_an_account_needs_the_hub_admins_approval(accounts, hub):
    assert "sent to the admin" in accounts[f"signup:{CLINICIAN}"]
    assert "successful" in accounts[f"signup:{HUB_ADMIN}"]  # an admin named in the config
    assert "has not been authorized" in accounts["login before approval"]
    for username in (CLINICIAN, TEAM_LEAD, STRANGER):  # approved: logged in, server running
        assert username in accounts["authorize page"]
        assert accounts[f"landing:{username}"].startswith(f"{hub}/user/{username}/voila/render/")


def test_the_server_root_is_the_start_page_with_the_users_own_tools_first(accounts, hub):
    page = accounts[CLINICIAN].new_page()
    page.goto(f"{hub}/user/{CLINICIAN}/", timeout=120_000)  # not Voilà's file list
    page.wait_for_selector(".kor-start a.kor-tile", timeout=90_000)
    assert page.url.rstrip("?") == f"{hub}/user/{CLINICIAN}/voila/render/start.ipynb"
    page.goto(f"{hub}/user/{CLINICIAN}/voila/tree", timeout=60_000)  # Voilà's own root too
    page.wait_for_selector(".kor-start a.kor-tile", timeout=90_000)
    own = page.locator("a.kor-tile:not(.kor-other) strong").all_inner_texts()
    assert own == ["Behandler", "Mine resultater", "Forbedringsarbeid"]
    page.locator(f'a.kor-tile[href^="{APP}"]').click()  # a relative link, under the prefix
    page.wait_for_url(f"{hub}/user/{CLINICIAN}/voila/render/{APP}?lang=nb", timeout=60_000)
    page.wait_for_selector(".kor-client-list", timeout=90_000)
    page.close()


def test_the_clinician_gets_their_own_server_listing_only_their_clients(
    accounts, hub, workbench_db
):
    assert accounts[f"landing:{CLINICIAN}"].startswith(f"{hub}/user/{CLINICIAN}/voila/render/")
    page = _open_app(accounts, hub, CLINICIAN)
    assert page.url.startswith(f"{hub}/user/{CLINICIAN}/voila/render/{APP}")
    page.wait_for_selector(".kor-client-list option", timeout=90_000)
    mine = _open_codes(workbench_db, CLINICIAN)
    assert mine and _list_codes(page) == mine
    assert page.locator(".kor-clinician-picker").count() == 0  # a clinician picks nobody
    assert "Traceback" not in page.content()


def test_the_team_lead_picks_among_their_teams_clinicians_and_sees_their_clients(
    accounts, hub, workbench_db
):
    page = _open_app(accounts, hub, TEAM_LEAD)
    picker = page.locator(".kor-clinician-picker select")
    picker.wait_for(timeout=90_000)
    names = picker.locator("option").all_inner_texts()
    assert names and all(n.strip().endswith("(VOP)") for n in names if n.strip()), names
    picker.select_option(label=COLLEAGUE_LABEL)
    page.wait_for_selector(".kor-client-list option", timeout=60_000)
    theirs = _open_codes(workbench_db, COLLEAGUE)
    assert theirs and _list_codes(page) == theirs


def test_a_user_cannot_open_another_users_server(accounts, hub):
    page = accounts[CLINICIAN].new_page()
    response = page.goto(f"{hub}/user/{TEAM_LEAD}/voila/render/{APP}")
    assert response is not None and response.status == 403, page.url
    assert not CODE.search(page.locator("body").inner_text())


@pytest.fixture(scope="module")
def strangers_page(accounts: dict[str, object], hub: str) -> str:
    """The text of the clinician app's page, fully rendered, for the user unknown to the
    workbench."""
    page = _open_app(accounts, hub, STRANGER)
    page.wait_for_load_state("load", timeout=90_000)  # Voilà has run every cell
    try:  # the refusal is a widget: give it time to render (its absence fails the test below)
        page.wait_for_selector(".kor-message", timeout=30_000)
    except Exception:  # noqa: BLE001
        pass
    text = page.locator("body").inner_text()
    page.close()
    return text


def test_a_hub_user_unknown_to_the_workbench_sees_no_traceback_and_no_client(strangers_page):
    for leaked in ("Traceback", "AccessDenied", "actor_for", "error.unknown_user", 'File "'):
        assert leaked not in strangers_page, leaked
    assert not CODE.search(strangers_page)


def test_a_hub_user_unknown_to_the_workbench_gets_the_friendly_refusal(strangers_page):
    assert t("error.unknown_user", language="nb", username=STRANGER) in strangers_page


def test_the_users_server_offers_no_notebook_lab_terminal_or_file_browser(accounts, hub):
    request = accounts[CLINICIAN].request
    for path in ("lab", "tree", "notebooks/behandler.ipynb", "terminals/1", "edit/behandler.ipynb"):
        response = request.get(f"{hub}/user/{CLINICIAN}/{path}")
        assert response.status == 404, (path, response.status, response.url)
