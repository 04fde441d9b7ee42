"""Benchmark: KOR analytics against single-threaded DuckDB on the same outputs.

Not a test (nothing here asserts timing); run it by hand::

    .venv/bin/python benchmarks/bench_analytics.py                  # 100,000 clients
    .venv/bin/python benchmarks/bench_analytics.py --clients 10000 --repeats 3
    .venv/bin/python benchmarks/bench_analytics.py --clients 1000000 --repeats 3

Data: :func:`kor.sample.generate` (``--clients`` clients over ``--years`` years, about
8 sessions per client) joined by :func:`kor.frames.session_table`, sorted by episode and
session as the store returns it. Not timed.

The reference is what a data-savvy user would write: DuckDB with ``SET threads=1`` (ours
is single-threaded numpy), reading the same frame as an Arrow table (what the store
reads; the conversion is done once and not timed), window functions over the session
table in one pass, no Python per row, results fetched as pandas frames. Each repeat
runs ours and DuckDB back to back in one process (alternating which goes first), and
the median of ``--repeats`` is reported, so the ratio is robust to the machine's load.

Workloads (the issue's three):

(i) ``episode``: per episode, the change category and whether no_improvement_s3,
    no_improvement_s6 and alliance_low fired (ours: ``episode_change`` +
    ``evaluate_flags`` with those three rules, then one ``isin`` per rule);
(ii) ``team_month``: per team and intake month, episodes, mean change (assessable
    episodes) and share improved (improved or recovered, of categorised episodes)
    (ours: ``episode_change`` + a pandas groupby);
(iii) ``dashboard``: everything the dashboard computes from the session table:
    ``episode_change``, ``evaluate_flags`` with every default rule (not_on_track needs
    expected paths and is left out on both sides) and
    ``service_indicators(by=("team",), period="M", episodes=..., flags=...)`` (as
    :func:`kor.report.compute_report` passes them). DuckDB: the same three results
    (episode change, fired flags, indicators with suppression) from temporary tables.

Every result is checked to agree before anything is reported (same categories and
flags, every number within 1e-9, blanks on both sides); a difference stops the run
with ``MISMATCH``. Peak memory of (iii): ``tracemalloc`` peak of ours (numpy included)
and the process's peak RSS (``ru_maxrss``, data and DuckDB included), measured in a
separate run after the timings. Writes ``benchmarks/results/analytics-<clients>.json``.

Goals (issue 20): (i) and (ii) within 1.5x of DuckDB at 100k and 1M clients, time
growing linearly; (iii) on 1M clients under 5 s and within 2 GiB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
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
EPISODE_RULES = [
    r
    for r in flags.DEFAULT_RULES
    if r.id in ("no_improvement_s3", "no_improvement_s6", "alliance_low")
]
IMPROVED = ("improved", "recovered")


# --------------------------------------------------------------------------- SQL pieces


def _case(column: str, values: dict[str, float | None], default: str = "NULL") -> str:
    """``CASE column WHEN code THEN value ... END`` from the measure declarations."""
    parts = [f"WHEN '{code}' THEN {v!r}" for code, v in values.items() if v is not None]
    return f"(CASE {column} {' '.join(parts)} ELSE {default} END)" if parts else default


def rci_sql(col: str) -> str:
    return _case(col, {c: m.reliable_change for c, m in measures.MEASURES.items()})


def hib_sql(col: str) -> str:
    low = [c for c, m in measures.MEASURES.items() if not m.higher_is_better]
    return f"({col} NOT IN ({', '.join(repr(c) for c in low)}))" if low else "true"


def cutoff_sql(col: str, age: str) -> str:
    parts = [
        f"WHEN {col} = '{c}' AND {age} = '{a}' THEN {m.cutoff(a)!r}"
        for c, m in measures.MEASURES.items()
        for a in measures.AGE_GROUPS
        if m.cutoff(a) is not None
    ]
    return f"(CASE {' '.join(parts)} END)"


def alliance_sql(col: str, attribute: str) -> str:
    return _case(col, {c: getattr(m, attribute) for c, m in measures.MEASURES.items()})


def category_sql() -> str:
    """The change category from intake, latest, change, rci, hib, cutoff, n_outcome."""
    return f"""CASE WHEN n_outcome < 2 OR rci IS NULL THEN NULL
         WHEN (CASE WHEN hib THEN change ELSE -change END) >= rci - {EPS} THEN
              CASE WHEN (hib AND intake < cutoff - {EPS} AND latest >= cutoff - {EPS})
                     OR (NOT hib AND intake > cutoff + {EPS} AND latest <= cutoff + {EPS})
                   THEN 'recovered' ELSE 'improved' END
         WHEN (CASE WHEN hib THEN -change ELSE change END) >= rci - {EPS} THEN 'deteriorated'
         ELSE 'unchanged' END"""


# (i) one window pass (running outcome count, best so far) and one aggregate per episode.
EPISODE_SQL = f"""
WITH w AS (
    SELECT episode, session_no, outcome, outcome_measure, age_group, alliance,
           alliance_measure,
           count(outcome) OVER run AS n_out, max(outcome) OVER run AS hi,
           min(outcome) OVER run AS lo
    FROM sessions
    WINDOW run AS (PARTITION BY episode ORDER BY session_no ROWS UNBOUNDED PRECEDING)
), e AS (
    SELECT episode, count(outcome) AS n_outcome,
        arg_min(outcome, session_no) FILTER (WHERE outcome IS NOT NULL) AS intake,
        arg_max(outcome, session_no) FILTER (WHERE outcome IS NOT NULL) AS latest,
        arg_min(outcome_measure, session_no) FILTER (WHERE outcome IS NOT NULL) AS measure,
        arg_min(age_group, session_no) FILTER (WHERE outcome IS NOT NULL) AS age,
        min(session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 3 AND n_out >= 2)
            AS at3,
        arg_min(hi, session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 3
                                        AND n_out >= 2) AS hi3,
        arg_min(lo, session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 3
                                        AND n_out >= 2) AS lo3,
        min(session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 6 AND n_out >= 2)
            AS at6,
        arg_min(hi, session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 6
                                        AND n_out >= 2) AS hi6,
        arg_min(lo, session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 6
                                        AND n_out >= 2) AS lo6,
        coalesce(bool_or(alliance < {alliance_sql("alliance_measure", "alliance_threshold")}
                         - {EPS}), false) AS alliance_low
    FROM w GROUP BY episode HAVING count(outcome) > 0
), p AS (
    SELECT *, round(latest - intake, 10) AS change, {rci_sql("measure")} AS rci,
           {hib_sql("measure")} AS hib, {cutoff_sql("measure", "age")} AS cutoff
    FROM e
), f AS (
    SELECT *, coalesce(at6 IS NOT NULL AND rci IS NOT NULL AND round(CASE WHEN hib
               THEN hi6 - intake ELSE intake - lo6 END, 10) < rci - {EPS}, false) AS s6
    FROM p
)
SELECT episode, {category_sql()} AS category,
       coalesce(at3 IS NOT NULL AND rci IS NOT NULL AND round(CASE WHEN hib
           THEN hi3 - intake ELSE intake - lo3 END, 10) < rci - {EPS}
           AND NOT (s6 AND at6 = at3), false) AS no_improvement_s3,
       s6 AS no_improvement_s6, alliance_low
