"""Bulk reads: the whole-service tables behind the analytics, as frames.

A large service is millions of values (100,000 clients are 2.3 million session and
measurement rows). A DB-API driver hands them over as one Python object per value,
and building frames from those rows was most of a leader report's time. ADBC drivers
(Apache Arrow's database connectivity, on libpq and on SQLite's C library) hand over
Arrow columns, which pandas takes whole.

The store's own queries, already narrowed to what the actor may see, run in one read
transaction on one snapshot:

* **PostgreSQL**: through ADBC in this process, in a read-only transaction;
* **SQLite**, from :data:`CHILD_FROM_SESSIONS` sessions on: through ADBC in a child
  process (:mod:`kor.store._sqlite_reader`) that sends each result back as an Arrow
  IPC stream. Not in this process: ADBC's SQLite driver carries its own copy of the
  SQLite library, and two copies in one process break SQLite's file locking (a
  process's POSIX locks go when either copy closes the file: «How To Corrupt An SQLite
  Database File», section 2.2.1). Our concurrency test died of a bus error in the WAL
  index that way. Across processes this is SQLite's ordinary case;
* **SQLite**, smaller reads (a client, a caseload, most teams): the store's own driver
  connection, rows as plain tuples, as starting the child would cost more.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from kor.errors import StoreError

__all__ = ["read_frames"]


#: From this many sessions on, a SQLite read goes through the child process. Starting it
#: costs about 0.33 s; the driver's rows cost about 4 µs a session (with its
#: measurements) against 1 µs as columns, so the two meet near 100,000 sessions
#: (measured on 2 cores; the figures are in the closing note of issue 6).
CHILD_FROM_SESSIONS = 100_000


def read_frames(
    engine: Engine, queries: Mapping[str, sa.Select], *, sessions: int
) -> dict[str, pd.DataFrame]:
    """Run ``queries`` in one read transaction and return a frame for each, by name.

    ``sessions``: how many sessions the read holds, which chooses the SQLite path.
    Columns come back as the database gives them (SQLite dates as ISO text); the store
    gives them their dtypes afterwards.
    """
    if engine.dialect.name != "sqlite":
        return _read_postgresql(engine, queries)
    if sessions >= CHILD_FROM_SESSIONS:
        return _read_sqlite_child(engine, queries)
    return _read_sqlite_driver(engine, queries)


def _read_sqlite_driver(
    engine: Engine, queries: Mapping[str, sa.Select]
) -> dict[str, pd.DataFrame]:
    frames = {}
    # kor_read: the store's engine opens a plain deferred BEGIN (one WAL snapshot)
    with engine.connect().execution_options(kor_read=True) as conn, conn.begin():
        cursor = conn.connection.cursor()  # the driver's cursor: plain tuples, no Row objects
        try:
            for name, query in queries.items():
                sql, params = _compiled(query, engine.dialect)
                cursor.execute(sql, params or ())
                columns = [d[0] for d in cursor.description]
                frames[name] = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
        finally:
            cursor.close()
    return frames


def _read_sqlite_child(engine: Engine, queries: Mapping[str, sa.Select]) -> dict[str, pd.DataFrame]:
    path = str(Path(str(engine.url.database)).resolve())
    request = {
        "path": path,
        "queries": [_compiled(query, engine.dialect) for query in queries.values()],
    }
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_sqlite_reader.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        child.stdin.write(json.dumps(request).encode())
        child.stdin.close()
        frames = {name: pa.ipc.open_stream(child.stdout).read_all().to_pandas() for name in queries}
    except (OSError, pa.ArrowInvalid):
        frames = None  # the child failed: its status and message say why
    finally:
        child.stdout.close()
        error = child.stderr.read().decode(errors="replace").strip()
        child.stderr.close()
        status = child.wait()
    if status != 0 or frames is None:
        # the child's one line: the driver's message, never the query or a value
        reason = error.splitlines()[-1] if error else f"exit status {status}"
        raise StoreError("error.store.read_failed", reason=reason)
    return frames


def _read_postgresql(engine: Engine, queries: Mapping[str, sa.Select]) -> dict[str, pd.DataFrame]:
    from adbc_driver_postgresql import dbapi

    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dialect = postgresql.dialect(paramstyle="numeric_dollar")  # $1, as libpq binds
    frames = {}
    # autocommit: the driver opens no transaction of its own; ours is stated here
    with dbapi.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for name, query in queries.items():
            sql, params = _compiled(query, dialect)
            cur.execute(sql, params)
            frames[name] = cur.fetch_arrow_table().to_pandas(date_as_object=False)
        cur.execute("ROLLBACK")  # nothing was written; end the snapshot
    return frames


def _compiled(query: sa.Select, dialect: sa.Dialect) -> tuple[str, tuple[Any, ...] | None]:
    """The SQL text of ``query`` for ``dialect`` and its bound values in order."""
    compiled = query.compile(dialect=dialect)
    if not compiled.positiontup:
        return str(compiled), None
    sqlite = dialect.name == "sqlite"  # stores dates as ISO text
    values = tuple(
        compiled.params[key].isoformat()
        if sqlite and isinstance(compiled.params[key], date)
        else compiled.params[key]
        for key in compiled.positiontup
    )
    return str(compiled), values
