# ruff: noqa: F811  (pytest injects the imported `service` fixture by parameter name)
"""Time-limited access grants: who may grant, what a grant widens, and when it stops counting.

Same service as tests/test_access.py: ingrid.berg and ola.nilsen (clinicians, VOP),
kari.lund (clinician, BUP), leder.vop, kvalitet (quality lead), forsker (researcher).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from kor import indicators
from kor.access import SYSTEM, Grant, client_id_of, client_pseudonym, client_scope
from kor.errors import AccessDenied, ValidationError
from kor.store import grants as grants_module
from tests.test_access import CODES, _all_rows, _url, service  # noqa: F401 (the fixture)

TODAY = date.today()
SOON = TODAY + timedelta(days=14)


def _admin(store):
    return store.actor_for("admin")


def _clients(store, actor, **filters) -> set[str]:
    return set(store.session_table(actor, **filters).client)


def _tomorrow(monkeypatch) -> None:
    monkeypatch.setattr(grants_module, "_today", lambda: TODAY + timedelta(days=1))


# ----------------------------------------------------------- team_clients
def test_a_clinician_with_a_team_grant_reads_that_teams_clients(store, service):
    ola = service["actors"]["ola.nilsen"]
    assert _clients(store, ola) == {"K00002"}
    store.grant_access(
        _admin(store),
        "ola.nilsen",
        "team_clients",
        team="BUP",
        until=SOON,
        reason="dekker for kari.lund i ferien",
    )
    assert _clients(store, ola) == {"K00002", "B00001"}
    assert _clients(store, ola, client="B00001") == {"B00001"}
    assert set(store.export_rows(ola).client_code) == {"K00002", "B00001"}
    # a grant to BUP does not open VOP colleagues' clients
    assert "K00001" not in _clients(store, ola)


def test_a_team_grant_stops_counting_when_revoked(store, service):
    ola = service["actors"]["ola.nilsen"]
    gid = store.grant_access(
        _admin(store), "ola.nilsen", "team_clients", team="BUP", until=SOON, reason="vikar"
    )
    assert "B00001" in _clients(store, ola)
    store.revoke_access(_admin(store), gid)
    assert _clients(store, ola) == {"K00002"}
    assert store.session_table(ola, client="B00001").empty
    row = store.grants(_admin(store)).set_index("grant_id").loc[gid]
    assert row.revoked_by == "admin" and not row.active


def test_an_expired_grant_is_ignored(store, service, monkeypatch):
    ola = service["actors"]["ola.nilsen"]
    store.grant_access(
        _admin(store), "ola.nilsen", "team_clients", team="BUP", until=TODAY, reason="én dag"
    )
    assert "B00001" in _clients(store, ola)  # counts through its last day
    _tomorrow(monkeypatch)
    assert _clients(store, ola) == {"K00002"}
    assert not store.grants(_admin(store)).active.any()


def test_a_team_grant_does_not_let_a_clinician_write_to_that_team(store, service):
    ola = service["actors"]["ola.nilsen"]
    store.grant_access(
        _admin(store), "ola.nilsen", "team_clients", team="BUP", until=SOON, reason="lesetilgang"
    )
    before = _all_rows(_url(store))
    with pytest.raises(AccessDenied):
        store.record_session(
            ola, service["ids"]["kari.lund"]["episode"], session_date=TODAY, measurements={}
        )
    assert _all_rows(_url(store)) == before


# ----------------------------------------------------------- client_level
def test_a_quality_lead_sees_pseudonyms_without_a_grant_and_codes_with_one(store, service):
    q = service["actors"]["kvalitet"]
    admin_table = store.session_table(_admin(store))
    masked = store.session_table(q)
    assert len(masked) == len(admin_table) == 3
    assert not set(masked.client) & set(CODES.values())
    assert all(client_id_of(c) is not None for c in masked.client)
    ingrid = service["actors"]["ingrid.berg"]
    store.add_client(ingrid, "K00003", team="VOP", age_group="adult", birth_year=1990)
    assert 1990 in set(store.dataset(_admin(store)).clients.birth_year)
    assert store.dataset(q).clients.birth_year.isna().all()
    # the clinician stays (quality work is per clinician), and so do the scores
    assert sorted(masked.clinician) == sorted(admin_table.clinician)
    assert sorted(masked.outcome) == sorted(admin_table.outcome)
    # stable: the same pseudonym on every read, and a pseudonym filter finds its client
    assert set(store.session_table(q).client) == set(masked.client)
    one = masked.client.iloc[0]
    assert set(store.session_table(q, client=one).client) == {one}
    # a real code is not a key the pseudonymised reader can probe with
    assert store.session_table(q, client="K00001").empty
    assert store.export_rows(q).client_code.map(client_id_of).notna().all()

    store.grant_access(
        _admin(store), "kvalitet", "client_level", until=SOON, reason="journalgjennomgang"
    )
    assert _clients(store, q) == set(CODES.values())
    assert set(store.session_table(q, client="K00001").client) == {"K00001"}


def test_a_quality_lead_without_a_grant_still_gets_every_indicator(store, service):
    q = service["actors"]["kvalitet"]
    masked = indicators.service_indicators(store.session_table(q))
    full = indicators.service_indicators(store.session_table(_admin(store)))
    assert masked.equals(full)


def test_a_client_level_grant_ends_at_its_expiry(store, service, monkeypatch):
    q = service["actors"]["kvalitet"]
    store.grant_access(_admin(store), "kvalitet", "client_level", until=TODAY, reason="revisjon")
    assert _clients(store, q) == set(CODES.values())
    _tomorrow(monkeypatch)
    assert not _clients(store, q) & set(CODES.values())


# -------------------------------------------------------------- who grants
@pytest.mark.parametrize("who", ["ingrid.berg", "leder.vop", "kvalitet", "forsker"])
def test_only_an_admin_grants_revokes_or_lists_grants(store, service, who):
    actor = service["actors"][who]
    gid = store.grant_access(
        _admin(store), "ola.nilsen", "team_clients", team="BUP", until=SOON, reason="vikar"
    )
    before = _all_rows(_url(store))
    for attempt in (
        lambda: store.grant_access(actor, "kvalitet", "client_level", until=SOON, reason="x"),
        lambda: store.grant_access(actor, who, "team_clients", team="BUP", until=SOON, reason="x"),
        lambda: store.revoke_access(actor, gid),
        lambda: store.grants(actor),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    assert _all_rows(_url(store)) == before


def test_a_grant_that_cannot_mean_anything_is_refused(store, service):
    admin = _admin(store)
    before = _all_rows(_url(store))
    cases = {
        "grants.wrong_role": dict(username="leder.vop", kind="team_clients", team="BUP"),
        "grants.unknown_kind": dict(username="ola.nilsen", kind="everything"),
        "grants.team_needed": dict(username="ola.nilsen", kind="team_clients"),
        "grants.no_team": dict(username="kvalitet", kind="client_level", team="VOP"),
        "error.unknown_user": dict(username="mallory", kind="client_level"),
    }
    for key, args in cases.items():
        with pytest.raises(ValidationError) as err:
            store.grant_access(admin, until=SOON, reason="test", **args)
        assert err.value.key == key
    with pytest.raises(ValidationError) as err:
        store.grant_access(
            admin, "kvalitet", "client_level", until=TODAY - timedelta(days=1), reason="for sent"
        )
    assert err.value.key == "grants.until_past"
    with pytest.raises(ValidationError) as err:
        store.grant_access(admin, "kvalitet", "client_level", until=SOON, reason="  ")
    assert err.value.key == "grants.reason_needed"
    assert _all_rows(_url(store)) == before


def test_granting_revoking_and_listing_are_audited(store, service):
    admin = _admin(store)
    gid = store.grant_access(
        admin, "ola.nilsen", "team_clients", team="BUP", until=SOON, reason="vikar"
    )
    store.revoke_access(admin, gid)
    listed = store.grants(admin)
    assert list(listed.columns) == list(grants_module.GRANT_COLUMNS)
    log = store.audit_log(admin)
    log = log[log.entity == "access_grant"].sort_values("id")
    assert list(log.action) == ["grant", "revoke", "read"]
    assert set(log.username) == {"admin"}
    granted = json.loads(log.detail.iloc[0])
    assert granted == {
        "user": "ola.nilsen",
        "kind": "team_clients",
        "team": "BUP",
        "until": SOON.isoformat(),
    }


def test_the_maintenance_actor_may_grant(store, service):
    gid = store.grant_access(SYSTEM, "kvalitet", "client_level", until=SOON, reason="oppsett")
    assert gid in set(store.grants(SYSTEM).grant_id)


# --------------------------------------------------------------- the rules
def test_client_scope_rules_for_each_role(service):
    a = service["actors"]
    bup = Grant("team_clients", "BUP")
    assert client_scope(a["ola.nilsen"]).teams == frozenset()
    assert client_scope(a["ola.nilsen"], [bup]).teams == {"BUP"}
    assert client_scope(a["leder.vop"], [bup]).teams == {"VOP"}  # not for their role
    assert client_scope(a["kvalitet"]).pseudonymised
    assert not client_scope(a["kvalitet"], [Grant("client_level")]).pseudonymised
    assert client_scope(a["kvalitet"], [bup]).pseudonymised
    with pytest.raises(AccessDenied):
        client_scope(a["forsker"], [Grant("client_level")])
    assert client_id_of(client_pseudonym(42)) == 42 and client_id_of("P00042") is None
