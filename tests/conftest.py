"""Shared fixtures: a real SQLite file and a real PostgreSQL server.

PostgreSQL: set ``KOR_TEST_POSTGRES_URL`` (``.ci/run`` does, after making sure a server
runs). When it is set and the server is unreachable, the PostgreSQL tests FAIL; when it
is not set, they are skipped with that reason shown in the summary.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from kor.access import SYSTEM, Actor
from kor.store import Store

PG_URL = os.environ.get("KOR_TEST_POSTGRES_URL")


def _pg_admin_engine() -> sa.Engine:
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    if not PG_URL:
        pytest.skip("KOR_TEST_POSTGRES_URL not set: PostgreSQL tests not run")
    name = f"kor_test_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:  # fails loudly when the server is unreachable
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def _empty_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        if tables:
            conn.exec_driver_sql("DROP TABLE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty database: a SQLite file, or a cleaned PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kor.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database")
        _empty_pg(url)
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An opened (migrated) store on SQLite and on PostgreSQL."""
    st = Store.open(store_url)
    yield st
    st.close()


@pytest.fixture
def small_service(store: Store) -> dict[str, Actor]:
    """Two teams, two clinicians, a team lead, a quality lead and a researcher."""
    store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
    store.add_team(SYSTEM, "BUP", "Barn og unge")
    for username, role, team in [
        ("ingrid.berg", "clinician", "VOP"),
        ("ola.nilsen", "clinician", "VOP"),
        ("kari.lund", "clinician", "BUP"),
        ("leder.vop", "team_lead", "VOP"),
        ("kvalitet", "quality_lead", None),
        ("forsker", "researcher", None),
    ]:
        store.add_user(SYSTEM, username, role, team=team)
    return {
        u: store.actor_for(u)
        for u in ("ingrid.berg", "ola.nilsen", "kari.lund", "leder.vop", "kvalitet", "forsker")
    }


ORS_OK = {"individually": 4.0, "interpersonally": 5.5, "socially": 6.0, "overall": 4.5}
SRS_OK = {"relationship": 9.0, "goals_topics": 9.2, "approach_method": 8.8, "overall": 9.5}
TODAY = date.today()


def chromium_path() -> str:
    for candidate in (
        os.environ.get("KOR_CHROMIUM"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if not found:
        pytest.fail("Chromium not found: apt-get install chromium, or set KOR_CHROMIUM")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()
