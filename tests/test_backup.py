"""Backup and restore: every row of every table comes back, on SQLite and PostgreSQL.

The comparison reads both databases independently of :mod:`kor.store.backup` (reflected
tables, rows by primary key), so a bug in the archive's own checksums cannot hide a loss.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kor.access import SYSTEM, Actor
from kor.cli import main
from kor.errors import AccessDenied, StoreError
from kor.sample import generate
from kor.store import Store
from kor.store import backup as kb
from tests.conftest import ORS_OK, PG_URL, SRS_OK, _pg_admin_engine

ADMIN = Actor("terje.moen", "admin")


def _all_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (Alembic's included), values made comparable across dialects."""
    engine = sa.create_engine(url)
    out: dict[str, list[tuple]] = {}
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            for table in meta.sorted_tables:
                keys = list(table.primary_key.columns) or list(table.columns)
                rows = conn.execute(sa.select(table).order_by(*keys)).all()
                out[table.name] = [
                    tuple(v.isoformat() if isinstance(v, (date, datetime)) else v for v in row)
                    for row in rows
                ]
    finally:
        engine.dispose()
    return out


def _assert_nothing_written(url: str) -> None:
    """The target holds no row (a refused restore of SQLite need not even create the file)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return
    rows = _all_rows(url)
    assert all(not v for k, v in rows.items() if k != "alembic_version")


def _fill(store: Store) -> None:
    """Sample data plus the kinds of rows the apps write: sessions, a correction, an end."""
    store.load_dataset(SYSTEM, generate(30, seed=7))
    clinician = store.actor_for("ingrid.berg")
    store.add_client(clinician, "BK0001", team="VOP", age_group="adult")
    start = date.today() - timedelta(days=30)
    ep = store.open_episode(clinician, "BK0001", start=start)
    store.record_session(
        clinician, ep, session_date=start, measurements={"ORS": ORS_OK, "SRS": SRS_OK}
    )
    mid = int(store.dataset(clinician, client="BK0001").measurements.measurement_id.iloc[0])
    store.correct_measurement(clinician, mid, dict(ORS_OK, overall=7.5), version=1)
    store.end_episode(clinician, ep, end=start + timedelta(days=1), reason="completed")
    store.session_table(store.actor_for("randi.saether"))  # a read: one more audit row


@pytest.fixture
def target_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database of the kind named by the test's ``target`` parameter."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'kor.sqlite'}"
        return
    if not PG_URL:
        pytest.skip("KOR_TEST_POSTGRES_URL not set: PostgreSQL tests not run")
    name = f"kor_restore_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


TARGETS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("target_url", TARGETS, indirect=True)
def test_round_trip_restores_every_row_of_every_table(store, target_url, tmp_path):
    _fill(store)
    archive = tmp_path / "kor.korbackup"
    summary = kb.backup(store, ADMIN, archive)
    source_url = store.engine.url.render_as_string(hide_password=False)
    before = _all_rows(source_url)
    assert summary.rows["measurement"] == len(before["measurement"]) > 400
    assert summary.rows["audit"] == len(before["audit"])

    restored = kb.restore(target_url, ADMIN, archive)
    after = _all_rows(target_url)

    assert restored.total == summary.total
    assert set(after) == set(before)
    for name in before:
        if name == "audit":
            continue
        assert after[name] == before[name], name
    # the audit trail comes back row for row, plus exactly one row recording the restore
    assert after["audit"][: len(before["audit"])] == before["audit"]
    extra = after["audit"][len(before["audit"]) :]
    assert [(r[2], r[4], r[5]) for r in extra] == [("terje.moen", "restore", "database")]


@pytest.mark.parametrize("target_url", TARGETS, indirect=True)
def test_restored_database_keeps_counting_ids_and_serves_reads(store, target_url, tmp_path):
    _fill(store)
    archive = tmp_path / "kor.korbackup"
    kb.backup(store, ADMIN, archive)
    kb.restore(target_url, ADMIN, archive)
    again = Store.open(target_url)
    try:
        lead = again.actor_for("guro.nesheim")
        old = again.session_table(lead)
        clinician = again.actor_for("ingrid.berg")
        again.add_client(clinician, "BK0002", team="VOP", age_group="adult")  # new ids work
        assert len(again.session_table(lead)) == len(old)
        assert again.counts(SYSTEM)["client"] == 32
    finally:
        again.close()


@pytest.mark.parametrize("target_url", TARGETS, indirect=True)
def test_restore_refuses_a_database_that_holds_rows(store, target_url, tmp_path):
    store.load_dataset(SYSTEM, generate(5, seed=3))
    archive = tmp_path / "kor.korbackup"
    kb.backup(store, ADMIN, archive)
    kb.restore(target_url, ADMIN, archive)
    before = _all_rows(target_url)
    with pytest.raises(StoreError) as err:
        kb.restore(target_url, ADMIN, archive)
    assert err.value.key == "backup.target_not_empty"
    assert _all_rows(target_url) == before


@pytest.mark.parametrize("target_url", ["sqlite"], indirect=True)
def test_a_damaged_archive_is_refused_and_nothing_is_written(store, target_url, tmp_path):
    store.load_dataset(SYSTEM, generate(5, seed=3))
    archive = tmp_path / "kor.korbackup"
    kb.backup(store, ADMIN, archive)
    damaged = tmp_path / "damaged.korbackup"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/measurement.jsonl":
                data = data.replace(b"9.5", b"9.4", 1)  # one score changed
            dst.writestr(item, data)
    with pytest.raises(StoreError) as err:
        kb.restore(target_url, ADMIN, damaged)
    assert (err.value.key, err.value.params) == ("backup.damaged", {"table": "measurement"})
    _assert_nothing_written(target_url)


def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    bogus = tmp_path / "x.korbackup"
    bogus.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(StoreError) as err:
        kb.restore(f"sqlite:///{tmp_path / 'k.sqlite'}", ADMIN, bogus)
    assert err.value.key == "backup.not_an_archive"


def test_only_an_admin_backs_up_or_restores(store, small_service, tmp_path):
    for actor in small_service.values():
        with pytest.raises(AccessDenied):
            kb.backup(store, actor, tmp_path / "x.korbackup")
        with pytest.raises(AccessDenied):
            kb.restore(f"sqlite:///{tmp_path / 'r.sqlite'}", actor, tmp_path / "x.korbackup")
    assert not (tmp_path / "x.korbackup").exists()


def test_the_archive_is_readable_by_its_owner_only_and_records_the_backup(store, tmp_path):
    store.load_dataset(SYSTEM, generate(5, seed=3))
    archive = tmp_path / "kor.korbackup"
    kb.backup(store, ADMIN, archive)
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    manifest = kb.read_manifest(archive)
    assert manifest["format"] == kb.FORMAT and manifest["revision"] == store.revision()
    log = store.audit_log(SYSTEM)
    assert log.action.iloc[0] == "backup" and log.username.iloc[0] == "terje.moen"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_sqlite_backup_while_a_clinician_writes_is_consistent(tmp_path):
    """The online backup API copies one state: the restore's checksums match it exactly."""
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    store = Store.open(url)
    store.load_dataset(SYSTEM, generate(10, seed=5))
    clinician = store.actor_for("ingrid.berg")
    start = date.today() - timedelta(days=400)
    store.add_client(clinician, "LIVE01", team="VOP", age_group="adult")
    ep = store.open_episode(clinician, "LIVE01", start=start)
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        k = 0
        while not stop.is_set() and k < 300:
            store.record_session(
                clinician, ep, session_date=start + timedelta(days=k), measurements={"ORS": ORS_OK}
            )
            written.append(k)
            k += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        archives = []
        for i in range(3):
            archives.append(tmp_path / f"b{i}.korbackup")
            kb.backup(store, ADMIN, archives[-1])
    finally:
        stop.set()
        writer.join()
    store.close()
    assert written  # the writer really ran alongside
    for i, archive in enumerate(archives):
        target = f"sqlite:///{tmp_path / f'r{i}.sqlite'}"
        summary = kb.restore(target, ADMIN, archive)  # verifies every table's checksum
        rows = _all_rows(target)
        assert len(rows["session"]) == summary.rows["session"]
        assert len(rows["measurement"]) == summary.rows["measurement"]


