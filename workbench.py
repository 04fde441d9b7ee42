#!/usr/bin/env python3
"""Set up and run the KOR workbench: the two commands of the README.

    python3 workbench.py app     # environment, database, sample data, apps on :8866
    python3 workbench.py test    # environment, then the whole test suite

Needs only Python 3.11+ with pip and venv. Creates ``.venv`` when missing and
reinstalls only when ``pyproject.toml`` changed, so a second run starts at once.
Works on Linux, macOS and Windows (``py workbench.py app``); conda users see the
README for ``environment.yml``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def _say(text: str) -> None:
    print(f"[workbench] {text}", flush=True)


def ensure_environment(extra: str) -> None:
    """Create the venv and install the project (with ``extra``) unless already current."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must say so on old Pythons
        sys.exit(f"[workbench] Python 3.11 or newer is needed (found {sys.version.split()[0]}).")
    if not PYTHON.exists():
        _say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{extra or 'app'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    _say(f"installing the workbench ({extra or 'app'}) into .venv — a minute the first time")
    target = f".[{extra}]" if extra else "."
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it when we are root on Debian."""
    if any(Path(p).exists() for p in CHROMIUM) or os.environ.get("KOR_CHROMIUM"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        _say("installing Chromium from Debian's packages for the browser tests")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium", "fonts-dejavu-core", "poppler-utils"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    else:
        _say("no Chromium: install it (Debian: apt-get install chromium) or set KOR_CHROMIUM")


def postgres_default() -> None:
    """Use the local PostgreSQL server for the store tests when one answers and none is set."""
    if os.environ.get("KOR_TEST_POSTGRES_URL"):
        return
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", 5432)) == 0:
            os.environ["KOR_TEST_POSTGRES_URL"] = "postgresql://postgres@127.0.0.1:5432/test"
            _say("PostgreSQL answers on 127.0.0.1:5432: the store tests run against it too")
        else:
            _say("no PostgreSQL on 127.0.0.1:5432, KOR_TEST_POSTGRES_URL unset: those tests skip")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "app"
    rest = argv[1:]
    if command == "app":
        ensure_environment("")
        kor = BIN / ("kor.exe" if os.name == "nt" else "kor")
        return subprocess.call([str(kor), "app", *rest], cwd=ROOT)
    if command == "test":
        ensure_environment("test,hub")
        ensure_chromium()
        postgres_default()
        # from npm, into .cache/: the JupyterHub end-to-end test's proxy (.cache/chp) and
        # the accessibility test's axe-core (.cache/axe). Without npm the suite still runs;
        # those two tests then fail, each saying what is missing.
        if shutil.which("npm"):
            for script in ("jupyterhub/install-proxy.sh", "install-axe.sh"):
                subprocess.run(["bash", str(ROOT / "deploy" / script)], check=True)
        else:
            print(
                "[test] npm not found (apt-get install nodejs npm): the JupyterHub and "
                "accessibility tests will fail",
                file=sys.stderr,
            )
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
