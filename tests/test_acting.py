"""Every public method of every store part acts as the *stored* user, and fails cleanly.

The methods are enumerated with :mod:`inspect`, so a method added later is covered
without anyone remembering to add a check: called with a forged or unknown actor it must
refuse. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import inspect
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from kor.access import SYSTEM, Actor
from kor.errors import AccessDenied, KorError, StoreError, ValidationError
from kor.store import Store
from kor.store import backup as kb
from kor.store.acting import acting_methods
from tests.conftest import ORS_OK

START = date.today() - timedelta(days=30)
#: public Store methods that take no acting user: opening, migrating, who-is-acting itself
WITHOUT_ACTOR = {"open", "dialect", "close", "upgrade", "revision", "current_actor",
                 "actor_for", "is_empty"}  # fmt: skip
FORGED = [Actor("nobody", "admin"), Actor("nobody", "clinician", "VOP"), Actor("x\x00", "admin")]


def test_every_public_store_method_takes_the_actor_or_is_known_not_to():
    public = {
        name
        for name, member in inspect.getmembers(Store)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }
    acting = set(acting_methods(Store))
    assert acting and public - acting == WITHOUT_ACTOR
    assert all(getattr(getattr(Store, n), "verifies_actor", False) for n in acting)


def _store_part_functions() -> list[str]:
    """Module-level functions of the store package that take an actor (backup, restore)."""
    return [
        name
        for name, f in inspect.getmembers(kb, inspect.isfunction)
        if not name.startswith("_")
        and f.__module__ == kb.__name__
        and "actor" in inspect.signature(f).parameters
    ]


def test_the_store_parts_outside_the_class_are_known():
    assert _store_part_functions() == ["backup", "restore"]


@pytest.mark.parametrize("method", acting_methods(Store))
def test_every_public_method_refuses_a_forged_or_unknown_actor(store, small_service, method):
    for forged in FORGED:
        with pytest.raises(AccessDenied):
            getattr(store, method)(forged)


def test_a_deactivated_user_is_refused_everywhere(store, small_service):
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE app_user SET active = false WHERE username = 'ingrid.berg'"))
    ingrid = Actor("ingrid.berg", "clinician", "VOP")
    for method in acting_methods(Store):
        with pytest.raises(AccessDenied):
            getattr(store, method)(ingrid)


def test_backup_and_restore_refuse_forged_actors(store, small_service, tmp_path):
    archive = tmp_path / "kor.korbackup"
    for forged in [*FORGED, Actor("ingrid.berg", "admin")]:  # a clinician posing as admin
        with pytest.raises(AccessDenied):
            kb.backup(store, forged, archive)
    assert not archive.exists()
    store.add_user(SYSTEM, "terje.moen", "admin")
    kb.backup(store, Actor("terje.moen", "admin"), archive)
    log = store.audit_log(SYSTEM)
    assert (log.action.iloc[0], log.username.iloc[0]) == ("backup", "terje.moen")
    target = tmp_path / "restored" / "kor.sqlite"
    for forged in [Actor("nobody", "admin"), Actor("ingrid.berg", "admin")]:
        with pytest.raises(AccessDenied):  # the archive's own app_user is the stored user
            kb.restore(f"sqlite:///{target}", forged, archive)
    assert not target.exists()
    summary = kb.restore(f"sqlite:///{target}", Actor("terje.moen", "admin"), archive)
    assert summary.rows["app_user"] == 7


def test_a_clinician_posing_as_admin_gets_no_more_than_a_clinician(store, small_service):
    posing = Actor("ingrid.berg", "admin")
    attempts = [
        lambda: store.add_team(posing, "NY", "Nytt team"),
        lambda: store.add_user(posing, "ny", "admin"),
        lambda: store.grant_access(
            posing, "ingrid.berg", "team_clients", team="BUP", until=START, reason="x"
        ),
        lambda: store.grants(posing),
        lambda: store.audit_log(posing),
        lambda: store.add_client(posing, "B77777", team="BUP", age_group="adult"),
        lambda: store.create_project(posing, "Prosjekt", ["BUP"]),
    ]
    for attempt in attempts:
        with pytest.raises(AccessDenied):
            attempt()


def test_a_team_lead_with_a_forged_team_cannot_rewrite_another_teams_project(store, small_service):
    bup = store.create_project(SYSTEM, "BUP-prosjekt", ["BUP"])
    posing = Actor("leder.vop", "team_lead", "BUP")
    version = store.project(SYSTEM, bup).version
    for attempt in (
        lambda: store.update_project(posing, bup, version=version, title="Overtatt"),
        lambda: store.add_note(posing, bup, "forberedelse", "x"),
        lambda: store.project(posing, bup),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    assert store.project(SYSTEM, bup).title == "BUP-prosjekt"


def test_a_clinician_posing_as_admin_reads_no_unapproved_comment(store, small_service):
    from surveys.sample import load_sample

    ids = load_sample(store, SYSTEM, code_comments=False)
    assert len(store.survey_comments(SYSTEM, ids.values())) > 0
    assert store.survey_comments(Actor("ingrid.berg", "admin"), ids.values()).empty


def test_the_audit_names_the_stored_identity_not_the_forged_role(store, small_service):
    store.add_client(Actor("ingrid.berg", "admin"), "K55555", team="VOP", age_group="adult")
    row = store.audit_log(SYSTEM).iloc[0]
    assert (row.username, row.role, row.action) == ("ingrid.berg", "clinician", "create")


# ---------------------------------------------------------- the caseload
def test_a_clinician_registers_clients_in_their_own_team_only(store, small_service):
    ingrid = small_service["ingrid.berg"]
    with pytest.raises(AccessDenied):
        store.add_client(ingrid, "B20001", team="BUP", age_group="adult")
    assert store.add_client(ingrid, "K20001", team="VOP", age_group="adult") > 0


def test_a_code_stored_in_another_team_is_refused_without_saying_where(store, small_service):
    store.add_client(small_service["kari.lund"], "B30001", team="BUP", age_group="adult")
    store.add_client(small_service["ola.nilsen"], "K30001", team="VOP", age_group="adult")
    ingrid = small_service["ingrid.berg"]
    with pytest.raises(ValidationError) as elsewhere:
        store.add_client(ingrid, "B30001", team="VOP", age_group="adult")
    with pytest.raises(ValidationError) as here:
        store.add_client(ingrid, "K30001", team="VOP", age_group="adult")
    assert (elsewhere.value.key, here.value.key) == (
        "error.client_code_taken",
        "error.client_exists",
    )
    assert "team" not in elsewhere.value.message("nb").lower()


def test_a_clinician_opens_episodes_only_on_clients_in_scope(store, small_service):
    kari, ingrid = small_service["kari.lund"], small_service["ingrid.berg"]
    store.add_client(kari, "B40001", team="BUP", age_group="adult", birth_year=1990)
    store.add_client(small_service["ola.nilsen"], "K40001", team="VOP", age_group="adult")
    before = store.counts(SYSTEM)["episode"]
    errors = []
    for code in ("B40001", "B49999"):  # another team's client, and no client at all
        with pytest.raises(ValidationError) as err:
            store.open_episode(ingrid, code, start=START)
        errors.append((err.value.key, err.value.field, err.value.message("nb")))
    assert errors[0] == errors[1]  # the two are indistinguishable
    assert store.counts(SYSTEM)["episode"] == before
    assert store.dataset(ingrid, client="B40001").clients.empty  # no birth year revealed
    episode = store.open_episode(ingrid, "K40001", start=START)  # own team: allowed
    store.record_session(ingrid, episode, session_date=START, measurements={"ORS": ORS_OK})


def test_a_clinician_reopens_a_client_they_treated_in_another_team(store, small_service):
    ingrid = small_service["ingrid.berg"]
    store.add_client(SYSTEM, "B50001", team="BUP", age_group="adult")
    first = store.open_episode(SYSTEM, "B50001", start=START, clinician="ingrid.berg")
    store.end_episode(ingrid, first, end=START + timedelta(days=1), reason="completed")
    assert store.open_episode(ingrid, "B50001", start=START + timedelta(days=2)) > first


# ---------------------------------------------------------- clean errors
def _no_sql(error: KorError) -> None:
    text = f"{error} {getattr(error, 'params', '')}"
    for word in ("SELECT", "INSERT", "UPDATE", "WHERE", "[parameters", "sqlalche.me"):
        assert word not in text
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_third_evaluation_on_the_same_day_gets_a_message_naming_the_date(store, small_service):
    project = store.create_project(SYSTEM, "Ventetid", ["VOP"])
    store.schedule_evaluations(SYSTEM, project, per_year=2, first_due=date.today())
    store.record_evaluation(SYSTEM, project, verdict="improved", summary="Bra")
    store.record_evaluation(SYSTEM, project, verdict="improved", summary="Fortsatt bra")
    with pytest.raises(ValidationError) as err:
        store.record_evaluation(SYSTEM, project, verdict="improved", summary="Tredje")
    assert (err.value.key, err.value.field) == ("cycle.evaluation.same_day", "on")
    assert "«Dato»" in err.value.message("nb")
    _no_sql(err.value)


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"start": "x"}, "start"),
        ({"end": "31.02.2026"}, "end"),
        ({"team": "VOP\x00"}, "team"),
        ({"client": "K\x00"}, "client"),
        ({"clinician": 5}, "clinician"),
        ({"episode": "1; DROP TABLE client"}, "episode"),
    ],
)
def test_a_mistyped_filter_is_refused_naming_the_field(store, small_service, filters, field):
    for read in (store.session_table, store.dataset):
        with pytest.raises(ValidationError) as err:
            read(SYSTEM, **filters)
        assert err.value.field == field
        _no_sql(err.value)


def test_a_nul_byte_in_any_text_is_refused_naming_the_argument(store, small_service):
    lead = small_service["leder.vop"]
    project = store.create_project(lead, "Ventetid", ["VOP"])
    with pytest.raises(ValidationError) as err:
        store.add_note(lead, project, "forberedelse", "før\x00etter")
    assert (err.value.key, err.value.field) == ("error.nul_byte", "text")
    with pytest.raises(ValidationError):
        store.add_theme(lead, "x\x00", "Tema")


def test_a_database_refusal_reaches_the_caller_without_sql_or_values(store, small_service):
    # two episodes starting the same day for the same client break a unique rule the
    # store does not pre-check: the refusal must carry neither the SQL nor the code
    lead = small_service["leder.vop"]
    store.add_client(lead, "K60001", team="VOP", age_group="adult")
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE UNIQUE INDEX t_once ON episode (client_id, start_date)"))
    first = store.open_episode(lead, "K60001", start=START, clinician="ingrid.berg")
    store.end_episode(lead, first, end=START, reason="other")  # one open episode at a time
    with pytest.raises(StoreError) as err:
        store.open_episode(lead, "K60001", start=START, clinician="ingrid.berg")
    assert err.value.key == "error.store.constraint"
    assert "K60001" not in str(err.value)
    _no_sql(err.value)
