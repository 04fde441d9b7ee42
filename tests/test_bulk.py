"""The bulk reader (kor.store.bulk) on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import os
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from kor.errors import StoreError
from kor.store.bulk import CHILD_FROM_SESSIONS, read_frames

metadata = sa.MetaData()
probe = sa.Table(
    "bulk_probe",  # not a store table: the PostgreSQL test database holds those
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("end_date", sa.Date, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("team", sa.String(10), nullable=False),
)

# more leading NULL rows than the SQLite driver's default batch (1,024), from which it
# would otherwise take each column's type
ROWS = [
    {
        "id": i,
        "end_date": None if i <= 3000 else date(2026, 1, 1 + i % 28),
        "score": None if i <= 3000 else (7 if i % 2 else 7.5),
        "team": "VOP" if i % 3 else "BUP",
    }
    for i in range(1, 3501)
]


def _engines(tmp_path):
    """A SQLite file in a folder whose name needs quoting in a URI, then PostgreSQL."""
    folder = tmp_path / "a folder?#"
    folder.mkdir()
    urls: list[str | sa.URL] = [sa.URL.create("sqlite", database=str(folder / "kor.sqlite"))]
    if os.environ.get("KOR_TEST_POSTGRES_URL"):
        urls.append(
            os.environ["KOR_TEST_POSTGRES_URL"].replace("postgresql://", "postgresql+psycopg://")
        )
    for url in urls:
        engine = sa.create_engine(url)
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(probe.insert(), ROWS)
        yield engine
        metadata.drop_all(engine)
        engine.dispose()


@pytest.mark.parametrize("sessions", [0, CHILD_FROM_SESSIONS], ids=["small", "large"])
def test_columns_are_typed_by_every_row_not_the_first_batch(tmp_path, sessions):
    """Small SQLite reads take the driver's rows, large ones the child's Arrow columns:
    the same frames either way, on both databases."""
    for engine in _engines(tmp_path):
        frames = read_frames(
            engine,
            {
                "all": sa.select(probe).order_by(probe.c.id),
                "late": sa.select(probe.c.id, probe.c.team)
                .where(probe.c.end_date >= date(2026, 1, 20), probe.c.team == "VOP")
                .order_by(probe.c.id),
            },
            sessions=sessions,
        )
        got = frames["all"]
        assert len(got) == 3500
        if engine.dialect.name == "sqlite":
            assert (tmp_path / "a folder?#" / "kor.sqlite").is_file()
        assert got["end_date"].iloc[:3000].isna().all()
        assert pd.to_datetime(got["end_date"].iloc[3000:]).tolist() == [
            pd.Timestamp(r["end_date"]) for r in ROWS[3000:]
        ]
        assert got["score"].iloc[3000:].tolist() == [r["score"] for r in ROWS[3000:]]
        expected = [
            r["id"]
            for r in ROWS
            if r["end_date"] and r["end_date"] >= date(2026, 1, 20) and r["team"] == "VOP"
        ]
        assert frames["late"]["id"].tolist() == expected
        assert set(frames["late"]["team"]) == {"VOP"}


def test_postgresql_reads_run_read_only(tmp_path):
    if not os.environ.get("KOR_TEST_POSTGRES_URL"):
        pytest.skip("KOR_TEST_POSTGRES_URL not set: PostgreSQL tests not run")
    engines = _engines(tmp_path)
    next(engines)  # SQLite: its reads share the store's own driver connection
    engine = next(engines)
    with pytest.raises(Exception, match="(?i)read-only transaction"):
        read_frames(engine, {"gone": probe.delete().returning(probe.c.id)}, sessions=0)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(probe)).scalar() == 3500


def test_a_failed_sqlite_read_says_why_and_names_no_value(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    secret = "K-0042"  # a client code as a bound value must not reach the message
    with pytest.raises(StoreError) as caught:
        read_frames(
            engine,
            {"gone": sa.select(probe.c.id).where(probe.c.team == secret)},
            sessions=CHILD_FROM_SESSIONS,
        )
    assert caught.value.key == "error.store.read_failed"
    assert "no such table: bulk_probe" in str(caught.value)
    assert secret not in str(caught.value)


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path):
    missing = tmp_path / "gone.sqlite"
    engine = sa.create_engine(sa.URL.create("sqlite", database=str(missing)))
    with pytest.raises(StoreError, match="failed to open"):
        read_frames(engine, {"n": sa.select(probe.c.id)}, sessions=CHILD_FROM_SESSIONS)
    assert not missing.exists()
