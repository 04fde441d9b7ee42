"""The leader report and the pure selections behind the quality dashboard.

One computation, several renderings (the tableone pattern): :func:`compute_report`
turns a session table and a filter into a :class:`Report` holding frames only
(headline indicators with their direction, monthly trends and their run/control
charts, the team or clinician comparison and its funnel, data completeness); the
report renders itself as HTML, PDF (matplotlib ``PdfPages``) or XLSX (openpyxl)
without recomputing. The dashboard's report button and ``kor report`` call the same
function, so they produce the same numbers, and both equal
:func:`kor.indicators.service_indicators` for the same filter.

Privacy: the report holds aggregates only, never a client code, and every group of
fewer than :data:`kor.indicators.SUPPRESSION_MIN` clients is blanked (shown as
«skjult»), in every table and chart of every format; a unit under the limit is left
out of the funnel plot and a suppressed month out of its trend chart, with a note.

The dashboard's filters and the supervision list (open episodes with current flags,
per clinician) are pure functions here as well, so the widgets only render.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import math
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kor import change, funnel, measures, spc
from kor import flags as flag_rules
from kor.errors import KorStatisticalWarning, ValidationError
from kor.files import write_atomically
from kor.frames import require_columns
from kor.i18n import get_language, t
from kor.indicators import (
    ALLIANCE_WARNING_RULES,
    SUPPRESSION_MIN,
    SeverityModel,
    data_as_of,
    period_complete,
    service_indicators,
    severity_reference,
)

__all__ = [
    "IndicatorSpec",
    "INDICATORS",
    "GROUPS",
    "SUPERVISION_KINDS",
    "FORMATS",
    "Progress",
    "period_window",
    "previous_window",
    "default_period",
    "filter_options",
    "filter_sessions",
    "filter_mask",
    "window_rows",
    "change_and_flags",
    "chart_input",
    "movement",
    "direction",
    "direction_label",
    "date_text",
    "month_text",
    "case_flags",
    "supervision_list",
    "episode_sessions",
    "episode_flags",
    "html_table",
    "Report",
    "compute_report",
    "build_report",
    "neutralise",
    "register_cli",
]

Progress = Callable[[float, str], None]
"""A progress callback: (fraction done 0-1, catalog label of the step)."""


@dataclass(frozen=True)
class IndicatorSpec:
    """How one service indicator is followed: its chart and which way is better.

    column: a column of :func:`kor.indicators.service_indicators`.
    group: ``outcome``, ``reliable_change``, ``alliance``, ``completeness`` or
    ``dropout`` (the dashboard's chart groups).
    chart: ``"i"`` (individuals chart of a monthly mean) or ``"p"`` (P chart of a
    monthly percentage; the count is rebuilt from the percentage and its base).
    higher_is_better: for the direction words (better/worse) only.
    base: for P charts, how the monthly base is found: a count column, or
    ``(count column, percentage column)`` for a base that is a percentage of a count.
    decimals: shown decimals.
    """

    column: str
    group: str
    chart: str
    higher_is_better: bool
    base: str | tuple[str, str] | None = None
    decimals: int = 1


INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("change_mean", "outcome", "i", True),
    IndicatorSpec("effect_size", "outcome", "i", True, decimals=2),
    IndicatorSpec("severity_adjusted_es", "outcome", "i", True, decimals=2),
    IndicatorSpec("pct_improved", "reliable_change", "p", True, "episodes_assessable"),
    IndicatorSpec("pct_recovered", "reliable_change", "p", True, "episodes_assessable"),
    IndicatorSpec("pct_deteriorated", "reliable_change", "p", False, "episodes_assessable"),
    IndicatorSpec("alliance_mean", "alliance", "i", True),
    IndicatorSpec(
        "pct_alliance_low", "alliance", "p", False, ("sessions", "pct_sessions_with_alliance")
    ),
    IndicatorSpec("pct_sessions_with_outcome", "completeness", "p", True, "sessions"),
    IndicatorSpec("pct_sessions_with_alliance", "completeness", "p", True, "sessions"),
    IndicatorSpec("dropout_rate", "dropout", "p", False, "episodes_ended"),
)
"""The indicators of the dashboard and the report, in order (a declaration, not code)."""

GROUPS: tuple[str, ...] = ("outcome", "reliable_change", "alliance", "completeness", "dropout")
COUNT_COLUMNS: tuple[str, ...] = ("clients", "episodes", "sessions", "episodes_assessable")
SUPERVISION_KINDS: tuple[str, ...] = (
    "not_on_track",
    "no_improvement",
    "deterioration",
    *ALLIANCE_WARNING_RULES,
    "alliance_item",
)
"""Flag kinds that put an open episode on the supervision list."""
FORMATS: tuple[str, ...] = ("pdf", "xlsx", "html")
_SPEC = {s.column: s for s in INDICATORS}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- periods


def period_window(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a period written ``2026Q3``, ``2026-09`` or ``2026``.

    >>> [d.date().isoformat() for d in period_window("2026Q3")]
    ['2026-07-01', '2026-09-30']
    """
    text = str(period).strip().upper()
    freq = "Q" if "Q" in text else ("M" if "-" in text else "Y")
    try:
        p = pd.Period(text, freq=freq)
    except (ValueError, TypeError) as exc:
        raise ValidationError("error.report.bad_period", field="period", value=period) from exc
    return p.start_time.normalize(), p.end_time.normalize()


def previous_window(period: str) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """The period before ``period`` of the same length: (start, end, label).

    >>> previous_window("2026Q1")[2]
    '2025Q4'
    """
    start, _ = period_window(period)
    text = str(period).strip().upper()
    freq = "Q" if "Q" in text else ("M" if "-" in text else "Y")
    prev = pd.Period(start, freq=freq) - 1
    return prev.start_time.normalize(), prev.end_time.normalize(), str(prev)


def default_period(sessions: pd.DataFrame) -> str:
    """The latest quarter that is complete in the data (else the latest quarter with data).

    >>> s = pd.DataFrame({"session_date": pd.to_datetime(["2026-05-02", "2026-10-30"])})
    >>> default_period(s)
    '2026Q3'
    """
    if len(sessions) == 0:
        return str(pd.Period(pd.Timestamp.today(), freq="Q"))
    last = pd.Timestamp(pd.to_datetime(sessions["session_date"]).max())
    q = pd.Period(last, freq="Q")
    if last.normalize() < q.end_time.normalize():
        first = pd.Period(pd.to_datetime(sessions["session_date"]).min(), freq="Q")
        q = max(q - 1, first)
    return str(q)


# --------------------------------------------------------------------------- filters


def filter_options(sessions: pd.DataFrame) -> dict[str, list[Any]]:
    """The choices of the dashboard's filters, from the rows the user may see.

    Returns ``team``, ``clinician`` (sorted), ``clinicians_by_team`` (team -> sorted
    clinicians), ``age_group``, ``measure`` (outcome measure codes present),
    ``period`` (quarters with data, newest first) and ``whole_service``: False when
    the rows hold one team only (a team lead), where «the whole service» would be that
    team under another name and is not offered.
    """
    by_team = {
        str(team): sorted(map(str, group.unique()))
        for team, group in sessions.groupby("team", sort=True)["clinician"]
    }
    quarters = pd.to_datetime(sessions["session_date"]).dt.to_period("Q").dropna().unique()
    return {
        "team": sorted(map(str, sessions["team"].dropna().unique())),
        "clinician": sorted(map(str, sessions["clinician"].dropna().unique())),
        "clinicians_by_team": by_team,
        "age_group": sorted(map(str, sessions["age_group"].dropna().unique())),
        "measure": sorted(map(str, sessions["outcome_measure"].dropna().unique())),
        "period": [str(q) for q in sorted(quarters, reverse=True)],
        "whole_service": sessions["team"].dropna().nunique() != 1,
    }


def filter_sessions(
    sessions: pd.DataFrame,
    *,
    team: str | None = None,
    clinician: str | None = None,
    age_group: str | None = None,
    measure: str | None = None,
) -> pd.DataFrame:
    """The rows of the session table that match the filter (None = no filter).

    team, clinician, age_group: row filters on those columns. measure: an outcome
    measure code (ORS, CORS, ...); keeps the whole episodes in which it was given, so
    their sessions without a score still count in completeness.
    Returns the matching rows (the input itself when nothing is filtered out; it is
    never changed, so a dashboard's 800,000-row table is not copied on every change).
    """
    keep = filter_mask(
        sessions, team=team, clinician=clinician, age_group=age_group, measure=measure
    )
    return sessions if keep is None or keep.all() else sessions.loc[keep]


def filter_mask(
    sessions: pd.DataFrame,
    *,
    team: str | None = None,
    clinician: str | None = None,
    age_group: str | None = None,
    measure: str | None = None,
) -> np.ndarray | None:
    """The rows that match the filter as a boolean array, None when nothing is filtered.

    The mask is taken on the whole table (a measure keeps whole episodes, whatever the
    window), so it can then be applied to any window of rows (:func:`window_rows`).
    """
    require_columns(sessions, ("team", "clinician", "age_group", "episode"), where="sessions")
    if not (team or clinician or age_group or measure):
        return None
    keep = np.ones(len(sessions), dtype=bool)
    for column, value in (("team", team), ("clinician", clinician), ("age_group", age_group)):
        if value:
            keep &= (sessions[column] == value).to_numpy(dtype=bool, na_value=False)
    if measure:
        given = sessions.loc[sessions["outcome_measure"] == measure, "episode"].unique()
        keep &= sessions["episode"].isin(given).to_numpy()
    return keep


def window_rows(
    sessions: pd.DataFrame,
    start: pd.Timestamp | None,
    end: pd.Timestamp,
    keep: np.ndarray | None = None,
    cache: dict | None = None,
) -> pd.DataFrame:
    """The rows dated ``start``..``end`` (inclusive; no start: up to ``end``) that ``keep``
    (:func:`filter_mask`) selects, in table order.

    Why: :func:`service_indicators` of a quarter needs only that quarter's rows (the
    episode change and flags are passed in, computed on the whole history), so a
    dashboard filters a quarter's 100,000 rows instead of 800,000. The row positions
    of a window are kept in ``cache`` (a dict the caller keeps for the same table).
    """
    key = ("rows", None if start is None else pd.Timestamp(start), pd.Timestamp(end))
    positions = cache.get(key) if cache is not None else None
    if positions is None:
        days = pd.to_datetime(sessions["session_date"]).to_numpy(dtype="datetime64[ns]")
        inside = days <= np.datetime64(pd.Timestamp(end))
        if start is not None:
            inside &= days >= np.datetime64(pd.Timestamp(start))
        positions = np.flatnonzero(inside)
        if cache is not None:
            cache[key] = positions
    if keep is not None:
        positions = positions[keep[positions]]
    if len(positions) == len(sessions):
        return sessions
    return sessions.take(positions)


# --------------------------------------------------------------------------- charts


def chart_input(trend: pd.DataFrame, spec: IndicatorSpec) -> tuple[pd.DataFrame, list[str]]:
    """The points of one indicator's monthly chart, and the months left out.

    trend: :func:`kor.indicators.service_indicators` with ``period="M"`` and ``by=()``.
    Returns (frame with ``x`` (month start), ``y`` and, for P charts, ``n``; the
    months whose value is blank, i.e. suppressed or not computable, as ``YYYY-MM``).
    For a P chart ``y`` is the count rebuilt from the percentage and its base
    (rounded to whole episodes or sessions) so the chart's limits follow the base.
    """
    value = pd.to_numeric(trend[spec.column], errors="coerce").astype(float)
    months = trend["period"].astype(str)
    x = trend["period"].dt.to_timestamp() if len(trend) else pd.Series([], dtype="datetime64[ns]")
    out = pd.DataFrame({"x": x.to_numpy(), "y": value.to_numpy()})
    if spec.chart == "p":
        if isinstance(spec.base, tuple):
            count, pct = spec.base
            base = pd.to_numeric(trend[count], errors="coerce").astype(float) * (
                pd.to_numeric(trend[pct], errors="coerce").astype(float) / 100.0
            )
        else:
            base = pd.to_numeric(trend[spec.base], errors="coerce").astype(float)
        n = np.rint(base.to_numpy())
        out["n"] = n
        out["y"] = np.minimum(np.rint(value.to_numpy() / 100.0 * n), n)
    blank = out["y"].isna() | (out["n"].fillna(0) <= 0 if "n" in out else False)
    return out.loc[~blank].reset_index(drop=True), months[blank.to_numpy()].tolist()


def _chart(
    points: pd.DataFrame, spec: IndicatorSpec, partial: list[pd.Timestamp] | None = None
) -> spc.ControlChart | None:
    """The chart of ``points``; months in ``partial`` (incomplete) are drawn but left out
    of the lines and the signals (spc ``exclude``)."""
    exclude = [i + 1 for i, x in enumerate(points["x"]) if pd.Timestamp(x) in set(partial or [])]
    if len(points) - len(exclude) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KorStatisticalWarning)
        if spec.chart == "p":
            return spc.control_chart(
                points, x="x", y="y", n="n", chart="p", multiply=100, exclude=exclude
            )
        return spc.control_chart(points, x="x", y="y", chart="i", exclude=exclude)


