"""Service indicators per team, clinician or the whole service, per month or quarter.

What a quality lead follows (DESIGN.md, «Service indicators»): clients, intake mean,
pre-post change and effect size, severity-adjusted change, % reliably improved /
recovered / deteriorated, data completeness, alliance and dropout. Every aggregate
goes through :func:`suppress`, so no group of fewer than :data:`SUPPRESSION_MIN`
clients is ever shown (groups under 5 clients are suppressed in every aggregate view
and export).

Change categories come from :func:`kor.change.episode_change` and alliance warnings
from :func:`kor.flags.evaluate_flags` (one way to do each thing); pass their frames
as ``episodes=`` / ``flags=`` to reuse what a dashboard has already computed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kor import measures
from kor.change import _few_codes
from kor.errors import KorStatisticalWarning, ValidationError
from kor.frames import require_columns

__all__ = [
    "SUPPRESSION_MIN",
    "GROUPINGS",
    "PERIODS",
    "ALLIANCE_WARNING_RULES",
    "INDICATOR_COLUMNS",
    "suppress",
    "complementary",
    "severity_adjustment",
    "SeverityModel",
    "fit_severity",
    "severity_reference",
    "period_complete",
    "data_as_of",
    "service_indicators",
    "data_coverage",
]

SUPPRESSION_MIN = 5
"""Smallest number of clients an aggregate may describe (DESIGN.md)."""

GROUPINGS: tuple[str, ...] = ("team", "clinician")
PERIODS: tuple[str, ...] = ("M", "Q")
ALLIANCE_WARNING_RULES: tuple[str, ...] = ("alliance_low", "alliance_drop")
_EPS = 1e-9  # totals are sums of one-decimal items: compare with kor.change's tolerance

INDICATOR_COLUMNS: tuple[str, ...] = (
    "suppressed",
    "clients",
    "episodes",
    "sessions",
    "episodes_assessable",
    "intake_mean",
    "change_mean",
    "effect_size",
    "severity_adjusted_change",
    "severity_adjusted_es",
    "pct_improved",
    "pct_recovered",
    "pct_deteriorated",
    "pct_sessions_with_outcome",
    "pct_sessions_with_alliance",
    "alliance_mean",
    "pct_alliance_low",
    "alliance_warnings",
    "episodes_ended",
    "dropout_rate",
)
_COUNTS = (
    "clients",
    "episodes",
    "sessions",
    "episodes_assessable",
    "alliance_warnings",
    "episodes_ended",
)
_CHANGE_FAMILY = (
    "episodes_assessable",
    "intake_mean",
    "change_mean",
    "effect_size",
    "severity_adjusted_change",
    "severity_adjusted_es",
    "pct_improved",
    "pct_recovered",
    "pct_deteriorated",
)
_ALLIANCE_FAMILY = ("alliance_mean", "pct_alliance_low", "alliance_warnings")
_DROPOUT_FAMILY = ("episodes_ended", "dropout_rate")
_NEEDED = (
    "client",
    "episode",
    "team",
    "clinician",
    "episode_end",
    "end_reason",
    "session_date",
    "session_no",
    "outcome",
    "alliance_measure",
    "alliance",
)


def suppress(
    frame: pd.DataFrame,
    count_col: str,
    min_group: int = SUPPRESSION_MIN,
    *,
    columns: Sequence[str] | None = None,
    flag: str | None = "suppressed",
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Blank every number of the rows whose ``count_col`` is under ``min_group``.

    The small-cell rule of the service: an aggregate of fewer than ``min_group``
    clients (default 5) is not shown, so nobody can be recognised from it. Blanked
    cells become NA (``pd.NA`` in integer columns, NaN in float columns), never 0,
    so a reader sees «suppressed», not «none». A missing count counts as too small.

    frame: any aggregate frame; it is not changed.
    count_col: the column counting the clients behind each row (blanked as well).
    columns: the columns to blank; default every numeric column except booleans.
    flag: name of a boolean column set True on blanked rows (OR-ed with an existing
    one); None for no flag.
    rows: a boolean mask of further rows to blank whatever their count (the
    complementary suppression of :func:`complementary`).
    Returns a new frame; integer counts come back as nullable ``Int64``.

    >>> t = pd.DataFrame({"team": ["A", "B"], "clients": [7, 3], "mean": [20.5, 18.0]})
    >>> suppress(t, "clients")
      team  clients  mean  suppressed
    0    A        7  20.5       False
    1    B     <NA>   NaN        True
    """
    if columns is None:
        columns = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
    columns = list(dict.fromkeys([*columns, count_col]))
    require_columns(frame, columns, where="suppress")
    out = frame.copy()
    small = ~(pd.to_numeric(out[count_col], errors="coerce") >= min_group).fillna(False)
    small = small.to_numpy(dtype=bool)
    if rows is not None:
        small = small | np.asarray(rows, dtype=bool)
    for col in columns:
        values = out[col]
        if pd.api.types.is_integer_dtype(values) or isinstance(values.dtype, pd.Int64Dtype):
            out[col] = values.astype("Int64").mask(small)
        else:
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64").mask(small)
    if flag is not None:
        before = out[flag].to_numpy(dtype=bool) if flag in out.columns else False
        out[flag] = np.asarray(before | small, dtype=bool)
    return out


