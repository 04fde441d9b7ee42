"""Benchmark: ``kor import`` of a large session file, against a bare ``pandas.read_csv``.

Not a test (nothing here asserts timing); run it by hand::

    .venv/bin/python benchmarks/bench_import.py                      # 100,000 clients
    .venv/bin/python benchmarks/bench_import.py --clients 10000 --repeats 3
    .venv/bin/python benchmarks/bench_import.py \
        --database postgresql://postgres@127.0.0.1:5432/kor_bench    # import into PostgreSQL

Data: ``kor.sample.generate(clients, years=3)`` written by ``kor.io.write_sessions`` as
the import file (CSV, as Norwegian Excel writes it; 100,000 clients give about 800,000
rows). The file is built once in a temporary folder and not timed.

Timed, median of ``--repeats`` runs, in one process:

(a) ``read_csv``: the reference, a bare ``pandas.read_csv(path, sep=";", dtype=str)``
    of the file — the floor of reading it at all;
(b) ``read_sessions``: ``kor.io.read_sessions`` (decode, match headers, validate every
    cell, derive totals);
(c) ``import``: ``Store.import_sessions`` of (b)'s frame into an empty database that
    holds only the teams and users (SQLite file under the temporary folder, or
    ``--database``, emptied before each run); ``import_again``: the same frame a second
    time (everything stored already, nothing added);
(d) ``read_sessions_xlsx``: ``kor.io.read_sessions`` of the first ``--xlsx-rows`` rows
    (default 50,000) written as XLSX, against the bare readers of the same file:
    ``calamine`` (python-calamine, what kor.io uses) and ``openpyxl`` (read-only, values;
    what kor.io used before and still uses for a workbook with formulas).

Before reporting, the script checks that the import added one measurement per row and
the second import added nothing. Writes
``benchmarks/results/import-<clients>[-postgresql].json`` with the times and the ratios
against (a) (the XLSX figures against ``calamine``). Goal (issue «engine speed»): (b) + (c)
within 10x the bare ``read_csv``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kor.access import SYSTEM, Actor  # noqa: E402
from kor.frames import Dataset, file_rows  # noqa: E402
from kor.io import read_sessions, write_sessions  # noqa: E402
from kor.sample import generate  # noqa: E402
from kor.store import Store, schema  # noqa: E402

#: The sample's administrator, who imports (an import needs a stored admin or team lead).
ADMIN = Actor("terje.moen", "admin")


def _timed(work, *args, **kwargs) -> tuple[float, object]:  # noqa: ANN001, ANN002, ANN003
    start = time.perf_counter()
    result = work(*args, **kwargs)
    return time.perf_counter() - start, result


def _calamine_rows(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python())


def _openpyxl_rows(path: Path) -> int:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


def _empty_store(url: str, data: Dataset) -> Store:
    """A fresh store holding only the data set's teams and users (what an import needs).

    The database is made new for every run (the audit trail is append-only, so a store
    cannot be emptied): SQLite's file is removed, PostgreSQL's public schema dropped.
    """
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    store = Store.open(url)
    empty = Dataset(
        teams=data.teams,
        users=data.users,
        clients=data.clients.iloc[:0],
        episodes=data.episodes.iloc[:0],
        sessions=data.sessions.iloc[:0],
        measurements=data.measurements.iloc[:0],
    )
    store.load_dataset(SYSTEM, empty)
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database", help="import into this database instead of SQLite")
    parser.add_argument("--xlsx-rows", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    data = generate(args.clients, years=3)
    with tempfile.TemporaryDirectory(prefix="kor-bench-import-") as tmp:
        path = Path(tmp) / f"sessions-{args.clients}.csv"
        table = file_rows(data)
        write_sessions(table, path)
        size = path.stat().st_size
        rows = len(table)
        print(f"{rows:,} rows, {size / 1e6:.1f} MB CSV", flush=True)
        url = args.database or f"sqlite:///{Path(tmp) / 'import.sqlite'}"
        runs: dict[str, list[float]] = {
            "read_csv": [],
            "read_sessions": [],
            "import": [],
            "import_again": [],
            "read_sessions_xlsx": [],
            "calamine": [],
            "openpyxl": [],
        }
        xlsx = Path(tmp) / "sessions.xlsx"
        write_sessions(table.iloc[: args.xlsx_rows], xlsx)
        for _ in range(args.repeats):
            seconds, _frame = _timed(pd.read_csv, path, sep=";", dtype=str)
            runs["read_csv"].append(seconds)
            seconds, frame = _timed(read_sessions, path, max_bytes=10 * size)
            runs["read_sessions"].append(seconds)
            store = _empty_store(url, data)
            try:
                seconds, summary = _timed(store.import_sessions, ADMIN, frame, source=path.name)
                runs["import"].append(seconds)
                if summary.measurements != rows:
                    raise SystemExit(f"MISMATCH: imported {summary.measurements} of {rows} rows")
                seconds, again = _timed(store.import_sessions, ADMIN, frame, source=path.name)
                runs["import_again"].append(seconds)
                if again.measurements or again.unchanged != rows:
                    raise SystemExit(f"MISMATCH: second import added {again.measurements}")
                with store.engine.connect() as conn:
                    stored = conn.execute(
                        sa.select(sa.func.count()).select_from(schema.measurement)
                    ).scalar()
                if stored != rows:
                    raise SystemExit(f"MISMATCH: {stored} measurements stored, {rows} rows")
            finally:
                store.close()
            seconds, sheet = _timed(read_sessions, xlsx)
            runs["read_sessions_xlsx"].append(seconds)
            if len(sheet) != min(rows, args.xlsx_rows):
                raise SystemExit(f"MISMATCH: {len(sheet)} rows read from the XLSX")
            runs["calamine"].append(_timed(_calamine_rows, xlsx)[0])
            runs["openpyxl"].append(_timed(_openpyxl_rows, xlsx)[0])
            print({k: round(v[-1], 3) for k, v in runs.items()}, flush=True)

    median = {k: statistics.median(v) for k, v in runs.items()}
    floor = median["read_csv"]
    ratios = {k: round(v / floor, 2) for k, v in median.items()}
    ratios["read_and_import"] = round((median["read_sessions"] + median["import"]) / floor, 2)
    for name in ("read_sessions_xlsx", "calamine", "openpyxl"):  # XLSX: against calamine
        ratios[name] = round(median[name] / median["calamine"], 2)
    dialect = "postgresql" if args.database and args.database.startswith("postgresql") else "sqlite"
    result = {
        "clients": args.clients,
        "rows": rows,
        "csv_bytes": size,
        "database": dialect,
        "median_seconds": {k: round(v, 3) for k, v in median.items()},
        "ratio_to_read_csv": ratios,
        "runs": runs,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "sqlalchemy": sa.__version__,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    suffix = "" if dialect == "sqlite" else f"-{dialect}"
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"import-{args.clients}{suffix}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print("median seconds:", result["median_seconds"])
    print("ratio to read_csv:", ratios)
    print("load average:", [round(x, 2) for x in result["load_average"]], "->", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