def movement(value: Any, previous: Any, decimals: int = 1) -> str:
    """Which way the number went: ``"up"``, ``"down"``, ``"same"`` or ``"unknown"``.

    Compared as shown (rounded to ``decimals``), so two equal numbers on the page are
    never called a change. ``"unknown"``: a value is blank (no data, suppressed).

    >>> movement(35.04, 35.0), movement(4.0, 5.0), movement(1.0, None)
    ('same', 'down', 'unknown')
    """
    if value is None or previous is None or pd.isna(value) or pd.isna(previous):
        return "unknown"
    now, before = round(float(value), decimals), round(float(previous), decimals)
    if now == before:
        return "same"
    return "up" if now > before else "down"


def direction(value: Any, previous: Any, higher_is_better: bool, decimals: int = 1) -> str:
    """``"better"``, ``"worse"``, ``"same"`` or ``"unknown"``: the :func:`movement` judged
    by the indicator's declared direction (:attr:`IndicatorSpec.higher_is_better`).

    >>> direction(40.0, 35.0, True), direction(40.0, 35.0, False), direction(1.0, None, True)
    ('better', 'worse', 'unknown')
    >>> direction(4.0, 9.0, False)  # a lower-is-better number fell
    'better'
    """
    moved = movement(value, previous, decimals)
    if moved in ("same", "unknown"):
        return moved
    return "better" if (moved == "up") == higher_is_better else "worse"


