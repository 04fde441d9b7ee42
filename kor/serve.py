"""The local server of ``kor app``: Voilà behind a login token and a Host-header check.

``kor app`` execs ``python -m kor.serve NOTEBOOKS [Voilà options]``. Two things stand
between another local account (or a web page) and the apps, which run as the
configured local user:

* the login token (:func:`app_token`): generated on the first start into
  ``<data dir>/app.token`` (mode 0600), reused on later starts, ``KOR_APP_TOKEN``
  overrides it. ``kor app`` prints the address with ``?token=…`` as Jupyter does; the
  first visit leaves a login cookie. It reaches Voilà through the environment of the
  exec'd process (readable only by its user), never its command line, which every
  local account can read in ``ps``, and it is removed from the environment before a
  kernel starts;
* the Host check (:class:`ForeignHost`): a request whose ``Host`` header names no
  allowed host gets 403, before any handler runs. That is the defence against DNS
  rebinding, where a page from ``evil.example`` re-resolves its name to 127.0.0.1 and
  so passes the browser's same-origin rule. Allowed: the loopback names
  (:data:`LOOPBACK_HOSTS`), the address ``--host`` binds to, and the names of
  ``--allow-host`` / ``KOR_ALLOWED_HOSTS``.

Voilà's own settings cannot do the second: it hard-codes ``allow_remote_access=True``,
and jupyter_server's ``check_host`` runs only in ``JupyterHandler`` subclasses, which
Voilà's static-file handlers are not (and it refuses every IP address that is not
loopback, even a configured one). So the check is the first routing rule of the
application, for pages, static files, the login page and the kernel websockets alike.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tornado.httputil import HTTPServerRequest
from tornado.routing import Matcher, Rule
from tornado.web import HTTPError, RequestHandler

from kor import config
from kor.errors import ValidationError

__all__ = [
    "LOOPBACK_HOSTS",
    "TOKEN_FILE",
    "token_path",
    "app_token",
    "allowed_hosts",
    "url_host",
    "app_url",
    "ForeignHost",
    "main",
]

log = logging.getLogger("kor")

#: Host names (as in a ``Host`` header, without port) that are always allowed.
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
#: The token file's name in the data directory.
TOKEN_FILE = "app.token"
#: Shortest token accepted: an empty token would switch Voilà's login off.
_MIN_TOKEN_CHARS = 16
#: Addresses that bind every interface; the printed address then uses loopback.
_WILDCARD = ("", "0.0.0.0", "::")


def token_path() -> Path:
    """Where the login token of ``kor app`` is kept: ``<data dir>/app.token``."""
    return config.data_dir() / TOKEN_FILE


def app_token(path: str | Path | None = None) -> str:
    """The login token: ``KOR_APP_TOKEN``, else the token file (default :func:`token_path`).

    A missing file is created with ``secrets.token_urlsafe(32)`` and mode 0600. A file
    that group or others may read is refused, as the research key is
    (:func:`kor.research.load_key`): whoever reads the token uses the apps as the local
    user. So is a token under 16 characters, because an empty one means no login.
    """
    token = os.environ.get("KOR_APP_TOKEN", "").strip()
    if not token:
        path = Path(path) if path is not None else token_path()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValidationError("cli.app.token_permissions", path=str(path))
        token = path.read_text(encoding="ascii").strip()
    if len(token) < _MIN_TOKEN_CHARS:
        raise ValidationError("cli.app.token_short", minimum=_MIN_TOKEN_CHARS)
    return token


def allowed_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names the server answers to: :data:`LOOPBACK_HOSTS`, the comma-separated
    ``KOR_ALLOWED_HOSTS`` and ``extra``; lower case, without port (IPv6 in brackets).

    >>> sorted(allowed_hosts(["Kor.Example"]))[:2]
    ['127.0.0.1', '[::1]']
    """
    names = [*LOOPBACK_HOSTS, *os.environ.get("KOR_ALLOWED_HOSTS", "").split(","), *extra]
    return frozenset(n.strip().lower() for n in names if n.strip())


def url_host(address: str) -> str:
    """``address`` as the host part of a URL: loopback for a wildcard bind, IPv6 bracketed.

    >>> url_host("0.0.0.0"), url_host("::1"), url_host("10.0.0.5")
    ('127.0.0.1', '[::1]', '10.0.0.5')
    """
    if address in _WILDCARD:
        return "127.0.0.1"
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def app_url(address: str, port: int, token: str) -> str:
    """The address ``kor app`` prints: the start page with the login token, as Jupyter does.

    >>> app_url("127.0.0.1", 8866, "abc")
    'http://127.0.0.1:8866/?token=abc'
    """
    return f"http://{url_host(address)}:{port}/?token={token}"


class ForeignHost(Matcher):
    """Matches a request whose ``Host`` header names none of ``allowed`` (port ignored)."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return None if request.host_name in self.allowed else {}


class RefuseForeignHost(RequestHandler):
    """403 for every method, websocket upgrades included."""

    def prepare(self) -> None:
        log.warning("refused a request for host %r (not an allowed host)", self.request.host)
        raise HTTPError(403)


def _server_class() -> type:
    """Voilà's application with the Host check as its first rule.

    Imported here, not at the top: Voilà takes seconds to import, and ``kor app`` needs
    only the token functions before it execs this module.
    """
    from voila.app import Voila

    class KorVoila(Voila):
        hosts: frozenset[str] = frozenset(LOOPBACK_HOSTS)

        def init_handlers(self) -> list:
            # Voilà calls this once self.app exists and before it listens; rule 0 comes
            # before every handler Voilà registers (tornado's own add_handlers inserts too)
            rule = Rule(ForeignHost(self.hosts), RefuseForeignHost)
            self.app.default_router.rules.insert(0, rule)
            return super().init_handlers()

    return KorVoila


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``argv`` (Voilà's arguments) with the login token and the Host check."""
    token = app_token()
    os.environ.pop("KOR_APP_TOKEN", None)  # not for the kernels
    server = _server_class().instance()
    server.initialize(list(sys.argv[1:] if argv is None else argv))
    server.hosts = allowed_hosts([url_host(server.ip)])
    server.token = token  # after the configuration is read: nothing can switch it off
    server.start()


if __name__ == "__main__":
    main()
