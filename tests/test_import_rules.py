"""The import's rules within one file and against stored rows (kor.store.importing).

The import checks the whole file as columns. These cases pin the rules the row-by-row
import had: a row gets only its first problem, the first row of a new client, session
or measurement defines it, a repeated measurement with the same values is «unchanged»,
and a file with any problem writes nothing. Each expected problem list is written out
by hand from the rows below. Runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from kor.access import SYSTEM, Actor
from kor.errors import ImportFileError
from kor.store import Store

START = date.today() - timedelta(days=60)
WEEK = timedelta(days=7)


def _admin(store: Store) -> Actor:
    store.add_user(SYSTEM, "importer", "admin")
    return store.actor_for("importer")


def _rows(*rows: dict) -> pd.DataFrame:
    """Import rows: each dict changes the defaults of one ORS row (rows numbered from 2)."""
    base = {
        "client_code": "K00010",
        "age_group": "adult",
        "birth_year": 1980,
        "team": "VOP",
        "clinician": "ingrid.berg",
        "episode_start": START,
        "session_date": START,
        "session_no": 1,
        "format": "individual",
        "measure": "ORS",
        "item1": 4.0,
        "item2": 5.0,
        "item3": 6.0,
        "item4": 5.0,
    }
    frame = pd.DataFrame([base | row for row in rows])
    frame["total"] = frame[["item1", "item2", "item3", "item4"]].sum(axis=1)
    frame["birth_year"] = frame["birth_year"].astype("Int64")
    for column in ("episode_start", "session_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["source_row"] = range(2, 2 + len(frame))
    return frame


def _problems(store: Store, actor: Actor, rows: pd.DataFrame) -> list[tuple[int, str, str]]:
    with pytest.raises(ImportFileError) as err:
        store.import_sessions(actor, rows, source="f.csv")
    return [(p.row, p.column, p.key) for p in err.value.problems]


def test_a_measurement_given_twice_with_the_same_values_is_added_once(store, small_service):
    rows = _rows({}, {}, {"session_no": 2, "session_date": START + WEEK})
    summary = store.import_sessions(_admin(store), rows, source="f.csv")
    assert (summary.clients, summary.episodes, summary.sessions) == (1, 1, 2)
    assert (summary.measurements, summary.unchanged) == (2, 1)


def test_the_first_row_defines_and_later_rows_that_contradict_it_are_named(store, small_service):
    rows = _rows(
        {},  # row 2 defines client K00010, its episode, session 1 and its ORS
        {"item1": 7.0},  # row 3: the same ORS with another value
        {"session_date": START + WEEK, "measure": "SRS"},  # row 4: session 1 on another day
        {"client_code": "K00011", "age_group": "adolescent"},  # row 5 defines K00011
        {"client_code": "K00011", "age_group": "adult", "session_no": 2},  # row 6 contradicts 5
    )
    admin = _admin(store)
    before = store.counts(SYSTEM)
    assert _problems(store, admin, rows) == [
        (3, "measure", "error.conflicts_stored"),
        (4, "session_date", "error.conflicts_stored"),
        (6, "client_code", "error.conflicts_stored"),
    ]
    assert store.counts(SYSTEM) == before  # nothing written


def test_a_row_gets_only_its_first_problem_in_rule_order(store, small_service):
    rows = _rows(
        {"team": "XXX", "clinician": "nobody"},  # unknown team (and clinician): team only
        {"clinician": "nobody", "client_code": "01019012345"},  # clinician before the code
        {"client_code": "01019012345"},  # 11 digits in a row: never a client code
        {"team": "BUP", "clinician": "kari.lund"},  # rows 2-4 failed: this one defines K00010
    )
    assert _problems(store, _admin(store), rows) == [
        (2, "team", "error.unknown_team"),
        (3, "clinician", "error.unknown_clinician"),
        (4, "client_code", "error.client_code"),
    ]


def test_a_new_client_is_defined_by_its_first_row_that_passes_the_earlier_rules(
    store, small_service
):
    # Row 2 fails (unknown clinician), so row 3 defines K00010 as BUP's; row 4 (VOP) then
    # contradicts it. Had row 2 defined the client, row 3 would have been the one named.
    rows = _rows(
        {"clinician": "nobody"},
        {"team": "BUP", "clinician": "kari.lund"},
        {"session_no": 2, "session_date": START + WEEK},
    )
    assert _problems(store, _admin(store), rows) == [
        (2, "clinician", "error.unknown_clinician"),
        (4, "client_code", "error.conflicts_stored"),
    ]


def test_rows_are_checked_against_the_stored_rows_of_the_files_clients(store, small_service):
    admin = _admin(store)
    store.import_sessions(admin, _rows({}, {"client_code": "K00020"}), source="a.csv")
    rows = _rows(
        {},  # stored with the same values: unchanged
        {"session_no": 2, "session_date": START + WEEK},  # new session of a stored episode
        {"client_code": "K00020", "item4": 9.0},  # stored with other values
        {"client_code": "K00021"},  # a new client
    )
    assert _problems(store, admin, rows) == [(4, "measure", "error.conflicts_stored")]
    summary = store.import_sessions(admin, rows.drop(index=2), source="b.csv")
    assert (summary.clients, summary.episodes, summary.sessions) == (1, 1, 2)
    assert (summary.measurements, summary.unchanged) == (2, 1)
    table = store.session_table(admin)
    assert sorted(table["client"]) == ["K00010", "K00010", "K00020", "K00021"]


def test_a_team_lead_imports_into_their_own_team_only(store, small_service):
    lead = small_service["leder.vop"]
    rows = _rows({}, {"client_code": "K00030", "team": "BUP", "clinician": "kari.lund"})
    assert _problems(store, lead, rows) == [(3, "team", "error.access_denied")]
    summary = store.import_sessions(lead, rows.iloc[:1], source="f.csv")
    assert summary.measurements == 1
