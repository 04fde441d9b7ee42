"""«Drøftet» marks on the supervision list: stored, scoped, audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from kor.access import SYSTEM
from kor.errors import AccessDenied, ValidationError
from tests.conftest import TODAY


def _episode(store, actor, code):
    store.add_client(actor, code, team="VOP", birth_year=1990)
    return store.open_episode(actor, code, start=TODAY)


def test_a_team_lead_marks_a_case_and_its_clinician_reads_the_note(store, small_service):
    ingrid, lead = small_service["ingrid.berg"], small_service["leder.vop"]
    ep = _episode(store, ingrid, "K-1001")
    mark = store.mark_discussed(lead, ep, "  Ta opp målene  på nytt ")
    marks = store.supervision_marks(ingrid)
    assert marks[["mark_id", "episode", "marked_by", "note"]].values.tolist() == [
        [mark, ep, "leder.vop", "Ta opp målene på nytt"]
    ]
    assert store.supervision_marks(small_service["kvalitet"], [ep])["mark_id"].tolist() == [mark]
    # another clinician of the team does not see it; an empty note is allowed
    assert store.supervision_marks(small_service["ola.nilsen"]).empty
    second = store.mark_discussed(small_service["kvalitet"], ep)
    newest = store.supervision_marks(lead, [ep])
    assert newest["mark_id"].tolist()[0] == second and newest["note"].isna().tolist()[0]
    audit = store.audit_log(SYSTEM)
    rows = audit[audit["entity"] == "supervision_mark"]
    assert sorted(rows["entity_id"].tolist()) == sorted([mark, second])
    assert set(rows["username"]) == {"leder.vop", "kvalitet"}


def test_only_leads_in_scope_mark(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid, "K-1002")
    store.add_user(SYSTEM, "leder.bup", "team_lead", team="BUP")
    other_lead = store.actor_for("leder.bup")
    for actor in (ingrid, other_lead, small_service["forsker"]):
        with pytest.raises(AccessDenied):
            store.mark_discussed(actor, ep, "Drøftet")
    with pytest.raises(AccessDenied):
        store.supervision_marks(small_service["forsker"])
    store.mark_discussed(small_service["leder.vop"], ep, "Drøftet")
    assert store.supervision_marks(other_lead).empty  # BUP's lead reads no VOP marks
    assert store.supervision_marks(small_service["kari.lund"]).empty
    audit = store.audit_log(SYSTEM)
    assert (audit["entity"] == "supervision_mark").sum() == 1  # refusals wrote nothing


def test_the_note_is_short_and_holds_no_national_identity_number(store, small_service):
    lead = small_service["leder.vop"]
    ep = _episode(store, small_service["ingrid.berg"], "K-1003")
    with pytest.raises(ValidationError) as nid:
        store.mark_discussed(lead, ep, "Gjelder fnr 311299 56715, ring")
    assert nid.value.field == "note"
    with pytest.raises(ValidationError):
        store.mark_discussed(lead, ep, "x" * 501)
    with pytest.raises(ValidationError):
        store.mark_discussed(lead, 999_999, "Ukjent forløp")
    assert store.supervision_marks(lead).empty
