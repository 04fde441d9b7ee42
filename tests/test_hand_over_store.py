"""Hand-over mode kept in the store: started, resumed, ended, expired (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kor.access import SYSTEM
from kor.errors import AccessDenied, ValidationError
from kor.store import schema_hand_over as sh
from tests.conftest import TODAY


def _episode(store, actor, code):
    store.add_client(actor, code, team="VOP", birth_year=1990)
    return store.open_episode(actor, code, start=TODAY)


def _audit(store):
    audit = store.audit_log(SYSTEM)
    return audit[audit["entity"] == "hand_over"]


def test_a_hand_over_is_open_until_its_clinician_ends_it(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid, "K-2001")
    assert store.open_hand_over(ingrid) is None
    hid = store.start_hand_over(ingrid, ep, "outcome")
    found = store.open_hand_over(ingrid)
    assert (found["id"], found["episode"], found["form"]) == (hid, ep, "outcome")
    # another clinician neither sees it nor ends it
    ola = small_service["ola.nilsen"]
    assert store.open_hand_over(ola) is None
    with pytest.raises(ValidationError):
        store.end_hand_over(ola, hid)
    store.end_hand_over(ingrid, hid)
    assert store.open_hand_over(ingrid) is None
    store.end_hand_over(ingrid, hid)  # twice: nothing more
    audit = _audit(store)
    assert audit["action"].tolist().count("start") == 1
    assert audit["action"].tolist().count("end") == 1
    assert set(audit["username"]) == {"ingrid.berg"}


def test_a_new_hand_over_replaces_the_open_one(store, small_service):
    ingrid = small_service["ingrid.berg"]
    first = store.start_hand_over(ingrid, _episode(store, ingrid, "K-2002"), "outcome")
    ep = _episode(store, ingrid, "K-2003")
    second = store.start_hand_over(ingrid, ep, "alliance")
    assert second != first
    assert store.open_hand_over(ingrid)["id"] == second
    with store.engine.connect() as conn:
        how = (
            conn.execute(sh.hand_over.select().where(sh.hand_over.c.id == first)).first().ended_how
        )
    assert how == "replaced"


@pytest.mark.parametrize("age", [timedelta(hours=13), timedelta(days=1, minutes=-1)])
def test_an_old_hand_over_is_closed_on_start_and_audited(store, small_service, age):
    ingrid = small_service["ingrid.berg"]
    hid = store.start_hand_over(ingrid, _episode(store, ingrid, "K-2004"), "outcome")
    started = datetime.now().replace(microsecond=0) - age
    h = sh.hand_over
    with store.engine.begin() as conn:
        conn.execute(h.update().where(h.c.id == hid).values(started_at=started))
    assert store.open_hand_over(ingrid) is None
    with store.engine.connect() as conn:
        assert conn.execute(h.select().where(h.c.id == hid)).first().ended_how == "expired"
    ends = _audit(store)
    assert ends.loc[ends["action"] == "end", "detail"].str.contains("expired").all()


def test_only_the_episodes_clinician_or_leads_in_scope_hand_over(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid, "K-2005")
    for actor in (small_service["ola.nilsen"], small_service["forsker"]):
        with pytest.raises(AccessDenied):
            store.start_hand_over(actor, ep, "outcome")
    with pytest.raises(ValidationError) as bad:
        store.start_hand_over(ingrid, ep, "phq9")
    assert bad.value.field == "form"
    with pytest.raises(ValidationError):
        store.start_hand_over(ingrid, 999_999, "outcome")
    assert _audit(store).empty  # refusals wrote nothing
