"""Store.own_results: who may see whose results, refusals audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from kor.access import SYSTEM, Actor
from kor.errors import AccessDenied
from kor.indicators import data_as_of
from kor.own_results import own_results
from kor.sample import generate

VOP = ["eirik.fjellheim", "hanne.brekkesto", "ingrid.berg", "marte.solvik", "sindre.aasen"]


@pytest.fixture
def service(store):
    store.load_dataset(SYSTEM, generate(150, seed=7))
    return store


def _refusals(store) -> list[tuple[str, str]]:
    audit = store.audit_log(SYSTEM)
    rows = audit[(audit["entity"] == "own_results") & (audit["action"] == "refuse")]
    return list(zip(rows["username"], rows["detail"].fillna(""), strict=True))


def test_a_clinician_gets_their_own_results_as_the_library_computes_them(service):
    ingrid = service.actor_for("ingrid.berg")
    stored = service.own_results(ingrid)
    sessions = service.session_table(SYSTEM)
    expected = own_results(
        sessions,
        "ingrid.berg",
        reference=service.severity_reference(SYSTEM),
        as_of=data_as_of(sessions["session_date"].max()),
    )
    assert stored.clinician == "ingrid.berg" and stored.years == expected.years
    assert stored.frame().equals(expected.frame())
    assert stored.total == expected.total
    assert stored.reference == service.severity_reference(SYSTEM)  # the whole service's line
    audit = service.audit_log(SYSTEM)
    reads = audit[(audit["entity"] == "own_results") & (audit["action"] == "read")]
    assert reads["username"].tolist() == ["ingrid.berg"]


def test_a_clinician_may_not_ask_for_a_colleague_and_the_refusal_is_audited(service):
    ingrid = service.actor_for("ingrid.berg")
    assert service.own_results_clinicians(ingrid) == ["ingrid.berg"]
    with pytest.raises(AccessDenied):
        service.own_results(ingrid, "sindre.aasen")
    # a forged role gets no more than the stored one
    with pytest.raises(AccessDenied):
        service.own_results(Actor("ingrid.berg", "admin"), "tone.myrvold")
    refused = _refusals(service)
    assert [who for who, _ in refused] == ["ingrid.berg", "ingrid.berg"]
    details = " ".join(detail for _, detail in refused)
    assert "sindre.aasen" in details and "tone.myrvold" in details


def test_a_team_lead_sees_their_teams_clinicians_one_at_a_time(service):
    lead = service.actor_for("guro.nesheim")
    assert service.own_results_clinicians(lead) == VOP  # alphabetical, never by result
    result = service.own_results(lead, "sindre.aasen")
    assert result.clinician == "sindre.aasen"
    with pytest.raises(AccessDenied):
        service.own_results(lead, "tone.myrvold")  # RUS
    with pytest.raises(AccessDenied):
        service.own_results(lead)  # a lead has no caseload of their own here
    assert [who for who, _ in _refusals(service)] == ["guro.nesheim", "guro.nesheim"]


def test_quality_lead_and_admin_may_ask_a_researcher_may_not(service):
    quality = service.actor_for("randi.saether")
    assert "tone.myrvold" in service.own_results_clinicians(quality)
    assert service.own_results(quality, "tone.myrvold").clinician == "tone.myrvold"
    assert service.own_results(service.actor_for("terje.moen"), "ingrid.berg").total.episodes > 0
    researcher = service.actor_for("hakon.vik")
    for call in (
        lambda: service.own_results_clinicians(researcher),
        lambda: service.own_results(researcher, "ingrid.berg"),
    ):
        with pytest.raises(AccessDenied):
            call()
    assert [who for who, _ in _refusals(service)] == ["hakon.vik", "hakon.vik"]


def test_no_group_under_five_reaches_the_caller(service):
    for name in VOP:
        result = service.own_results(SYSTEM, name)
        for figures in (result.total, *result.per_year):
            if figures.change_shown:
                assert figures.episodes >= 5 and figures.clients >= 5
            else:
                assert figures.difference is None and figures.pct_improved is None
            if figures.dropout_shown:
                assert figures.episodes_ended >= 5
            else:
                assert figures.dropout_rate is None
