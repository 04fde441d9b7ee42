"""Benchmark: per-episode change, flags and monthly team indicators against DuckDB.

Not a test (nothing here asserts timing); run it by hand::

    .venv/bin/python benchmarks/bench_analytics.py               # 100,000 clients
    .venv/bin/python benchmarks/bench_analytics.py --clients 5000 --repeats 3

Data: :func:`kor.sample.generate` (``clients`` clients over ``--years`` years, about
8 sessions per client), joined by :func:`kor.frames.session_table`.

Timed, median of ``--repeats`` runs each, in one process on the same pandas frame:

(a) ``kor.change.episode_change`` + ``kor.flags.evaluate_flags`` (default rules;
    not_on_track needs expected paths and is skipped by both sides), against the same
    categories and flags written as DuckDB SQL over the pandas frame;
(b) ``kor.indicators.service_indicators(by=("team",), period="M")`` from the raw
    session table (it computes change and alliance warnings itself), against one DuckDB
    query computing the same indicators, suppression included.

The results are checked to agree (same category per episode, same set of fired flags,
every indicator within 1e-9) before anything is reported. Writes
``benchmarks/results/analytics-<clients>.json`` and prints a table. The issue's goal:
ours at most 1.5x DuckDB, and (a) + (b) under 2 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kor import change, flags, frames, indicators, measures, sample  # noqa: E402

EPS = 1e-9
ALL_RULES = [r for r in flags.DEFAULT_RULES if r.enabled and r.kind != "not_on_track"]


def measure_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The measure declarations as two small frames DuckDB can join."""
    m = pd.DataFrame(
        [
            {
                "code": x.code,
                "rci": x.reliable_change,
                "hib": x.higher_is_better,
                "alliance_threshold": x.alliance_threshold,
                "alliance_drop": x.alliance_drop,
            }
            for x in measures.MEASURES.values()
        ]
    )
    cut = pd.DataFrame(
        [
            {"code": x.code, "age_group": age, "cutoff": x.cutoff(age)}
            for x in measures.MEASURES.values()
            for age in measures.AGE_GROUPS
            if x.cutoff(age) is not None
        ]
    )
    return m, cut


EPISODE_CHANGE_SQL = f"""
WITH o AS (
    SELECT episode, session_no, outcome, outcome_measure, age_group
    FROM sessions WHERE outcome IS NOT NULL
), e AS (
    SELECT episode,
           arg_min(outcome, session_no) AS intake,
           arg_max(outcome, session_no) AS latest,
           arg_min(outcome_measure, session_no) AS measure,
           arg_min(age_group, session_no) AS age_group,
           count(*) AS n_outcome
    FROM o GROUP BY episode
), p AS (
    SELECT e.*, round(latest - intake, 10) AS change, m.rci, coalesce(m.hib, true) AS hib,
           c.cutoff
    FROM e LEFT JOIN m ON e.measure = m.code
           LEFT JOIN cut c ON c.code = e.measure AND c.age_group = e.age_group
)
SELECT episode, intake, latest, change, rci, hib, n_outcome >= 2 AS assessable,
       CASE WHEN n_outcome < 2 OR rci IS NULL THEN NULL
            WHEN (CASE WHEN hib THEN change ELSE -change END) >= rci - {EPS} THEN
                CASE WHEN (hib AND intake < cutoff - {EPS} AND latest >= cutoff - {EPS})
                       OR (NOT hib AND intake > cutoff + {EPS} AND latest <= cutoff + {EPS})
                     THEN 'recovered' ELSE 'improved' END
            WHEN (CASE WHEN hib THEN -change ELSE change END) >= rci - {EPS}
                 THEN 'deteriorated'
            ELSE 'unchanged' END AS category
FROM p
"""

