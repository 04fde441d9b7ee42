"""Benchmark: the quality dashboard after a filter change, and the full leader report.

Not a test (nothing here asserts timing); run it by hand::

    .venv/bin/python benchmarks/bench_dashboard.py --data sample      # bundled sample
    .venv/bin/python benchmarks/bench_dashboard.py --data 100000      # 100,000 clients
    .venv/bin/python benchmarks/bench_dashboard.py --data 100000 \
        --database postgresql://postgres@127.0.0.1:5432/kor_bench      # the same, PostgreSQL

Data: the bundled sample (``data/sample``, 400 clients) or ``kor.sample.generate(N)``
loaded into a SQLite file under /tmp (``/tmp/kor-bench-<N>.sqlite``, built once with
``Store.load_dataset`` and reused; a file is used only when it holds N clients), or
with ``--database`` into that (empty or already loaded) database, e.g. PostgreSQL.

Timed, median of ``--repeats`` runs, as the quality lead (role quality_lead):

(a) ``open``: ``dashboard_app(store, actor)`` (reads the session table once, computes
    and draws the first tab) - once, not a median;
(b) ``filter_change``: setting the team filter widget's value (whole service -> a
    team -> ...), i.e. recompute + redraw of the trends tab, as the user waits for it,
    for a filter not seen before (the dashboard's kept reports are cleared before each
    change; the per-window cache of episode change and flags stays, as it does for a
    user); ``filter_change_seen`` is the same for a filter already shown (kept report,
    redraw only); ``filter_compute`` is the computation alone (``compute_report`` with
    the cache);
(c) ``report_<fmt>``: ``build_report`` (reads the data from the store) + rendering
    to PDF, XLSX and HTML, as ``kor report`` does;
(d) ``load_session_table``: ``Store.session_table`` for the whole service, and the
    reference ``reference_read_sql``: ``pandas.read_sql_query`` of the same six tables
    and columns from the same database (SQLite: over a plain ``sqlite3`` connection;
    PostgreSQL: over the store's engine), in this process (the read alone, no join, no
    access check). ``ratios`` divides the load and
    each report by it: how many plain reads of the data the work costs.

Writes ``benchmarks/results/dashboard-<data>[-postgresql].json``. Goals (issue «quality lead
dashboard»): filter change under 1 s, report under 10 s at 100,000 clients.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
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

from kor import report  # noqa: E402
from kor.access import SYSTEM  # noqa: E402
from kor.store import Store  # noqa: E402


def open_store(data: str, database: str | None = None) -> Store:
    """The benchmark database (built and cached under /tmp when missing)."""
    if database:
        from kor.sample import generate

        store = Store.open(database)
        if store.is_empty():
            print(f"loading {data} clients into {store.dialect} (about 80 s) ...", flush=True)
            store.load_dataset(SYSTEM, generate(int(data)))
        if store.counts(SYSTEM)["client"] != int(data):
            raise SystemExit(f"{store.dialect} database does not hold {data} clients")
        return store
    if data == "sample":
        from kor.frames import Dataset

        path = Path("/tmp/kor-bench-sample.sqlite")
        store = Store.open(f"sqlite:///{path}")
        if store.is_empty():
            store.load_dataset(SYSTEM, Dataset.read_csv(ROOT / "data" / "sample"))
        return store
    clients = int(data)
    path = Path(
        f"/tmp/kor-bench-{clients // 1000}k.sqlite"
        if clients % 1000 == 0
        else f"/tmp/kor-bench-{clients}.sqlite"
    )
    if path.exists():
        store = Store.open(f"sqlite:///{path}")
        if store.counts(SYSTEM)["client"] == clients:
            return store
        store.close()
        raise SystemExit(f"{path} exists but does not hold {clients} clients; remove it")
    from kor.sample import generate

    print(f"building {path} (about 80 s) ...", flush=True)
    tmp = path.with_suffix(".building")
    store = Store.open(f"sqlite:///{tmp}")
    store.load_dataset(SYSTEM, generate(clients))
    store.close()
    tmp.replace(path)
    return Store.open(f"sqlite:///{path}")


REFERENCE_QUERIES = (
    "SELECT id, code, name FROM team",
    "SELECT id, username, display_name, role, team_id FROM app_user",
    "SELECT id, code, birth_year, age_group, team_id FROM client",
    "SELECT id, client_id, clinician_id, start_date, end_date, end_reason FROM episode",
    "SELECT id, episode_id, number, session_date, clinician_id, format FROM session",
    "SELECT session_id, measure, item1, item2, item3, item4, total FROM measurement",
)


def reference_read(store: Store) -> list[pd.DataFrame]:
    """The plain pandas read of what ``session_table`` reads."""
    if store.dialect != "sqlite":
        with store.engine.connect() as conn:
            return [pd.read_sql_query(sa.text(q), conn) for q in REFERENCE_QUERIES]
    with sqlite3.connect(store.engine.url.database) as con:
        return [pd.read_sql_query(q, con) for q in REFERENCE_QUERIES]


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="'sample' or a number of clients")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database", default=None, help="a database URL instead of /tmp SQLite")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    from widgets.dashboard import dashboard_app

    store = open_store(args.data, args.database)
    dialect = store.dialect
    actor = store.actor_for("randi.saether")
    counts = store.counts(SYSTEM)
    results: dict[str, object] = {"data": args.data, "database": dialect, "counts": counts}

    start = time.perf_counter()
    app = dashboard_app(store, actor)._kor_app
    results["open"] = time.perf_counter() - start
    assert app.status.children == (), "the dashboard failed to open"
    teams = [v for _, v in app.team.options]
    cycle = iter(teams[1:] + [""] + teams[1:] * args.repeats)

    def change_filter() -> None:
        app.team.value = next(cycle)
        assert app.status.children == (), "the dashboard failed after a filter change"

    def change_filter_new() -> None:
        app.reports.clear()
        change_filter()

    change_filter()  # warm: the cache for the period is already filled by open
    results["filter_change"], results["filter_change_runs"] = median_time(
        change_filter_new, args.repeats
    )
    for _ in teams:  # every team's report is kept now
        change_filter()
    results["filter_change_seen"], results["filter_change_seen_runs"] = median_time(
        change_filter, args.repeats
    )
    results["filter_compute"], _ = median_time(
        lambda: report.compute_report(
            app.sessions,
            period=app.period.value,
            cache=app.cache,
            team="VOP",
            parts=("headline", "trends"),
        ),
        args.repeats,
    )
    # numbers check: the dashboard's report equals the library's indicators
    r = report.compute_report(app.sessions, period=app.period.value, cache=app.cache)
    from kor.indicators import service_indicators

    s, e = report.period_window(app.period.value)
    direct = service_indicators(app.sessions, by=(), start=s, end=e)
    assert float(direct["change_mean"].iloc[0]) == float(r.totals["change_mean"].iloc[0])

    out_dir = Path(tempfile.mkdtemp(prefix="kor-bench-report-"))
    for fmt in report.FORMATS:

        def full(fmt: str = fmt) -> None:
            rep = report.build_report(store, actor, period=app.period.value)
            rep.save(out_dir / f"r.{fmt}", fmt)

        repeats = max(1, min(args.repeats, 3))
        results[f"report_{fmt}"], results[f"report_{fmt}_runs"] = median_time(full, repeats)
    results["load_session_table"], _ = median_time(lambda: store.session_table(actor), 1)
    results["reference_read_sql"], _ = median_time(lambda: reference_read(store), 1)
    results["ratios"] = {
        key: results[key] / results["reference_read_sql"]
        for key in ("load_session_table", *[f"report_{f}" for f in report.FORMATS])
    }
    store.close()
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    results["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if dialect == "sqlite" else f"-{dialect}"
    target = out / f"dashboard-{args.data}{suffix}.json"
    target.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"{'what':<22}{'median s':>10}")
    for key in (
        "open",
        "filter_change",
        "filter_change_seen",
        "filter_compute",
        "load_session_table",
        "reference_read_sql",
        *[f"report_{f}" for f in report.FORMATS],
    ):
        print(f"{key:<22}{results[key]:>10.2f}")
    for key, ratio in results["ratios"].items():
        print(f"{key + ' / reference':<36}{ratio:>6.2f}")
    print(f"written {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
