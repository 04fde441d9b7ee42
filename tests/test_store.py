"""The store against a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from kor.access import SYSTEM, Actor
from kor.errors import AccessDenied, ConflictError, ImportFileError, ValidationError
from kor.frames import SESSION_COLUMNS, session_table
from kor.store import Store, schema
from tests.conftest import ORS_OK, SRS_OK

START = date.today() - timedelta(days=60)
HEAD = sorted(
    p.name[:4] for p in (Path(__file__).parents[1] / "kor/store/migrations/versions").glob("0*.py")
)[-1]


def _row_counts(store: Store) -> dict[str, int]:
    return store.counts(SYSTEM) | {
        "audit": len(store.audit_log(SYSTEM, limit=100_000)),
    }


def _episode(store: Store, actor: Actor, code: str = "K00001", age_group: str = "adult") -> int:
    store.add_client(actor, code, team=actor.team or "VOP", age_group=age_group)
    return store.open_episode(actor, code, start=START)


def test_opening_migrates_to_head_and_reopening_changes_nothing(store_url):
    first = Store.open(store_url)
    assert first.revision() == HEAD
    first.close()
    again = Store.open(store_url)
    assert again.revision() == HEAD
    with again.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    again.close()
    assert {"team", "app_user", "client", "episode", "session", "measurement", "audit"} <= names


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    st = Store.open(f"sqlite:///{tmp_path / 'k.sqlite'}")
    with st.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    st.close()


def test_recorded_session_is_read_back_with_totals_and_audited(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    store.record_session(
        ingrid, ep, session_date=START, measurements={"ORS": ORS_OK, "SRS": SRS_OK}
    )
    table = store.session_table(ingrid)
    assert list(table.columns) == list(SESSION_COLUMNS)
    row = table.iloc[0]
    assert (row.client, row.session_no, row.outcome_measure) == ("K00001", 1, "ORS")
    assert row.outcome == pytest.approx(20.0)
    assert row.alliance == pytest.approx(36.5)
    assert row.alliance_min_item == pytest.approx(8.8)
    log = store.audit_log(SYSTEM)
    created = log[(log.username == "ingrid.berg") & (log.action == "create")]
    assert sorted(created.entity) == ["client", "episode", "measurement", "measurement", "session"]
    assert (log.action == "read").any()


def test_invalid_item_writes_nothing_not_even_the_session(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    before = _row_counts(store)
    bad = dict(SRS_OK, overall=10.5)
    with pytest.raises(ValidationError) as err:
        store.record_session(
            ingrid, ep, session_date=START, measurements={"ORS": ORS_OK, "SRS": bad}
        )
    assert err.value.field == "SRS.overall"
    assert err.value.key == "error.out_of_range"
    assert _row_counts(store) == before


def test_ors_given_twice_in_a_session_is_refused(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    sid = store.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
    with pytest.raises(ValidationError) as err:
        store.add_measurement(ingrid, sid, "ORS", ORS_OK)
    assert err.value.key == "error.measure_twice"
    store.add_measurement(ingrid, sid, "SRS", SRS_OK)  # the SRS at the end is fine
    assert store.session_table(ingrid).alliance.iloc[0] == pytest.approx(36.5)


def test_adult_form_for_a_child_names_the_right_form(store, small_service):
    kari = small_service["kari.lund"]
    ep = _episode(store, kari, code="B00001", age_group="age_6_12")
    with pytest.raises(ValidationError) as err:
        store.record_session(kari, ep, session_date=START, measurements={"ORS": ORS_OK})
    assert err.value.key == "error.measure_age_group"
    assert err.value.params["expected"] == "CORS"


def test_national_identity_number_is_refused_as_client_code_without_echo(store, small_service):
    ingrid = small_service["ingrid.berg"]
    with pytest.raises(ValidationError) as err:
        store.add_client(ingrid, "01017012345", team="VOP", age_group="adult")
    assert "01017012345" not in str(err.value)
    assert store.counts(SYSTEM)["client"] == 0


def test_clinician_reads_and_writes_only_own_clients(store, small_service):
    ingrid, ola = small_service["ingrid.berg"], small_service["ola.nilsen"]
    ep = _episode(store, ingrid)
    store.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
    assert store.session_table(ola).empty
    with pytest.raises(AccessDenied):
        store.record_session(ola, ep, session_date=START, measurements={"ORS": ORS_OK})


def test_team_lead_sees_team_and_researcher_sees_no_client_rows(store, small_service):
    ingrid, kari = small_service["ingrid.berg"], small_service["kari.lund"]
    _episode(store, ingrid)
    ep_b = _episode(store, kari, code="B00001", age_group="age_6_12")
    store.record_session(
        kari,
        ep_b,
        session_date=START,
        measurements={"CORS": {"me": 3, "family": 4, "school": 5, "everything": 4}},
    )
    lead = small_service["leder.vop"]
    assert set(store.dataset(lead).clients.code) == {"K00001"}
    # a quality lead without a grant sees every client, under pseudonyms only
    codes = set(store.dataset(small_service["kvalitet"]).clients.code)
    assert len(codes) == 2 and not codes & {"K00001", "B00001"}
    with pytest.raises(AccessDenied):
        store.session_table(small_service["forsker"])
    with pytest.raises(AccessDenied):
        store.audit_log(small_service["kvalitet"])


def test_correction_keeps_old_values_in_audit_and_detects_conflicts(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    store.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
    mid = store.dataset(ingrid).measurements.measurement_id.iloc[0]
    new_version = store.correct_measurement(ingrid, int(mid), dict(ORS_OK, overall=7.5), version=1)
    assert new_version == 2
    assert store.session_table(ingrid).outcome.iloc[0] == pytest.approx(23.0)
    log = store.audit_log(SYSTEM)
    detail = json.loads(log[log.action == "correct"].detail.iloc[0])
    assert detail["old"]["item4"] == 4.5 and detail["new"]["item4"] == 7.5
    with pytest.raises(ConflictError):  # a second person still holding version 1
        store.correct_measurement(ingrid, int(mid), dict(ORS_OK, overall=2.0), version=1)
    assert store.session_table(ingrid).outcome.iloc[0] == pytest.approx(23.0)


def test_future_dates_and_closed_episodes_are_refused(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    with pytest.raises(ValidationError) as err:
        store.record_session(ingrid, ep, session_date=date.today() + timedelta(days=1))
    assert err.value.key == "error.date_future"
    store.end_episode(ingrid, ep, end=START + timedelta(days=10), reason="completed")
    with pytest.raises(ValidationError) as err:
        store.record_session(ingrid, ep, session_date=START + timedelta(days=11))
    assert err.value.key == "error.episode_closed"


def _import_rows(**changes) -> pd.DataFrame:
    base = {
        "client_code": ["K00010", "K00010", "K00011"],
        "age_group": ["adult", "adult", "adult"],
        "birth_year": pd.array([1980, 1980, pd.NA], dtype="Int64"),
        "team": ["VOP", "VOP", "VOP"],
        "clinician": ["ingrid.berg", "ingrid.berg", "ola.nilsen"],
        "episode_start": pd.to_datetime([START, START, START]),
        "session_date": pd.to_datetime([START, START, START + timedelta(days=7)]),
        "session_no": [1, 1, 1],
        "format": ["individual"] * 3,
        "measure": ["ORS", "SRS", "ORS"],
        "item1": [4.0, 9.0, 2.0],
        "item2": [5.0, 9.0, 3.0],
        "item3": [6.0, 9.0, 4.0],
        "item4": [5.0, 9.5, 5.0],
        "total": [20.0, 36.5, 14.0],
        "source_row": [2, 3, 4],
    }
    base.update(changes)
    return pd.DataFrame(base)


def test_importing_the_same_rows_twice_adds_nothing(store, small_service):
    summary = store.import_sessions(SYSTEM_ADMIN(store), _import_rows(), source="f.csv")
    assert (summary.clients, summary.episodes, summary.sessions, summary.measurements) == (
        2,
        2,
        2,
        3,
    )
    before = store.counts(SYSTEM)
    again = store.import_sessions(SYSTEM_ADMIN(store), _import_rows(), source="f.csv")
    assert again.measurements == 0 and again.unchanged == 3
    assert store.counts(SYSTEM) == before
    table = store.session_table(SYSTEM_ADMIN(store))
    assert table.set_index("client").loc["K00011", "outcome"] == pytest.approx(14.0)


def test_import_with_a_conflicting_row_writes_nothing_and_names_the_row(store, small_service):
    admin = SYSTEM_ADMIN(store)
    store.import_sessions(admin, _import_rows(), source="f.csv")
    before = store.counts(SYSTEM)
    changed = _import_rows(item1=[4.0, 9.0, 3.0], total=[20.0, 36.5, 15.0])
    extra = _import_rows(client_code=["K00012"] * 3, team=["XXX", "VOP", "VOP"])
    rows = pd.concat([changed, extra.assign(source_row=[5, 6, 7])], ignore_index=True)
    with pytest.raises(ImportFileError) as err:
        store.import_sessions(admin, rows, source="f.csv")
    found = [(p.row, p.column, p.key) for p in err.value.problems]
    assert (4, "measure", "error.conflicts_stored") in found
    assert (5, "team", "error.unknown_team") in found
    assert store.counts(SYSTEM) == before


def test_ids_keep_counting_after_a_bulk_import(store, small_service):
    admin = SYSTEM_ADMIN(store)
    store.import_sessions(admin, _import_rows(), source="f.csv")
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid, code="K00099")
    sid = store.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
    assert sid > 2


def test_store_session_table_equals_the_pure_join(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    for k in range(3):
        store.record_session(
            ingrid,
            ep,
            session_date=START + timedelta(days=7 * k),
            measurements={"ORS": dict(ORS_OK, overall=4.5 + k)}
            | ({"SRS": SRS_OK} if k != 1 else {}),
        )
    ds = store.dataset(ingrid)
    pd.testing.assert_frame_equal(store.session_table(ingrid), session_table(ds))
    assert store.session_table(ingrid).alliance.isna().tolist() == [False, True, False]


def test_audit_rows_cannot_be_changed_through_the_library():
    public = [name for name in dir(Store) if not name.startswith("_")]
    assert not [n for n in public if "audit" in n and n != "audit_log"]
    assert schema.audit.name == "audit"


def SYSTEM_ADMIN(store: Store) -> Actor:  # noqa: N802
    """A stored admin user (imports record who entered the rows)."""
    try:
        return store.actor_for("admin")
    except AccessDenied:
        store.add_user(SYSTEM, "admin", "admin")
        return store.actor_for("admin")


def test_a_hub_user_gets_the_stored_role_never_the_environment_role(
    store, small_service, monkeypatch
):
    monkeypatch.setenv("JUPYTERHUB_USER", "ingrid.berg")
    monkeypatch.setenv("KOR_ROLE", "admin")
    actor = store.current_actor()
    assert (actor.username, actor.role, actor.team) == ("ingrid.berg", "clinician", "VOP")
    monkeypatch.setenv("JUPYTERHUB_USER", "stranger")
    with pytest.raises(AccessDenied):
        store.current_actor()


@pytest.mark.parametrize("read", ["small", "large"])
def test_the_lean_session_table_read_equals_the_pure_join_of_the_loaded_data(
    store, read, monkeypatch
):
    """``Store.session_table`` reads fewer measurement columns than ``dataset``; a whole
    generated service read back through it equals the join of what was loaded, by
    either bulk read path (``large``: SQLite's child process with Arrow columns)."""
    from kor.sample import generate
    from kor.store import bulk

    if read == "large":
        monkeypatch.setattr(bulk, "CHILD_FROM_SESSIONS", 1)

    data = generate(60, seed=5)
    store.load_dataset(SYSTEM, data)
    expected = session_table(data).sort_values(["episode", "session_no"]).reset_index(drop=True)
    got = store.session_table(SYSTEM)
    assert len(got) == len(expected) > 300
    assert got["alliance_min_item"].notna().sum() > 100
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    pd.testing.assert_frame_equal(got, session_table(store.dataset(SYSTEM)))


def test_a_client_with_an_open_episode_gets_no_second_one(store, small_service):
    ingrid = small_service["ingrid.berg"]
    _episode(store, ingrid)
    with pytest.raises(ValidationError) as err:
        store.open_episode(ingrid, "K00001", start=START)
    assert err.value.key == "error.episode_open"


def test_ending_an_episode_is_undone_the_same_day_and_audited(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    store.end_episode(ingrid, ep, end=START + timedelta(days=10), reason="dropout")
    store.reopen_episode(ingrid, ep)
    row = store.dataset(ingrid, client="K00001").episodes.iloc[0]
    assert pd.isna(row["end_date"]) and row["end_reason"] is None
    store.record_session(ingrid, ep, session_date=date.today(), measurements={"ORS": ORS_OK})
    log = store.audit_log(SYSTEM)
    reopen = log.loc[(log.action == "reopen") & (log.entity_id == ep)].iloc[0]
    assert reopen.username == "ingrid.berg" and json.loads(reopen.detail)["reason"] == "dropout"
    with pytest.raises(ValidationError) as err:
        store.reopen_episode(ingrid, ep)  # open: nothing to undo
    assert err.value.key == "error.episode_not_ended"


def test_an_ending_from_an_earlier_day_cannot_be_undone(store, small_service, monkeypatch):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    store.end_episode(ingrid, ep, end=START + timedelta(days=10), reason="completed")
    tomorrow = datetime.combine(date.today() + timedelta(days=1), time(8, 0))
    monkeypatch.setattr("kor.store._now", lambda: tomorrow)  # the audit row is append-only
    with pytest.raises(ValidationError) as err:
        store.reopen_episode(ingrid, ep)
    assert err.value.key == "error.reopen_too_late"
    ola = small_service["ola.nilsen"]
    with pytest.raises(AccessDenied):  # another clinician's episode
        store.reopen_episode(ola, ep)


def test_an_episode_is_not_reopened_beside_a_newer_open_one(store, small_service):
    ingrid = small_service["ingrid.berg"]
    ep = _episode(store, ingrid)
    store.end_episode(ingrid, ep, end=START + timedelta(days=10), reason="completed")
    store.open_episode(ingrid, "K00001", start=START + timedelta(days=20))
    with pytest.raises(ValidationError) as err:
        store.reopen_episode(ingrid, ep)
    assert err.value.key == "error.episode_open"