FLAGS_SQL = f"""
WITH ec AS ({EPISODE_CHANGE_SQL}),
r AS (
    SELECT s.episode, s.session_no, s.outcome, s.alliance, s.alliance_measure,
           ec.rci,
           round(CASE WHEN ec.hib THEN 1 ELSE -1 END * (s.outcome - ec.intake), 10) AS imp,
           count(s.outcome) OVER (PARTITION BY s.episode ORDER BY s.session_no
                                  ROWS UNBOUNDED PRECEDING) AS n_out
    FROM sessions s LEFT JOIN ec USING (episode)
),
reach AS (
    SELECT episode,
           min(session_no) FILTER (WHERE imp >= rci - {EPS}) AS first_reached,
           min(session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 6
                                   AND n_out >= 2) AS at6,
           min(session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 3
                                   AND n_out >= 2) AS at3,
           any_value(rci) AS rci
    FROM r GROUP BY episode
),
noimp AS (
    SELECT episode, at6 AS session_no, 'no_improvement_s6' AS rule FROM reach
    WHERE at6 IS NOT NULL AND rci IS NOT NULL AND coalesce(first_reached > at6, true)
    UNION ALL
    SELECT episode, at3, 'no_improvement_s3' FROM reach
    WHERE at3 IS NOT NULL AND rci IS NOT NULL AND coalesce(first_reached > at3, true)
      AND NOT (at6 IS NOT NULL AND at6 = at3 AND coalesce(first_reached > at6, true))
),
drops AS (
    SELECT episode, session_no, alliance_measure,
           round(lag(alliance) OVER (PARTITION BY episode ORDER BY session_no) - alliance, 10)
               AS dr
    FROM sessions WHERE alliance IS NOT NULL
)
SELECT episode, session_no, rule FROM noimp
UNION ALL
SELECT episode, session_no, 'deterioration' FROM r
WHERE outcome IS NOT NULL AND imp <= -rci + {EPS}
UNION ALL
SELECT s.episode, s.session_no, 'alliance_low' FROM sessions s JOIN m ON s.alliance_measure = m.code
WHERE s.alliance < m.alliance_threshold - {EPS}
UNION ALL
SELECT d.episode, d.session_no, 'alliance_drop' FROM drops d JOIN m ON d.alliance_measure = m.code
WHERE d.dr >= m.alliance_drop - {EPS}
UNION ALL
SELECT episode, session_no, 'missing_outcome' FROM sessions WHERE outcome IS NULL
UNION ALL
SELECT episode, session_no, 'missing_alliance' FROM sessions WHERE alliance IS NULL
"""