def complementary(
    counts: np.ndarray,
    parts: np.ndarray,
    hidden: np.ndarray,
    min_group: int = SUPPRESSION_MIN,
) -> np.ndarray:
    """The rows to hide so that no hidden count can be worked out from its part's total.

    Primary suppression hides a group of fewer than ``min_group`` clients; but when the
    rows of a part (the teams of a service, say) are shown beside the part's total, the
    total minus the shown rows gives a lone hidden row back. Complementary suppression,
    as statistics offices practise it: within each part that has a hidden row, the
    smallest shown rows are hidden too, until at least two rows are hidden and together
    they hold at least ``min_group`` clients (or every row of the part is hidden). A part
    whose hidden rows all count zero needs nothing more: the subtraction gives no one away.

    counts: clients per row (before any suppression). parts: a code per row naming its
    part. hidden: the rows hidden already. Returns ``hidden`` with the added rows.

    >>> complementary(np.array([20, 3, 12, 30]), np.zeros(4), np.array([0, 1, 0, 0], bool))
    array([False,  True,  True, False])
    >>> complementary(np.array([1, 2, 40, 50]), np.zeros(4), np.array([1, 1, 0, 0], bool))
    array([ True,  True,  True, False])
    """
    counts = np.asarray(counts, dtype=float)
    out = np.asarray(hidden, dtype=bool).copy()
    parts = np.asarray(parts)
    for part in np.unique(parts):
        rows = np.flatnonzero(parts == part)
        if not (out[rows] & (counts[rows] > 0)).any():  # nothing hidden, or only zeros
            continue
        for row in rows[np.argsort(counts[rows], kind="stable")]:
            if out[rows].sum() >= 2 and counts[rows][out[rows]].sum() >= min_group:
                break
            out[row] = True
    return out


def severity_adjustment(intake: np.ndarray, change: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of the service's OLS regression of change on intake.

    Used for case-mix adjustment: an episode's adjusted change is its residual from
    this line added back to the service's mean change, i.e.
    ``change - slope * (intake - mean(intake))``. Clients who start lower improve
    more (regression to the mean and room to improve), so a team with a heavier
    case-mix is neither punished nor rewarded for it. With fewer than 3 episodes or
    no spread in intake there is no line to fit: returns ``(nan, 0.0)``, slope 0, so
    nothing is adjusted.

    References: Brown GS, Lambert MJ, Jones ER, Minami T. Identifying highly
    effective psychotherapists in a managed care environment. Am J Manag Care
    2005;11(8):513-520 (ACORN severity-adjusted effect size).

    >>> b0, b1 = severity_adjustment(np.array([10.0, 20.0, 30.0]), np.array([10.0, 5.0, 0.0]))
    >>> round(b0, 9), round(b1, 9)
    (15.0, -0.5)
    """
    x = np.asarray(intake, dtype=float)
    y = np.asarray(change, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0:
        return (float("nan"), 0.0)
    design = np.column_stack([np.ones_like(x), x])
    (b0, b1), *_ = np.linalg.lstsq(design, y, rcond=None)
    return (float(b0), float(b1))


@dataclass(frozen=True)
class SeverityModel:
    """The case-mix line of a reference population: expected change given intake.

    Fitted once on the reference population (the whole service's closed episodes,
    :func:`severity_reference`) and applied to any group, so a team, a clinician or a
    filtered view is adjusted against the service, never against itself.

    intercept, slope: OLS line ``change = intercept + slope * intake`` (points).
    intake_mean, intake_sd (ddof=1), change_mean: of the reference episodes (points).
    episodes, clients: how many episodes and distinct clients the line rests on.
    A model of fewer than :data:`SUPPRESSION_MIN` clients is not fitted (all NaN,
    slope 0): adjusted values are then blank rather than resting on a handful of people.
    """

    intercept: float
    slope: float
    intake_mean: float
    intake_sd: float
    change_mean: float
    episodes: int
    clients: int

    @property
    def fitted(self) -> bool:
        """True when the model may be used (enough clients, a spread in intake)."""
        return bool(np.isfinite(self.intake_mean) and np.isfinite(self.intake_sd))

    def adjust(self, intake: np.ndarray, change: np.ndarray) -> np.ndarray:
        """Severity-adjusted change per episode: ``change - slope * (intake - intake_mean)``.

        The change an episode would have shown had it started at the reference
        population's mean intake (its residual from the line plus the line's value
        there). NaN everywhere when the model is not fitted.
        """
        x = np.asarray(intake, dtype=float)
        y = np.asarray(change, dtype=float)
        if not self.fitted:
            return np.full(y.shape, np.nan)
        return y - self.slope * (x - self.intake_mean)

    def adjusted_es(self, adjusted_mean: np.ndarray | float) -> np.ndarray | float:
        """An adjusted mean change as an effect size: over the reference's intake SD."""
        sd = self.intake_sd if self.fitted and self.intake_sd > 0 else np.nan
        return np.asarray(adjusted_mean, dtype=float) / sd


