"""Child process of :func:`kor.store.bulk.read_frames` for a SQLite file (run as a script).

Reads ``{"path": ..., "queries": [[sql, params], ...]}`` as JSON on stdin, runs the
queries in one read transaction through ADBC's SQLite driver and writes each result
to stdout as one Arrow IPC stream, in order. An error is one line on stderr (the
driver's message, without the query) and exit status 1.

It imports nothing of ``kor`` (nor pandas): starting it costs the interpreter and
pyarrow only. Why a process of its own: see :mod:`kor.store.bulk`.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import quote

import pyarrow as pa
from adbc_driver_sqlite import dbapi

# SQLite has no column types, so the driver infers each column's type from its first
# batch of rows and fails on a later row that differs (an episode's end date after
# 1,024 open episodes). One batch for the whole result infers from every row.
_ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**30)}


def main() -> None:
    request = json.load(sys.stdin)
    out = pa.PythonFile(sys.stdout.buffer, mode="w")
    # a URI: "?" or "#" in a folder name are quoted; mode=rw never creates a missing file
    uri = "file:" + quote(request["path"]) + "?mode=rw"
    # autocommit: the driver opens no transaction of its own; ours is stated here
    with dbapi.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("BEGIN")  # one snapshot for every table
        for sql, params in request["queries"]:
            cur.adbc_statement.set_options(**_ONE_BATCH)
            cur.execute(sql, params)
            table = cur.fetch_arrow_table()
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
        cur.execute("ROLLBACK")  # nothing was written
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - one line for the parent, no query text
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        sys.stderr.write(lines[0] + "\n")
        sys.exit(1)
