"""Each role tries to read and write what it must not, through the library and the apps.

The service: ingrid.berg and ola.nilsen (clinicians, VOP), kari.lund (clinician, BUP),
leder.vop (team lead VOP), kvalitet (quality lead), forsker (researcher). Every refused
attempt must also leave the database exactly as it was.
"""

from __future__ import annotations

from datetime import date, timedelta

import ipywidgets as w
import pandas as pd
import pytest

from kor import research
from kor.access import ROLES, SYSTEM, Actor
from kor.errors import AccessDenied, ImportFileError, ValidationError
from kor.sample import generate
from kor.store import Store, backup
from tests.conftest import ORS_OK, SRS_OK
from tests.test_backup import _all_rows

START = date.today() - timedelta(days=40)
KEY = b"k" * 32
CODES = {"ingrid.berg": "K00001", "ola.nilsen": "K00002", "kari.lund": "B00001"}


@pytest.fixture
def service(store: Store, small_service: dict[str, Actor]) -> dict[str, object]:
    """One client with a session (ORS + SRS) per clinician; returns actors and ids."""
    ids: dict[str, object] = {}
    for name, code in CODES.items():
        actor = small_service[name]
        store.add_client(actor, code, team=actor.team, age_group="adult")
        ep = store.open_episode(actor, code, start=START)
        sid = store.record_session(
            actor, ep, session_date=START, measurements={"ORS": ORS_OK, "SRS": SRS_OK}
        )
        mid = int(store.dataset(actor, episode=ep).measurements.measurement_id.iloc[0])
        ids[name] = {"episode": ep, "session": sid, "measurement": mid}
    store.add_user(SYSTEM, "admin", "admin")
    return {"actors": small_service, "ids": ids}


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _without_audit(store: Store) -> dict[str, list[tuple]]:
    return {k: v for k, v in _all_rows(_url(store)).items() if k != "audit"}


def _import_frame(team: str, clinician: str, code: str = "K00077") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_code": [code],
            "age_group": ["adult"],
            "birth_year": pd.array([pd.NA], dtype="Int64"),
            "team": [team],
            "clinician": [clinician],
            "episode_start": pd.to_datetime([START]),
            "session_date": pd.to_datetime([START]),
            "session_no": [1],
            "format": ["individual"],
            "measure": ["ORS"],
            "item1": [4.0],
            "item2": [5.0],
            "item3": [6.0],
            "item4": [5.0],
            "total": [20.0],
            "source_row": [2],
        }
    )


# ------------------------------------------------------------------ clinician
def test_clinician_reads_no_other_clients_whatever_the_filter(store, service):
    ola = service["actors"]["ola.nilsen"]
    ingrid_ep = service["ids"]["ingrid.berg"]["episode"]
    assert set(store.session_table(ola).client) == {"K00002"}
    for filters in (
        {"client": "K00001"},
        {"clinician": "ingrid.berg"},
        {"episode": ingrid_ep},
        {"team": "BUP"},
        {"client": "B00001", "team": "BUP"},
    ):
        assert store.session_table(ola, **filters).empty, filters
        ds = store.dataset(ola, **filters)
        assert ds.clients.empty and ds.measurements.empty, filters
        assert store.export_rows(ola, **filters).empty, filters
    assert set(store.export_rows(ola).client_code) == {"K00002"}


def test_clinician_cannot_write_to_another_clinicians_client(store, service):
    ola = service["actors"]["ola.nilsen"]
    theirs = service["ids"]["ingrid.berg"]
    before = _all_rows(_url(store))
    attempts = [
        lambda: store.record_session(
            ola, theirs["episode"], session_date=START, measurements={"ORS": ORS_OK}
        ),
        lambda: store.add_measurement(ola, theirs["session"], "SRS", SRS_OK),
        lambda: store.correct_measurement(
            ola, theirs["measurement"], dict(ORS_OK, overall=1.0), version=1
        ),
        lambda: store.end_episode(ola, theirs["episode"], end=START, reason="dropout"),
        lambda: store.open_episode(ola, "K00001", start=START, clinician="ingrid.berg"),
    ]
    for attempt in attempts:
        with pytest.raises(AccessDenied):
            attempt()
    assert _all_rows(_url(store)) == before


def test_clinician_cannot_use_admin_or_lead_functions(store, service, tmp_path):
    ingrid = service["actors"]["ingrid.berg"]
    before = _all_rows(_url(store))
    attempts = [
        lambda: store.audit_log(ingrid),
        lambda: store.add_user(ingrid, "x.y", "admin"),
        lambda: store.add_team(ingrid, "NEW", "Nytt team"),
        lambda: store.load_dataset(ingrid, generate(3, seed=1)),
        lambda: store.import_sessions(ingrid, _import_frame("VOP", "ingrid.berg"), source="f"),
        lambda: backup.backup(store, ingrid, tmp_path / "b.korbackup"),
        lambda: research.research_extract(store, ingrid, KEY),
    ]
    for attempt in attempts:
        with pytest.raises(AccessDenied):
            attempt()
    assert _all_rows(_url(store)) == before
    assert not (tmp_path / "b.korbackup").exists()