def fit_severity(
    intake: np.ndarray,
    change: np.ndarray,
    clients: np.ndarray | None = None,
    *,
    min_group: int = SUPPRESSION_MIN,
) -> SeverityModel:
    """A :class:`SeverityModel` from the intake and change of the reference episodes.

    clients: a client code per episode (for the small-cell rule); default one client
    per episode. Episodes with a missing intake or change are left out.

    >>> m = fit_severity(np.array([10.0, 20.0, 30.0, 15.0, 25.0]),
    ...                  np.array([10.0, 5.0, 0.0, 7.5, 2.5]))
    >>> round(m.slope, 9), m.intake_mean, m.change_mean, m.episodes
    (-0.5, 20.0, 5.0, 5)
    """
    x = np.asarray(intake, dtype=float)
    y = np.asarray(change, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    who = np.arange(x.size) if clients is None else np.asarray(clients, dtype=object)
    n_clients = int(pd.unique(who[ok]).size)
    x, y = x[ok], y[ok]
    nan = float("nan")
    if n_clients < min_group or x.size < 3 or np.ptp(x) == 0:
        return SeverityModel(nan, 0.0, nan, nan, nan, int(x.size), n_clients)
    b0, b1 = severity_adjustment(x, y)
    return SeverityModel(
        intercept=b0,
        slope=b1,
        intake_mean=float(x.mean()),
        intake_sd=float(np.std(x, ddof=1)),
        change_mean=float(y.mean()),
        episodes=int(x.size),
        clients=n_clients,
    )


def severity_reference(
    episodes: pd.DataFrame, *, end: Any = None, min_group: int = SUPPRESSION_MIN
) -> SeverityModel:
    """The service's case-mix model, fitted on its closed episodes (the reference population).

    Why: a group adjusted against a line fitted inside the group is adjusted against
    itself, and its adjusted figure equals its raw one. The line is therefore fitted
    once on the reference population, the whole service's assessable episodes that were
    closed by ``end`` (all teams and clinicians, whatever a viewer's filter or access),
    and the same model is applied to every group (:func:`service_indicators`,
    ``severity=``). The caller passes the whole service's episodes: a team lead, who
    may not read other teams' clients, gets the fitted model (aggregates only) from
    :meth:`kor.store.Store.severity_reference`.

    episodes: :func:`kor.change.episode_change` of the whole service's sessions up to
    ``end`` (columns ``client``, ``episode_end``, ``intake``, ``change``, ``assessable``).
    end: the reference date (inclusive); default every closed episode.

    >>> ep = pd.DataFrame({"client": list("abcdef"), "intake": [10.0, 20, 30, 15, 25, 20],
    ...     "change": [10.0, 5, 0, 7.5, 2.5, 40], "assessable": True,
    ...     "episode_end": pd.to_datetime(["2025-01-01"] * 5 + [None])})
    >>> severity_reference(ep).episodes  # the open episode is not part of it
    5
    """
    require_columns(
        episodes, ("client", "episode_end", "intake", "change", "assessable"), where="episodes"
    )
    ended = pd.to_datetime(episodes["episode_end"])
    keep = ended.notna() & _as_bool(episodes["assessable"])
    if end is not None:
        keep &= ended <= pd.Timestamp(end)
    rows = episodes.loc[keep.to_numpy(dtype=bool)]
    return fit_severity(
        rows["intake"].to_numpy(dtype=float, na_value=np.nan),
        rows["change"].to_numpy(dtype=float, na_value=np.nan),
        rows["client"].to_numpy(dtype=object),
        min_group=min_group,
    )


def period_complete(periods: Sequence[Any] | pd.Series, as_of: Any) -> np.ndarray:
    """True for each period (``pandas.Period``, month or quarter) whose last day is on or
    before ``as_of``.

    Why: the latest month or quarter is usually still running; charted, compared or
    tested for signals as if complete it reads as a fall (one day of data, a handful of
    endings). A period is complete once the data reach its last day. ``as_of``: the
    date the data are complete to (:func:`data_as_of`); None: every period is complete.

    >>> ps = pd.PeriodIndex(["2026-09", "2026-10", "2026-11"], freq="M")
    >>> period_complete(ps, "2026-10-31").tolist()
    [True, True, False]
    """
    values = list(periods)
    if as_of is None:
        return np.ones(len(values), dtype=bool)
    day = pd.Timestamp(as_of).normalize()
    return np.array([pd.Period(p).end_time.normalize() <= day for p in values], dtype=bool)


def data_as_of(last_data: Any, today: Any = None) -> pd.Timestamp | None:
    """The date the data are complete to: the last session date, but never after today.

    last_data: the latest session date of the data (None: no data). today: default the
    current date. A period ending after this date is incomplete (:func:`period_complete`).

    >>> data_as_of("2026-11-03", today="2026-12-02").date().isoformat()
    '2026-11-03'
    """
    if last_data is None or pd.isna(last_data):
        return None
    now = pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize()
    return min(pd.Timestamp(last_data).normalize(), now)


def _check_options(by: tuple[str, ...], period: str | None, min_group: int) -> None:
    for key in by:
        if key not in GROUPINGS:
            raise ValidationError("error.bad_choice", field="by", choices=", ".join(GROUPINGS))
    if len(set(by)) != len(by):
        raise ValidationError("error.bad_choice", field="by", choices=", ".join(GROUPINGS))
    if period is not None and period not in PERIODS:
        raise ValidationError("error.bad_choice", field="period", choices=", ".join(PERIODS))
    if min_group < SUPPRESSION_MIN:
        warnings.warn(
            f"min_group={min_group} is below the service's small-cell rule of "
            f"{SUPPRESSION_MIN} clients; do not show or export the result",
            KorStatisticalWarning,
            stacklevel=3,
        )


def _days(dates: pd.Series) -> np.ndarray:
    """Dates as whole days since 1970-01-01 (int64); NaT as the smallest int64."""
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]")
    return values.astype("datetime64[D]").astype(np.int64)


