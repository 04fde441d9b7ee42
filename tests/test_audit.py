"""The audit trail: every write and every client-level read says who, what and when;
admins list it; nothing in the library edits it; it holds no client codes."""

from __future__ import annotations

import ast
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kor import research
from kor.access import SYSTEM
from kor.errors import AccessDenied
from kor.sample import generate
from kor.store import Store, schema
from tests.conftest import ORS_OK, SRS_OK

ROOT = Path(__file__).resolve().parents[1]
START = date.today() - timedelta(days=40)


def _log(store: Store):
    return store.audit_log(SYSTEM, limit=100_000).sort_values("id").reset_index(drop=True)


def _new_rows(store: Store, before: int):
    log = _log(store)
    return log[log.id > before]


def _last_id(store: Store) -> int:
    log = _log(store)
    return int(log.id.max()) if len(log) else 0


def test_every_write_records_who_what_and_when(store, small_service):
    ingrid = small_service["ingrid.berg"]
    store.add_user(SYSTEM, "admin", "admin")
    admin = store.actor_for("admin")
    steps = [
        ("create", "team", lambda: store.add_team(admin, "RUS", "Rus")),
        ("create", "app_user", lambda: store.add_user(admin, "ny", "clinician", team="RUS")),
        (
            "create",
            "client",
            lambda: store.add_client(ingrid, "K00001", team="VOP", age_group="adult"),
        ),
        ("create", "episode", lambda: store.open_episode(ingrid, "K00001", start=START)),
    ]
    for action, entity, step in steps:
        before = _last_id(store)
        t0 = datetime.now().replace(microsecond=0)
        step()
        rows = _new_rows(store, before)
        assert len(rows) == 1, (action, entity)
        row = rows.iloc[0]
        assert (row.action, row.entity) == (action, entity)
        assert row.username in ("admin", "ingrid.berg") and row.role in ("admin", "clinician")
        assert t0 - timedelta(seconds=1) <= row["at"].to_pydatetime() <= datetime.now()
    ep = store.dataset(ingrid).episodes.episode_id.iloc[0]

    before = _last_id(store)
    sid = store.record_session(ingrid, int(ep), session_date=START, measurements={"ORS": ORS_OK})
    rows = _new_rows(store, before)
    assert list(zip(rows.action, rows.entity, strict=True)) == [
        ("create", "session"),
        ("create", "measurement"),
    ]
    assert set(rows.username) == {"ingrid.berg"}

    before = _last_id(store)
    mid = store.add_measurement(ingrid, sid, "SRS", SRS_OK)
    store.correct_measurement(ingrid, mid, dict(SRS_OK, overall=8.0), version=1)
    store.end_episode(ingrid, int(ep), end=START + timedelta(days=1), reason="completed")
    rows = _new_rows(store, before)
    assert list(zip(rows.action, rows.entity, strict=True)) == [
        ("create", "measurement"),
        ("correct", "measurement"),
        ("end", "episode"),
    ]
    old_new = json.loads(rows.detail.iloc[1])
    assert old_new["old"]["item4"] == 9.5 and old_new["new"]["item4"] == 8.0


def test_bulk_loads_and_imports_are_audited(store_url):
    st = Store.open(store_url)
    try:
        st.load_dataset(SYSTEM, generate(5, seed=2))
        log = _log(st)
        assert set(log.action) == {"bulk_load"} and set(log.username) == {"system"}
        assert json.loads(log[log.entity == "measurement"].detail.iloc[0])["rows"] > 0
    finally:
        st.close()


@pytest.mark.parametrize("read", ["dataset", "session_table", "export_rows"])
def test_every_client_level_read_is_audited_without_the_client_code(store, small_service, read):
    ingrid = small_service["ingrid.berg"]
    store.add_client(ingrid, "K00001", team="VOP", age_group="adult")
    ep = store.open_episode(ingrid, "K00001", start=START)
    store.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
    # client level for the quality lead needs a grant (without it the code matches nothing)
    store.grant_access(SYSTEM, "kvalitet", "client_level", until=date.today(), reason="test")
    for actor in (ingrid, small_service["leder.vop"], small_service["kvalitet"]):
        before = _last_id(store)
        getattr(store, read)(actor, client="K00001")
        rows = _new_rows(store, before)
        assert len(rows) == 1
        row = rows.iloc[0]
        assert (row.username, row.role, row.action, row.entity) == (
            actor.username,
            actor.role,
            "read",
            "dataset",
        )
        detail = json.loads(row.detail)
        assert detail["client_filter"] is True and detail["episodes"] == 1
        assert "K00001" not in row.detail


def test_a_research_extract_is_audited_as_the_reader_who_ran_it(store, small_service):
    ingrid = small_service["ingrid.berg"]
    store.add_client(ingrid, "K00001", team="VOP", age_group="adult")
    ep = store.open_episode(ingrid, "K00001", start=START)
    store.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
    store.grant_access(SYSTEM, "kvalitet", "client_level", until=date.today(), reason="test")
    before = _last_id(store)
    research.research_extract(store, small_service["kvalitet"], b"x" * 32)
    rows = _new_rows(store, before)
    assert list(rows.username) == ["kvalitet"] and list(rows.action) == ["read"]


def test_a_refused_read_is_not_a_read(store, small_service):
    before = _last_id(store)
    with pytest.raises(AccessDenied):
        store.session_table(small_service["forsker"])
    assert _last_id(store) == before


def test_only_admins_list_the_audit(store, small_service):
    for actor in small_service.values():
        with pytest.raises(AccessDenied):
            store.audit_log(actor)
    assert len(store.audit_log(SYSTEM)) > 0


def test_no_code_in_the_library_updates_or_deletes_audit_rows():
    """Static check over every module: the audit table is only ever inserted into."""
    offending: list[str] = []
    for package in ("kor", "surveys", "widgets"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("update", "delete")
                    and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "audit"
                ):
                    offending.append(f"{path.name}:{node.lineno}")
            lowered = text.lower()
            for sql in ("update audit", "delete from audit", "drop table audit", "truncate audit"):
                if sql in lowered:
                    offending.append(f"{path.name}: {sql}")
    assert offending == []
    public = [n for n in dir(Store) if not n.startswith("_")]
    assert [n for n in public if "audit" in n] == ["audit_log"]


def test_audit_log_returns_a_copy_so_editing_it_changes_nothing(store, small_service):
    log = store.audit_log(SYSTEM)
    log["username"] = "someone.else"
    assert "someone.else" not in set(store.audit_log(SYSTEM).username)


def test_the_database_itself_refuses_to_change_audit_rows(store, small_service):
    with pytest.raises(sa.exc.DBAPIError), store.engine.begin() as conn:
        conn.execute(schema.audit.update().values(username="x"))