def direction_label(moved: str, judged: str) -> str:
    """The arrow of the movement and the word of the judgement: «↓ bedre» when a
    lower-is-better number fell. moved: :func:`movement`; judged: :func:`direction`."""
    if moved in ("up", "down"):
        return t(f"report.direction.{moved}_{judged}")
    return t(f"report.direction.{moved}")


def _verdict(chart: spc.ControlChart | None, higher_is_better: bool) -> str:
    """The chart's message in one word: ``"signal_better"``/``"signal_worse"`` (the latest
    month lies outside the control limits), ``"signal_shift"`` (a runs signal or an
    earlier point outside the limits: the level has shifted), ``"noise"`` (no signal)
    or ``"few_points"`` (no chart)."""
    if chart is None:
        return "few_points"
    d = chart.data.loc[chart.data["include"]]  # an incomplete month gives no signal
    last = d.iloc[-1]
    if bool(last["sigma_signal"]):
        up = float(last["y"]) > float(last["cl"])
        return "signal_better" if up == higher_is_better else "signal_worse"
    if bool(d["runs_signal"].any() or d["sigma_signal"].any()):
        return "signal_shift"
    return "noise"


# --------------------------------------------------------------------------- supervision


def case_flags(sessions: pd.DataFrame, expected_model: Any = None) -> pd.DataFrame:
    """Every flag of the default rules, with the expected path when a model is given.

    expected_model: a fitted :class:`kor.trajectories.ExpectedResponse` (from
    :func:`kor.model_registry.load_expected_model`); without it the not_on_track rules
    are skipped. Returns :func:`kor.flags.evaluate_flags` output.
    """
    expected = None
    if expected_model is not None and len(sessions):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KorStatisticalWarning)
            expected = expected_model.expected(sessions)
    return flag_rules.evaluate_flags(sessions, expected=expected)


def supervision_list(
    sessions: pd.DataFrame,
    flags: pd.DataFrame,
    *,
    today: Any = None,
    active_days: int = 90,
) -> pd.DataFrame:
    """Open episodes with a current flag that calls for supervision, per clinician.

    sessions: the session table the user may see (clinicians: own; leads: team).
    flags: :func:`case_flags` / :func:`kor.flags.evaluate_flags` on the same sessions.
    today: reference date (default: the latest session date); episodes without a
    session in the last ``active_days`` days are left out (they count as dropouts).
    Returns one row per episode: ``clinician``, ``team``, ``client``, ``episode``,
    ``sessions``, ``last_session`` (date), ``intake``, ``latest`` (outcome points),
    ``level`` (most severe), ``rules`` (tuple of rule ids, most severe first), sorted by
    clinician, severity and last session (newest first).
    """
    columns = [
        "clinician",
        "team",
        "client",
        "episode",
        "sessions",
        "last_session",
        "intake",
        "latest",
        "level",
        "rules",
    ]
    if len(sessions) == 0 or len(flags) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    cur = flag_rules.current_flags(flags)
    cur = cur.loc[cur["kind"].isin(SUPERVISION_KINDS)]
    dates = pd.to_datetime(sessions["session_date"])
    ref = pd.Timestamp(today) if today is not None else dates.max()
    open_ = sessions["episode_end"].isna() | (pd.to_datetime(sessions["episode_end"]) > ref)
    per_ep = (
        sessions.assign(_date=dates, _open=open_.to_numpy())
        .sort_values(["episode", "_date", "session_no"], kind="stable")
        .groupby("episode", sort=False)
        .agg(
            clinician=("clinician", "last"),
            team=("team", "last"),
            client=("client", "first"),
            sessions=("session_no", "size"),
            last_session=("_date", "last"),
            intake=("outcome", "first"),
            latest=("outcome", "last"),
            open=("_open", "last"),
        )
    )
    per_ep = per_ep.loc[
        per_ep["open"] & (per_ep["last_session"] >= ref - pd.Timedelta(days=active_days))
    ]
    cur = cur.loc[cur["episode"].isin(per_ep.index)]
    if cur.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    severity = {lv: i for i, lv in enumerate(flag_rules.LEVELS)}
    cur = cur.assign(_sev=cur["level"].map(severity)).sort_values(
        ["episode", "_sev"], kind="stable"
    )
    grouped = cur.groupby("episode", sort=False).agg(
        level=("level", "first"), rules=("rule", tuple), _sev=("_sev", "first")
    )
    out = per_ep.drop(columns="open").join(grouped, how="inner").reset_index()
    out = out.sort_values(
        ["clinician", "_sev", "last_session"], ascending=[True, True, False], kind="stable"
    )
    return out.loc[:, columns].reset_index(drop=True)


def episode_sessions(sessions: pd.DataFrame, episode: int) -> pd.DataFrame:
    """The sessions of one episode, in order (for the client's chart)."""
    rows = sessions.loc[sessions["episode"] == episode]
    return rows.sort_values(["session_date", "session_no"], kind="stable").reset_index(drop=True)


def episode_flags(flags: pd.DataFrame, episode: int) -> pd.DataFrame:
    """The current flags of one episode (for the rings on the client's chart)."""
    return flag_rules.current_flags(flags.loc[flags["episode"] == episode])


# --------------------------------------------------------------------------- the report