def _group_codes(
    sessions: pd.DataFrame, by: tuple[str, ...], period: str | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group code per session and the frame of group values (sorted).

    The period comes straight from the date (months since 1970, quarters = months // 3),
    so no Period objects are built per row.
    """
    n = len(sessions)
    parts: list[tuple[np.ndarray, pd.Index | np.ndarray]] = []
    for key in by:
        codes, uniques = pd.factorize(sessions[key], sort=True, use_na_sentinel=False)
        parts.append((codes.astype(np.int64), uniques))
    if period is not None:
        months = pd.to_datetime(sessions["session_date"]).to_numpy(dtype="datetime64[M]")
        ordinal = months.astype(np.int64)
        if period == "Q":
            ordinal = ordinal // 3
        low = int(ordinal.min()) if n else 0
        parts.append((ordinal - low, np.arange(low, int(ordinal.max()) + 1 if n else low)))
    combined = np.zeros(n, dtype=np.int64)
    for codes, uniques in parts:
        combined = combined * len(uniques) + codes
    size = 1
    for _codes, uniques in parts:
        size *= max(len(uniques), 1)
    if n and size <= 4 * n + 1024:  # few possible groups: count them instead of hashing
        present = np.bincount(combined, minlength=size) > 0
        gcode = (np.cumsum(present) - 1)[combined]
        key_values = np.flatnonzero(present).astype(np.int64)
    else:
        gcode, key_values = pd.factorize(combined, sort=True)
        key_values = np.asarray(key_values, dtype=np.int64)
    columns: dict[str, object] = {}
    rest = key_values
    decoded = []
    for _codes, uniques in reversed(parts):
        decoded.append(rest % len(uniques))
        rest = rest // len(uniques)
    decoded.reverse()
    for key, (_, uniques), idx in zip(by, parts, decoded, strict=False):
        columns[key] = pd.Index(uniques).take(idx).to_numpy()
    if period is not None:
        ordinals = parts[-1][1][decoded[-1]]
        months = ordinals * 3 if period == "Q" else ordinals
        starts = pd.Series(months.astype("datetime64[M]").astype("datetime64[ns]"))
        columns["period"] = starts.dt.to_period(period).to_numpy()
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(key_values)))
    if period is not None:
        frame["period"] = frame["period"].astype(pd.PeriodDtype(period))
    return gcode.astype(np.int64), frame


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values)``; for sorted integers (the session table's episodes) from
    where the value changes, without hashing every row."""
    array = values.to_numpy()
    if array.dtype.kind in "iu" and len(array) > 1 and (array[1:] >= array[:-1]).all():
        change = np.r_[True, array[1:] != array[:-1]]
        return np.cumsum(change) - 1, pd.Index(array[change])
    codes, uniques = pd.factorize(values)
    return codes, uniques


def _distinct(group: np.ndarray, item: np.ndarray, n_items: int, n_groups: int) -> np.ndarray:
    """Number of distinct ``item`` codes per group code.

    The session table comes sorted by episode and session, so a client's or an
    episode's rows are adjacent and their groups (months) rise: with the pairs keyed
    item first, rows repeating the pair before them are dropped and, if what is left
    rises strictly, it is already the set of distinct pairs. Otherwise what is left is
    sorted (numpy's integer sort is several times faster than hashing) and deduplicated.
    """
    width = max(n_groups, 1)
    pairs = item.astype(np.int64) * width + group
    if len(pairs) > 1:
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
        if not (pairs[1:] > pairs[:-1]).all():
            pairs = np.sort(pairs)
            pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    return np.bincount(pairs % width, minlength=n_groups).astype(float)


def _last_rows(ep_code: np.ndarray, days: np.ndarray, session_no: np.ndarray) -> np.ndarray:
    """Row index of each episode's last session (latest date, then highest number).

    The session table usually comes sorted by episode and session (as
    :func:`kor.frames.session_table` builds it); then this is one pass, else one sort.
    """
    if len(ep_code) == 0:
        return np.zeros(0, dtype=np.int64)
    same = ep_code[1:] == ep_code[:-1]
    later = (days[1:] > days[:-1]) | ((days[1:] == days[:-1]) & (session_no[1:] > session_no[:-1]))
    if np.all(ep_code[1:] >= ep_code[:-1]) and np.all(~same | later):
        order = np.arange(len(ep_code))
    else:
        order = np.lexsort((session_no, days, ep_code))
    sorted_codes = ep_code[order]
    ends = np.flatnonzero(np.r_[sorted_codes[1:] != sorted_codes[:-1], True])
    return order[ends]


def _warning_sessions(
    ep_code: np.ndarray, ep_values: pd.Index, session_no: np.ndarray, flags: pd.DataFrame
) -> np.ndarray:
    """True for the sessions where an alliance warning rule fired.

    A rule counts by its ``kind`` (``alliance_low``/``alliance_drop``), so a service's
    renamed or re-thresholded rules still count; frames without ``kind`` match ``rule``.
    Several rules firing at one session count once.
    """
    rule_col = "kind" if "kind" in flags.columns else "rule"
    require_columns(flags, ("episode", "session_no", rule_col), where="flags")
    fired = flags.loc[flags[rule_col].isin(ALLIANCE_WARNING_RULES)]
    if fired.empty or len(session_no) == 0:
        return np.zeros(len(ep_code), dtype=bool)
    width = int(max(session_no.max(), fired["session_no"].max())) + 1
    code = pd.Index(ep_values).get_indexer(fired["episode"].to_numpy())
    fired_no = fired["session_no"].to_numpy(dtype=np.int64)
    fired_key = code[code >= 0].astype(np.int64) * width + fired_no[code >= 0]
    key = ep_code.astype(np.int64) * width + session_no
    return np.asarray(pd.Series(key).isin(fired_key), dtype=bool)


def _alliance_low(sessions: pd.DataFrame, alliance: np.ndarray) -> np.ndarray:
    """True for sessions whose alliance total is under its measure's declared threshold."""
    codes, uniques = _few_codes(sessions["alliance_measure"])
    limits = np.array(
        [
            np.nan
            if measures.MEASURES.get(c) is None or measures.MEASURES[c].alliance_threshold is None
            else measures.MEASURES[c].alliance_threshold
            for c in uniques
        ]
        + [np.nan],
        dtype=float,
    )
    with np.errstate(invalid="ignore"):
        return alliance < limits[codes] - _EPS


def _as_bool(values: pd.Series) -> np.ndarray:
    return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


def service_indicators(
    sessions: pd.DataFrame,
    *,
    by: Sequence[str] = ("team",),
    period: str | None = None,
    start: Any = None,
    end: Any = None,
    min_group: int = SUPPRESSION_MIN,
    dropout_days: int = 90,
    today: Any = None,
    episodes: pd.DataFrame | None = None,
    flags: pd.DataFrame | None = None,
    complement: bool = False,
    severity: SeverityModel | None = None,
) -> pd.DataFrame:
    """KOR service indicators per group (team, clinician or the whole service) and period.

    sessions: the session table (:data:`kor.frames.SESSION_COLUMNS`); not changed.
    by: grouping columns, any of ``"team"``, ``"clinician"``; ``()`` for the whole service.
    period: ``"M"`` (month), ``"Q"`` (quarter) or None (the whole window).
    start, end: the window (dates, inclusive). Sessions after ``end`` are dropped
    first, so the result is the state of the data as of ``end`` and reruns the same
    later; ``start`` only selects what is reported (an intake before ``start`` still
    counts as the intake of an episode reported after it).
    min_group: the small-cell rule, default :data:`SUPPRESSION_MIN` (5 clients).
    dropout_days: an open episode without a session for more than this many days
    before ``today`` counts as a dropout.
    today: reference date for dropout; default ``end``, else the last session date.
    episodes: the output of :func:`kor.change.episode_change` on the same sessions
    (up to ``end``), computed if None. flags: the output of
    :func:`kor.flags.evaluate_flags` on the same sessions, computed (alliance rules
    only) if None. Pass both to reuse what a dashboard has already computed.
    complement: the rows will be shown beside their total (a report's comparison of
    teams under the service's figures): hide more rows where needed so that no hidden
    group can be worked out by subtraction (:func:`complementary`; see Notes).
    severity: the case-mix model to adjust with (:func:`severity_reference` of the whole
    service, or :meth:`kor.store.Store.severity_reference`). Pass it whenever
    ``sessions`` is part of the service (a team, a clinician, a filter, a window):
    without it the model is fitted on the closed episodes of ``sessions`` themselves,
    which is right only when ``sessions`` is the whole service's history.

    Returns
    -------
    DataFrame
        One row per group and period that has at least one session in the
        window, sorted by the grouping columns and period; columns in this order:

        * the ``by`` columns, then ``period`` (``pandas.Period``) when ``period`` is set;
        * ``suppressed`` (bool): the row describes fewer than ``min_group`` clients, so
          every number in it, ``clients`` included, is NA (shown as suppressed, never 0);
        * ``clients``, ``episodes``, ``sessions`` (Int64): distinct clients and episodes
          with a session in the group and period, and the number of sessions;
        * ``episodes_assessable`` (Int64): episodes attributed to the row (see Notes) with
          an intake and a later outcome score, the base of the change indicators;
        * ``intake_mean`` (points): mean first outcome score of those episodes;
        * ``change_mean`` (points): mean latest minus first outcome score;
        * ``effect_size``: pre-post effect size, ``change_mean`` / SD of intake (ddof=1)
          within the row (Cohen 1988; Minami et al. 2008);
        * ``severity_adjusted_change`` (points): mean change after case-mix adjustment
          for intake severity against the reference model ``severity`` (see Notes);
        * ``severity_adjusted_es``: ``severity_adjusted_change`` / SD of intake of the
          reference population (one common denominator, as ACORN does);
        * ``pct_improved``, ``pct_recovered``, ``pct_deteriorated`` (%, 0-100): share of
          assessable episodes reliably improved (recovered included), recovered
          (reliable improvement crossing the cut-off), reliably deteriorated
          (Jacobson & Truax 1991, categories from :func:`kor.change.episode_change`);
        * ``pct_sessions_with_outcome``, ``pct_sessions_with_alliance`` (%): data
          completeness, share of sessions with an outcome / alliance score;
        * ``alliance_mean`` (points): mean alliance total over sessions with one;
        * ``pct_alliance_low`` (%): share of those sessions under the alliance measure's
          declared threshold (SRS: 36);
        * ``alliance_warnings`` (Int64): sessions where a flag rule of kind
          ``alliance_low`` or ``alliance_drop`` fired (:mod:`kor.flags`, default rules
          when ``flags`` is None: SRS under 36 or a drop of at least 1 point);
        * ``episodes_ended`` (Int64): episodes attributed to the row (last seen in it)
          that had ended by ``today``: closed on or before ``today``, or open with no
          session for more than ``dropout_days`` before ``today``;
        * ``dropout_rate`` (%, 0-100): the share of ``episodes_ended`` that ended in
          dropout: closed with ``end_reason == "dropout"``, or open with no session for
          more than ``dropout_days`` (see Notes).

    Notes
    -----
    *Attribution.* Session-level indicators (clients, episodes, sessions,
    completeness, alliance) count sessions by their own date, team and clinician.
    Episode-level indicators (change, dropout) count each episode once, in the
    period, team and clinician of its **last session** in the window: the change
    reported is intake to the latest score at the time it was last seen. An episode
    still running moves to later periods as sessions are added.

    *Dropout.* One definition for every period length: of the episodes last seen in
    the row that had ended by ``today``, the share that ended in dropout. Numerator
    and denominator count each episode once, in the month of its last session, so a
    quarter's rate is exactly the pooled rate of its three months (the sum of their
    dropouts over the sum of their ended episodes). An episode still running (seen in
    the last ``dropout_days``) is in neither; an episode closed after ``today`` counts
    as open (the data as they stood on ``today``).

    *Severity adjustment.* Change is regressed on intake by OLS over a reference
    population, the whole service's closed episodes (:func:`severity_reference`), once:
    ``b0 + b1*intake``. An episode's adjusted change is ``change - b1*(intake - m)``,
    ``m`` the reference's mean intake: the change it would have shown starting at the
    service's average severity (Brown et al. 2005, the ACORN case-mix practice). Two
    teams with the same response but different intake severity thus get the same
    adjusted change, and a team viewed alone is still adjusted against the service.

    *Suppression.* Rows with fewer than ``min_group`` clients are blanked and
    flagged (:func:`suppress`). Within a shown row, the change indicators are also
    blanked when the assessable episodes belong to fewer than ``min_group`` clients,
    and the alliance indicators when fewer than ``min_group`` clients have an
    alliance score, so no shown number describes fewer than ``min_group`` people.
    With ``complement``, each of these three rules is followed by complementary
    suppression within each part: the rows that share the period and every ``by``
    column but the last (the teams of the service, the clinicians of a team).

    References
    ----------
    Cohen J. Statistical Power Analysis for the Behavioral Sciences. 2nd ed. 1988.
    Minami T, Wampold BE, Serlin RC et al. Benchmarking the effectiveness of
    psychotherapy treatment for adult depression in a managed care environment.
    J Consult Clin Psychol 2008;76(1):116-124. doi:10.1037/0022-006X.76.1.116
    Brown GS, Lambert MJ, Jones ER, Minami T. Am J Manag Care 2005;11(8):513-520.
    Jacobson NS, Truax P. J Consult Clin Psychol 1991;59(1):12-19.
    doi:10.1037/0022-006X.59.1.12

    Examples
    --------
    >>> from kor import frames, sample
    >>> s = frames.session_table(sample.generate(400))
    >>> out = service_indicators(s, by=("team",), period="Q")
    >>> list(out.columns[:5])
    ['team', 'period', 'suppressed', 'clients', 'episodes']
    >>> bool(out["clients"].dropna().between(1, 4).any())  # never 1-4 clients
    False
    """
    by = tuple(by)
    _check_options(by, period, min_group)
    require_columns(sessions, _NEEDED, where="sessions")
    end_ts = pd.Timestamp(end) if end is not None else None
    start_ts = pd.Timestamp(start) if start is not None else None
    if end_ts is not None:
        sessions = sessions.loc[pd.to_datetime(sessions["session_date"]) <= end_ts]
    days = _days(sessions["session_date"])
    if today is not None:
        today_day = _days(pd.Series([pd.Timestamp(today)]))[0]
    elif end_ts is not None:
        today_day = _days(pd.Series([end_ts]))[0]
    else:
        today_day = days.max() if len(days) else 0

    if episodes is None:
        from kor import change

        episodes = change.episode_change(sessions)
    if flags is None:
        from kor import flags as flag_rules

        alliance_rules = [r for r in flag_rules.service_rules() if r.kind in ALLIANCE_WARNING_RULES]
        flags = flag_rules.evaluate_flags(sessions, rules=alliance_rules)
    require_columns(episodes, ("episode", "intake", "change", "category", "assessable"), "episodes")

    # Integer codes: episode (in order of appearance), group (sorted), client per episode.
    ep_code, ep_values = _factorize(sessions["episode"])
    n_ep = len(ep_values)
    session_no = sessions["session_no"].to_numpy(dtype=np.int64)
    gcode, group_frame = _group_codes(sessions, by, period)
    n_groups = len(group_frame)
    first_row = np.flatnonzero(ep_code > np.maximum.accumulate(np.r_[-1, ep_code[:-1]]))
    client_code = pd.factorize(sessions["client"].take(first_row))[0]
    n_clients = int(client_code.max()) + 1 if n_ep else 0
    row_client = client_code[ep_code]

    # Session level, by session date, team and clinician; rows before `start` drop out.
    keep = days >= _days(pd.Series([start_ts]))[0] if start_ts is not None else None
    outcome = sessions["outcome"].to_numpy(dtype=float, na_value=np.nan)
    alliance = sessions["alliance"].to_numpy(dtype=float, na_value=np.nan)
    has_alliance = ~np.isnan(alliance)
    weights = {
        "sessions": np.ones(len(days)),
        "_n_outcome": ~np.isnan(outcome),
        "_n_alliance": has_alliance,
        "_alliance_sum": np.where(has_alliance, alliance, 0.0),
        "_n_low": _alliance_low(sessions, alliance),
        "alliance_warnings": _warning_sessions(ep_code, ep_values, session_no, flags),
    }
    g = gcode if keep is None else gcode[keep]
    sums = {
        name: np.bincount(g, weights=(w if keep is None else w[keep]), minlength=n_groups)
        for name, w in weights.items()
    }
    in_window = np.ones(len(days), dtype=bool) if keep is None else keep
    sums["clients"] = _distinct(gcode[in_window], row_client[in_window], n_clients, n_groups)
    sums["episodes"] = _distinct(gcode[in_window], ep_code[in_window], n_ep, n_groups)
    both = in_window & has_alliance
    sums["_alliance_clients"] = _distinct(gcode[both], row_client[both], n_clients, n_groups)

    # Episode level: each episode once, where its last session in the window is.
    last = _last_rows(ep_code, days, session_no)
    if start_ts is not None:
        last = last[keep[last]]
    ep_group = gcode[last]
    ep_client = row_client[last]
    pos = pd.Index(episodes["episode"]).get_indexer(ep_values[ep_code[last]])
    found = pos >= 0
    pos = np.where(found, pos, 0)

    def from_change(column: str, dtype: object = float) -> np.ndarray:
        values = episodes[column].to_numpy(dtype=dtype, na_value=np.nan if dtype is float else None)
        return values[pos]

    intake = np.where(found, from_change("intake"), np.nan)
    delta = np.where(found, from_change("change"), np.nan)
    assessable = found & _as_bool(episodes["assessable"])[pos]
    assessable &= ~np.isnan(intake) & ~np.isnan(delta)
    category = np.where(assessable, from_change("category", object), None)
    # Dropout as of `today`: an episode closed by then (its reason as recorded), or one
    # still open with no session for more than `dropout_days` (counted as dropped out).
    reason = sessions["end_reason"].take(last).to_numpy(dtype=object)
    closed_on = _days(sessions["episode_end"].iloc[last])
    closed = ~np.isnat(sessions["episode_end"].to_numpy(dtype="datetime64[ns]")[last])
    closed &= closed_on <= today_day
    lapsed = ~closed & (days[last] < today_day - dropout_days)
    ended = closed | lapsed
    dropout = (closed & (reason == "dropout")) | lapsed
    sums["_n_dropout"] = np.bincount(ep_group, weights=dropout, minlength=n_groups)
    sums["episodes_ended"] = np.bincount(ep_group, weights=ended, minlength=n_groups)
    sums["_ended_clients"] = _distinct(ep_group[ended], ep_client[ended], n_clients, n_groups)

    ag, a_intake, a_delta = ep_group[assessable], intake[assessable], delta[assessable]
    a_cat = category[assessable]
    if severity is None:  # the frame is its own reference: its closed episodes
        own = episodes.loc[episodes["episode"].isin(ep_values)]
        severity = severity_reference(own, end=pd.Timestamp(today_day, unit="D"))
    adjusted = severity.adjust(a_intake, a_delta)
    n_assess = np.bincount(ag, minlength=n_groups).astype(float)
    sums["episodes_assessable"] = n_assess
    sums["_assessable_clients"] = _distinct(ag, ep_client[assessable], n_clients, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        intake_mean = np.bincount(ag, weights=a_intake, minlength=n_groups) / n_assess
        dev = a_intake - intake_mean[ag]
        intake_sd = np.sqrt(np.bincount(ag, weights=dev * dev, minlength=n_groups) / (n_assess - 1))
        change_mean = np.bincount(ag, weights=a_delta, minlength=n_groups) / n_assess
        adjusted_mean = np.bincount(ag, weights=adjusted, minlength=n_groups) / n_assess
        n_cat = np.bincount(ag, weights=a_cat != None, minlength=n_groups)  # noqa: E711
        n_cat = np.where(n_cat > 0, n_cat, np.nan)

        def pct_of(categories: tuple[str, ...]) -> np.ndarray:
            hit = np.isin(a_cat, categories)
            return 100.0 * np.bincount(ag, weights=hit, minlength=n_groups) / n_cat

        n_alliance = np.where(sums["_n_alliance"] > 0, sums["_n_alliance"], np.nan)
        columns = {
            "suppressed": np.zeros(n_groups, dtype=bool),
            "clients": sums["clients"],
            "episodes": sums["episodes"],
            "sessions": sums["sessions"],
            "episodes_assessable": n_assess,
            "intake_mean": intake_mean,
            "change_mean": change_mean,
            "effect_size": change_mean / np.where(intake_sd > 0, intake_sd, np.nan),
            "severity_adjusted_change": adjusted_mean,
            "severity_adjusted_es": severity.adjusted_es(adjusted_mean),
            "pct_improved": pct_of(("improved", "recovered")),
            "pct_recovered": pct_of(("recovered",)),
            "pct_deteriorated": pct_of(("deteriorated",)),
            "pct_sessions_with_outcome": 100.0 * sums["_n_outcome"] / sums["sessions"],
            "pct_sessions_with_alliance": 100.0 * sums["_n_alliance"] / sums["sessions"],
            "alliance_mean": sums["_alliance_sum"] / n_alliance,
            "pct_alliance_low": 100.0 * sums["_n_low"] / n_alliance,
            "alliance_warnings": sums["alliance_warnings"],
            "episodes_ended": sums["episodes_ended"],
            "dropout_rate": 100.0 * sums["_n_dropout"] / sums["episodes_ended"],
        }
    out = pd.DataFrame(columns)
    for col in _COUNTS:
        out[col] = np.rint(out[col]).astype(np.int64)
    out["_assessable_clients"] = sums["_assessable_clients"]
    out["_alliance_clients"] = sums["_alliance_clients"]
    out["_ended_clients"] = sums["_ended_clients"]
    shown = sums["sessions"] > 0
    out = pd.concat([group_frame, out], axis=1).loc[shown].reset_index(drop=True)
    extra = {
        "clients": None,
        "_assessable_clients": None,
        "_alliance_clients": None,
        "_ended_clients": None,
    }
    if complement and by:
        part_cols = [*by[:-1], *(["period"] if period else [])]
        if part_cols:
            parts = out.groupby(part_cols, sort=False).ngroup().to_numpy()
        else:
            parts = np.zeros(len(out), dtype=int)
        raw = {col: out[col].to_numpy(dtype=float) for col in extra}
        extra["clients"] = complementary(
            raw["clients"], parts, raw["clients"] < min_group, min_group
        )
        for col in ("_assessable_clients", "_alliance_clients", "_ended_clients"):
            extra[col] = complementary(
                raw[col], parts, extra["clients"] | (raw[col] < min_group), min_group
            )
    out = suppress(
        out,
        "_assessable_clients",
        min_group,
        columns=_CHANGE_FAMILY,
        flag=None,
        rows=extra["_assessable_clients"],
    )
    out = suppress(
        out,
        "_alliance_clients",
        min_group,
        columns=_ALLIANCE_FAMILY,
        flag=None,
        rows=extra["_alliance_clients"],
    )
    out = suppress(
        out,
        "_ended_clients",
        min_group,
        columns=_DROPOUT_FAMILY,
        flag=None,
        rows=extra["_ended_clients"],
    )
    out = suppress(out, "clients", min_group, columns=INDICATOR_COLUMNS[1:], rows=extra["clients"])
    return out.loc[:, [*group_frame.columns, *INDICATOR_COLUMNS]]


def data_coverage(sessions: pd.DataFrame) -> dict[str, int]:
    """How much data a session table holds: distinct teams, clinicians, clients, episodes,
    and sessions (rows).

    The overview's headline counts, taken from the same table as its charts, so a team
    lead reads their team's numbers above their team's charts rather than the whole
    service's (a count of every stored row would not mean what the page shows).

    sessions: a session table (:data:`kor.frames.SESSION_COLUMNS`; ``team``,
    ``clinician``, ``client`` and ``episode`` are used).

    >>> data_coverage(pd.DataFrame({"team": ["A", "A", "B"], "clinician": ["x", "x", "y"],
    ...     "client": ["K1", "K1", "K2"], "episode": [1, 1, 2]}))
    {'teams': 2, 'clinicians': 2, 'clients': 2, 'episodes': 2, 'sessions': 3}
    """
    require_columns(sessions, ("team", "clinician", "client", "episode"), where="sessions")
    distinct = {
        f"{column}s": int(sessions[column].nunique())
        for column in ("team", "clinician", "client", "episode")
    }
    return {**distinct, "sessions": len(sessions)}
