"""Several clinicians saving at once lose nothing and never see «database is locked»;
two people correcting the same measurement: the second gets a clear conflict.

The load test runs ``PROCESSES`` separate processes (spawned: each opens its own store,
as separate Voilà kernels do), each a different clinician writing sessions with ORS
for ``KOR_CONCURRENCY_SECONDS`` (default 30) against a SQLite file and against
PostgreSQL, then compares every process's count of saved sessions with the rows stored.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from kor.access import SYSTEM
from kor.errors import ConflictError, KorError
from kor.i18n import t
from kor.store import Store, schema
from tests.conftest import ORS_OK

pytestmark = pytest.mark.slow

PROCESSES = 8
SECONDS = float(os.environ.get("KOR_CONCURRENCY_SECONDS", "30"))
START = date(2000, 1, 1)


def _clinician(i: int) -> str:
    return f"behandler{i:02d}"


def _writer(url: str, i: int, seconds: float, barrier, results) -> None:  # noqa: ANN001
    """One clinician saving sessions until time is up (runs in its own process).

    All processes start writing together (``barrier``), after their imports and setup.
    """
    store = Store.open(url, migrate=False)
    actor = store.actor_for(_clinician(i))
    episode = int(store.dataset(actor).episodes.episode_id.iloc[0])
    saved, errors, reads, k = 0, [], 0, 0
    barrier.wait(timeout=300)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        k += 1
        try:
            store.record_session(
                actor,
                episode,
                session_date=START + timedelta(days=k % 9000),
                measurements={"ORS": dict(ORS_OK, overall=float(k % 10))},
            )
            saved += 1
            if k % 10 == 0:  # the app re-reads the caseload now and then
                store.session_table(actor, episode=episode)
                reads += 1
        except KorError as exc:  # what a user would see, as a catalog message
            errors.append(t(getattr(exc, "key", "error.generic")))
        except Exception as exc:  # noqa: BLE001 - reported, never hidden
            errors.append(f"{type(exc).__name__}: {exc}")
    store.close()
    results.put(
        {
            "clinician": _clinician(i),
            "episode": episode,
            "saved": saved,
            "errors": errors,
            "reads": reads,
        }
    )


def _prepare(url: str) -> None:
    store = Store.open(url)
    store.add_team(SYSTEM, "VOP", "Voksne")
    for i in range(PROCESSES):
        store.add_user(SYSTEM, _clinician(i), "clinician", team="VOP")
        actor = store.actor_for(_clinician(i))
        store.add_client(actor, f"C{i:05d}", team="VOP", age_group="adult")
        store.open_episode(actor, f"C{i:05d}", start=START)
    store.close()


def test_eight_clinicians_saving_at_once_lose_nothing(store_url):
    _prepare(store_url)
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [
        ctx.Process(target=_writer, args=(store_url, i, SECONDS, barrier, queue))
        for i in range(PROCESSES)
    ]
    started = time.monotonic()
    for p in workers:
        p.start()
    results = [queue.get(timeout=SECONDS + 600) for _ in workers]
    for p in workers:
        p.join(timeout=60)
    elapsed = time.monotonic() - started
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                sa.select(schema.session.c.episode_id, sa.func.count()).group_by(
                    schema.session.c.episode_id
                )
            ).all()
        )
        measured = conn.execute(sa.select(sa.func.count()).select_from(schema.measurement)).scalar()
        audited = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.audit)
            .where(schema.audit.c.entity == "session")
        ).scalar()
    engine.dispose()
    errors = [e for r in results for e in r["errors"]]
    total = sum(r["saved"] for r in results)
    print(
        f"\n{engine.dialect.name}: {PROCESSES} processes x {SECONDS:.0f} s: {total} sessions saved "
        f"({total / SECONDS:.0f}/s; wall {elapsed:.0f} s with start-up), per process "
        f"{[r['saved'] for r in results]}, errors {len(errors)}"
    )
    assert not [e for e in errors if "locked" in e.lower()]
    assert errors == []
    for r in results:
        assert r["saved"] > 0, r["clinician"]
        assert stored.get(r["episode"], 0) == r["saved"], r["clinician"]
    assert measured == total and audited == total


def test_two_people_correcting_the_same_measurement_the_second_gets_a_conflict(store_url):
    first, second = Store.open(store_url), Store.open(store_url)  # two separate kernels
    try:
        first.add_team(SYSTEM, "VOP", "Voksne")
        first.add_user(SYSTEM, "a.lead", "team_lead", team="VOP")
        first.add_user(SYSTEM, "ingrid", "clinician", team="VOP")
        ingrid, lead = first.actor_for("ingrid"), second.actor_for("a.lead")
        first.add_client(ingrid, "K00001", team="VOP", age_group="adult")
        ep = first.open_episode(ingrid, "K00001", start=START)
        first.record_session(ingrid, ep, session_date=START, measurements={"ORS": ORS_OK})
        # both open the form and see version 1
        seen_by_ingrid = first.dataset(ingrid).measurements.iloc[0]
        seen_by_lead = second.dataset(lead).measurements.iloc[0]
        mid = int(seen_by_ingrid.measurement_id)
        assert first.correct_measurement(ingrid, mid, dict(ORS_OK, overall=7.0), version=1) == 2
        with pytest.raises(ConflictError) as err:
            second.correct_measurement(
                lead, int(seen_by_lead.measurement_id), dict(ORS_OK, overall=1.0), version=1
            )
        assert t(err.value.key).startswith("Noen andre har endret dette")
        assert second.dataset(lead).measurements.item4.iloc[0] == 7.0  # not overwritten
        # reloading gives version 2, and then the lead's correction goes through
        assert second.correct_measurement(lead, mid, dict(ORS_OK, overall=1.0), version=2) == 3
        with pytest.raises(ConflictError):
            first.end_episode(ingrid, ep, end=START, reason="completed", version=2)
        first.end_episode(ingrid, ep, end=START, reason="completed", version=1)
    finally:
        first.close()
        second.close()