def indicators_sql(min_group: int = 5, dropout_days: int = 90) -> str:
    """Monthly team indicators in SQL, the same definitions as kor.indicators."""
    shown = f"clients >= {min_group}"
    change_ok = f"{shown} AND coalesce(a_clients, 0) >= {min_group}"
    alliance_ok = f"{shown} AND alliance_clients >= {min_group}"
    return f"""
WITH ec AS ({EPISODE_CHANGE_SQL}),
ses AS (
    SELECT s.*, date_trunc('month', s.session_date) AS period,
           coalesce(s.alliance < m.alliance_threshold - {EPS}, false) AS low
    FROM sessions s LEFT JOIN m ON s.alliance_measure = m.code
),
drops AS (
    SELECT episode, session_no, alliance_measure,
           round(lag(alliance) OVER (PARTITION BY episode ORDER BY session_no) - alliance, 10)
               AS dr
    FROM sessions WHERE alliance IS NOT NULL
),
dropped AS (
    SELECT d.episode, d.session_no FROM drops d JOIN m ON d.alliance_measure = m.code
    WHERE d.dr >= m.alliance_drop - {EPS}
),
sess AS (
    SELECT ses.*, (low OR dropped.episode IS NOT NULL) AS warning
    FROM ses LEFT JOIN dropped USING (episode, session_no)
),
sagg AS (
    SELECT team, period, count(DISTINCT client) AS clients,
           count(DISTINCT episode) AS episodes, count(*) AS sessions,
           count(outcome) AS n_outcome, count(alliance) AS n_alliance,
           avg(alliance) AS alliance_mean, count(*) FILTER (WHERE low) AS n_low,
           count(*) FILTER (WHERE warning) AS warnings,
           count(DISTINCT client) FILTER (WHERE alliance IS NOT NULL) AS alliance_clients
    FROM sess GROUP BY team, period
),
last AS (
    SELECT * FROM (
        SELECT episode, client, team, date_trunc('month', session_date) AS period,
               session_date, episode_end, end_reason,
               row_number() OVER (PARTITION BY episode
                                  ORDER BY session_date DESC, session_no DESC) AS rn
        FROM sessions) WHERE rn = 1
),
epi AS (
    SELECT l.*, ec.intake, ec.change, ec.category,
           coalesce(ec.assessable, false) AND ec.change IS NOT NULL
               AND ec.intake IS NOT NULL AS ok,
           coalesce(l.end_reason = 'dropout', false)
               OR (l.episode_end IS NULL AND l.session_date <
                   (SELECT max(session_date) FROM sessions) - INTERVAL {dropout_days} DAY)
               AS dropout
    FROM last l LEFT JOIN ec USING (episode)
),
svc AS (
    SELECT regr_slope(change, intake) AS slope, avg(intake) AS mi, stddev_samp(intake) AS sd
    FROM epi WHERE ok
),
eagg AS (
    SELECT team, period, count(*) AS n_assess, count(DISTINCT client) AS a_clients,
           avg(intake) AS intake_mean, stddev_samp(intake) AS intake_sd,
           avg(change) AS change_mean,
           avg(change - svc.slope * (intake - svc.mi)) AS adjusted,
           count(category) AS n_cat,
           count(*) FILTER (WHERE category IN ('improved', 'recovered')) AS n_imp,
           count(*) FILTER (WHERE category = 'recovered') AS n_rec,
           count(*) FILTER (WHERE category = 'deteriorated') AS n_det
    FROM epi, svc WHERE ok GROUP BY team, period
),
dagg AS (
    SELECT team, period, count(*) FILTER (WHERE dropout) AS n_drop FROM epi
    GROUP BY team, period
)
SELECT sagg.team, sagg.period,
    NOT ({shown}) AS suppressed,
    CASE WHEN {shown} THEN clients END AS clients,
    CASE WHEN {shown} THEN episodes END AS episodes,
    CASE WHEN {shown} THEN sessions END AS sessions,
    CASE WHEN {change_ok} THEN n_assess END AS episodes_assessable,
    CASE WHEN {change_ok} THEN intake_mean END AS intake_mean,
    CASE WHEN {change_ok} THEN change_mean END AS change_mean,
    CASE WHEN {change_ok} THEN change_mean / nullif(intake_sd, 0) END AS effect_size,
    CASE WHEN {change_ok} THEN adjusted END AS severity_adjusted_change,
    CASE WHEN {change_ok} THEN adjusted / svc.sd END AS severity_adjusted_es,
    CASE WHEN {change_ok} THEN 100.0 * n_imp / nullif(n_cat, 0) END AS pct_improved,
    CASE WHEN {change_ok} THEN 100.0 * n_rec / nullif(n_cat, 0) END AS pct_recovered,
    CASE WHEN {change_ok} THEN 100.0 * n_det / nullif(n_cat, 0) END AS pct_deteriorated,
    CASE WHEN {shown} THEN 100.0 * n_outcome / sessions END AS pct_sessions_with_outcome,
    CASE WHEN {shown} THEN 100.0 * n_alliance / sessions END AS pct_sessions_with_alliance,
    CASE WHEN {alliance_ok} THEN alliance_mean END AS alliance_mean,
    CASE WHEN {alliance_ok} THEN 100.0 * n_low / nullif(n_alliance, 0) END
        AS pct_alliance_low,
    CASE WHEN {alliance_ok} THEN warnings END AS alliance_warnings,
    CASE WHEN {shown} THEN 100.0 * coalesce(n_drop, 0) / episodes END AS dropout_rate
FROM sagg LEFT JOIN eagg USING (team, period) LEFT JOIN dagg USING (team, period), svc
ORDER BY sagg.team, sagg.period
"""


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def check_change_and_flags(ours: tuple[pd.DataFrame, pd.DataFrame], duck: tuple) -> dict:
    ep, fl = ours
    d_ep, d_fl = duck
    a = ep.set_index("episode")["category"].astype("object")
    b = d_ep.set_index("episode")["category"].astype("object").reindex(a.index)
    same = (a.fillna("-") == b.fillna("-")).all() and len(d_ep) == len(ep)
    counts_ours = a.value_counts(dropna=False).to_dict()
    counts_duck = b.value_counts(dropna=False).to_dict()
    key = ["episode", "session_no", "rule"]
    f1 = fl.loc[:, key].sort_values(key).reset_index(drop=True)
    f2 = d_fl.loc[:, key].sort_values(key).reset_index(drop=True)
    f1["session_no"] = f1["session_no"].astype("int64")
    f2["session_no"] = f2["session_no"].astype("int64")
    f1["rule"] = f1["rule"].astype("object")
    f2["rule"] = f2["rule"].astype("object")
    flags_same = len(f1) == len(f2) and bool((f1.to_numpy() == f2.to_numpy()).all())
    if not (same and flags_same):
        raise SystemExit(
            f"MISMATCH (a): categories equal={same} {counts_ours} vs {counts_duck}; "
            f"flags equal={flags_same} ({len(f1)} vs {len(f2)}): "
            f"{fl['rule'].value_counts().to_dict()} vs {d_fl['rule'].value_counts().to_dict()}"
        )
    return {
        "categories": {str(k): int(v) for k, v in counts_ours.items()},
        "flags_per_rule": {str(k): int(v) for k, v in fl["rule"].value_counts().items()},
    }