FROM f ORDER BY episode
"""

# Intake facts per episode: one aggregate over the sessions with an outcome.
_INTAKE_SQL = f"""
    SELECT *, round(latest - intake, 10) AS change, {rci_sql("measure")} AS rci,
           {hib_sql("measure")} AS hib, {cutoff_sql("measure", "age")} AS cutoff
    FROM (
        SELECT episode, count(*) AS n_outcome,
               arg_min(outcome, session_no) AS intake, arg_max(outcome, session_no) AS latest,
               arg_min(outcome_measure, session_no) AS measure,
               arg_min(age_group, session_no) AS age, arg_min(team, session_no) AS team,
               arg_min(client, session_no) AS client,
               arg_min(session_date, session_no) AS first_date,
               arg_min(episode_end, session_no) AS episode_end
        FROM sessions WHERE outcome IS NOT NULL GROUP BY episode)
"""

# (ii) one aggregate per episode, one per team and month.
TEAM_MONTH_SQL = f"""
WITH p AS ({_INTAKE_SQL}), c AS (SELECT *, {category_sql()} AS category FROM p)
SELECT team, date_trunc('month', first_date) AS month, count(*) AS episodes,
       avg(change) FILTER (WHERE n_outcome >= 2) AS mean_change,
       avg(CASE WHEN category IN ('improved', 'recovered') THEN 1.0 ELSE 0.0 END)
           FILTER (WHERE category IS NOT NULL) AS share_improved