def test_kor_backup_and_restore_commands_round_trip(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("KOR_USER", "admin")
    monkeypatch.setenv("KOR_ROLE", "admin")
    source = f"sqlite:///{tmp_path / 'var' / 'kor.sqlite'}"
    st = Store.open(source)
    st.load_dataset(SYSTEM, generate(5, seed=3))
    st.close()
    archive = tmp_path / "cli.korbackup"
    assert main(["backup", str(archive)]) == 0
    target = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert main(["restore", str(archive), "--database", target]) == 0
    out = capsys.readouterr().out
    assert "kontrollert" in out
    assert main(["restore", str(archive), "--database", target]) == 2
    assert "ikke tom" in capsys.readouterr().err
    src, dst = _all_rows(source), _all_rows(target)
    assert {k: v for k, v in src.items() if k != "audit"} == {
        k: v for k, v in dst.items() if k != "audit"
    }
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    assert {e["name"] for e in manifest["tables"]} == set(src) - {"alembic_version"}


def test_archive_rows_are_typed_json_the_same_for_both_databases(store, tmp_path):
    store.load_dataset(SYSTEM, generate(5, seed=3))
    archive = tmp_path / "a.korbackup"
    kb.backup(store, ADMIN, archive)
    with zipfile.ZipFile(archive) as z:
        lines = z.read("tables/measurement.jsonl").decode().splitlines()
    columns = next(
        t["columns"] for t in kb.read_manifest(archive)["tables"] if t["name"] == "measurement"
    )
    first = dict(zip(columns, json.loads(lines[0]), strict=True))
    assert isinstance(first["id"], int) and isinstance(first["item2"], float)
    assert datetime.fromisoformat(first["entered_at"])  # entered_at as ISO text