def check_indicators(ours: pd.DataFrame, duck: pd.DataFrame) -> float:
    """Largest absolute difference over every numeric cell; raises on any mismatch."""
    o = ours.copy()
    o["period"] = o["period"].dt.start_time
    d = duck.copy()
    d["period"] = pd.to_datetime(d["period"]).astype(o["period"].dtype)
    o["team"] = o["team"].astype("object")
    d["team"] = d["team"].astype("object")
    if (
        len(o) != len(d)
        or not (o[["team", "period"]].to_numpy() == d[["team", "period"]].to_numpy()).all()
    ):
        raise SystemExit("MISMATCH (b): different groups")
    if not (o["suppressed"].to_numpy() == d["suppressed"].to_numpy()).all():
        raise SystemExit("MISMATCH (b): suppression differs")
    worst = 0.0
    for col in indicators.INDICATOR_COLUMNS[1:]:
        x = pd.to_numeric(o[col]).astype("float64").to_numpy()
        y = pd.to_numeric(d[col]).astype("float64").to_numpy()
        if not (np.isnan(x) == np.isnan(y)).all():
            raise SystemExit(f"MISMATCH (b): {col} blank in one result only")
        diff = np.abs(x - y)[~np.isnan(x)]
        if diff.size:
            worst = max(worst, float(diff.max()))
            if diff.max() > 1e-9:
                raise SystemExit(f"MISMATCH (b): {col} differs by {diff.max():.3g}")
    return worst


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=sample.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    import duckdb

    t0 = time.perf_counter()
    sessions = frames.session_table(sample.generate(args.clients, seed=args.seed, years=args.years))
    setup = time.perf_counter() - t0
    m, cut = measure_tables()
    con = duckdb.connect()
    for name, frame in (("sessions", sessions), ("m", m), ("cut", cut)):
        con.register(name, frame)

    def ours_a():
        return change.episode_change(sessions), flags.evaluate_flags(sessions, rules=ALL_RULES)

    def duck_a():
        return con.sql(EPISODE_CHANGE_SQL).df(), con.sql(FLAGS_SQL).df()

    def ours_b():
        return indicators.service_indicators(sessions, by=("team",), period="M")

    sql_b = indicators_sql()

    def duck_b():
        return con.sql(sql_b).df()

    rows = {}
    for name, ours_fn, duck_fn in (("a", ours_a, duck_a), ("b", ours_b, duck_b)):
        ours_t, ours_all, ours_res = median_time(ours_fn, args.repeats)
        duck_t, duck_all, duck_res = median_time(duck_fn, args.repeats)
        rows[name] = {
            "ours_s": ours_t,
            "duckdb_s": duck_t,
            "ratio": ours_t / duck_t,
            "ours_runs_s": ours_all,
            "duckdb_runs_s": duck_all,
            "result": (ours_res, duck_res),
        }
    details_a = check_change_and_flags(*rows["a"].pop("result"))
    ours_b_res, duck_b_res = rows["b"].pop("result")
    worst = check_indicators(ours_b_res, duck_b_res)

    tracemalloc.start()
    ours_a()
    ours_b()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    total_ours = rows["a"]["ours_s"] + rows["b"]["ours_s"]
    total_duck = rows["a"]["duckdb_s"] + rows["b"]["duckdb_s"]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "kor.sample.generate + kor.frames.session_table",
        "clients": args.clients,
        "years": args.years,
        "sessions": len(sessions),
        "episodes": int(sessions["episode"].nunique()),
        "setup_s": setup,
        "repeats": args.repeats,
        "a_change_and_flags": rows["a"] | details_a,
        "b_monthly_team_indicators": rows["b"] | {"rows": len(ours_b_res), "max_abs_diff": worst},
        "total": {"ours_s": total_ours, "duckdb_s": total_duck, "ratio": total_ours / total_duck},
        "memory": {
            "ours_tracemalloc_peak_mb": traced_peak / 2**20,
            "process_maxrss_mb": maxrss_mb,
        },
        "goal": {"ratio_max": 1.5, "total_max_s": 2.0},
        "versions": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "duckdb": duckdb.__version__,
            "duckdb_threads": con.sql("SELECT current_setting('threads')").fetchall()[0][0],
        },
        "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"analytics-{args.clients}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(
        f"{len(sessions):,} sessions, {report['episodes']:,} episodes, "
        f"{args.clients:,} clients (setup {setup:.1f} s), median of {args.repeats}"
    )
    print(f"{'':34s} {'ours s':>8s} {'DuckDB s':>9s} {'ratio':>6s}")
    for label, key in (
        ("(a) change categories + flags", "a"),
        ("(b) monthly team indicators", "b"),
    ):
        r = rows[key]
        print(f"{label:34s} {r['ours_s']:8.3f} {r['duckdb_s']:9.3f} {r['ratio']:6.2f}")
    print(f"{'total':34s} {total_ours:8.3f} {total_duck:9.3f} {total_ours / total_duck:6.2f}")
    print(
        f"agree: categories {details_a['categories']}; flags "
        f"{sum(details_a['flags_per_rule'].values()):,}; indicators max |diff| {worst:.2g}"
    )
    print(
        f"memory: ours peak {traced_peak / 2**20:.0f} MB traced; process maxrss {maxrss_mb:.0f} MB"
    )
    print(f"written {path.relative_to(ROOT)}")
    return report


if __name__ == "__main__":
    main()
