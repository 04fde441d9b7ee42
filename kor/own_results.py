"""A clinician's own results, for feedback-informed supervision (issue 18, item 3).

What a clinician brings to supervision about their own practice: how their clients'
change compares with what the service expects given how ill the clients were at intake,
how many improved or deteriorated reliably, how many dropped out, and how these moved
over the last calendar years. Only the clinician themselves (or their team lead, one
clinician at a time) sees it; it is never a ranking, so nothing here compares one
clinician with another.

Everything is reused, one way to do each thing:

* episodes, change and the Jacobson–Truax categories: :func:`kor.change.episode_change`;
* the expected change: the service's case-mix line, :class:`kor.indicators.SeverityModel`
  (:func:`kor.indicators.severity_reference`, fitted on the whole service's closed
  episodes). An episode's *difference from expected* is its severity-adjusted change
  minus the service's mean change, ``adjust(intake, change) - change_mean``, which is
  ``change - (intercept + slope * intake)``: observed minus expected from its intake;
* dropout: :func:`kor.indicators.service_indicators`' definition (dropouts / episodes
  ended, an open episode silent for more than 90 days counting as dropped out);
* the small-cell rule: :data:`kor.indicators.SUPPRESSION_MIN` (5), applied to episodes
  *and* clients of every group, so no figure describes fewer than 5 of either.

The confidence interval of the mean difference is the t-interval,
``mean ± t(0.975, n−1) · sd / √n`` (sd with ddof=1). It says how precisely a handful of
episodes pins down the clinician's mean: with 8 episodes it is wide, and that is the
honest message for supervision.

References
----------
Brown GS, Lambert MJ, Jones ER, Minami T. Identifying highly effective psychotherapists
in a managed care environment. Am J Manag Care 2005;11(8):513-520.
Jacobson NS, Truax P. J Consult Clin Psychol 1991;59(1):12-19.
doi:10.1037/0022-006X.59.1.12
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kor import change as change_mod
from kor.errors import ValidationError
from kor.frames import require_columns
from kor.indicators import (
    SUPPRESSION_MIN,
    SeverityModel,
    data_as_of,
    service_indicators,
    severity_reference,
)

__all__ = ["CONFIDENCE", "OwnFigures", "OwnResults", "mean_interval", "own_results"]

#: Level of the confidence interval of the mean difference from expected.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class OwnFigures:
    """The figures of one group: one calendar year, or the whole window (``year`` None).

    episodes, clients: closed assessable episodes (an intake and a later score) ending
    in the group, and their distinct clients. ``change_shown`` False: fewer than
    :data:`SUPPRESSION_MIN` of either (or no fitted reference), so the change figures
    are None. difference: mean observed minus expected change (points; positive = more
    improvement than the service expects from these intakes), with ``ci_low``/``ci_high``
    its t-interval (None with a single episode's spread unknown). observed, expected:
    mean change and mean expected change (points). pct_improved (recovered included),
    pct_deteriorated: % of the episodes with a reliable-change category.
    episodes_ended, dropout_rate (%): the dropout definition of
    :func:`kor.indicators.service_indicators` for episodes last seen in the group;
    ``dropout_shown`` False when fewer than 5 ended episodes (or clients).
    """

    year: int | None
    episodes: int
    clients: int
    change_shown: bool
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    observed: float | None = None
    expected: float | None = None
    pct_improved: float | None = None
    pct_deteriorated: float | None = None
    episodes_ended: int = 0
    dropout_shown: bool = False
    dropout_rate: float | None = None


@dataclass(frozen=True)
class OwnResults:
    """One clinician's results: the window's figures and one :class:`OwnFigures` per year.

    clinician: the username. years: the calendar years, oldest first. as_of: the date the
    data are complete to (the current year is partial up to it). reference: the service's
    case-mix model the expected change comes from.
    """

    clinician: str
    years: tuple[int, ...]
    as_of: pd.Timestamp | None
    total: OwnFigures
    per_year: tuple[OwnFigures, ...]
    reference: SeverityModel

    def frame(self) -> pd.DataFrame:
        """The per-year figures as a table (one row per year; None shown as NaN)."""
        rows = [vars(f) for f in self.per_year]
        return pd.DataFrame(rows, columns=list(OwnFigures.__dataclass_fields__))


def mean_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and two-sided t-interval, ``mean ± t(1 − α/2, n − 1) · sd / √n`` (sd ddof=1).

    With fewer than two values the interval is ``(nan, nan)``.

    >>> m, lo, hi = mean_interval(np.array([1.0, 2.0, 3.0]))
    >>> m, round(lo, 4), round(hi, 4)  # t(0.975, 2) = 4.3027, sd/√n = 1/√3
    (2.0, -0.4841, 4.4841)
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    mean = float(x.mean())
    if x.size < 2:
        return (mean, float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1)) * float(x.std(ddof=1))
    half /= math.sqrt(x.size)
    return (mean, mean - half, mean + half)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _change_figures(
    year: int | None, rows: pd.DataFrame, reference: SeverityModel, min_group: int
) -> dict[str, Any]:
    """The change part of one group: closed assessable episodes ``rows``."""
    n, clients = len(rows), int(rows["client"].nunique())
    shown = n >= min_group and clients >= min_group and reference.fitted
    if not shown:
        return {"year": year, "episodes": n, "clients": clients, "change_shown": False}
    intake = rows["intake"].to_numpy(dtype=float)
    delta = rows["change"].to_numpy(dtype=float)
    difference = reference.adjust(intake, delta) - reference.change_mean
    mean, low, high = mean_interval(difference)
    expected = reference.intercept + reference.slope * intake
    category = rows["category"]
    rated = int(category.notna().sum())
    pct = lambda hit: 100.0 * int(hit.sum()) / rated if rated else float("nan")  # noqa: E731
    return {
        "year": year,
        "episodes": n,
        "clients": clients,
        "change_shown": True,
        "difference": _finite(mean),
        "ci_low": _finite(low),
        "ci_high": _finite(high),
        "observed": _finite(float(delta.mean())),
        "expected": _finite(float(expected.mean())),
        "pct_improved": _finite(pct(category.isin(("improved", "recovered")))),
        "pct_deteriorated": _finite(pct(category.eq("deteriorated"))),
    }


def _dropout(
    sessions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, min_group: int
) -> dict[str, Any]:
    """Dropout of the episodes last seen between ``start`` and ``end``, as of ``end``."""
    if sessions.empty:
        return {"episodes_ended": 0, "dropout_shown": False}
    row = service_indicators(sessions, by=(), start=start, end=end, min_group=min_group)
    if row.empty or pd.isna(row["episodes_ended"].iloc[0]):
        return {"episodes_ended": 0, "dropout_shown": False}
    ended = int(row["episodes_ended"].iloc[0])
    rate = row["dropout_rate"].iloc[0]
    shown = ended >= min_group and not pd.isna(rate)
    return {
        "episodes_ended": ended,
        "dropout_shown": shown,
        "dropout_rate": float(rate) if shown else None,
    }


def own_results(
    sessions: pd.DataFrame,
    clinician: str,
    *,
    reference: SeverityModel | None = None,
    years: int = 3,
    as_of: Any = None,
    min_group: int = SUPPRESSION_MIN,
) -> OwnResults:
    """One clinician's results over the last ``years`` calendar years (see the module doc).

    sessions: the session table (:data:`kor.frames.SESSION_COLUMNS`) holding at least
    the clinician's episodes (the whole service's, for a researcher). The clinician's
    episodes are those whose latest session is theirs (:func:`kor.change.episode_change`,
    the clinician responsible now), with all their sessions.
    reference: the service's case-mix model; default fitted on the closed episodes of
    ``sessions`` (right only when ``sessions`` is the whole service).
    years: calendar years, the last one the year of ``as_of``. as_of: the date the data
    are complete to; default the last session date (never after today).
    min_group: the small-cell rule, at least :data:`SUPPRESSION_MIN`.

    A closed episode belongs to the year of its end date; an episode's dropout to the
    year of its last session (as :func:`kor.indicators.service_indicators` counts it,
    each year as the data stood at its end).
    """
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 20:
        raise ValidationError("error.own_results.years", field="years", value=years)
    if min_group < SUPPRESSION_MIN:
        raise ValidationError("error.own_results.min_group", field="min_group", min=SUPPRESSION_MIN)
    require_columns(sessions, ("client", "episode", "clinician", "session_date"), where="sessions")
    episodes = change_mod.episode_change(sessions)
    if reference is None:
        reference = severity_reference(episodes)
    stamp = as_of if as_of is not None else sessions["session_date"].max()
    as_of_ts = data_as_of(stamp) if len(sessions) or as_of is not None else None
    last_year = as_of_ts.year if as_of_ts is not None else pd.Timestamp.today().year
    year_list = tuple(range(last_year - years + 1, last_year + 1))

    mine = episodes.loc[episodes["clinician"] == clinician]
    own_sessions = sessions.loc[sessions["episode"].isin(mine["episode"])]
    ended = pd.to_datetime(mine["episode_end"])
    closed = mine.loc[(ended.notna() & mine["assessable"].astype(bool)).to_numpy()]
    closed = closed.loc[pd.to_datetime(closed["episode_end"]) <= (as_of_ts or pd.Timestamp.max)]
    end_year = pd.to_datetime(closed["episode_end"]).dt.year

    first = pd.Timestamp(year_list[0], 1, 1)
    last = as_of_ts if as_of_ts is not None else pd.Timestamp(last_year, 12, 31)
    per_year = []
    for year in year_list:
        rows = closed.loc[(end_year == year).to_numpy()]
        year_end = min(pd.Timestamp(year, 12, 31), last)
        drop = _dropout(own_sessions, pd.Timestamp(year, 1, 1), year_end, min_group)
        per_year.append(OwnFigures(**_change_figures(year, rows, reference, min_group), **drop))
    window = closed.loc[end_year.between(year_list[0], year_list[-1]).to_numpy()]
    total = OwnFigures(
        **_change_figures(None, window, reference, min_group),
        **_dropout(own_sessions, first, last, min_group),
    )
    return OwnResults(
        clinician=clinician,
        years=year_list,
        as_of=as_of_ts,
        total=total,
        per_year=tuple(per_year),
        reference=reference,
    )
