"""Statistical process control: run charts and Shewhart control charts.

One entry point, :func:`control_chart`, turns a series into a per-point frame.
The steps follow qicharts2 (Anhøj), the reference tool for SPC in healthcare,
so that our charts can be checked against it (``tests/data/spc``):

1. the input rows are aggregated per ``x`` (subgroups: sums, counts, means, sds);
2. each point is given its ``part`` (phase), ``baseline`` (freeze) and ``include``
   (exclusion) flags;
3. per part, a *limits function* chosen by chart type adds ``cl``, ``lcl``, ``ucl``
   (citing the textbook equation);
4. per part, :func:`runs_analysis` adds the Anhøj runs columns;
5. ``y`` and the lines are multiplied by ``multiply``; points beyond the limits get
   ``sigma_signal``.

The result is a :class:`ControlChart` carrying the frame; ``summary()`` gives one row
per part, ``plot()`` hands drawing to :mod:`kor.spc_plot`, and :func:`verdict` says in
one word whether the latest phase differs from the one before.

References
----------
Anhøj J, Olesen AV. Run charts revisited: a simulation study of run chart rules for
detection of non-random variation in health care processes. PLoS One
2014;9(11):e113825. doi:10.1371/journal.pone.0113825

Anhøj J. Diagnostic value of run chart analysis: using likelihood ratios to compare
run chart rules on simulated data series. PLoS One 2015;10(3):e0121349.
doi:10.1371/journal.pone.0121349

Schilling MF. The surprising predictability of long runs. Math Mag 2012;85(2):141-149
(longest run). Chen Z. A note on the runs test. Model Assist Stat Appl 2010;5:73-77
(number of crossings).

Montgomery DC. Introduction to Statistical Quality Control. Wiley. Chapters 6-7;
equation numbers below are those qicharts2 cites.

Nelson LS. Control charts for individual measurements. J Qual Technol
1982;14(3):172-173 (screening of moving ranges).

Nelson LS. A control chart for parts-per-million nonconforming items. J Qual Technol
1994;26(3):239-240 (the y^(1/3.6) transformation of the T chart).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from kor.errors import KorStatisticalWarning, MissingColumnsError, ValidationError

__all__ = [
    "CHARTS",
    "ControlChart",
    "PhaseComparison",
    "anhoej_limits",
    "compare_phases",
    "control_chart",
    "runs_analysis",
    "verdict",
]

#: Chart types: run chart, individuals (I), moving range (MR), subgroup mean (Xbar)
#: and standard deviation (S), time between events (T), proportion (P), count (C),
#: rate (U).
CHARTS = ("run", "i", "mr", "xbar", "s", "t", "p", "c", "u")

#: d2 for moving ranges of two points (Montgomery, table of control chart constants).
D2_MR = 1.128
#: D4 for moving ranges of two points: upper limit of the MR chart = 3.267 * mean MR.
D4_MR = 3.267
#: Fewer useful points than this make the Anhøj rules weak (their tables start at 10).
MIN_USEFUL_POINTS = 10

# Columns of ControlChart.data, in order.
COLUMNS = [
    "x",
    "n",
    "y",
    "cl",
    "lcl",
    "ucl",
    "part",
    "baseline",
    "include",
    "n_obs",
    "n_useful",
    "runs_signal",
    "longest_run",
    "longest_run_max",
    "n_crossings",
    "n_crossings_min",
    "sigma_signal",
]
_SUBGROUP_COLUMNS = ["x", "y_sum", "y_length", "y_mean", "y_sd", "n", "y"]


# --------------------------------------------------------------------------- Anhøj rules


def _qbinom_half(p: float, size: int) -> int:
    """Smallest k with P(X <= k) >= p for X ~ Binomial(size, 0.5), exactly.

    R's ``qbinom`` definition. With probability 1/2 every outcome has weight
    C(size, i) / 2**size, so the comparison is done in integers (p as the fraction
    its decimal spells, 0.05 = 1/20) and no rounding can move the quantile.
    """
    q = Fraction(str(p))
    total = 2**size
    cumulative = 0
    for k in range(size + 1):
        cumulative += math.comb(size, k)
        if cumulative * q.denominator >= q.numerator * total:
            return k
    return size


def anhoej_limits(n_useful: int) -> tuple[int, int]:
    """Anhøj limits for a series with ``n_useful`` points not on the centre line.

    Returns ``(longest_run_max, n_crossings_min)``: a run longer than
    ``round(log2(n_useful)) + 3`` (Schilling 2012) or fewer crossings than the 5th
    percentile of Binomial(n_useful - 1, 0.5) (Chen 2010), i.e. ``qbinom(0.05,
    n_useful - 1, 0.5)``, signals non-random variation (Anhøj & Olesen 2014,
    doi:10.1371/journal.pone.0113825). ``log2(n)`` is never exactly halfway between
    integers for integer n, so the rounding rule does not matter.

    >>> anhoej_limits(20)
    (7, 6)
    """
    n_useful = int(n_useful)
    if n_useful < 1:
        raise ValidationError("error.spc.too_few_points", n=n_useful)
    longest_run_max = round(math.log2(n_useful)) + 3
    n_crossings_min = _qbinom_half(0.05, n_useful - 1)
    return longest_run_max, n_crossings_min


def runs_analysis(y: Sequence[float], cl: Sequence[float] | float) -> dict[str, Any]:
    """Anhøj runs analysis of one part: runs and crossings around the centre line.

    y: the part's included points (NaN allowed; they are skipped). cl: centre line,
    one value or one per point. Points on the centre line are not useful: they
    neither break nor add to a run (Anhøj & Olesen 2014).

    Returns a dict with ``n_obs`` (points given), ``n_useful``, ``longest_run``,
    ``longest_run_max``, ``n_crossings``, ``n_crossings_min`` and ``runs_signal``
    (longest run > its maximum or crossings < their minimum). With no useful point
    the counts are NaN and there is no signal.

    >>> runs_analysis([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5.5)["n_crossings"]
    1
    """
    y_arr = np.asarray(y, dtype=float)
    cl_arr = np.broadcast_to(np.asarray(cl, dtype=float), y_arr.shape)
    sides = np.sign(y_arr - cl_arr)
    sides = sides[(sides != 0) & ~np.isnan(sides)]
    n_useful = int(sides.size)
    out: dict[str, Any] = {"n_obs": int(y_arr.size), "n_useful": n_useful}
    if n_useful == 0:
        out.update(
            longest_run=np.nan,
            longest_run_max=np.nan,
            n_crossings=np.nan,
            n_crossings_min=np.nan,
            runs_signal=False,
        )
        return out
    change = np.flatnonzero(np.diff(sides) != 0)
    bounds = np.concatenate(([-1], change, [n_useful - 1]))
    run_lengths = np.diff(bounds)
    longest_run_max, n_crossings_min = anhoej_limits(n_useful)
    out.update(
        longest_run=int(run_lengths.max()),
        longest_run_max=longest_run_max,
        n_crossings=int(change.size),
        n_crossings_min=n_crossings_min,
    )
    out["runs_signal"] = bool(
        out["longest_run"] > longest_run_max or out["n_crossings"] < n_crossings_min
    )
    return out


# --------------------------------------------------------------------------- limits per chart
# Each limits function takes one part (subgroup frame with `baseline` & `include`) and
# returns a new frame with `y` (the plotted statistic), `cl`, `lcl`, `ucl`.


def _base(part: pd.DataFrame) -> np.ndarray:
    return (part["baseline"] & part["include"]).to_numpy(dtype=bool)


def _with_lines(part: pd.DataFrame, y, cl, lcl, ucl) -> pd.DataFrame:
    size = len(part)
    return part.assign(
        y=np.broadcast_to(np.asarray(y, dtype=float), size).copy(),
        cl=np.broadcast_to(np.asarray(cl, dtype=float), size).copy(),
        lcl=np.broadcast_to(np.asarray(lcl, dtype=float), size).copy(),
        ucl=np.broadcast_to(np.asarray(ucl, dtype=float), size).copy(),
    )


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else np.nan


def _mean_moving_range(values: np.ndarray, screen: bool) -> float:
    """Average moving range of consecutive values; optionally screened (Nelson 1982).

    Screening drops moving ranges at or above 3.267 times the first average, so that
    one large jump does not widen the limits, and averages again.
    """
    mr = np.abs(np.diff(values))
    amr = _nanmean(mr)
    if screen and not np.isnan(amr):
        amr = _nanmean(mr[mr < D4_MR * amr])
    return amr


def _limits_run(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """Run chart: centre line = median of the baseline points; no limits."""
    y = part["y"].to_numpy(dtype=float)
    base_y = y[_base(part)]
    base_y = base_y[~np.isnan(base_y)]
    cl = float(np.median(base_y)) if base_y.size else np.nan
    return _with_lines(part, y, cl, np.nan, np.nan)


def _limits_i(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """Individuals chart: cl = mean, sigma = mean moving range / d2 (Montgomery 6.33)."""
    y = part["y"].to_numpy(dtype=float)
    base_y = y[_base(part)]
    cl = _nanmean(base_y)
    sigma = _mean_moving_range(base_y, screen_mr) / D2_MR
    return _with_lines(part, y, cl, cl - 3 * sigma, cl + 3 * sigma)


def _limits_mr(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """Moving range chart: y = |y_i - y_(i-1)|, cl = mean MR, ucl = D4 * cl, lcl = 0."""
    values = part["y"].to_numpy(dtype=float)
    y = np.concatenate(([np.nan], np.abs(np.diff(values))))
    cl = _nanmean(y[_base(part)])
    return _with_lines(part, y, cl, 0.0, D4_MR * cl)


def _c4(n: np.ndarray) -> np.ndarray:
    """Bias constant c4(n) = E[s]/sigma for normal samples of size n (NaN for n <= 1)."""
    n = np.where(n > 1, n, np.nan).astype(float)
    from scipy.special import gammaln

    return np.sqrt(2 / (n - 1)) * np.exp(gammaln(n / 2) - gammaln((n - 1) / 2))


def _pooled_sd(part: pd.DataFrame, base: np.ndarray) -> float:
    """s-bar: mean of subgroup sds (Montgomery 6.29), pooled when sizes vary (6.31)."""
    size = part["y_length"].to_numpy(dtype=float)
    sd = part["y_sd"].to_numpy(dtype=float)
    if part["y_length"].nunique() > 1:
        ok = base & ~np.isnan(sd)
        return float(np.sqrt(np.sum((size[ok] - 1) * sd[ok] ** 2) / np.sum(size[ok] - 1)))
    return _nanmean(sd[base])


def _limits_xbar(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """Xbar chart: cl = grand mean (Montgomery 6.30), limits cl -/+ A3 * s-bar."""
    base = _base(part)
    size = part["y_length"].to_numpy(dtype=float)
    means = part["y_mean"].to_numpy(dtype=float)
    ok = base & ~np.isnan(means)
    cl = float(np.sum(size[ok] * means[ok]) / np.sum(size[ok])) if ok.any() else np.nan
    sbar = _pooled_sd(part, base)
    a3 = 3 / (_c4(size) * np.sqrt(size))
    return _with_lines(part, means, cl, cl - a3 * sbar, cl + a3 * sbar)


def _limits_s(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """S chart: y = subgroup sd, cl = s-bar (6.29/6.31), limits B3 * cl and B4 * cl."""
    base = _base(part)
    size = part["y_length"].to_numpy(dtype=float)
    cl = _pooled_sd(part, base)
    c4 = _c4(size)
    c5 = np.sqrt(1 - c4**2)
    b3 = np.maximum(0, 1 - 3 * c5 / c4)
    b4 = 1 + 3 * c5 / c4
    return _with_lines(part, part["y_sd"], cl, b3 * cl, b4 * cl)


def _limits_t(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """T chart: an I chart on y^(1/3.6), back-transformed (Nelson 1994).

    Times between rare events are skewed (exponential/Weibull); the 1/3.6 power
    makes them nearly normal. A negative lower limit has no back-transform: 0.
    """
    y = part["y"].to_numpy(dtype=float)
    if np.nanmin(y) <= 0:
        raise ValidationError("error.spc.time_not_positive")
    transformed = _limits_i(part.assign(y=y ** (1 / 3.6)), screen_mr=screen_mr)
    lcl_t = transformed["lcl"].to_numpy(dtype=float)
    lcl = np.where(lcl_t > 0, np.abs(lcl_t) ** 3.6, 0.0)
    return _with_lines(
        part,
        y,
        transformed["cl"].to_numpy(dtype=float) ** 3.6,
        lcl,
        transformed["ucl"].to_numpy(dtype=float) ** 3.6,
    )


def _ratio_cl(part: pd.DataFrame) -> float:
    base = _base(part)
    y_sum = part["y_sum"].to_numpy(dtype=float)
    n = part["n"].to_numpy(dtype=float)
    ok = base & ~np.isnan(y_sum) & ~np.isnan(n)
    return float(y_sum[ok].sum() / n[ok].sum()) if ok.any() else np.nan


def _limits_p(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """P chart: cl = total count / total n, sigma_i = sqrt(cl (1 - cl) / n_i).

    Montgomery section 7.2 (variable sample size); limits clipped to [0, 1].
    """
    cl = _ratio_cl(part)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(cl * (1 - cl) / part["n"].to_numpy(dtype=float))
    return _with_lines(
        part, part["y"], cl, np.maximum(cl - 3 * sigma, 0), np.minimum(cl + 3 * sigma, 1)
    )


def _limits_c(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """C chart: y = count, cl = mean count, sigma = sqrt(cl) (Montgomery 7.17)."""
    y = part["y_sum"].to_numpy(dtype=float)
    cl = _nanmean(y[_base(part)])
    sigma = math.sqrt(cl) if cl >= 0 else np.nan
    return _with_lines(part, y, cl, np.maximum(cl - 3 * sigma, 0.0), cl + 3 * sigma)


def _limits_u(part: pd.DataFrame, *, screen_mr: bool) -> pd.DataFrame:
    """U chart: cl = total count / total n, sigma_i = sqrt(cl / n_i) (Montgomery 7.19)."""
    cl = _ratio_cl(part)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(cl / part["n"].to_numpy(dtype=float))
    return _with_lines(part, part["y"], cl, np.maximum(cl - 3 * sigma, 0), cl + 3 * sigma)


_LIMITS: dict[str, Callable[..., pd.DataFrame]] = {
    "run": _limits_run,
    "i": _limits_i,
    "mr": _limits_mr,
    "xbar": _limits_xbar,
    "s": _limits_s,
    "t": _limits_t,
    "p": _limits_p,
    "c": _limits_c,
    "u": _limits_u,
}
_NEEDS_N = {"p", "u"}
_NON_NEGATIVE = {"p", "c", "u"}


# --------------------------------------------------------------------------- the result object


@dataclass(frozen=True, eq=False)
class ControlChart:
    """A computed run or control chart.

    data: one row per point, columns ``x``, ``n`` (denominator, NaN without one),
    ``y`` (the plotted statistic, times ``multiply``), ``cl``, ``lcl``, ``ucl``
    (NaN for a run chart), ``part`` (1, 2, ...), ``baseline`` (used for the lines),
    ``include`` (False = excluded from the calculations, still plotted), the runs
    analysis of the point's part (``n_obs``, ``n_useful``, ``runs_signal``,
    ``longest_run``, ``longest_run_max``, ``n_crossings``, ``n_crossings_min``) and
    ``sigma_signal`` (point outside the limits).
    kind: the chart type, one of :data:`CHARTS`.
    subgroups: the aggregated input per point (``y_sum``, ``y_length``, ``y_mean``,
    ``y_sd``, ``n``, ``y`` before the chart's own transformation), kept so that a
    later phase can be tested against an earlier one (:func:`verdict`).
    multiply: the factor applied to ``y`` and the lines.
    """

    data: pd.DataFrame
    kind: str
    subgroups: pd.DataFrame = field(repr=False)
    multiply: float = 1.0
    screen_mr: bool = True

    def summary(self) -> pd.DataFrame:
        """One row per part: its span, runs analysis, average limits and signals.

        Columns ``part``, ``start``, ``end`` (first and last x), ``n_obs``,
        ``n_useful``, ``longest_run``, ``longest_run_max``, ``n_crossings``,
        ``n_crossings_min``, ``runs_signal``, ``avg_lcl``, ``cl``, ``avg_ucl`` (mean of
        the part's lines, as qicharts2's aLCL/CL/aUCL) and ``sigma_signal`` (number of
        points outside the limits).
        """
        rows = []
        for part, d in self.data.groupby("part", sort=True):
            first = d.iloc[0]
            rows.append(
                {
                    "part": part,
                    "start": first["x"],
                    "end": d["x"].iloc[-1],
                    "n_obs": first["n_obs"],
                    "n_useful": first["n_useful"],
                    "longest_run": first["longest_run"],
                    "longest_run_max": first["longest_run_max"],
                    "n_crossings": first["n_crossings"],
                    "n_crossings_min": first["n_crossings_min"],
                    "runs_signal": bool(d["runs_signal"].any()),
                    "avg_lcl": d["lcl"].mean(),
                    "cl": d["cl"].mean(),
                    "avg_ucl": d["ucl"].mean(),
                    "sigma_signal": int(d["sigma_signal"].sum()),
                }
            )
        return pd.DataFrame(rows)

    def plot(self, ax=None, **kwargs):
        """Draw the chart (see :func:`kor.spc_plot.control_chart`); returns the Axes."""
        from kor import spc_plot

        return spc_plot.control_chart(self, ax=ax, **kwargs)


# --------------------------------------------------------------------------- entry point


def _column_or_values(data: pd.DataFrame | None, spec, name: str) -> pd.Series | None:
    if spec is None:
        return None
    if data is not None and isinstance(spec, str):
        return data[spec].reset_index(drop=True)
    return pd.Series(spec, name=name).reset_index(drop=True)


def _aggregate(raw: pd.DataFrame, has_n: bool) -> pd.DataFrame:
    """One row per x: sums, counts, means and sds of y, the summed denominator.

    Several rows with the same x form one subgroup (Xbar/S) or are pooled (the
    counts and denominators of several units in one month for a P/U chart).
    """
    grouped = raw.groupby("x", sort=True, dropna=True)
    out = pd.DataFrame(
        {
            "y_sum": grouped["y"].sum(min_count=1),
            "y_length": grouped["y"].count(),
            "y_mean": grouped["y"].mean(),
            "y_sd": grouped["y"].std(ddof=1),
            "n": grouped["n"].sum(min_count=1) if has_n else np.nan,
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        out["y"] = out["y_sum"] / out["n"] if has_n else out["y_mean"]
    out["y"] = out["y"].where(np.isfinite(out["y"].astype(float)))
    out = out.reset_index()
    return out[_SUBGROUP_COLUMNS]


def _is_position(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _as_x(value, x: pd.Series):
    if pd.api.types.is_datetime64_any_dtype(x):
        return pd.Timestamp(value)
    return value


def _parts(points: pd.DataFrame, part, data: pd.DataFrame | None, raw_x: pd.Series) -> np.ndarray:
    """Part number per point: from break positions, dates/x values or a column."""
    size = len(points)
    if part is None:
        return np.ones(size, dtype=int)
    if isinstance(part, str):
        if data is None or part not in data.columns:
            raise MissingColumnsError([part])
        labels = pd.DataFrame({"x": raw_x, "label": data[part].reset_index(drop=True)})
        labels = labels.dropna(subset=["x"]).groupby("x", sort=True)["label"].first()
        labels = labels.reindex(points["x"]).to_numpy()
        changed = np.r_[False, labels[1:] != labels[:-1]]
        return 1 + np.cumsum(changed)
    breaks = [part] if np.isscalar(part) or isinstance(part, pd.Timestamp) else list(part)
    starts = np.zeros(size, dtype=bool)
    for value in breaks:
        if _is_position(value):
            if 0 < value < size:  # split after point `value` (1-based)
                starts[value] = True
        else:
            at = np.flatnonzero((points["x"] >= _as_x(value, points["x"])).to_numpy())
            if at.size and at[0] > 0:
                starts[at[0]] = True
    return 1 + np.cumsum(starts)


def _baseline(points: pd.DataFrame, parts: np.ndarray, freeze) -> np.ndarray:
    """Baseline flag: the first `freeze` points (or x <= freeze) form the baseline.

    A later part with no baseline point computes its lines from all its own points:
    each phase after the frozen baseline gets its own centre line and limits.
    """
    size = len(points)
    if freeze is None:
        return np.ones(size, dtype=bool)
    if _is_position(freeze):
        base = np.arange(1, size + 1) <= freeze
    else:
        base = (points["x"] <= _as_x(freeze, points["x"])).to_numpy().copy()
    for p in np.unique(parts):
        in_part = parts == p
        if not base[in_part].any():
            base[in_part] = True
    return base


def _chart_part(part: pd.DataFrame, kind: str, screen_mr: bool) -> pd.DataFrame:
    lined = _LIMITS[kind](part, screen_mr=screen_mr)
    include = lined["include"].to_numpy(dtype=bool)
    runs = runs_analysis(lined["y"].to_numpy(dtype=float)[include], lined["cl"].to_numpy()[include])
    if kind == "mr":  # moving ranges are serially dependent: no runs signal
        runs["runs_signal"] = False
    return lined.assign(**runs)


def _compute(points: pd.DataFrame, kind: str, multiply: float, screen_mr: bool) -> pd.DataFrame:
    frames = [_chart_part(p, kind, screen_mr) for _, p in points.groupby("part", sort=True)]
    out = pd.concat(frames, ignore_index=True)
    for col in ("y", "cl", "lcl", "ucl"):
        values = out[col].to_numpy(dtype=float) * multiply
        out[col] = np.where(np.isfinite(values), values, np.nan)
    y, lcl, ucl = (out[c].to_numpy(dtype=float) for c in ("y", "lcl", "ucl"))
    with np.errstate(invalid="ignore"):
        out["sigma_signal"] = (y > ucl) | (y < lcl)
    out["runs_signal"] = out["runs_signal"].astype(bool)
    return out


def control_chart(
    data: pd.DataFrame | None = None,
    *,
    x=None,
    y,
    n=None,
    chart: str = "run",
    part=None,
    freeze=None,
    exclude: Sequence[int] | None = None,
    multiply: float = 1,
    screen_mr: bool = True,
) -> ControlChart:
    """Run or control chart of ``y`` over ``x`` with Anhøj runs analysis per part.

    Parameters
    ----------
    data : DataFrame, optional
        When given, ``x``, ``y``, ``n`` and a string ``part`` name its columns;
        otherwise they are sequences of values.
    x : column or values, optional
        Time order (dates or numbers; 1, 2, ... when omitted). Rows sharing an x are
        one point: their y values form a subgroup (Xbar/S) or are summed with their
        denominators (P/U/C).
    y : column or values
        The measurement, count (P/C/U) or time between events (T).
    n : column or values, optional
        Denominator: sample size (P) or exposure (U). Required for P and U; with
        ``n`` for a run or I chart, y is plotted as sum(y) / sum(n).
    chart : {"run", "i", "mr", "xbar", "s", "t", "p", "c", "u"}
        Run chart (median, runs analysis only) or Shewhart chart (3-sigma limits).
    part : column, positions or x values, optional
        Phases. Integers k split the chart after point k (1-based); dates or other
        x values start a new part at the first point with x >= the value (a dated
        change from the change log); a column name starts a new part whenever the
        column's value changes. Each part gets its own lines and runs analysis.
    freeze : int or x value, optional
        Baseline: the lines come from the first ``freeze`` points (or the points
        with x <= freeze) and are extended over the rest of the part. A later part
        with no baseline point gets lines from all its own points.
    exclude : list of int, optional
        1-based points left out of the lines and the runs analysis (still plotted).
    multiply : float
        Factor for y and the lines, e.g. 100 for percent.
    screen_mr : bool
        Drop moving ranges >= 3.267 x their mean before estimating sigma for I/T
        charts (Nelson 1982; qicharts2's default).

    Returns
    -------
    ControlChart
        ``.data`` one row per point (see :class:`ControlChart`), ``.summary()`` one
        row per part.

    Notes
    -----
    The runs analysis counts runs and crossings around the part's centre line (the
    median for a run chart, the mean for a control chart), over the included
    points: a longest run > round(log2(n_useful)) + 3 or fewer crossings than
    qbinom(0.05, n_useful - 1, 0.5) is a runs signal (Anhøj & Olesen 2014,
    doi:10.1371/journal.pone.0113825). Parts with fewer than 10 useful points give a
    :class:`~kor.errors.KorStatisticalWarning`.

    Units: ``y``, ``cl``, ``lcl`` and ``ucl`` are in the units of the input (ORS points,
    a proportion 0-1 for a P chart, a count for C) times ``multiply`` (100 gives %).
    Shewhart limits are ``cl ± 3 sigma``; sigma per chart as qicharts2 computes it
    (Montgomery's equations), e.g. the I chart's ``mean moving range / 1.128``.

    References
    ----------
    Anhøj J, Olesen AV. Run charts revisited: a simulation study of run chart rules for
    detection of non-random variation in health care processes. PLoS One
    2014;9(11):e113825. doi:10.1371/journal.pone.0113825
    Montgomery DC. Introduction to Statistical Quality Control. Wiley; chapters 6-7.
    Nelson LS. Control charts for individual measurements. J Qual Technol
    1982;14(3):172-173.

    Examples
    --------
    >>> cc = control_chart(y=[3, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10], chart="run")
    >>> cc.summary()[["cl", "longest_run", "n_crossings"]].iloc[0].tolist()
    [6.5, 5.0, 3.0]
    """
    if chart not in _LIMITS:
        raise ValidationError("error.spc.unknown_chart", chart=chart, choices=", ".join(CHARTS))
    if data is not None:
        wanted = [c for c in (x, y, n) if isinstance(c, str)]
        missing = [c for c in wanted if c not in data.columns]
        if missing:
            raise MissingColumnsError(missing)
    y_values = _column_or_values(data, y, "y")
    if y_values is None:
        raise ValidationError("error.required", field="y")
    x_values = _column_or_values(data, x, "x")
    if x_values is None:
        x_values = pd.Series(np.arange(1, len(y_values) + 1), name="x")
    n_values = _column_or_values(data, n, "n")
    has_n = n_values is not None
    if chart in _NEEDS_N and not has_n:
        raise ValidationError("error.spc.needs_denominator", chart=chart)
    if len(x_values) != len(y_values) or (has_n and len(n_values) != len(y_values)):
        raise ValidationError("error.spc.length_mismatch")
    try:
        raw = pd.DataFrame(
            {
                "x": x_values.to_numpy(),
                "y": pd.to_numeric(y_values).to_numpy(dtype=float),
                "n": pd.to_numeric(n_values).to_numpy(dtype=float) if has_n else np.nan,
            }
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError("error.not_a_number", field="y") from exc
    if chart in _NON_NEGATIVE and (raw["y"] < 0).any():
        raise ValidationError("error.spc.negative_count", chart=chart)
    if has_n and (raw["n"] < 0).any():
        raise ValidationError("error.spc.negative_count", chart=chart)
    if chart == "p" and (raw["y"] > raw["n"]).any():
        raise ValidationError("error.spc.count_above_n")

    points = _aggregate(raw, has_n)
    if points.empty:
        raise ValidationError("error.spc.too_few_points", n=0)
    parts = _parts(points, part, data, raw["x"])
    include = ~np.isin(np.arange(1, len(points) + 1), list(exclude or []))
    points = points.assign(
        part=parts,
        baseline=_baseline(points, parts, freeze),
        include=include,
    )
    out = _compute(points, chart, multiply, screen_mr)
    _warn_few_points(out, chart)
    return ControlChart(
        data=out[COLUMNS],
        kind=chart,
        subgroups=points,
        multiply=multiply,
        screen_mr=screen_mr,
    )


def _warn_few_points(out: pd.DataFrame, chart: str) -> None:
    if chart == "mr":
        return
    first = out.groupby("part", sort=True).first()
    few = first[first["n_useful"] < MIN_USEFUL_POINTS]
    if not few.empty:
        from kor.i18n import t

        warnings.warn(
            t(
                "spc.warning.few_points",
                parts=", ".join(str(p) for p in few.index),
                minimum=MIN_USEFUL_POINTS,
            ),
            KorStatisticalWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- verdict


def _side(values: np.ndarray) -> int:
    up, down = int((values > 0).sum()), int((values < 0).sum())
    return (up > down) - (up < down)


@dataclass(frozen=True, eq=False)
class PhaseComparison:
    """The latest phase tested against the phase before: one computation for all readers.

    The verdict's words, the rules it names and the points a chart marks are all read
    from this object (:func:`compare_phases`), so they cannot disagree.

    direction: ``signal_up``, ``signal_down`` or ``no_signal``. signal_direction: the
    side the signals point to before the level check (1, -1, 0). mixed: signals fired
    but point to different sides, or against the change of level (``after`` vs
    ``before``): the direction is then ``no_signal``. rules: the signals that fired
    (``runs``, ``crossings``, ``sigma``). tested: positions (0-based rows of
    ``chart.data``) of the points tested. beyond: the tested points outside the
    reference limits (positions). runs: :func:`runs_analysis` of the tested points.
    before: the reference centre line (mean, chart units). after: the tested points'
    level (pooled for P/U charts, else the mean; chart units). data: ``chart.data``
    with the tested points' ``cl``/``lcl``/``ucl`` replaced by the reference lines,
    ``sigma_signal`` = ``beyond`` and ``runs_signal`` = the runs rules, nothing marked
    outside the tested points: what a chart of the verdict should draw.
    """

    direction: str
    signal_direction: int
    mixed: bool
    rules: tuple[str, ...]
    tested: tuple[int, ...]
    beyond: tuple[int, ...]
    runs: dict[str, Any]
    before: float | None
    after: float | None
    data: pd.DataFrame

    @property
    def n_beyond(self) -> int:
        """Number of tested points outside the reference limits."""
        return len(self.beyond)

    def chart(self, chart: ControlChart) -> ControlChart:
        """``chart`` with :attr:`data` as its frame, ready for :mod:`kor.spc_plot`."""
        from dataclasses import replace

        return replace(chart, data=self.data)


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def compare_phases(chart: ControlChart) -> PhaseComparison:
    """Has the latest part moved away from the part before it? With every number behind it.

    Reference lines: with two or more parts, the previous part's centre line and limits
    (from its baseline points) extended over the latest part exactly as a frozen
    baseline is (so a P chart's limits follow each point's n); the latest part's
    points are tested. With a single part and a frozen baseline, the points after the
    baseline are tested against the part's lines; without one, the whole part is
    tested against its own lines. Signals (Anhøj & Olesen 2014,
    doi:10.1371/journal.pone.0113825):

    - a run longer than round(log2(n_useful)) + 3 on one side: direction = that side;
    - fewer crossings than qbinom(0.05, n_useful - 1, 0.5): direction = the side
      holding more points;
    - points beyond the 3-sigma limits: direction = the side of most of them.

    If the signals disagree, the side holding more of the tested points decides. A
    direction is only reported when the tested points' level (``after``) lies on that
    side of the reference centre line (``before``; not checked for a part tested
    against its own lines, whose mean is its centre line); otherwise the comparison is
    ``mixed`` and the direction ``no_signal``, so «higher» never comes with a lower
    number. Up/down is about the number, not better or worse: whether higher is better
    depends on the measure (:func:`kor.cycle.evaluate_goal` reads it).
    """
    groups = chart.subgroups
    parts = sorted(groups["part"].unique())
    last = parts[-1]
    baseline = groups["baseline"].to_numpy(dtype=bool)
    in_last = (groups["part"] == last).to_numpy()
    if len(parts) == 1:
        frame = groups.copy()
        tested_mask = ~baseline if (baseline.any() and not baseline.all()) else in_last
        ref_mask = baseline
    else:
        previous = parts[-2]
        keep = groups["part"].isin([previous, last]).to_numpy()
        frame = groups[keep].copy()
        frame["baseline"] = (frame["part"] == previous) & frame["baseline"]
        frame["part"] = last
        tested_mask = in_last
        ref_mask = (groups["part"] == previous).to_numpy() & baseline
    lined = _LIMITS[chart.kind](frame, screen_mr=chart.screen_mr)
    lines = pd.DataFrame(np.nan, index=groups.index, columns=["cl", "lcl", "ucl"])
    for col in ("cl", "lcl", "ucl"):
        values = lined[col].to_numpy(dtype=float) * chart.multiply
        lines.loc[lined.index, col] = np.where(np.isfinite(values), values, np.nan)
    include = groups["include"].to_numpy(dtype=bool)
    tested = np.flatnonzero(tested_mask & include)
    d = chart.data
    y = d["y"].to_numpy(dtype=float)[tested]
    cl = lines["cl"].to_numpy(dtype=float)[tested]
    lcl = lines["lcl"].to_numpy(dtype=float)[tested]
    ucl = lines["ucl"].to_numpy(dtype=float)[tested]
    diff = y - cl
    useful = diff[(diff != 0) & ~np.isnan(diff)]
    runs = runs_analysis(y, cl)
    rules: list[str] = []
    votes: list[int] = []
    if useful.size and chart.kind != "mr":
        sides = np.sign(useful)
        change = np.flatnonzero(np.diff(sides) != 0)
        bounds = np.concatenate(([-1], change, [sides.size - 1]))
        lengths = np.diff(bounds)
        if runs["longest_run"] > runs["longest_run_max"]:
            longest = np.flatnonzero(lengths == lengths.max())[-1]
            votes.append(int(sides[bounds[longest + 1]]))
            rules.append("runs")
        if runs["n_crossings"] < runs["n_crossings_min"]:
            votes.append(_side(useful))
            rules.append("crossings")
    with np.errstate(invalid="ignore"):
        above = y > ucl
        below = y < lcl
    if above.any() or below.any():
        last_beyond = 1 if above[np.flatnonzero(above | below)[-1]] else -1
        votes.append(_side(above.astype(int) - below.astype(int)) or last_beyond)
        rules.append("sigma")
    votes = [v for v in votes if v != 0]
    signal = 0
    if votes:
        signal = votes[0] if len(set(votes)) == 1 else _side(useful)

    ref_cl = lines["cl"].to_numpy(dtype=float)[ref_mask]
    before = _finite_or_none(np.nanmean(ref_cl)) if np.isfinite(ref_cl).any() else None
    after = None
    if tested.size:
        if chart.kind in ("p", "u"):
            n = groups["n"].to_numpy(dtype=float)[tested]
            total = groups["y_sum"].to_numpy(dtype=float)[tested]
            ok = ~np.isnan(n) & ~np.isnan(total)
            if n[ok].sum() > 0:
                after = float(total[ok].sum() / n[ok].sum() * chart.multiply)
        elif np.isfinite(y).any():
            after = float(np.nanmean(y))
    level = 0 if before is None or after is None else int(np.sign(after - before))
    if np.array_equal(ref_mask, tested_mask):  # a part against its own lines: no level shift
        level = signal
    mixed = bool(rules) and (signal == 0 or signal != level)
    direction = (
        "no_signal" if mixed or signal == 0 else ("signal_up" if signal > 0 else "signal_down")
    )

    beyond = tuple(int(i) for i in tested[above | below])
    marked = d.copy()
    marked.loc[tested, ["cl", "lcl", "ucl"]] = lines.loc[tested, ["cl", "lcl", "ucl"]].to_numpy()
    marked["sigma_signal"] = False
    marked.loc[list(beyond), "sigma_signal"] = True
    marked["runs_signal"] = False
    if "runs" in rules or "crossings" in rules:
        marked.loc[tested, "runs_signal"] = True
    return PhaseComparison(
        direction=direction,
        signal_direction=int(signal),
        mixed=mixed,
        rules=tuple(rules),
        tested=tuple(int(i) for i in tested),
        beyond=beyond,
        runs=runs,
        before=before,
        after=after,
        data=marked,
    )


def verdict(chart: ControlChart) -> str:
    """Up, down or no signal: the ``direction`` of :func:`compare_phases`.

    Returns ``"signal_up"``, ``"signal_down"`` or ``"no_signal"`` (catalog keys
    ``spc.verdict.<value>``, the rule in ``spc.verdict.rule``).
    """
    return compare_phases(chart).direction
