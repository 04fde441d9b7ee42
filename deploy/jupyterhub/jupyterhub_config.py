"""JupyterHub for a multi-user KOR workbench: one server per user, the apps only.

Read by ``jupyterhub -f deploy/jupyterhub/jupyterhub_config.py`` (see README.md here).
Every setting a deployment must change is read from the environment, so this file
stays in the repository unchanged:

* ``KOR_DATABASE_URL``  PostgreSQL URL the per-user servers use (required);
* ``KOR_HUB_ADMINS``    comma-separated hub admins (they manage hub accounts only;
  workbench roles live in the workbench's ``app_user`` table);
* ``KOR_HUB_BIND_URL``  where the hub's proxy listens (default http://127.0.0.1:8000,
  put TLS termination in front; never expose it without HTTPS);
* ``KOR_APPS_DIR``      folder with the app notebooks (default: this checkout's notebooks/);
* ``KOR_HUB_DATA``      folder for the hub's own state (default /srv/kor-hub).

Security model (SECURITY.md): users log in with the hub's authenticator; the spawned
server runs Voilà only (no notebook, no terminal, no file browser) and the workbench
reads the user's role from the database by ``JUPYTERHUB_USER``, never from the request.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it reads this file

HERE = Path(__file__).resolve().parent
APPS = os.environ.get("KOR_APPS_DIR", str(HERE.parents[1] / "notebooks"))
#: Voilà template «kor» (share/jupyter/voila/templates/kor): a server's root -> start page.
TEMPLATES = str(HERE.parents[1] / "share" / "jupyter")
STATE = Path(os.environ.get("KOR_HUB_DATA", "/srv/kor-hub"))
DATABASE_URL = os.environ.get("KOR_DATABASE_URL", "")

# --- who may log in -------------------------------------------------------------
# NativeAuthenticator: accounts created by sign-up and approved by a hub admin,
# passwords hashed (bcrypt), lock-out after failed attempts. Replace with an OAuth
# authenticator (e.g. oauthenticator.AzureAdOAuthenticator for the municipality's
# Entra ID) where single sign-on exists; the rest of this file stays the same.
c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
c.NativeAuthenticator.open_signup = False  # a hub admin approves every account
c.NativeAuthenticator.minimum_password_length = 12
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 600
c.Authenticator.admin_users = {
    u.strip() for u in os.environ.get("KOR_HUB_ADMINS", "").split(",") if u.strip()
}
# JupyterHub >= 5 lets nobody in unless an "allow" setting says so. For NativeAuthenticator
# the gate is its own approval (an account logs in only once a hub admin authorized it;
# tests/test_jupyterhub.py), so it allows every account it authenticates; any other
# authenticator (OAuth) allows nobody until allowed_users/groups are set for it.
c.Authenticator.allow_all = False
c.NativeAuthenticator.allow_all = True

# --- the hub itself ---------------------------------------------------------------
c.JupyterHub.bind_url = os.environ.get("KOR_HUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cookie_max_age_days = 1
c.JupyterHub.tornado_settings = {
    "headers": {
        "Content-Security-Policy": "frame-ancestors 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
}
c.JupyterHub.shutdown_on_logout = True

# --- what each user gets: Voilà with the apps, nothing else --------------------------
# The single-user server loads Voilà as its only extension (no JupyterLab, no classic
# notebook UI, no terminals); default_url opens the start page (widgets/start.py).
# Jupyter's REST API (contents, kernels) still answers an authenticated user on their
# OWN server: treat every user's server as able to run code as that user, so the
# database credentials in KOR_DATABASE_URL are the boundary (SECURITY.md, "Known gaps").
# The hub's own environment starts the servers and the culler: PATH need not hold it
# (``/opt/kor/bin/jupyterhub`` run directly, as in README.md, finds its neighbours).
BIN = Path(sys.executable).parent
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/voila/render/start.ipynb"
c.Spawner.notebook_dir = APPS
c.Spawner.args = [
    "--ServerApp.jpserver_extensions={'voila': True, 'jupyterlab': False, 'notebook': False}",
    "--ServerApp.terminals_enabled=False",
    "--ContentsManager.allow_hidden=False",
    "--FileContentsManager.delete_to_trash=False",
    "--VoilaConfiguration.template=kor",
    "--VoilaConfiguration.show_tracebacks=False",
    "--VoilaConfiguration.strip_sources=True",
    "--VoilaConfiguration.file_allowlist=['.*\\.(png|svg)']",
    "--VoilaConfiguration.file_denylist="
    "['.*\\.(ipynb|py|csv|xlsx|sqlite|sqlite-wal|db|json|toml|ini|cfg|key|korbackup)']",
]
c.Spawner.environment = {
    "KOR_DATABASE_URL": DATABASE_URL,
    "KOR_LANGUAGE": "nb",
    "JUPYTER_PATH": TEMPLATES,
    # no KOR_USER/KOR_ROLE: the workbench takes JUPYTERHUB_USER and the stored role
}
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL"]  # nothing else leaks from the hub's env
c.Spawner.mem_limit = "2G"
c.Spawner.cpu_limit = 1.0
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180

# Only the user's own server; no named servers, no sharing.
c.JupyterHub.allow_named_servers = False

# Idle servers are stopped (a tablet left open in a therapy room).
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            "--timeout=1800",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
