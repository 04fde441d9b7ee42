"""The remote form app: a small tornado server for the client's own phone, nothing else.

Routes (the only ones; anything else is 404 with one plain sentence):

* ``GET /s/<token>``: the client's outcome form (four full-width range inputs 0-10,
  step 0.1, end anchors, a decimal-comma readout) and a send button;
* ``GET /kode`` and ``POST /kode``: type the short code instead of opening the link;
* ``POST /send``: the answers, with a form nonce bound to the link (CSRF).

The page names no client, clinician or service: only the measure's item labels. A bad,
expired, used or guessed link gets one sentence (404 for unknown, 410 for expired or
used), bokmål by default, English with ``?lang=en`` or ``Accept-Language: en``. Tries
are limited per client address and per link (:class:`kor.remote.tokens.RateLimiter`).
It acts as :data:`kor.store.remote.REMOTE_FORM`, which may only read and submit to a
working link. Run it behind the service's reverse proxy (TLS there), see docs/remote.md.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer

from kor import measures
from kor.errors import KorError
from kor.i18n import t
from kor.remote import tokens
from kor.store.remote import REMOTE_FORM, LinkRefused

__all__ = ["DEFAULT_PORT", "make_app", "serve"]

#: The remote app's default port (``kor app --remote-port``).
DEFAULT_PORT = 8867

log = logging.getLogger("kor.remote")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;padding:16px;max-width:40rem;
margin-inline:auto;font-size:18px;line-height:1.4;color:#1a1a1a;background:#fff}
h1{font-size:1.4rem;margin:0 0 .5rem}
fieldset{border:0;padding:0;margin:0 0 1.4rem}
legend{font-weight:600;font-size:1.15rem;display:flex;justify-content:space-between;width:100%}
output{font-variant-numeric:tabular-nums;min-width:3ch;text-align:right}
input[type=range]{width:100%;height:48px;margin:.3rem 0;accent-color:#1f5f99}
.anchors{display:flex;justify-content:space-between;font-size:.95rem;color:#444}
button{width:100%;font-size:1.2rem;padding:14px;border:0;border-radius:8px;
background:#1f5f99;color:#fff}
button:disabled{background:#8aa5bf}
input[type=text]{width:100%;font-size:1.6rem;padding:10px;letter-spacing:.15em;
text-transform:uppercase;box-sizing:border-box;margin:.5rem 0 1rem}
.msg{font-size:1.2rem}
"""

_SCRIPT = """
(function(){var f=document.getElementById('f');if(!f)return;
var comma=document.documentElement.lang==='nb';var b=f.querySelector('button');
var r=f.querySelectorAll('input[type=range]');var moved={};
function show(i){var o=document.getElementById('o-'+i.name);var v=Number(i.value).toFixed(1);
o.textContent=comma?v.replace('.',','):v;}
function check(){b.disabled=Object.keys(moved).length<r.length;}
r.forEach(function(i){i.addEventListener('input',function(){moved[i.name]=1;show(i);check();});});
check();})();
"""


def _language(handler: tornado.web.RequestHandler) -> str:
    """``en`` for ``?lang=en`` (or a form field ``lang``) or an English first preference."""
    asked = handler.get_argument("lang", "")
    if asked in ("nb", "en"):
        return asked
    header = handler.request.headers.get("Accept-Language", "")
    first = header.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "nb"


