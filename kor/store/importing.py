"""Importing a session file into the store: the whole file checked as columns, one bulk write.

A service's yearly file is hundreds of thousands of rows. Checked one row at a time in
Python, with SQLAlchemy building a parameter set per row, an import took 250 times as
long as reading the file (issue «engine speed»). Here every rule is one column
operation over the file, against the stored rows of the file's clients only, and the
new rows go in with the driver's own bulk path: ``executemany`` on SQLite, ``COPY`` on
PostgreSQL, inside the store's one write transaction.

The rules are the ones the row-by-row import had, in the same order, and a row gets
only its first problem:

1. the team is known, 2. a team lead imports into their own team only, 3. the clinician
is known, 4. a client code not stored yet is a valid code (:mod:`kor.pseudonyms`),
5. the client's team and age group agree with the stored client (or, for a new
client, with its first row in the file), 6. the session's date and format agree with
the stored session (or its first row), 7. a measurement already stored (or given
earlier in the file) for the same session, measure and rater (``client`` when the file
has no ``rater`` column) has the same item values, within 1e-9 — then the row is counted
as ``unchanged``, otherwise it contradicts.

If any row has a problem, every problem is returned, sorted by row, and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kor import measures
from kor.access import Actor
from kor.errors import ValidationError
from kor.frames import ITEM_COLUMNS
from kor.pseudonyms import is_client_code
from kor.raters import DEFAULT_RATER, RATERS, allows_collateral
from kor.store import schema

__all__ = ["ImportPlan", "plan_import", "read_stored", "write_plan"]

#: Client codes per query when reading what is stored of the file's clients.
CHUNK = 500


@dataclass
class ImportPlan:
    """What an import would write (new rows per table, ids assigned) or its problems."""

    new: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[ValidationError] = field(default_factory=list)
    unchanged: int = 0

    def added(self) -> dict[str, int]:
        """New rows per kind, as :class:`kor.store.ImportSummary` counts them."""
        names = {"client": "clients", "episode": "episodes", "session": "sessions"}
        counts = {names[t]: len(self.new.get(t, ())) for t in names}
        counts["measurements"] = len(self.new.get("measurement", ()))
        return counts


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    """True where two columns (of the same length) differ; two blanks are equal."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    same = a.eq(b).to_numpy(dtype=bool) | (a.isna().to_numpy() & b.isna().to_numpy())
    return ~same


def _dates(values: pd.Series, name: str, as_date: Any) -> pd.Series:  # noqa: ANN401
    """A column of dates (datetime64, midnight), parsed once per distinct value."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize().astype("datetime64[ns]")
    parsed = {v: pd.Timestamp(as_date(v, name)) for v in pd.unique(values)}
    return values.map(parsed).astype("datetime64[ns]")


def read_stored(conn: Connection, codes: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The stored clients with these codes, and their episodes, sessions and measurements.

    Read in the import's own write transaction, so what is checked is what is there.
    """
    c, e, s, m = schema.client, schema.episode, schema.session, schema.measurement
    columns = {
        "client": [c.c.id, c.c.code, c.c.team_id, c.c.age_group],
        "episode": [e.c.id, e.c.client_id, e.c.start_date],
        "session": [s.c.id, s.c.episode_id, s.c.number, s.c.session_date, s.c.format],
        "measurement": [
            m.c.session_id,
            m.c.measure,
            m.c.rater,
            *[m.c[k] for k in ITEM_COLUMNS],
        ],
    }
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in columns}
    codes = list(codes)
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        joins = {
            "client": sa.select(*columns["client"]).where(c.c.code.in_(chunk)),
            "episode": sa.select(*columns["episode"])
            .join(c, c.c.id == e.c.client_id)
            .where(c.c.code.in_(chunk)),
            "session": sa.select(*columns["session"])
            .join(e, e.c.id == s.c.episode_id)
            .join(c, c.c.id == e.c.client_id)
            .where(c.c.code.in_(chunk)),
            "measurement": sa.select(*columns["measurement"])
            .join(s, s.c.id == m.c.session_id)
            .join(e, e.c.id == s.c.episode_id)
            .join(c, c.c.id == e.c.client_id)
            .where(c.c.code.in_(chunk)),
        }
        for name, query in joins.items():
            result = conn.execute(query)
            names = list(result.keys())
            parts[name].append(pd.DataFrame([tuple(r) for r in result], columns=names))
    out = {}
    for name, frames in parts.items():
        names = [col.name for col in columns[name]]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=names)
        for col in ("start_date", "session_date"):
            if col in frame.columns:
                frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        out[name] = frame
    return out