@dataclass
class Report:
    """The leader report: frames only, rendered by :meth:`to_html`, :meth:`to_pdf`,
    :meth:`to_xlsx` without recomputing.

    period, team: the filter (team None = the whole service). start, end: the window.
    unit: ``"team"`` or ``"clinician"``, the units of the comparison.
    totals: :func:`service_indicators` (``by=()``) for the window, one row; previous:
    the same for the period before. headline: one row per :data:`INDICATORS` entry:
    ``indicator``, ``value``, ``previous``, ``direction``, ``verdict``.
    trends: ``service_indicators(by=(), period="M")`` over ``trend_months`` months to
    ``end``; charts: indicator -> :class:`kor.spc.ControlChart` (None: too few
    months); left_out: indicator -> months left out of its chart (blank values).
    comparison: ``service_indicators(by=(unit,))`` for the window; funnel:
    :func:`kor.funnel.funnel_frame`; funnel_centre, funnel_sd: its centre and SD.
    as_of: the date the data are complete to (:func:`kor.indicators.data_as_of`);
    complete: the period has ended by ``as_of`` (else it is not compared with the
    previous one: direction ``partial``); partial: the trend months not complete by
    ``as_of`` (``YYYY-MM``), drawn hollow and left out of limits and signals.
    severity: the case-mix model every adjusted figure of the report used.
    """

    period: str
    team: str | None
    start: pd.Timestamp
    end: pd.Timestamp
    previous_label: str
    unit: str
    totals: pd.DataFrame
    previous: pd.DataFrame
    headline: pd.DataFrame
    trends: pd.DataFrame
    charts: dict[str, spc.ControlChart | None]
    left_out: dict[str, list[str]]
    comparison: pd.DataFrame
    funnel: pd.DataFrame
    funnel_centre: float
    funnel_sd: float
    filters: dict[str, str | None] = field(default_factory=dict)
    data_until: pd.Timestamp | None = None
    generated: date = field(default_factory=date.today)
    min_group: int = SUPPRESSION_MIN
    as_of: pd.Timestamp | None = None
    complete: bool = True
    partial: list[str] = field(default_factory=list)
    severity: SeverityModel | None = None

    # ------------------------------------------------------------ display tables
    def _cell(
        self, value: Any, column: str, suppressed: bool, *, text: bool = True, empty: bool = False
    ) -> Any:
        """A number for display: NA as «skjult» (suppressed row), «ingen data» (a window
        without sessions, ``empty``) or «–» (not computable)."""
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            if suppressed:
                return t("report.cell.suppressed")
            return t("report.cell.no_data") if empty else t("report.cell.blank")
        if not text:
            return shown_number(value, _decimals(column))
        return _number(value, _decimals(column))

    def tables(self, *, text: bool = True) -> dict[str, pd.DataFrame]:
        """The report's tables with translated headers; blank cells as «skjult»/«–».

        text: numbers formatted as text in the UI language (HTML, PDF) or kept as
        numbers (XLSX). Keys: ``headline``, ``trends``, ``comparison``, ``funnel``,
        ``completeness``. No table holds a client code or a count under the limit.
        """
        head_rows = []
        sup_now = bool(self.totals["suppressed"].iloc[0]) if len(self.totals) else True
        sup_prev = bool(self.previous["suppressed"].iloc[0]) if len(self.previous) else True
        now = {"text": text, "empty": not _has_data(self.totals)}
        before = {"text": text, "empty": not _has_data(self.previous)}
        for col in COUNT_COLUMNS[:3]:
            head_rows.append(
                {
                    t("report.col.indicator"): t(f"indicator.{col}"),
                    self.period: self._cell(_first(self.totals, col), col, sup_now, **now),
                    self.previous_label: self._cell(
                        _first(self.previous, col), col, sup_prev, **before
                    ),
                    t("report.col.direction"): "",
                    t("report.col.signal"): "",
                }
            )
        for row in self.headline.itertuples(index=False):
            head_rows.append(
                {
                    t("report.col.indicator"): t(f"indicator.{row.indicator}"),
                    self.period: self._cell(row.value, row.indicator, sup_now, **now),
                    self.previous_label: self._cell(
                        row.previous, row.indicator, sup_prev, **before
                    ),
                    t("report.col.direction"): direction_label(row.movement, row.direction),
                    t("report.col.signal"): t(f"report.verdict.{row.verdict}"),
                }
            )
        tables = {"headline": pd.DataFrame(head_rows)}
        trend_cols = ["period", "clients", "episodes", *[s.column for s in INDICATORS]]
        tables["trends"] = self._frame(self.trends, trend_cols, text=text)
        comp_cols = [
            self.unit,
            "clients",
            "episodes_assessable",
            "change_mean",
            "severity_adjusted_change",
            "pct_improved",
            "pct_deteriorated",
            "alliance_mean",
            "dropout_rate",
        ]
        tables["comparison"] = self._frame(self.comparison, comp_cols, text=text)
        compl_cols = [
            self.unit,
            "clients",
            "sessions",
            "pct_sessions_with_outcome",
            "pct_sessions_with_alliance",
        ]
        total = self.totals.assign(**{self.unit: self.who()})
        tables["completeness"] = self._frame(
            pd.concat([self.comparison, total], ignore_index=True), compl_cols, text=text
        )
        f = self.funnel
        tables["funnel"] = pd.DataFrame(
            {
                t(f"indicator.{self.unit}"): f["unit"],
                t("indicator.clients"): [
                    self._cell(v, "clients", False, text=text) for v in f["clients"]
                ],
                t("report.col.n"): [self._cell(v, "clients", False, text=text) for v in f["n"]],
                t("indicator.severity_adjusted_change"): [
                    self._cell(v, "change_mean", False, text=text) for v in f["value"]
                ],
                **self._limits(f, "95", text=text),
                **self._limits(f, "998", text=text),
                t("report.col.position"): [t(f"report.position.{p}") for p in f["position"]],
            }
        )
        return tables

    def _limits(self, f: pd.DataFrame, level: str, *, text: bool) -> dict[str, list[Any]]:
        """A funnel's limits: «1,9 – 6,5» as text, or two number columns (lower, upper)
        for a spreadsheet, so a negative limit is a number and not guarded text."""
        head = t(f"report.col.limits_{level}")
        lower, upper = f[f"lower_{level}"], f[f"upper_{level}"]
        if text:
            pairs = zip(lower, upper, strict=True)
            return {head: [f"{_number(a, 1)} – {_number(b, 1)}" for a, b in pairs]}
        return {
            f"{head} ({t('report.col.lower')})": [
                self._cell(v, "", False, text=False) for v in lower
            ],
            f"{head} ({t('report.col.upper')})": [
                self._cell(v, "", False, text=False) for v in upper
            ],
        }

    def _frame(self, frame: pd.DataFrame, columns: list[str], *, text: bool) -> pd.DataFrame:
        columns = [c for c in columns if c in frame.columns]
        rows = []
        sup = frame["suppressed"].fillna(True).to_numpy(dtype=bool) if len(frame) else []
        for i, rec in enumerate(frame.loc[:, columns].to_dict("records")):
            out = {}
            for col in columns:
                value = rec[col]
                if col == "period" and getattr(value, "freqstr", "") == "M":
                    out[t(f"indicator.{col}")] = month_text(value)  # «nov. 2024»
                elif col in ("team", "clinician", "period"):
                    out[t(f"indicator.{col}")] = str(value)
                else:
                    out[t(f"indicator.{col}")] = self._cell(value, col, bool(sup[i]), text=text)
            rows.append(out)
        return pd.DataFrame(rows, columns=[t(f"indicator.{c}") for c in columns])

    def methods(self) -> list[tuple[str, str]]:
        """The methods page: (heading, text) pairs with this report's parameters."""
        ors, srs = measures.ORS, measures.SRS
        params = {
            "min_group": self.min_group,
            "rci": _number(ors.reliable_change, 1),
            "adult": _number(ors.cutoffs.get("adult", 25.0), 0),
            "youth": _number(ors.cutoffs.get("age_13_17", 28.0), 0),
            "child": _number(measures.MEASURES["CORS"].cutoff("age_6_12") or 32.0, 0)
            if "CORS" in measures.MEASURES
            else "32",
            "alliance": _number(srs.alliance_threshold or 36.0, 0),
            "drop": _number(srs.alliance_drop or 1.0, 0),
            "z1": _number(funnel.Z_WARNING, 2),
            "z2": _number(funnel.Z_ALARM, 2),
            "days": 90,
            "start": date_text(self.start),
            "end": date_text(self.end),
            **self._severity_params(),
        }
        keys = (
            "scope",
            "suppression",
            "outcome",
            "change",
            "adjustment",
            "alliance",
            "completeness",
            "dropout",
            "spc",
            "partial",
            "funnel",
            "attribution",
        )
        return [(t(f"report.methods.{k}.title"), t(f"report.methods.{k}", **params)) for k in keys]

    def _severity_params(self) -> dict[str, str]:
        """The case-mix model in words for the methods page (``–`` when not fitted)."""
        m = self.severity
        fitted = m is not None and m.fitted
        return {
            "ref_episodes": _number(m.episodes, 0) if fitted else t("report.cell.blank"),
            "ref_intake": _number(m.intake_mean, 1) if fitted else t("report.cell.blank"),
            "ref_slope": _number(m.slope, 2) if fitted else t("report.cell.blank"),
            "ref_sd": _number(m.intake_sd, 1) if fitted else t("report.cell.blank"),
        }

    def title(self) -> str:
        """«KOR-rapport 2026Q3 – team VOP, behandler anna.berg – voksne, ORS»: whose
        sessions the report holds, from every filter (the whole service only without
        a team or clinician filter)."""
        f = self.filters
        text = t("report.title", period=self.period, who=self.who())
        narrower = [t(f"age_group.{f['age_group']}") if f.get("age_group") else None]
        narrower.append(f.get("measure"))
        narrower = [str(x) for x in narrower if x]
        return f"{text} – {', '.join(narrower)}" if narrower else text

    def who(self) -> str:
        """Whose sessions: «team VOP, behandler anna.berg», or «hele tjenesten» without a
        team or clinician filter."""
        team = self.team or self.filters.get("team")
        who = [t("report.team", team=team)] if team else []
        if self.filters.get("clinician"):
            who.append(t("report.clinician", clinician=self.filters["clinician"]))
        return ", ".join(who) or t("report.all_units")

    def file_name(self, fmt: str) -> str:
        """«kor-rapport-2026Q3-VOP-anna.berg-adult-ORS.pdf»: the period and every filter,
        in letters a file system takes (æ ø å written ae o a, others as «-»)."""
        f = self.filters
        team = self.team or f.get("team")
        parts = [self.period, team, f.get("clinician"), f.get("age_group"), f.get("measure")]
        return "-".join(["kor-rapport", *(_slug(str(p)) for p in parts if p)]) + f".{fmt}"

    def filter_text(self) -> str:
        """The filters in words, for the front page."""
        shown = {"age_group": lambda v: t(f"age_group.{v}")}  # codes in words
        parts = [
            f"{t('report.filter.' + k)}: {shown.get(k, str)(v)}"
            for k, v in self.filters.items()
            if v and k != "team"
        ]
        return " · ".join(parts)

    # ------------------------------------------------------------ renderings
    def to_html(self, path: str | Path, *, progress: Progress | None = None) -> Path:
        """A self-contained HTML file (charts embedded as PNG)."""
        from kor import dashboard_plot

        path = Path(path)
        tables = self.tables()
        figures = dashboard_plot.report_figures(self, dpi=80)
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{get_language()}"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title())}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
            "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
            "img{max-width:100%}.note{color:#555;font-size:0.9em}</style></head><body>",
            f"<h1>{html.escape(self.title())}</h1>",
            f"<p>{html.escape(self.subtitle())}</p>",
            f"<p>{html.escape(self.filter_text())}</p>" if self.filter_text() else "",
            f"<h2>{html.escape(t('report.section.headline'))}</h2>",
            html_table(tables["headline"], "headline"),
            f'<p class="note">{html.escape(self.suppression_note())}</p>',
            f'<p class="note">{html.escape(self.data_note())}</p>' if self.data_note() else "",
            f'<p class="note">{html.escape(self.period_note())}</p>' if self.period_note() else "",
            f"<h2>{html.escape(t('report.section.trends'))}</h2>",
        ]
        for i, (name, png) in enumerate(figures["trends"]):
            if progress:
                progress(0.6 + 0.3 * i / max(len(figures["trends"]), 1), "report.progress.render")
            parts.append(f"<h3>{html.escape(t('indicator.' + name))}</h3>")
            parts.append(_img(png, t("indicator." + name)))
            note = self.chart_note(name)
            if note:
                parts.append(f'<p class="note">{html.escape(note)}</p>')
        parts += [
            f"<h2>{html.escape(t('report.section.comparison'))}</h2>",
            f"<p>{html.escape(t('report.funnel.intro'))}</p>",
        ]
        if figures["funnel"] is not None:
            parts.append(_img(figures["funnel"], t("report.section.comparison")))
        parts += [
            html_table(tables["funnel"], "funnel"),
            html_table(tables["comparison"], "comparison"),
            f"<h2>{html.escape(t('report.section.completeness'))}</h2>",
            html_table(tables["completeness"], "completeness"),
            f"<h2>{html.escape(t('report.section.monthly'))}</h2>",
            html_table(tables["trends"], "trends"),
            f"<h2>{html.escape(t('report.section.methods'))}</h2>",
        ]
        for heading, text in self.methods():
            parts.append(f"<h3>{html.escape(heading)}</h3><p>{html.escape(text)}</p>")
        parts.append("</body></html>")
        write_atomically(path, lambda handle: handle.write("\n".join(parts).encode("utf-8")))
        if progress:
            progress(1.0, "report.progress.done")
        return path

    def to_pdf(self, path: str | Path, *, progress: Progress | None = None) -> Path:
        """An A4 PDF: front page, trend charts, comparison, completeness, methods."""
        from kor import dashboard_plot

        path = Path(path)
        buffer = io.BytesIO()
        dashboard_plot.report_pdf(self, buffer, progress=progress)
        write_atomically(path, lambda handle: handle.write(buffer.getvalue()))
        if progress:
            progress(1.0, "report.progress.done")
        return path

    def to_xlsx(self, path: str | Path, *, progress: Progress | None = None) -> Path:
        """A workbook, one sheet per table; numbers stay numbers, blank cells say why.

        Text cells that a spreadsheet would read as a formula (starting with ``=``,
        ``+``, ``-``, ``@``) get a leading apostrophe (:func:`neutralise`).
        """
        from openpyxl import Workbook
        from openpyxl.styles import Font

        path = Path(path)
        tables = self.tables(text=False)
        wb = Workbook()
        wb.remove(wb.active)
        sheets = [
            ("headline", tables["headline"]),
            ("trends", tables["trends"]),
            ("comparison", tables["comparison"]),
            ("funnel", tables["funnel"]),
            ("completeness", tables["completeness"]),
        ]
        for i, (key, frame) in enumerate(sheets):
            if progress:
                progress(0.6 + 0.35 * i / len(sheets), "report.progress.render")
            ws = wb.create_sheet(t(f"report.sheet.{key}")[:31])
            if key == "headline":
                ws.append([neutralise(self.title())])
                ws.append([neutralise(self.subtitle())])
                if self.filter_text():
                    ws.append([neutralise(self.filter_text())])
                ws.append([])
            ws.append([neutralise(str(c)) for c in frame.columns])
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
            for rec in frame.itertuples(index=False):
                ws.append([_xlsx_value(v) for v in rec])
                for cell, value in zip(ws[ws.max_row], rec, strict=False):
                    cell.number_format = number_format(value)
            for column_cells in ws.columns:
                width = max(len(str(c.value or "")) for c in column_cells)
                ws.column_dimensions[column_cells[0].column_letter].width = min(max(width, 8), 60)
            if key == "headline":
                ws.append([])
                ws.append([neutralise(self.suppression_note())])
                if self.data_note():
                    ws.append([neutralise(self.data_note())])
                if self.period_note():
                    ws.append([neutralise(self.period_note())])
        ws = wb.create_sheet(t("report.sheet.methods")[:31])
        for heading, text in self.methods():
            ws.append([neutralise(heading), neutralise(text)])
        ws.column_dimensions["A"].width = 30
        ws.column_dimensions["B"].width = 120
        buffer = io.BytesIO()
        wb.save(buffer)
        write_atomically(path, lambda handle: handle.write(buffer.getvalue()))
        if progress:
            progress(1.0, "report.progress.done")
        return path

    def save(self, path: str | Path, fmt: str, *, progress: Progress | None = None) -> Path:
        """Render in ``fmt`` (one of :data:`FORMATS`) to ``path``."""
        if fmt not in FORMATS:
            raise ValidationError("error.bad_choice", field="format", choices=", ".join(FORMATS))
        return getattr(self, f"to_{fmt}")(path, progress=progress)

    def subtitle(self) -> str:
        """Window, data date and generation date."""
        return t(
            "report.subtitle",
            start=date_text(self.start),
            end=date_text(self.end),
            until=date_text(self.data_until) if self.data_until is not None else "–",
            generated=date_text(self.generated),
        )

    def suppression_note(self) -> str:
        """What «skjult» and «–» mean."""
        return t("report.note.suppressed", min_group=self.min_group)

    def data_note(self) -> str:
        """Empty when both periods have sessions; else which one has none (and that
        nothing is compared)."""
        notes = []
        if not len(self.headline):
            return ""
        if not _has_data(self.totals):
            notes.append(t("report.note.no_data", period=self.period))
        if not _has_data(self.previous):
            notes.append(t("report.note.no_previous", period=self.previous_label))
        return " ".join(notes)

    def chart_note(self, indicator: str) -> str:
        """Which months a chart leaves out or marks incomplete, or why there is no chart."""
        if self.charts.get(indicator) is None:
            return t("report.note.no_chart")
        notes = []
        months = self.left_out.get(indicator) or []
        if months:
            notes.append(
                t(
                    "report.note.left_out",
                    months=", ".join(month_text(m) for m in months),
                    min_group=self.min_group,
                )
            )
        if self.partial:
            notes.append(self._partial_text(self.partial))
        return " ".join(notes)

    def _partial_text(self, months: list[str]) -> str:
        until = date_text(self.as_of) if self.as_of is not None else "–"
        shown = ", ".join(month_text(m) for m in months)
        return t("report.note.partial_months", months=shown, until=until)

    def period_note(self) -> str:
        """Empty for a complete period; else that it is incomplete and not compared."""
        if self.complete:
            return ""
        until = date_text(self.as_of) if self.as_of is not None else "–"
        return t("report.note.partial_period", period=self.period, until=until)