class _Base(tornado.web.RequestHandler):
    """Security headers, plain-sentence errors and the two rate limits."""

    def initialize(self, state: dict[str, Any]) -> None:
        self.state = state
        self.store = state["store"]
        self.csp_nonce = secrets.token_urlsafe(16)
        self.lang = "nb"

    def prepare(self) -> None:
        self.lang = _language(self)

    def set_default_headers(self) -> None:
        nonce = getattr(self, "csp_nonce", "")
        self.set_header(
            "Content-Security-Policy",
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        )
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Server", "kor")

    def check_xsrf_cookie(self) -> None:
        """The form nonce (bound to the link) is the CSRF defence, not a cookie."""

    def _limited(self, link_key: str | None = None) -> bool:
        """Count a try for this address (and link); True if over a limit (then answered)."""
        ip_ok = self.state["per_ip"].allow(self.request.remote_ip or "?")
        link_ok = link_key is None or self.state["per_link"].allow(link_key)
        if ip_ok and link_ok:
            return False
        log.info("remote form: rate limit (%s)", "address" if not ip_ok else "link")
        self._sentence("remote.refused.rate", 429)
        return True

    def _page(self, title: str, body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        n = self.csp_nonce
        self.finish(
            f'<!doctype html><html lang="{self.lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            '<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">'
            f'<title>{html.escape(title)}</title><style nonce="{n}">{_STYLE}</style></head>'
            f'<body><main>{body}</main><script nonce="{n}">{_SCRIPT}</script></body></html>'
        )

    def _sentence(self, key: str, status: int) -> None:
        text = html.escape(t(key, language=self.lang))
        self._page(text, f'<p class="msg" role="alert">{text}</p>', status)

    def _refused(self, error: LinkRefused) -> None:
        self._sentence(f"remote.refused.{error.reason}", 404 if error.reason == "unknown" else 410)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Never a stack trace: one sentence (unknown for 404, a generic one otherwise)."""
        self._sentence(
            "remote.refused.unknown" if status_code == 404 else "remote.bad_values",
            status_code if status_code in (404, 405) else 400,
        )

    def _form(
        self, token_hash: str, measure_code: str, problem: str | None = None, status: int = 200
    ) -> None:
        measure = measures.get(measure_code)
        lo, hi = measure.item_range
        step = 10**-measure.decimals
        nonce = tokens.form_nonce(self.state["key"], token_hash)
        parts = [
            f"<h1>{html.escape(t('remote.page_title', language=self.lang))}</h1>",
            f"<p>{html.escape(t('remote.intro', language=self.lang))}</p>",
        ]
        if problem:
            parts.append(f'<p class="msg" role="alert">{html.escape(problem)}</p>')
        parts.append('<form id="f" method="post" action="/send" autocomplete="off">')
        parts.append(
            f'<input type="hidden" name="ref" value="{token_hash}">'
            f'<input type="hidden" name="nonce" value="{nonce}">'
            f'<input type="hidden" name="lang" value="{self.lang}">'
        )
        for item in measure.items:
            label = html.escape(t(f"measure.{measure.code}.item.{item}", language=self.lang))
            low, high = (html.escape(a) for a in measure.anchors(item, self.lang))
            name = html.escape(item)
            parts.append(
                f'<fieldset><legend><span id="l-{name}">{label}</span>'
                f'<output id="o-{name}" for="i-{name}" aria-live="polite">–</output></legend>'
                f'<input type="range" id="i-{name}" name="{name}" min="{lo:g}" max="{hi:g}" '
                f'step="{step:g}" value="{(lo + hi) / 2:g}" aria-labelledby="l-{name}" '
                f'aria-describedby="a-{name}">'
                f'<div class="anchors" id="a-{name}"><span>{low}</span><span>{high}</span></div>'
                "</fieldset>"
            )
        submit = html.escape(t("remote.submit", language=self.lang))
        moved = html.escape(t("remote.not_moved", language=self.lang))
        parts.append(f'<p id="hint">{moved}</p><button type="submit">{submit}</button></form>')
        self._page(t("remote.page_title", language=self.lang), "".join(parts), status)


class FormHandler(_Base):
    """``GET /s/<token>``: the form of a working link."""

    def get(self, token: str) -> None:
        if self._limited(tokens.hash_secret(token)):
            return
        try:
            link = self.store.remote_link_form(REMOTE_FORM, token=token)
        except LinkRefused as error:
            self._refused(error)
            return
        self._form(link["token_hash"], link["measure"])


class CodeHandler(_Base):
    """``/kode``: the short code instead of the link."""

    def get(self) -> None:
        if self._limited():
            return
        self._code_page()

    def _code_page(self, problem: str | None = None, status: int = 200) -> None:
        title = html.escape(t("remote.code_title", language=self.lang))
        label = html.escape(t("remote.code_label", language=self.lang))
        submit = html.escape(t("remote.code_submit", language=self.lang))
        alert = f'<p class="msg" role="alert">{html.escape(problem)}</p>' if problem else ""
        self._page(
            t("remote.code_title", language=self.lang),
            f'<h1>{title}</h1>{alert}<form method="post" action="/kode" autocomplete="off">'
            f'<input type="hidden" name="lang" value="{self.lang}">'
            f'<label for="code">{label}</label>'
            f'<input type="text" id="code" name="code" maxlength="12" autocapitalize="characters"'
            f' spellcheck="false" inputmode="text" required>'
            f'<button type="submit">{submit}</button></form>',
            status,
        )

    def post(self) -> None:
        code = tokens.normalise_code(self.get_argument("code", ""))[:16]
        if self._limited(tokens.hash_secret("code:" + code)):
            return
        try:
            link = self.store.remote_link_form(REMOTE_FORM, code=code)
        except LinkRefused as error:
            status = 404 if error.reason == "unknown" else 410
            self._code_page(t(f"remote.refused.{error.reason}", language=self.lang), status)
            return
        self._form(link["token_hash"], link["measure"])


class SendHandler(_Base):
    """``POST /send``: the answers, with the nonce of a page served for the same link."""

    def post(self) -> None:
        ref = self.get_argument("ref", "")[:64]
        if self._limited(ref or None):
            return
        if not tokens.check_nonce(self.state["key"], ref, self.get_argument("nonce", "")):
            self._sentence("remote.refused.form", 403)
            return
        try:
            link = self.store.remote_link_form(REMOTE_FORM, token_hash=ref)
        except LinkRefused as error:
            self._refused(error)
            return
        measure = measures.get(link["measure"])
        values = {item: self.get_argument(item, "") for item in measure.items}
        try:
            self.store.submit_remote_form(REMOTE_FORM, ref, values)
        except LinkRefused as error:
            self._refused(error)
            return
        except KorError:
            self._form(ref, measure.code, t("remote.bad_values", language=self.lang), 400)
            return
        text = html.escape(t("remote.thanks", language=self.lang))
        self._page(text, f'<p class="msg" role="status">{text}</p>')


class NotFound(_Base):
    """Every other address: the unknown-link sentence, 404."""

    def prepare(self) -> None:
        super().prepare()
        self._sentence("remote.refused.unknown", 404)


def make_app(
    store: Any,
    *,
    per_ip: int = 10,
    per_link: int = 5,
    window: float = 60.0,
    max_keys: int = 10_000,
) -> tornado.web.Application:
    """The remote form application on ``store`` (limits: tries per ``window`` seconds)."""
    state = {
        "store": store,
        "key": secrets.token_bytes(32),
        "per_ip": tokens.RateLimiter(per_ip, window, max_keys=max_keys),
        "per_link": tokens.RateLimiter(per_link, window, max_keys=max_keys),
    }
    return tornado.web.Application(
        [
            (r"/s/([A-Za-z0-9_-]{1,128})", FormHandler, {"state": state}),
            (r"/kode", CodeHandler, {"state": state}),
            (r"/send", SendHandler, {"state": state}),
        ],
        default_handler_class=NotFound,
        default_handler_args={"state": state},
        xsrf_cookies=False,
        serve_traceback=False,
        compress_response=False,
    )


def serve(
    store: Any, port: int = DEFAULT_PORT, address: str = "127.0.0.1", *, xheaders: bool = False
) -> HTTPServer:
    """Listen on ``address:port`` (loopback by default; the reverse proxy adds TLS).

    xheaders: take the client address from the proxy's ``X-Real-IP``/``X-Forwarded-For``
    (only behind a proxy that sets them, or a client could choose its own rate limit key).
    """
    server = HTTPServer(make_app(store), xheaders=xheaders)
    server.listen(port, address)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m kor.remote [--port N] [--address A] [--xheaders]``."""
    import argparse

    import tornado.ioloop

    from kor.store import Store

    parser = argparse.ArgumentParser(prog="python -m kor.remote")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--xheaders", action="store_true")
    args = parser.parse_args(argv)
    serve(Store.open(), args.port, args.address, xheaders=args.xheaders)
    tornado.ioloop.IOLoop.current().start()