FROM c GROUP BY team, month ORDER BY team, month
"""

# (iii) the dashboard: episode change, then every flag, then the indicators.
DASH_EC_SQL = f"""
CREATE OR REPLACE TEMP TABLE ec AS
SELECT *, {category_sql()} AS category, n_outcome >= 2 AS assessable
FROM ({_INTAKE_SQL}) ORDER BY episode
"""

DASH_FLAGS_SQL = f"""
CREATE OR REPLACE TEMP TABLE fl AS
WITH r AS MATERIALIZED (
    SELECT s.episode, s.session_no, s.outcome, s.alliance, ec.rci,
           round(CASE WHEN ec.hib THEN s.outcome - ec.intake ELSE ec.intake - s.outcome END,
                 10) AS imp,
           count(s.outcome) OVER run AS n_out,
           round(last_value(s.alliance IGNORE NULLS) OVER (PARTITION BY s.episode
                 ORDER BY s.session_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                 - s.alliance, 10) AS drop,
           {alliance_sql("s.alliance_measure", "alliance_threshold")} AS low_at,
           {alliance_sql("s.alliance_measure", "alliance_drop")} AS drop_at
    FROM sessions s LEFT JOIN ec USING (episode)
    WINDOW run AS (PARTITION BY s.episode ORDER BY s.session_no ROWS UNBOUNDED PRECEDING)
), reach AS (
    SELECT episode, any_value(rci) AS rci,
           min(session_no) FILTER (WHERE imp >= rci - {EPS}) AS first_reached,
           min(session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 6
                                   AND n_out >= 2) AS at6,
           min(session_no) FILTER (WHERE outcome IS NOT NULL AND session_no >= 3
                                   AND n_out >= 2) AS at3
    FROM r GROUP BY episode
), noimp AS (
    SELECT episode, at6 AS session_no, 'no_improvement_s6' AS rule FROM reach
    WHERE at6 IS NOT NULL AND rci IS NOT NULL AND coalesce(first_reached > at6, true)
    UNION ALL
    SELECT episode, at3, 'no_improvement_s3' FROM reach
    WHERE at3 IS NOT NULL AND rci IS NOT NULL AND coalesce(first_reached > at3, true)
      AND NOT (at6 IS NOT NULL AND at6 = at3 AND coalesce(first_reached > at6, true))
), per_row AS (
    SELECT episode, session_no, unnest(list_filter([
        CASE WHEN outcome IS NOT NULL AND imp <= -rci + {EPS} THEN 'deterioration' END,
        CASE WHEN alliance < low_at - {EPS} THEN 'alliance_low' END,
        CASE WHEN drop >= drop_at - {EPS} THEN 'alliance_drop' END,
        CASE WHEN outcome IS NULL THEN 'missing_outcome' END,
        CASE WHEN alliance IS NULL THEN 'missing_alliance' END], lambda x: x IS NOT NULL)) AS rule
    FROM r
)
SELECT * FROM noimp UNION ALL SELECT * FROM per_row
"""


def dash_indicators_sql(min_group: int = 5, dropout_days: int = 90) -> str:
    """Monthly team indicators from ``sessions``, ``ec`` and ``fl``: kor.indicators' rules."""
    shown = f"clients >= {min_group}"
    change_ok = f"{shown} AND coalesce(a_clients, 0) >= {min_group}"
    alliance_ok = f"{shown} AND alliance_clients >= {min_group}"
    dropout_ok = f"{shown} AND coalesce(ended_clients, 0) >= {min_group}"
    low = alliance_sql("s.alliance_measure", "alliance_threshold")
    return f"""
WITH today AS (SELECT max(session_date) AS today FROM sessions),
warn AS (
    SELECT DISTINCT episode, session_no FROM fl WHERE rule IN ('alliance_low', 'alliance_drop')
),
ses AS (
    SELECT s.team, date_trunc('month', s.session_date) AS period, s.client, s.episode,
           s.session_no, s.session_date, s.episode_end, s.end_reason, s.outcome, s.alliance,
           coalesce(s.alliance < {low} - {EPS}, false) AS low,
           warn.episode IS NOT NULL AS warning
    FROM sessions s LEFT JOIN warn USING (episode, session_no)
),
sagg AS (
    SELECT team, period, count(DISTINCT client) AS clients,
           count(DISTINCT episode) AS episodes, count(*) AS sessions,
           count(outcome) AS n_outcome, count(alliance) AS n_alliance,
           avg(alliance) AS alliance_mean, count(*) FILTER (WHERE low) AS n_low,
           count(*) FILTER (WHERE warning) AS warnings,
           count(DISTINCT client) FILTER (WHERE alliance IS NOT NULL) AS alliance_clients
    FROM ses GROUP BY team, period
),
last AS (
    SELECT episode,
           arg_max(team, (session_date, session_no)) AS team,
           arg_max(period, (session_date, session_no)) AS period,
           arg_max(client, (session_date, session_no)) AS client,
           max(session_date) AS last_date,
           arg_max(episode_end, (session_date, session_no)) AS episode_end,
           arg_max(end_reason, (session_date, session_no)) AS end_reason
    FROM ses GROUP BY episode
),
epi AS (
    SELECT l.*, ec.intake, ec.change, ec.category,
           coalesce(ec.assessable, false) AND ec.change IS NOT NULL
               AND ec.intake IS NOT NULL AS ok,
           coalesce(l.episode_end <= today, false) AS closed,
           NOT coalesce(l.episode_end <= today, false)
               AND l.last_date < today - INTERVAL {dropout_days} DAY AS lapsed
    FROM last l LEFT JOIN ec USING (episode), today
),
svc AS (
    SELECT CASE WHEN count(DISTINCT client) >= {min_group} AND count(*) >= 3
                     AND max(intake) > min(intake) THEN 1 END AS fit,
           regr_slope(change, intake) AS slope, avg(intake) AS mi,
           stddev_samp(intake) AS sd
    FROM ec, today
    WHERE assessable AND episode_end <= today AND intake IS NOT NULL AND change IS NOT NULL
),
eagg AS (
    SELECT team, period, count(*) FILTER (WHERE ok) AS n_assess,
           count(DISTINCT client) FILTER (WHERE ok) AS a_clients,
           avg(intake) FILTER (WHERE ok) AS intake_mean,
           stddev_samp(intake) FILTER (WHERE ok) AS intake_sd,
           avg(change) FILTER (WHERE ok) AS change_mean,
           avg(change - svc.slope * (intake - svc.mi)) FILTER (WHERE ok) AS adjusted,
           count(category) FILTER (WHERE ok) AS n_cat,
           count(*) FILTER (WHERE ok AND category IN ('improved', 'recovered')) AS n_imp,
           count(*) FILTER (WHERE ok AND category = 'recovered') AS n_rec,
           count(*) FILTER (WHERE ok AND category = 'deteriorated') AS n_det,
           count(*) FILTER (WHERE closed OR lapsed) AS n_ended,
           count(DISTINCT client) FILTER (WHERE closed OR lapsed) AS ended_clients,
           count(*) FILTER (WHERE (closed AND end_reason = 'dropout') OR lapsed) AS n_drop
    FROM epi, svc GROUP BY team, period
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
    CASE WHEN {change_ok} AND svc.fit = 1 THEN adjusted END AS severity_adjusted_change,
    CASE WHEN {change_ok} AND svc.fit = 1 THEN adjusted / svc.sd END AS severity_adjusted_es,
    CASE WHEN {change_ok} THEN 100.0 * n_imp / nullif(n_cat, 0) END AS pct_improved,
    CASE WHEN {change_ok} THEN 100.0 * n_rec / nullif(n_cat, 0) END AS pct_recovered,
    CASE WHEN {change_ok} THEN 100.0 * n_det / nullif(n_cat, 0) END AS pct_deteriorated,
    CASE WHEN {shown} THEN 100.0 * n_outcome / sessions END AS pct_sessions_with_outcome,
    CASE WHEN {shown} THEN 100.0 * n_alliance / sessions END AS pct_sessions_with_alliance,
    CASE WHEN {alliance_ok} THEN alliance_mean END AS alliance_mean,
    CASE WHEN {alliance_ok} THEN 100.0 * n_low / nullif(n_alliance, 0) END
        AS pct_alliance_low,
    CASE WHEN {alliance_ok} THEN warnings END AS alliance_warnings,
    CASE WHEN {dropout_ok} THEN n_ended END AS episodes_ended,
    CASE WHEN {dropout_ok} THEN 100.0 * n_drop / nullif(n_ended, 0) END AS dropout_rate
FROM sagg LEFT JOIN eagg USING (team, period), svc
ORDER BY sagg.team, sagg.period
"""


# --------------------------------------------------------------------------- ours


def ours_episode(sessions: pd.DataFrame) -> pd.DataFrame:
    """(i) with the workbench's pure functions."""
    ec = change.episode_change(sessions)
    fl = flags.evaluate_flags(sessions, rules=EPISODE_RULES)
    out = pd.DataFrame({"episode": ec["episode"], "category": ec["category"]})
    episodes = ec["episode"].to_numpy()
    rule = fl["rule"].to_numpy()
    fired_ep = fl["episode"].to_numpy()
    for r in EPISODE_RULES:
        out[r.id] = np.isin(episodes, fired_ep[rule == r.id])
    return out


def ours_team_month(sessions: pd.DataFrame) -> pd.DataFrame:
    """(ii) with ``episode_change`` and a pandas groupby."""
    ec = change.episode_change(sessions)
    cat = ec["category"]
    g = pd.DataFrame(
        {
            "team": ec["team"],
            "month": ec["first_date"].to_numpy(dtype="datetime64[M]"),
            "change": ec["change"].where(ec["assessable"]),
            "improved": cat.isin(IMPROVED).astype(float).where(cat.notna()),
        }
    )
    return (
        g.groupby(["team", "month"], sort=True)
        .agg(
            episodes=("change", "size"),
            mean_change=("change", "mean"),
            share_improved=("improved", "mean"),
        )
        .reset_index()
    )


def ours_dashboard(sessions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(iii) as the report computes it: change and flags once, indicators from them."""
    ec = change.episode_change(sessions)
    fl = flags.evaluate_flags(sessions, rules=ALL_RULES)
    ind = indicators.service_indicators(sessions, by=("team",), period="M", episodes=ec, flags=fl)
    return ec, fl, ind


# --------------------------------------------------------------------------- checks


def _mismatch(what: str) -> None:
    raise SystemExit(f"MISMATCH {what}")


def _same_numbers(name: str, x: pd.Series, y: pd.Series) -> float:
    a = pd.to_numeric(x).astype("float64").to_numpy()
    b = pd.to_numeric(y).astype("float64").to_numpy()
    if len(a) != len(b) or not (np.isnan(a) == np.isnan(b)).all():
        _mismatch(f"{name}: blank in one result only")
    diff = np.abs(a - b)[~np.isnan(a)]
    worst = float(diff.max()) if diff.size else 0.0
    if worst > EPS:
        _mismatch(f"{name}: differs by {worst:.3g}")
    return worst


def _same_categories(name: str, ours: pd.DataFrame, duck: pd.DataFrame) -> dict[str, int]:
    a = ours["category"].astype("object").fillna("-").to_numpy()
    b = duck["category"].astype("object").fillna("-").to_numpy()
    same_ep = (ours["episode"].to_numpy() == duck["episode"].to_numpy()).all()
    if len(a) != len(b) or not same_ep or not (a == b).all():
        _mismatch(f"{name}: categories differ")
    return {str(k): int(v) for k, v in pd.Series(a).value_counts().items()}


def check_episode(ours: pd.DataFrame, duck: pd.DataFrame) -> dict:
    if len(ours) != len(duck):
        _mismatch(f"(i): {len(ours)} vs {len(duck)} episodes")
    counts = _same_categories("(i)", ours, duck)
    fired = {}
    for r in EPISODE_RULES:
        if not (ours[r.id].to_numpy() == duck[r.id].to_numpy().astype(bool)).all():
            _mismatch(f"(i): {r.id} differs")
        fired[r.id] = int(ours[r.id].sum())
    return {"episodes": len(ours), "categories": counts, "episodes_flagged": fired}


def check_team_month(ours: pd.DataFrame, duck: pd.DataFrame) -> dict:
    d_month = pd.to_datetime(duck["month"]).to_numpy(dtype="datetime64[M]")
    if (
        len(ours) != len(duck)
        or not (ours["team"].astype(object).to_numpy() == duck["team"].to_numpy()).all()
        or not (ours["month"].to_numpy(dtype="datetime64[M]") == d_month).all()
    ):
        _mismatch("(ii): different groups")
    worst = max(_same_numbers(f"(ii) {c}", ours[c], duck[c]) for c in ours.columns[2:])
    return {"rows": len(ours), "max_abs_diff": worst}


def check_dashboard(ours: tuple, duck: tuple) -> dict:
    ec, fl, ind = ours
    d_ec, d_fl, d_ind = duck
    counts = _same_categories("(iii) change", ec, d_ec)
    worst = max(_same_numbers(f"(iii) {c}", ec[c], d_ec[c]) for c in ("intake", "change", "rci"))
    if len(fl) != len(d_fl):
        _mismatch(f"(iii) flags: {len(fl)} vs {len(d_fl)}")
    # (episode, session, rule) as one integer per flag, sorted: no Python objects per row.
    rules = pd.Index([r.id for r in ALL_RULES])
    width = int(max(fl["session_no"].max(), d_fl["session_no"].max())) + 1

    def keys(frame: pd.DataFrame) -> np.ndarray:
        code = rules.get_indexer(frame["rule"].astype(object))
        if (code < 0).any():
            _mismatch("(iii) flags: unknown rule")
        ep = frame["episode"].to_numpy(dtype=np.int64)
        no = frame["session_no"].to_numpy(dtype=np.int64)
        return np.sort((ep * width + no) * len(rules) + code)

    if not np.array_equal(keys(fl), keys(d_fl)):
        _mismatch("(iii) flags differ")
    o = ind.copy()
    o["period"] = o["period"].dt.start_time
    d_period = pd.to_datetime(d_ind["period"]).to_numpy(dtype="datetime64[ns]")
    if (
        len(o) != len(d_ind)
        or not (o["team"].astype(object).to_numpy() == d_ind["team"].to_numpy()).all()
        or not (o["period"].to_numpy(dtype="datetime64[ns]") == d_period).all()
    ):
        _mismatch("(iii) indicators: different groups")
    if not (o["suppressed"].to_numpy() == d_ind["suppressed"].to_numpy()).all():
        _mismatch("(iii) indicators: suppression differs")
    for col in indicators.INDICATOR_COLUMNS[1:]:
        worst = max(worst, _same_numbers(f"(iii) {col}", o[col], d_ind[col]))
    return {
        "episodes": len(ec),
        "categories": counts,
        "flags_per_rule": {str(k): int(v) for k, v in fl["rule"].value_counts().items()},
        "indicator_rows": len(ind),
        "max_abs_diff": worst,
    }


# --------------------------------------------------------------------------- driver


def interleaved(
    ours: Callable[[], object], duck: Callable[[], object], repeats: int
) -> tuple[list[float], list[float], object, object]:
    """Both sides ``repeats`` times, back to back, alternating which goes first."""
    t_ours: list[float] = []
    t_duck: list[float] = []
    r_ours = r_duck = None
    for i in range(repeats):
        for side in ("ours", "duck") if i % 2 == 0 else ("duck", "ours"):
            if side == "ours":  # the previous result is let go before the next is made
                r_ours = None
            else:
                r_duck = None
            gc.collect()
            t0 = time.perf_counter()
            if side == "ours":
                r_ours = ours()
                t_ours.append(time.perf_counter() - t0)
            else:
                r_duck = duck()
                t_duck.append(time.perf_counter() - t0)
    return t_ours, t_duck, r_ours, r_duck


def make_sessions(clients: int, years: float, seed: int, block: int = 100_000) -> pd.DataFrame:
    """The session table of ``kor.sample.generate``, sorted by episode and session.

    More than ``block`` clients are generated in blocks of ``block`` (seeds ``seed``,
    ``seed + 1``, ...) given new ids (episode numbers offset, ``-<block>`` appended to
    client ids), because generating 1,000,000 clients at once peaks at 6.5 GB of memory.
    """
    parts = []
    offset = 0
    for k, start in enumerate(range(0, clients, block)):
        n = min(block, clients - start)
        s = frames.session_table(sample.generate(n, seed=seed + k, years=years))
        if k:
            s["episode"] += offset
            s["client"] = s["client"] + f"-{k}"
        offset = int(s["episode"].max())
        parts.append(s)
        del s
        gc.collect()
    s = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    del parts
    return s.sort_values(["episode", "session_no"], kind="stable", ignore_index=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=sample.DEFAULT_SEED)
    parser.add_argument("--only", choices=("episode", "team_month", "dashboard"), nargs="*")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    import duckdb
    import pyarrow as pa

    t0 = time.perf_counter()
    sessions = make_sessions(args.clients, args.years, args.seed)
    setup = time.perf_counter() - t0
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET memory_limit = '2GB'")  # the machine is shared; spills beyond it
    con.register("sessions", pa.Table.from_pandas(sessions, preserve_index=False))

    def duck_episode():
        return con.sql(EPISODE_SQL).df()

    def duck_team_month():
        return con.sql(TEAM_MONTH_SQL).df()

    ind_sql = dash_indicators_sql()

    def duck_dashboard():
        con.execute(DASH_EC_SQL)
        con.execute(DASH_FLAGS_SQL)
        out = (
            con.sql(
                "SELECT episode, intake, latest, change, rci, cutoff, category, assessable "
                "FROM ec ORDER BY episode"
            ).df(),
            con.sql("SELECT * FROM fl").df(),
            con.sql(ind_sql).df(),
        )
        con.execute("DROP TABLE ec; DROP TABLE fl")
        return out

    workloads = {
        "episode": (lambda: ours_episode(sessions), duck_episode, check_episode),
        "team_month": (lambda: ours_team_month(sessions), duck_team_month, check_team_month),
        "dashboard": (lambda: ours_dashboard(sessions), duck_dashboard, check_dashboard),
    }
    load_before = os.getloadavg()
    rows: dict[str, dict] = {}
    for name, (ours_fn, duck_fn, check) in workloads.items():
        if args.only and name not in args.only:
            continue
        t_ours, t_duck, r_ours, r_duck = interleaved(ours_fn, duck_fn, args.repeats)
        details = check(r_ours, r_duck)
        del r_ours, r_duck
        m_ours, m_duck = statistics.median(t_ours), statistics.median(t_duck)
        rows[name] = {
            "ours_s": m_ours,
            "duckdb_s": m_duck,
            "ratio": m_ours / m_duck,
            "ours_runs_s": t_ours,
            "duckdb_runs_s": t_duck,
        } | details

    memory = {}
    if not args.only or "dashboard" in args.only:
        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        ours_dashboard(sessions)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        memory = {
            "dashboard_ours_tracemalloc_peak_mb": traced_peak / 2**20,
            "process_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "process_maxrss_before_memory_run_mb": rss_before,
            "session_frame_mb": sessions.memory_usage(deep=False).sum() / 2**20,
        }
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "kor.sample.generate + kor.frames.session_table, sorted by episode/session",
        "clients": args.clients,
        "years": args.years,
        "sessions": len(sessions),
        "episodes": int(sessions["episode"].nunique()),
        "setup_s": setup,
        "repeats": args.repeats,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        **rows,
        "memory": memory,
        "goal": {"ratio_max": 1.5, "dashboard_1m_max_s": 5.0, "dashboard_1m_max_mb": 2048},
        "versions": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "duckdb": duckdb.__version__,
            "duckdb_threads": con.sql("SELECT current_setting('threads')").fetchall()[0][0],
        },
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if not args.only else "-" + "-".join(args.only)
    path = args.out / f"analytics-{args.clients}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(
        f"{len(sessions):,} sessions, {report['episodes']:,} episodes, "
        f"{args.clients:,} clients (setup {setup:.1f} s), median of {args.repeats}, "
        f"DuckDB threads=1, load {load_before[0]:.1f}"
    )
    print(f"{'':34s} {'ours s':>8s} {'DuckDB s':>9s} {'ratio':>6s}")
    labels = {
        "episode": "(i) per-episode change + flags",
        "team_month": "(ii) team x intake month",
        "dashboard": "(iii) dashboard (change+flags+ind)",
    }
    for key, r in rows.items():
        print(f"{labels[key]:34s} {r['ours_s']:8.3f} {r['duckdb_s']:9.3f} {r['ratio']:6.2f}")
    if memory:
        print(
            f"memory (iii): ours peak {memory['dashboard_ours_tracemalloc_peak_mb']:.0f} MB "
            f"traced; process maxrss {memory['process_maxrss_mb']:.0f} MB "
            f"(session frame {memory['session_frame_mb']:.0f} MB)"
        )
    print(f"all results agree; written {path}")
    return report


if __name__ == "__main__":
    main()
