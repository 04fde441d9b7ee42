"""Benchmark: FHIR Bundle export and import of all measurements, against the CSV route.

Not a test (nothing here asserts timing); run it by hand::

    .venv/bin/python benchmarks/bench_fhir.py --data sample       # bundled sample, 400 clients
    .venv/bin/python benchmarks/bench_fhir.py --data 5000         # kor.sample.generate(5000)
    .venv/bin/python benchmarks/bench_fhir.py --data sample \\
        --database postgresql://postgres@127.0.0.1:5432/kor_bench  # receiving store on PostgreSQL

Data: the bundled sample (``data/sample``) or ``kor.sample.generate(N)``, loaded (not timed)
into an in-memory SQLite source store. Each run imports into a new, empty receiving store
holding only the teams and users (a SQLite file under /tmp, or the ``--database``, emptied
first), as a service receiving the data has.

Timed, median of ``--repeats`` runs:

* ``fhir_export``: ``Store.export_rows`` + ``kor.fhir.bundle_from_rows`` + ``write_resource``
  (what ``kor export FILE.json --fhir`` does);
* ``fhir_import``: ``read_bundle`` + ``import_bundle`` (what ``kor import FILE.json`` does);
  ``fhir_validate``: ``rows_from_bundle`` alone, timed separately: the checking part of the
  import (the R4B model check, the questionnaire checks and ``kor.io.read_cells``);
* ``csv_export`` / ``csv_import``: ``write_sessions`` and ``read_sessions`` +
  ``import_sessions`` of the same rows, for comparison.

Before reporting, every run checks that the receiving store exports exactly the source's
rows (``MISMATCH`` otherwise). Writes ``benchmarks/results/fhir-<data>[-postgresql].json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
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

from kor import fhir  # noqa: E402
from kor.access import SYSTEM  # noqa: E402
from kor.frames import Dataset  # noqa: E402
from kor.io import read_sessions, write_sessions  # noqa: E402
from kor.store import Store  # noqa: E402


def _dataset(data: str) -> Dataset:
    if data == "sample":
        return Dataset.read_csv(ROOT / "data" / "sample")
    from kor.sample import generate

    return generate(int(data))


def _receiving(data: Dataset, url: str) -> Store:
    """An empty store with the teams and users of ``data``."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # empty it: a fresh database per run
        if engine.dialect.name == "postgresql":
            tables = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            if names:
                conn.exec_driver_sql(f"DROP TABLE {names} CASCADE")
    engine.dispose()
    store = Store.open(url)
    empty = {n: getattr(data, n).iloc[0:0] for n in ("clients", "episodes", "sessions")}
    store.load_dataset(
        SYSTEM,
        Dataset(
            teams=data.teams, users=data.users, measurements=data.measurements.iloc[0:0], **empty
        ),
    )
    return store


def _check(store: Store, expected: pd.DataFrame, what: str) -> None:
    try:
        pd.testing.assert_frame_equal(store.export_rows(SYSTEM), expected)
    except AssertionError as error:
        raise SystemExit(f"MISMATCH after {what}: {error}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="'sample' or a number of clients")
    parser.add_argument("--database", default=None, help="URL of the receiving database")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    data = _dataset(args.data)
    source = Store.open("sqlite://")
    source.load_dataset(SYSTEM, data)
    rows = source.export_rows(SYSTEM)
    admin_name = data.users.loc[data.users.role == "admin", "username"].iloc[0]
    work = Path(tempfile.mkdtemp(prefix="kor-bench-fhir-"))
    bundle_path, csv_path = work / "okter.json", work / "okter.csv"
    times: dict[str, list[float]] = {}

    def timed(name: str, start: float) -> None:
        times.setdefault(name, []).append(time.perf_counter() - start)

    for run in range(args.repeats):
        start = time.perf_counter()
        exported = source.export_rows(SYSTEM)
        fhir.write_resource(fhir.bundle_from_rows(exported), bundle_path)
        timed("fhir_export", start)

        url = args.database or f"sqlite:///{work / f'fhir-{run}.sqlite'}"
        target = _receiving(data, url)
        admin = target.actor_for(admin_name)
        start = time.perf_counter()
        bundle = fhir.read_bundle(bundle_path)
        checked = time.perf_counter()
        fhir.rows_from_bundle(bundle)
        timed("fhir_validate", checked)
        summary = fhir.import_bundle(target, admin, bundle, source=str(bundle_path))
        times.setdefault("fhir_import", []).append(
            time.perf_counter() - start - times["fhir_validate"][-1]
        )
        if summary.measurements != len(rows):
            raise SystemExit(f"MISMATCH: imported {summary.measurements} of {len(rows)}")
        _check(target, rows, "FHIR import")
        target.close()

        start = time.perf_counter()
        write_sessions(source.export_rows(SYSTEM), csv_path)
        timed("csv_export", start)
        url = args.database or f"sqlite:///{work / f'csv-{run}.sqlite'}"
        target = _receiving(data, url)
        admin = target.actor_for(admin_name)
        start = time.perf_counter()
        target.import_sessions(admin, read_sessions(csv_path), source=str(csv_path))
        timed("csv_import", start)
        _check(target, rows, "CSV import")
        target.close()
        print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))

    result = {
        "benchmark": "fhir",
        "data": args.data,
        "clients": len(data.clients),
        "measurements": len(rows),
        "receiving_database": "postgresql" if args.database else "sqlite",
        "bundle_mb": round(bundle_path.stat().st_size / 1e6, 1),
        "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
        "median_seconds": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "per_measurement_ms": {
            k: round(1000 * statistics.median(v) / len(rows), 3) for k, v in times.items()
        },
        "repeats": args.repeats,
        "python": platform.python_version(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    shutil.rmtree(work)  # the Bundle, the CSV and the receiving SQLite files
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-postgresql" if args.database else ""
    out = args.out / f"fhir-{args.data}{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
