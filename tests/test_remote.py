"""Remote outcome forms: one-time links, drafts, and the tornado app on loopback
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
import urllib.parse
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from kor.access import SYSTEM, Actor
from kor.errors import AccessDenied, ValidationError
from kor.remote import tokens
from kor.store import schema
from kor.store import schema_remote as sr
from kor.store.remote import REMOTE_FORM, LinkRefused
from tests.conftest import ORS_OK, TODAY

CODE = "K-7301"


def _episode(store, actor, code=CODE, birth_year=1990):
    store.add_client(actor, code, team=actor.team, birth_year=birth_year)
    return store.open_episode(actor, code, start=TODAY)


def _measurement(store, session_id):
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(schema.measurement).where(schema.measurement.c.session_id == session_id)
        ).one()


def _remote_audit(store):
    audit = store.audit_log(SYSTEM)
    rows = audit[audit["entity"].isin(["remote_link", "remote_draft"])]
    return rows.sort_values("id") if "id" in rows else rows.iloc[::-1]


# ------------------------------------------------------------------ tokens
def test_tokens_are_long_random_and_only_their_hashes_are_stored(store, small_service):
    ingrid = small_service["ingrid.berg"]
    link = store.create_remote_link(ingrid, _episode(store, ingrid))
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link.token)  # 32 bytes = 256 bits
    assert len(link.code) == tokens.CODE_LENGTH and set(link.code) <= set(tokens.CODE_ALPHABET)
    assert not set("01OIL") & set(tokens.CODE_ALPHABET)
    assert link.measure == "ORS"
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(sr.remote_link)).one()
    assert row.token_hash == tokens.hash_secret(link.token) != link.token
    assert row.code_hash == tokens.hash_secret(link.code)
    assert link.token not in str(tuple(row)) and link.code not in str(tuple(row))
    # default lifetime 72 h
    assert row.expires_at - row.created_at == timedelta(hours=72)
    assert tokens.normalise_code(" abcd-2345 ") == "ABCD2345"


def test_the_rate_limiter_counts_per_key_and_forgets_the_oldest_keys():
    limiter = tokens.RateLimiter(5, 60.0, max_keys=100)
    assert [limiter.allow("a", now=0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("a", now=60.0)  # the window slid on
    for i in range(1000):
        limiter.allow(f"k{i}", now=1.0)
    assert len(limiter) == 100


def test_a_form_nonce_is_bound_to_its_link_and_ages():
    key = b"k" * 32
    nonce = tokens.form_nonce(key, "h1", now=1000.0)
    assert tokens.check_nonce(key, "h1", nonce, now=1001.0)
    assert not tokens.check_nonce(key, "h2", nonce, now=1001.0)
    assert not tokens.check_nonce(b"x" * 32, "h1", nonce, now=1001.0)
    assert not tokens.check_nonce(key, "h1", nonce, now=1000.0 + 7201)
    assert not tokens.check_nonce(key, "h1", "garbage")


# ------------------------------------------------------------------- store
def test_a_link_works_once_and_the_draft_is_confirmed_as_a_session(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    link = store.create_remote_link(ingrid, ep)
    form = store.remote_link_form(REMOTE_FORM, token=link.token)
    assert form["measure"] == "ORS"
    draft_id = store.submit_remote_form(REMOTE_FORM, form["token_hash"], ORS_OK)
    with pytest.raises(LinkRefused) as used:
        store.submit_remote_form(REMOTE_FORM, form["token_hash"], ORS_OK)
    assert used.value.reason == "used"
    with pytest.raises(LinkRefused):
        store.remote_link_form(REMOTE_FORM, token=link.token)
    with pytest.raises(LinkRefused):
        store.remote_link_form(REMOTE_FORM, code=link.code.lower())
    drafts = store.remote_drafts(ingrid, ep)
    assert [(d["draft_id"], d["measure"], d["values"]) for d in drafts] == [
        (draft_id, "ORS", ORS_OK)
    ]
    session_id = store.confirm_remote_draft(ingrid, draft_id)
    assert store.remote_drafts(ingrid, ep) == []
    with pytest.raises(ValidationError):
        store.confirm_remote_draft(ingrid, draft_id)
    row = _measurement(store, session_id)
    assert row.measure == "ORS" and row.total == pytest.approx(20.0)  # 4+5.5+6+4.5
    actions = _remote_audit(store)[["action", "entity", "username"]].values.tolist()
    assert actions == [
        ["create", "remote_link", "ingrid.berg"],
        ["use", "remote_link", "remote-form"],
        ["refuse", "remote_link", "remote-form"],
        ["refuse", "remote_link", "remote-form"],
        ["refuse", "remote_link", "remote-form"],
        ["confirm", "remote_draft", "ingrid.berg"],
    ]
    # no client code, token or code in the audit trail
    text = store.audit_log(SYSTEM).to_string()
    assert CODE not in text and link.token not in text and link.code not in text


def test_a_draft_can_be_corrected_on_confirm_or_discarded(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    first = store.create_remote_link(ingrid, ep)
    second = store.create_remote_link(ingrid, ep)
    d1 = store.submit_remote_form(REMOTE_FORM, tokens.hash_secret(first.token), ORS_OK)
    d2 = store.submit_remote_form(REMOTE_FORM, tokens.hash_secret(second.token), ORS_OK)
    store.discard_remote_draft(ingrid, d1)
    assert [d["draft_id"] for d in store.remote_drafts(ingrid, ep)] == [d2]
    corrected = dict(ORS_OK, overall=9.0)
    session_id = store.confirm_remote_draft(ingrid, d2, values=corrected)
    assert _measurement(store, session_id).total == pytest.approx(24.5)  # 4+5.5+6+9


def test_an_expired_or_guessed_link_is_refused_and_audited(store, small_service):
    ingrid = small_service["ingrid.berg"]
    link = store.create_remote_link(ingrid, _episode(store, ingrid), hours=1)
    with store.engine.begin() as conn:
        conn.execute(
            sr.remote_link.update().values(expires_at=datetime.now() - timedelta(minutes=1))
        )
    for kwargs in ({"token": link.token}, {"code": link.code}):
        with pytest.raises(LinkRefused) as refused:
            store.remote_link_form(REMOTE_FORM, **kwargs)
        assert refused.value.reason == "expired"
    with pytest.raises(LinkRefused) as refused:
        store.submit_remote_form(REMOTE_FORM, tokens.hash_secret(link.token), ORS_OK)
    assert refused.value.reason == "expired"
    with pytest.raises(LinkRefused) as guessed:
        store.remote_link_form(REMOTE_FORM, token=tokens.new_token())
    assert guessed.value.reason == "unknown"
    audit = _remote_audit(store)
    refusals = audit[audit["action"] == "refuse"]
    assert len(refusals) == 4
    assert refusals["entity_id"].isna().sum() == 1  # the guessed one names no link


def test_links_follow_the_clinician_apps_access_rules(store, small_service):
    ingrid, ola, kari = (small_service[u] for u in ("ingrid.berg", "ola.nilsen", "kari.lund"))
    ep = _episode(store, ingrid)
    for other in (ola, kari, small_service["kvalitet"], small_service["forsker"]):
        with pytest.raises(AccessDenied):
            store.create_remote_link(other, ep)
    store.create_remote_link(small_service["leder.vop"], ep)  # the team lead of VOP may
    link = store.create_remote_link(ingrid, ep)
    draft = store.submit_remote_form(REMOTE_FORM, tokens.hash_secret(link.token), ORS_OK)
    for other in (ola, kari):
        with pytest.raises(AccessDenied):
            store.remote_drafts(other, ep)
        with pytest.raises(AccessDenied):
            store.confirm_remote_draft(other, draft)
    # only the remote app's own actor submits; a forged one is an unknown user
    with pytest.raises(AccessDenied):
        store.remote_link_form(ingrid, token=link.token)
    with pytest.raises(AccessDenied):
        store.remote_link_form(Actor("remote-form", "researcher"), token=link.token)
    with pytest.raises(AccessDenied):
        store.remote_drafts(REMOTE_FORM, ep)
    with pytest.raises(ValidationError):
        store.create_remote_link(ingrid, ep, hours=0)


def test_a_child_gets_the_cors_and_bad_values_are_refused(store, small_service):
    kari = small_service["kari.lund"]
    ep = _episode(store, kari, "B-2201", birth_year=TODAY.year - 9)
    link = store.create_remote_link(kari, ep)
    assert link.measure == "CORS"
    with pytest.raises(ValidationError):
        store.submit_remote_form(REMOTE_FORM, tokens.hash_secret(link.token), ORS_OK)
    bad = {"me": 11, "family": 5, "school": 5, "everything": 5}
    with pytest.raises(ValidationError):
        store.submit_remote_form(REMOTE_FORM, tokens.hash_secret(link.token), bad)
    # a refused answer leaves the link working
    assert store.remote_link_form(REMOTE_FORM, token=link.token)["measure"] == "CORS"


# ---------------------------------------------------------- the web app
@pytest.fixture
def remote_server(store):
    """The real remote app on a loopback port, in its own thread and event loop."""
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    from kor.remote.app import make_app

    sock, port = bind_unused_port()
    started = threading.Event()
    holder = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = HTTPServer(make_app(store))
        server.add_sockets([sock])
        holder["loop"], holder["server"] = loop, server
        started.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    yield port
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)
    thread.join(10)


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = urllib.parse.urlencode(body) if body is not None else None
    hdrs = dict(headers or {})
    if data is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=hdrs)
    response = conn.getresponse()
    text = response.read().decode("utf-8")
    conn.close()
    return response.status, dict(response.getheaders()), text


def _hidden(page, name):
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def test_the_page_is_the_form_only_and_sends_a_draft_once(store, small_service, remote_server):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    link = store.create_remote_link(ingrid, ep)
    status, headers, page = _request(remote_server, "GET", f"/s/{link.token}")
    assert status == 200
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    for secret in (CODE, "ingrid", "Ingrid", "VOP", link.code, "episode"):
        assert secret not in page
    assert page.count('type="range"') == 4 and 'step="0.1"' in page
    assert 'min="0" max="10"' in page and "Svært dårlig" in page and "Svært bra" in page
    assert "Individuelt" in page and '<html lang="nb">' in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from outside
    fields = {"ref": _hidden(page, "ref"), "nonce": _hidden(page, "nonce"), "lang": "nb"}
    answers = {"individually": "4", "interpersonally": "5.5", "socially": "6", "overall": "4.5"}
    # without the page's nonce (a form on another site): refused, nothing stored
    status, _, text = _request(remote_server, "POST", "/send", {**answers, "ref": fields["ref"]})
    assert status == 403 and store.remote_drafts(ingrid, ep) == []
    status, _, text = _request(remote_server, "POST", "/send", {**answers, **fields})
    assert status == 200 and "Takk" in text
    assert [d["values"] for d in store.remote_drafts(ingrid, ep)] == [ORS_OK]
    status, _, text = _request(remote_server, "POST", "/send", {**answers, **fields})
    assert status == 410 and "allerede brukt" in text
    status, _, text = _request(remote_server, "GET", f"/s/{link.token}?lang=en")
    assert status == 410 and text.count("<p") == 1 and "already been used" in text


def test_bad_links_get_one_sentence_and_the_code_page_works(store, small_service, remote_server):
    ingrid = small_service["ingrid.berg"]
    link = store.create_remote_link(ingrid, _episode(store, ingrid))
    status, _, text = _request(remote_server, "GET", "/s/" + tokens.new_token())
    assert status == 404 and "finnes ikke" in text and "Traceback" not in text
    status, _, text = _request(
        remote_server, "GET", "/nothing/here", headers={"Accept-Language": "en-GB,en"}
    )
    assert status == 404 and "does not exist" in text
    status, _, text = _request(remote_server, "GET", "/kode")
    assert status == 200 and 'name="code"' in text
    status, _, text = _request(remote_server, "POST", "/kode", {"code": "ZZZZ2222"})
    assert status == 404 and "finnes ikke" in text
    code = link.code[:4].lower() + "-" + link.code[4:]
    status, _, text = _request(remote_server, "POST", "/kode", {"code": code})
    assert status == 200 and text.count('type="range"') == 4
    assert link.token not in text  # the page carries the hash-bound nonce, not the token
    status, _, text = _request(remote_server, "POST", "/send", {"ref": "x", "nonce": "1.2"})
    assert status == 403


def test_the_rate_limits_hold_per_address_and_per_link(store, small_service, remote_server):
    ingrid = small_service["ingrid.berg"]
    link = store.create_remote_link(ingrid, _episode(store, ingrid))
    form = store.remote_link_form(REMOTE_FORM, token=link.token)
    statuses = [
        _request(remote_server, "POST", "/send", {"ref": form["token_hash"], "nonce": "1.x"})[0]
        for _ in range(7)
    ]
    assert statuses == [403] * 5 + [429] * 2  # 5 tries per link
    guesses = [_request(remote_server, "GET", "/s/" + tokens.new_token())[0] for _ in range(12)]
    # 10 tries a minute per address; 7 were spent above, so 3 guesses get through
    assert guesses == [404] * 3 + [429] * 9
    status, _, text = _request(remote_server, "GET", f"/s/{link.token}")
    assert status == 429 and "For mange forsøk" in text