# ------------------------------------------------------------------ team lead
def test_team_lead_reads_own_team_only(store, service):
    lead = service["actors"]["leder.vop"]
    assert set(store.session_table(lead).client) == {"K00001", "K00002"}
    for filters in ({"team": "BUP"}, {"client": "B00001"}, {"clinician": "kari.lund"}):
        assert store.session_table(lead, **filters).empty, filters
        assert store.export_rows(lead, **filters).empty, filters


def test_team_lead_cannot_write_to_another_team(store, service):
    lead = service["actors"]["leder.vop"]
    bup = service["ids"]["kari.lund"]
    before = _all_rows(_url(store))
    for attempt in (
        lambda: store.add_client(lead, "B00002", team="BUP", age_group="adult"),
        lambda: store.record_session(
            lead, bup["episode"], session_date=START, measurements={"ORS": ORS_OK}
        ),
        lambda: store.correct_measurement(
            lead, bup["measurement"], dict(ORS_OK, overall=1.0), version=1
        ),
        lambda: store.audit_log(lead),
        lambda: store.add_user(lead, "ny.behandler", "clinician", team="VOP"),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    # another team's client is «not found», as a code that does not exist (nothing shows)
    for code in ("B00001", "B99999"):
        with pytest.raises(ValidationError) as missing:
            store.open_episode(lead, code, start=START, clinician="kari.lund")
        assert missing.value.key == "error.not_found"
    with pytest.raises(ImportFileError) as err:
        store.import_sessions(lead, _import_frame("BUP", "kari.lund"), source="f.csv")
    assert [p.key for p in err.value.problems] == ["error.access_denied"]
    assert _all_rows(_url(store)) == before


# --------------------------------------------------------------- quality lead
def test_quality_lead_reads_aggregates_but_writes_nothing(store, service):
    q = service["actors"]["kvalitet"]
    assert store.counts(q)["client"] == 3
    ingrid = service["ids"]["ingrid.berg"]
    before = _all_rows(_url(store))
    for attempt in (
        lambda: store.add_client(q, "K00009", team="VOP", age_group="adult"),
        lambda: store.record_session(
            q, ingrid["episode"], session_date=START, measurements={"ORS": ORS_OK}
        ),
        lambda: store.correct_measurement(
            q, ingrid["measurement"], dict(ORS_OK, overall=1.0), version=1
        ),
        lambda: store.audit_log(q),
        lambda: store.import_sessions(q, _import_frame("VOP", "ingrid.berg"), source="f"),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    assert _all_rows(_url(store)) == before


def test_quality_lead_reads_no_client_rows_without_a_grant(store, service):
    """Without a ``client_level`` grant the quality lead gets the session table for
    aggregates only: every row, every score, but each client code is a pseudonym (and no
    birth year), by the library and by a filter naming a real code."""
    q = service["actors"]["kvalitet"]
    table = store.session_table(q)
    assert len(table) == 3
    assert not set(table.client) & set(CODES.values())
    assert store.export_rows(q).birth_year.isna().all()
    for filters in ({}, {"client": "K00001"}, {"team": "VOP"}):
        shown = (
            store.export_rows(q, **filters).to_csv() + store.dataset(q, **filters).clients.to_csv()
        )
        assert not [c for c in CODES.values() if c in shown], filters
    assert store.session_table(q, client="K00001").empty


# ----------------------------------------------------------------- researcher
def test_researcher_reads_no_client_rows_by_any_route(store, service, tmp_path):
    forsker = service["actors"]["forsker"]
    before = _all_rows(_url(store))
    for attempt in (
        lambda: store.session_table(forsker),
        lambda: store.session_table(forsker, team="VOP"),
        lambda: store.dataset(forsker, client="K00001"),
        lambda: store.dataset(forsker, episode=-1),
        lambda: store.export_rows(forsker),
        lambda: store.audit_log(forsker),
        lambda: research.research_extract(store, forsker, KEY),
        lambda: store.add_client(forsker, "K00008", team="VOP", age_group="adult"),
        lambda: backup.backup(store, forsker, tmp_path / "b.korbackup"),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    assert _all_rows(_url(store)) == before


def test_researcher_gets_the_pseudonymised_extract_a_quality_lead_runs(store, service):
    kvalitet = service["actors"]["kvalitet"]
    with pytest.raises(AccessDenied):  # the extract needs client-level access
        research.research_extract(store, kvalitet, KEY)
    store.grant_access(SYSTEM, "kvalitet", "client_level", until=date.today(), reason="uttrekk")
    extract = research.research_extract(store, kvalitet, KEY)
    text = extract.to_csv()
    assert len(extract) == 3
    assert not [c for c in CODES.values() if c in text]
    assert not [u for u in CODES if u in text]


# ---------------------------------------------------------------------- admin
def test_admin_reads_everything_and_the_audit(store, service):
    admin = store.actor_for("admin")
    assert set(store.session_table(admin).client) == set(CODES.values())
    log = store.audit_log(admin)
    assert {"create", "read"} <= set(log.action)


# ------------------------------------------------------------ who is acting
def test_a_roles_value_outside_the_five_is_refused():
    with pytest.raises(AccessDenied):
        Actor("ingrid.berg", "superuser")
    with pytest.raises(AccessDenied):
        Actor("", "admin")
    assert ROLES == ("clinician", "team_lead", "quality_lead", "researcher", "admin")


def test_the_local_user_that_is_not_admin_must_be_stored(store, service, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("KOR_USER", "mallory")
    monkeypatch.setenv("KOR_ROLE", "team_lead")
    with pytest.raises(AccessDenied):
        store.current_actor()
    monkeypatch.setenv("KOR_USER", "ola.nilsen")
    monkeypatch.setenv("KOR_ROLE", "clinician")
    assert store.current_actor() == service["actors"]["ola.nilsen"]


def test_a_hub_user_cannot_raise_their_role_through_the_environment(store, service, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ola.nilsen")
    for role in ("admin", "quality_lead", "team_lead"):
        monkeypatch.setenv("KOR_ROLE", role)
        monkeypatch.setenv("KOR_TEAM", "BUP")
        actor = store.current_actor()
        assert (actor.role, actor.team) == ("clinician", "VOP")
        assert set(store.session_table(actor).client) == {"K00002"}


FORGED = [
    pytest.param(Actor("ola.nilsen", "admin"), id="clinician-claims-admin"),
    pytest.param(Actor("ola.nilsen", "team_lead", team="BUP"), id="clinician-claims-lead"),
    pytest.param(Actor("leder.vop", "team_lead", team="BUP"), id="lead-claims-other-team"),
    pytest.param(Actor("forsker", "quality_lead"), id="researcher-claims-quality"),
    pytest.param(Actor("mallory", "admin"), id="unknown-user-claims-admin"),
]


@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_actor_gets_no_more_than_the_stored_role(store, service, forged):
    table = None
    try:
        table = store.session_table(forged)
    except AccessDenied:
        return
    stored = {"ola.nilsen": {"K00002"}, "leder.vop": {"K00001", "K00002"}}
    assert set(table.client) <= stored.get(forged.username, set())


# ----------------------------------------------------------------- the apps
def _texts(widget: w.Widget) -> str:
    """Every text a widget tree shows: values, descriptions, options, placeholders."""
    out: list[str] = []
    stack = [widget]
    while stack:
        node = stack.pop()
        for trait in ("value", "description", "placeholder", "tooltip", "_titles", "titles"):
            value = getattr(node, trait, None)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, (tuple, list, dict)):
                out.append(repr(value))
        options = getattr(node, "options", None)
        if options is not None:
            out.append(repr(list(options)))
        stack.extend(getattr(node, "children", ()) or ())
    return "\n".join(out)


def _apps():
    from widgets.apps import overview_app

    apps = [pytest.param(overview_app, id="overview")]
    try:
        from widgets.clinician import clinician_app
    except ImportError:  # pragma: no cover - the clinician app is being built
        return apps
    return [*apps, pytest.param(clinician_app, id="clinician")]


def _quality_apps():
    """The apps a quality lead works in: the overview and the quality dashboard."""
    from widgets.apps import overview_app

    apps = [pytest.param(overview_app, id="overview")]
    try:
        from widgets.dashboard import dashboard_app
    except ImportError:  # pragma: no cover - the dashboard is being built
        return apps
    return [*apps, pytest.param(dashboard_app, id="dashboard")]


@pytest.mark.parametrize("factory", _apps())
def test_apps_show_a_researcher_no_client_code(store, service, factory):
    shown = _texts(factory(store, service["actors"]["forsker"]))
    assert not [c for c in CODES.values() if c in shown]


@pytest.mark.parametrize("factory", _apps())
def test_apps_show_a_clinician_none_of_the_other_clinicians_clients(store, service, factory):
    before = _without_audit(store)
    shown = _texts(factory(store, service["actors"]["ola.nilsen"]))
    assert "K00001" not in shown and "B00001" not in shown
    if factory.__name__ == "clinician_app":
        assert "K00002" in shown  # the check looks where the app does show codes
    assert _without_audit(store) == before


@pytest.mark.parametrize("factory", _apps())
def test_apps_show_a_team_lead_no_client_of_another_team(store, service, factory):
    shown = _texts(factory(store, service["actors"]["leder.vop"]))
    assert "B00001" not in shown


@pytest.mark.parametrize("factory", _quality_apps())
def test_apps_show_a_quality_lead_without_a_grant_no_client_code(store, service, factory):
    shown = _texts(factory(store, service["actors"]["kvalitet"]))
    assert not [c for c in CODES.values() if c in shown]