def plan_import(
    rows: pd.DataFrame,
    actor: Actor,
    *,
    teams: Mapping[str, int],
    users: Mapping[str, int],
    stored: Mapping[str, pd.DataFrame],
    next_ids: Mapping[str, int],
    as_date: Any,  # noqa: ANN401 - the store's date parser, which names the field
) -> ImportPlan:
    """Check every row of ``rows`` against the stored data and plan the new rows.

    rows: the frame :func:`kor.io.read_sessions` returns (a frame built otherwise is
    checked the same way). stored: :func:`read_stored` of the file's client codes.
    next_ids: the first free id per table. Pure: nothing is read or written here.
    """
    f = rows.reset_index(drop=True)
    n = len(f)
    row_no = f["source_row"].astype("int64").to_numpy()
    problem: list[tuple[int, str, str, dict[str, Any]]] = []
    ok = np.ones(n, dtype=bool)

    def fail(mask: np.ndarray, key: str, column: str, **params: Any) -> None:  # noqa: ANN401
        nonlocal ok
        hit = np.asarray(mask, dtype=bool) & ok
        problem.extend((int(r), key, column, params) for r in row_no[hit])
        ok &= ~hit

    codes = f["client_code"].astype(object)
    team_id = f["team"].map(dict(teams))
    fail(team_id.isna().to_numpy(), "error.unknown_team", "team")
    if actor.role == "team_lead":
        fail((f["team"] != actor.team).to_numpy(), "error.access_denied", "team")
    clinician_id = f["clinician"].map(dict(users))
    fail(clinician_id.isna().to_numpy(), "error.unknown_clinician", "clinician")

    # clients: stored, or new (defined by their first row still standing)
    stored_clients = stored["client"].set_index("code")
    known = codes.isin(stored_clients.index).to_numpy()
    valid = {code: is_client_code(code) for code in pd.unique(codes[~known])}
    refused = codes.map({code: not good for code, good in valid.items()}).eq(True).to_numpy()
    fail(~known & refused, "error.client_code", "client_code")
    first = f[ok & ~known].drop_duplicates("client_code")
    new_clients = pd.DataFrame(
        {
            "id": np.arange(len(first), dtype="int64") + next_ids["client"],
            "code": first["client_code"].to_numpy(),
            "birth_year": first["birth_year"].to_numpy() if "birth_year" in f else None,
            "age_group": first["age_group"].to_numpy(),
            "team_id": team_id[first.index].astype("int64").to_numpy(),
        }
    )
    clients = pd.concat(
        [
            stored_clients.reset_index()[["id", "code", "team_id", "age_group"]],
            new_clients[["id", "code", "team_id", "age_group"]],
        ],
        ignore_index=True,
    ).set_index("code")
    client_id = codes.map(clients["id"])
    other_team = _differs(team_id, codes.map(clients["team_id"]))
    other_age = _differs(f["age_group"], codes.map(clients["age_group"]))
    fail(other_team | other_age, "error.conflicts_stored", "client_code")

    # episodes: by client and start date
    start = _dates(f["episode_start"], "episode_start", as_date)
    keys = pd.DataFrame({"client_id": client_id, "start_date": start})
    stored_ep = stored["episode"].rename(columns={"id": "episode_id"})
    stored_ep = stored_ep.drop_duplicates(["client_id", "start_date"])
    episode_id = keys.merge(stored_ep, on=["client_id", "start_date"], how="left")["episode_id"]
    first = keys[ok & episode_id.isna().to_numpy()].drop_duplicates()
    new_episodes = pd.DataFrame(
        {
            "id": np.arange(len(first), dtype="int64") + next_ids["episode"],
            "client_id": first["client_id"].astype("int64").to_numpy(),
            "clinician_id": clinician_id[first.index].astype("int64").to_numpy(),
            "start_date": first["start_date"].to_numpy(),
            "end_date": None,
            "end_reason": None,
            "version": 1,
        }
    )
    lookup = new_episodes[["id", "client_id", "start_date"]].rename(columns={"id": "new_id"})
    episode_id = episode_id.fillna(
        keys.merge(lookup, on=["client_id", "start_date"], how="left")["new_id"]
    )

    # sessions: by episode and number; the first row defines date and format
    sdate = _dates(f["session_date"], "session_date", as_date)
    number = f["session_no"].astype("int64")
    keys = pd.DataFrame({"episode_id": episode_id, "number": number})
    stored_ses = stored["session"].rename(columns={"id": "session_id"})
    stored_ses = stored_ses.drop_duplicates(["episode_id", "number"])
    have = keys.merge(stored_ses, on=["episode_id", "number"], how="left")
    first_rows = f.index[ok & have["session_id"].isna().to_numpy()]
    first = keys.loc[first_rows].drop_duplicates()
    new_sessions = pd.DataFrame(
        {
            "id": np.arange(len(first), dtype="int64") + next_ids["session"],
            "episode_id": first["episode_id"].astype("int64").to_numpy(),
            "number": first["number"].to_numpy(),
            "session_date": sdate[first.index].to_numpy(),
            "clinician_id": clinician_id[first.index].astype("int64").to_numpy(),
            "format": f.loc[first.index, "format"].to_numpy(),
        }
    )
    defined = pd.concat(
        [
            stored_ses[["session_id", "episode_id", "number", "session_date", "format"]],
            new_sessions.rename(columns={"id": "session_id"})[
                ["session_id", "episode_id", "number", "session_date", "format"]
            ],
        ],
        ignore_index=True,
    )
    have = keys.merge(defined, on=["episode_id", "number"], how="left")
    fail(
        _differs(have["session_date"], sdate) | _differs(have["format"], f["format"]),
        "error.conflicts_stored",
        "session_date",
    )
    session_id = have["session_id"]

    # measurements: by session, measure and rater; the same values again are "unchanged"
    items = [c for c in ITEM_COLUMNS if c in f.columns]
    values = f[items].astype("float64") if items else pd.DataFrame(index=f.index)
    for c in ITEM_COLUMNS:
        if c not in values:
            values[c] = np.nan
    rater = f["rater"] if "rater" in f.columns else pd.Series(DEFAULT_RATER, index=f.index)
    rater = rater.astype(object).where(rater.notna() & rater.ne(""), DEFAULT_RATER)
    fail(~rater.isin(RATERS).to_numpy(), "error.bad_choice", "rater", choices=", ".join(RATERS))
    kinds = f["measure"].map({code: m.kind for code, m in measures.MEASURES.items()})
    allowed = [allows_collateral(k, a) for k, a in zip(kinds, f["age_group"], strict=True)]
    collateral = rater.ne(DEFAULT_RATER).to_numpy() & ~np.array(allowed, dtype=bool)
    for code in pd.unique(f["measure"][collateral]):
        fail(collateral & f["measure"].eq(code).to_numpy(), "error.rater_not_allowed", "rater",
             measure=code)  # fmt: skip
    keys = pd.DataFrame({"session_id": session_id, "measure": f["measure"], "rater": rater})
    on = ["session_id", "measure", "rater"]
    stored_m = stored["measurement"].drop_duplicates(on)
    have = keys.merge(stored_m, on=on, how="left", indicator=True)
    is_stored = (have["_merge"] == "both").to_numpy()
    first = keys[ok & ~is_stored].drop_duplicates()
    defining = np.zeros(n, dtype=bool)
    defining[first.index] = True
    reference = have[list(ITEM_COLUMNS)].copy()
    later = ok & ~is_stored & ~defining
    if later.any():  # a measurement given twice in the file: compare with its first row
        firsts = pd.concat([keys.loc[first.index], values.loc[first.index]], axis=1)
        again = keys[later].merge(firsts, on=on, how="left")
        reference.loc[later, list(ITEM_COLUMNS)] = again[list(ITEM_COLUMNS)].to_numpy()
    compare = ok & ~defining
    a, b = values.to_numpy(dtype="float64"), reference.to_numpy(dtype="float64")
    same = ((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) < 1e-9)).all(axis=1)
    fail(compare & ~same, "error.conflicts_stored", "measure")
    unchanged = int((ok & ~defining).sum())

    if problem:
        problem.sort(key=lambda p: p[0])
        return ImportPlan(
            problems=[
                ValidationError(key, row=r, column=col, **params) for r, key, col, params in problem
            ]
        )
    new_measurements = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": np.arange(len(first), dtype="int64") + next_ids["measurement"],
                    "session_id": session_id[first.index].astype("int64").to_numpy(),
                    "measure": first["measure"].to_numpy(),
                    "rater": first["rater"].to_numpy(),
                }
            ),
            values.loc[first.index, list(ITEM_COLUMNS)].reset_index(drop=True),
            pd.DataFrame({"total": f.loc[first.index, "total"].astype("float64").to_numpy()}),
        ],
        axis=1,
    )
    return ImportPlan(
        new={
            "client": new_clients,
            "episode": new_episodes,
            "session": new_sessions,
            "measurement": new_measurements,
        },
        unchanged=unchanged,
    )