def date_text(when: Any) -> str:
    """A date in words in the UI language: «1. juli 2026» / «1 July 2026».

    >>> date_text(pd.Timestamp("2026-07-01")) in ("1. juli 2026", "1 July 2026")
    True
    """
    when = pd.Timestamp(when)
    return t(
        "report.date", day=when.day, month=t(f"report.month_name.{when.month}"), year=when.year
    )


def month_text(month: Any) -> str:
    """A month in words: «nov. 2024» for ``2024-11``."""
    when = pd.Period(str(month), freq="M").start_time
    return f"{t(f'report.month.{when.month}')} {when.year}"


def _slug(text: str) -> str:
    """Letters, digits, «.» and «_» kept; æ ø å as ae o a; anything else as «-»."""
    text = text.translate(str.maketrans({"æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.") or "x"


def _first(frame: pd.DataFrame, column: str) -> Any:
    return frame[column].iloc[0] if len(frame) else None


def _decimals(column: str) -> int:
    if column in COUNT_COLUMNS or column == "alliance_warnings":
        return 0
    spec = _SPEC.get(column)
    return spec.decimals if spec else 1


def _number(value: Any, decimals: int) -> str:
    """A number as text in the UI language (decimal comma in bokmål)."""
    if value is None or pd.isna(value):
        return t("report.cell.blank")
    text = f"{float(value):,.{decimals}f}".replace(",", " ")
    if get_language() == "nb":
        text = text.replace(".", ",")
    return text


def shown_number(value: Any, decimals: int) -> Decimal | int:
    """A number rounded as the screen shows it, for a spreadsheet: a whole number for
    ``decimals`` 0, else a :class:`~decimal.Decimal` whose exponent keeps the decimals
    (so its cell gets the number format «0.0» or «0.00»).

    >>> shown_number(4.055952380952383, 1), shown_number(12.0, 0)
    (Decimal('4.1'), 12)
    """
    if decimals == 0:
        return int(round(float(value)))
    return Decimal(f"{float(value):.{decimals}f}")


def number_format(value: Any) -> str:
    """The spreadsheet number format that shows ``value`` as :func:`shown_number` made it.

    >>> number_format(Decimal("4.10")), number_format(3), number_format("VOP")
    ('0.00', '0', 'General')
    """
    if isinstance(value, Decimal):
        places = -int(value.as_tuple().exponent)
        return "0." + "0" * places if places > 0 else "0"
    if isinstance(value, int) and not isinstance(value, bool):
        return "0"
    return "General"


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe.

    >>> neutralise("=HYPERLINK(1)"), neutralise("-3"), neutralise("VOP"), neutralise(3)
    ("'=HYPERLINK(1)", "'-3", 'VOP', 3)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _xlsx_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return neutralise(str(value)) if not isinstance(value, int | float) else value


def html_table(frame: pd.DataFrame, name: str) -> str:
    """A display table (e.g. :meth:`Report.tables`) as escaped HTML, class ``kor-<name>``."""
    cell = 'style="border-bottom:1px solid #ccc;padding:3px 10px;text-align:{}"'
    head = "".join(
        f"<th {cell.format('left' if i == 0 else 'right')}>{html.escape(str(c))}</th>"
        for i, c in enumerate(frame.columns)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td {cell.format('left' if i == 0 else 'right')}>{html.escape(str(v))}</td>"
            for i, v in enumerate(rec)
        )
        + "</tr>"
        for rec in frame.itertuples(index=False)
    )
    return (
        f'<table class="kor-{name}" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def change_and_flags(
    sessions: pd.DataFrame,
    end: pd.Timestamp,
    cache: dict | None = None,
    *,
    since: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episode change and alliance flags of ``sessions`` cut at ``end`` (cached).

    since: only the episodes with a session in ``since``..``end`` (those a report of
    that window can show); their whole history up to ``end`` is used, so each one's
    change and flags are exactly what the whole table gives (both are computed per
    episode). A report thus computes the previous period only for its own episodes.
    A dashboard keeps ``cache`` for its whole scope, so a filter change reuses them;
    :func:`service_indicators` matches both by episode, so rows of other episodes are
    ignored.
    """
    key = ("change", pd.Timestamp(end), None if since is None else pd.Timestamp(since))
    if cache is not None and key in cache:
        return cache[key]
    cut = window_rows(sessions, None, end, cache=cache)
    if since is not None:
        active = window_rows(sessions, since, end, cache=cache)["episode"].unique()
        cut = cut.loc[cut["episode"].isin(active).to_numpy()]
    episodes = change.episode_change(cut)
    rules = [r for r in flag_rules.DEFAULT_RULES if r.kind in ALLIANCE_WARNING_RULES]
    found = flag_rules.evaluate_flags(cut, rules=rules)
    if cache is not None:
        cache[key] = (episodes, found)
    return episodes, found


def compute_report(
    sessions: pd.DataFrame,
    *,
    period: str,
    team: str | None = None,
    clinician: str | None = None,
    age_group: str | None = None,
    measure: str | None = None,
    trend_months: int = 24,
    cache: dict | None = None,
    progress: Progress | None = None,
    parts: tuple[str, ...] = ("headline", "trends", "comparison"),
    severity: SeverityModel | None = None,
    as_of: Any = None,
) -> Report:
    """The report for a filter, from a session table (pure: no I/O).

    sessions: the session table the user may see. period: ``2026Q3``, ``2026-09`` or
    ``2026``. team, clinician, age_group, measure: filters (:func:`filter_sessions`).
    trend_months: months of trend up to the period's end. cache: a dict kept by the
    caller for :func:`change_and_flags` and :func:`window_rows` over the same
    ``sessions``. progress: called with (fraction, label). parts: what to compute (the
    dashboard computes only the visible part; skipped parts are empty frames).
    severity: the whole service's case-mix model (:meth:`kor.store.Store.severity_reference`
    or :func:`kor.indicators.severity_reference`), used for every adjusted figure (the
    period, the one before, the trend months, the units); default: fitted on the closed
    episodes of ``sessions`` (not of the filter) up to the period's end, which is the
    service only when ``sessions`` is the whole service, so a caller reading for a team
    lead passes the store's model. as_of: the date the data are complete to; default
    the last session date of ``sessions`` (:func:`kor.indicators.data_as_of`). A period
    or month ending after it is incomplete: it is marked, left out of chart limits and
    signals, never compared with a complete one, and dropout is judged as of ``as_of``.

    The units of the comparison are teams, or the team's clinicians when ``team`` or
    ``clinician`` is set.

    Speed: every indicator is computed on the rows of its own window only (a quarter,
    or the trend months), with the episode change and flags computed once per window
    end on the episodes' whole history. This gives the numbers of
    :func:`service_indicators` on the whole table: rows before ``start`` only supply
    intakes, which the episode change holds, and rows after ``end`` are dropped there
    as well.
    """
    step = progress or (lambda _f, _l: None)
    cache = {} if cache is None else cache
    start, end = period_window(period)
    prev_start, prev_end, prev_label = previous_window(period)
    trend_start = (pd.Period(end, freq="M") - (trend_months - 1)).start_time
    filters = {
        "team": team,
        "clinician": clinician,
        "age_group": age_group,
        "measure": measure,
    }
    keep = filter_mask(sessions, **filters)
    unit = "clinician" if (team or clinician) else "team"
    step(0.1, "report.progress.indicators")
    data_until = _data_until(sessions, cache)
    as_of_ts = pd.Timestamp(as_of).normalize() if as_of is not None else data_as_of(data_until)
    complete = bool(period_complete([pd.Period(end, freq="D")], as_of_ts)[0])
    today = end if as_of_ts is None else min(end, as_of_ts)  # dropout: as the data stand
    prev_today = prev_end if as_of_ts is None else min(prev_end, as_of_ts)
    if severity is None:
        key = ("severity", end)
        if key not in cache:
            cache[key] = severity_reference(change_and_flags(sessions, end, cache)[0], end=end)
        severity = cache[key]
    episodes, found = change_and_flags(sessions, end, cache, since=min(trend_start, start))
    empty = _empty_indicators(sessions, (), cache)
    totals = previous = trends = empty
    headline = pd.DataFrame(
        columns=["indicator", "value", "previous", "movement", "direction", "verdict"]
    )
    charts: dict[str, spc.ControlChart | None] = {}
    left_out: dict[str, list[str]] = {}
    partial: list[str] = []
    in_period = None
    if "headline" in parts or "trends" in parts or "comparison" in parts:
        in_period = window_rows(sessions, start, end, keep, cache)
    if "headline" in parts or "trends" in parts:
        totals = service_indicators(
            in_period,
            by=(),
            start=start,
            end=end,
            today=today,
            episodes=episodes,
            flags=found,
            severity=severity,
        )
        if len(totals) == 0:
            totals = _blank_totals(empty)
        trends = service_indicators(
            window_rows(sessions, trend_start, end, keep, cache),
            by=(),
            period="M",
            today=today,
            episodes=episodes,
            flags=found,
            severity=severity,
        )
        step(0.3, "report.progress.charts")
        running = ~period_complete(trends["period"], as_of_ts)
        partial = [str(p) for p in trends["period"][running]]
        partial_x = list(trends["period"][running].dt.to_timestamp())
        for spec in INDICATORS:
            points, months = chart_input(trends, spec)
            charts[spec.column] = _chart(points, spec, partial_x)
            left_out[spec.column] = months
    if "headline" in parts:
        p_episodes, p_flags = change_and_flags(sessions, prev_end, cache, since=prev_start)
        previous = service_indicators(
            window_rows(sessions, prev_start, prev_end, keep, cache),
            by=(),
            start=prev_start,
            end=prev_end,
            today=prev_today,
            episodes=p_episodes,
            flags=p_flags,
            severity=severity,
        )
        if len(previous) == 0:
            previous = _blank_totals(empty)
        rows = []
        for spec in INDICATORS:
            value = _first(totals, spec.column)
            before = _first(previous, spec.column)
            rows.append(
                {
                    "indicator": spec.column,
                    "value": value,
                    "previous": before,
                    "movement": movement(value, before, spec.decimals) if complete else "partial",
                    "direction": direction(value, before, spec.higher_is_better, spec.decimals)
                    if complete
                    else "partial",  # a part period is never compared with a whole one
                    "verdict": _verdict(charts.get(spec.column), spec.higher_is_better),
                }
            )
        headline = pd.DataFrame(rows)
    step(0.45, "report.progress.comparison")
    comparison = _empty_indicators(sessions, (unit,), cache)
    funnel_rows = funnel.funnel_frame(comparison, unit=unit, centre=float("nan"), sd=float("nan"))
    centre = sd = float("nan")
    if "comparison" in parts:
        comparison = service_indicators(  # shown beside the totals: complement
            in_period,
            by=(unit,),
            start=start,
            end=end,
            episodes=episodes,
            flags=found,
            complement=True,
            severity=severity,
        )
        # episodes whose last session up to `end` lies in the window (attribution)
        ep = episodes.loc[episodes["episode"].isin(in_period["episode"].unique())]
        centre, sd, _ = funnel.adjusted_spread(ep, model=severity)
        funnel_rows = funnel.funnel_frame(comparison, unit=unit, centre=centre, sd=sd)
    step(0.55, "report.progress.render")
    return Report(
        period=str(period).upper(),
        team=team,
        start=start,
        end=end,
        previous_label=prev_label,
        unit=unit,
        totals=totals,
        previous=previous,
        headline=headline,
        trends=trends,
        charts=charts,
        left_out=left_out,
        comparison=comparison,
        funnel=funnel_rows,
        funnel_centre=centre,
        funnel_sd=sd,
        filters=filters,
        data_until=data_until,
        as_of=as_of_ts,
        complete=complete,
        partial=partial,
        severity=severity,
    )


def _empty_indicators(sessions: pd.DataFrame, by: tuple[str, ...], cache: dict) -> pd.DataFrame:
    """:func:`service_indicators` of no rows (the frame of a part not computed)."""
    key = ("empty", by)
    if key not in cache:
        cache[key] = service_indicators(sessions.iloc[:0], by=by)
    return cache[key]


def _data_until(sessions: pd.DataFrame, cache: dict) -> pd.Timestamp | None:
    if "data_until" not in cache:
        cache["data_until"] = (
            pd.to_datetime(sessions["session_date"]).max() if len(sessions) else None
        )
    return cache["data_until"]


def _blank_totals(empty: pd.DataFrame) -> pd.DataFrame:
    """The one row of a window without sessions: counts 0, every figure blank.

    Not suppressed (there is nothing to hide): the cells say «ingen data» and nothing
    is compared with it (:func:`direction` gives ``"unknown"``).
    """
    row: dict[str, Any] = {}
    for column in empty.columns:
        dtype = empty[column].dtype
        if column == "suppressed":
            row[column] = False
        elif pd.api.types.is_integer_dtype(dtype):
            row[column] = 0
        elif pd.api.types.is_float_dtype(dtype):
            row[column] = float("nan")
        else:
            row[column] = None
    return pd.DataFrame([row], columns=empty.columns).astype(empty.dtypes.to_dict())


def _has_data(frame: pd.DataFrame) -> bool:
    """True when a one-row indicator frame counts at least one session (a suppressed
    row has some: they are hidden, not absent)."""
    if len(frame) == 0 or "sessions" not in frame.columns:
        return False
    if bool(frame["suppressed"].iloc[0]):
        return True
    value = frame["sessions"].iloc[0]
    return not pd.isna(value) and int(value) > 0


def build_report(
    store: Any,
    actor: Any,
    *,
    period: str = "2026Q3",
    team: str | None = None,
    progress: Progress | None = None,
    **filters: Any,
) -> Report:
    """Load what ``actor`` may see and compute the report (see :func:`compute_report`)."""
    step = progress or (lambda _f, _l: None)
    step(0.0, "report.progress.load")
    sessions = store.session_table(actor, team=team) if team else store.session_table(actor)
    if team is None and filter_options(sessions)["whole_service"] is False:
        team = str(sessions["team"].dropna().iloc[0])  # one team seen: that team's report
    # the case-mix model of the whole service, whatever the actor may read
    severity = store.severity_reference(actor, end=period_window(period)[1].date())
    return compute_report(
        sessions, period=period, team=team, progress=progress, severity=severity, **filters
    )


# --------------------------------------------------------------------------- CLI


def _cmd_report(args: argparse.Namespace) -> int:
    from kor.store import Store

    fmt = args.format or (Path(args.out).suffix.lstrip(".").lower() if args.out else "pdf")
    if fmt not in FORMATS:
        raise ValidationError("error.bad_choice", field="format", choices=", ".join(FORMATS))
    period_window(args.period)  # a bad period fails before the data is read
    store = Store.open(args.database)
    try:
        actor = store.current_actor()

        def show(fraction: float, label: str) -> None:
            print(f"{fraction * 100:5.0f} %  {t(label)}", file=sys.stderr, flush=True)

        report = build_report(
            store,
            actor,
            period=args.period,
            team=args.team,
            clinician=args.clinician,
            age_group=args.age_group,
            measure=args.measure,
            progress=show,
        )
        out = Path(args.out or report.file_name(fmt))
        report.save(out, fmt, progress=show)
    finally:
        store.close()
    print(t("report.cli.written", path=str(out)))
    return 0


def register_cli(sub: Any) -> None:
    """``kor report --period 2026Q3 [--team VOP] [--clinician …] [--age-group adult]
    [--measure ORS] --format pdf|xlsx|html [--out FILE]``: the dashboard's filters."""
    p = sub.add_parser("report", help=t("report.cli.help"), description=t("report.cli.help"))
    p.add_argument("--period", required=True, help=t("report.cli.period"))
    p.add_argument("--team", default=None, help=t("report.cli.team"))
    p.add_argument("--clinician", default=None, help=t("report.cli.clinician"))
    p.add_argument(
        "--age-group", choices=measures.AGE_GROUPS, default=None, help=t("report.cli.age_group")
    )
    outcome = sorted(measures.codes("outcome"))
    p.add_argument("--measure", choices=outcome, default=None, help=t("report.cli.measure"))
    p.add_argument("--format", choices=FORMATS, default=None, help=t("report.cli.format"))
    p.add_argument("--out", default=None, help=t("report.cli.out"))
    p.add_argument("--database", default=None, help=t("cli.database"))
    p.set_defaults(func=_cmd_report)