def _cells(frame: pd.DataFrame, dialect: sa.Dialect, table: sa.Table) -> list[tuple[Any, ...]]:
    """The frame's rows as driver values: dates as ISO text, blanks as None."""
    out = {}
    for name in frame.columns:
        column, values = table.c[name], frame[name]
        if isinstance(column.type, sa.Date) and pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%d")
            out[name] = text.astype(object).where(values.notna(), None)
        elif isinstance(column.type, sa.Integer) and values.dtype.kind == "f":
            out[name] = values.astype("Int64").astype(object).where(values.notna(), None)
        else:
            out[name] = values.astype(object).where(values.notna(), None)
    cells = pd.DataFrame(out, index=frame.index).to_numpy(dtype=object)
    return [tuple(row) for row in cells]  # object columns hold Python values, as drivers want


def write_plan(conn: Connection, plan: ImportPlan, *, entered_by: int, now: datetime) -> None:
    """Insert the planned rows, parents first, with the driver's bulk path.

    PostgreSQL: ``COPY … FROM STDIN`` (psycopg). SQLite: one ``executemany`` per table.
    Both run on the connection of the store's open write transaction.
    """
    dialect = conn.dialect
    for name in ("client", "episode", "session", "measurement"):
        frame = plan.new.get(name)
        if frame is None or frame.empty:
            continue
        table = getattr(schema, name)
        frame = frame.copy()
        if name == "measurement":
            frame["entered_by"] = entered_by
            frame["version"] = 1
        rows = _cells(frame, dialect, table)
        columns = list(frame.columns)
        if name == "measurement":
            stamp = table.c.entered_at.type.bind_processor(dialect)
            at = stamp(now) if stamp else now
            columns.append("entered_at")
            rows = [(*row, at) for row in rows]
        cursor = conn.connection.cursor()
        try:
            if dialect.name == "postgresql":
                with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
                )
        finally:
            cursor.close()
