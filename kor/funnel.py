"""Funnel plots: a fair comparison of teams or clinicians, never a bare league table.

A league table ranks units by their mean and invites reading noise as quality: a team
of 8 clients will top and bottom the table by chance far more often than a team of 80.
A funnel plot draws each unit's severity-adjusted mean change against its number of
clients, with control limits around the service mean that narrow as the number grows;
only a unit outside the limits differs from the service by more than chance would
explain (Spiegelhalter 2005).

Limits for a mean of ``n`` observations: ``centre ± z * sd / sqrt(n)``, with ``z`` =
1.96 (95 %, «worth a look») and 3.09 (99.8 %, «a signal»), ``sd`` the spread of the
episode-level values around the service mean. Units with fewer than
:data:`kor.indicators.SUPPRESSION_MIN` clients are not shown.

References
----------
Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
2005;24(8):1185-1202. doi:10.1002/sim.1970
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kor.frames import require_columns
from kor.indicators import SUPPRESSION_MIN, SeverityModel, severity_adjustment

__all__ = [
    "Z_WARNING",
    "Z_ALARM",
    "FUNNEL_COLUMNS",
    "funnel_limits",
    "adjusted_spread",
    "funnel_frame",
    "funnel_curve",
]

Z_WARNING = 1.96
"""Two-sided 95 % limit."""
Z_ALARM = 3.09
"""Two-sided 99.8 % limit (Spiegelhalter 2005)."""

FUNNEL_COLUMNS: tuple[str, ...] = (
    "unit",
    "clients",
    "n",
    "value",
    "centre",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "position",
)


def funnel_limits(
    n: Sequence[float] | np.ndarray | float,
    centre: float,
    sd: float,
    z: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper funnel limits ``centre ∓ z * sd / sqrt(n)`` for each ``n``.

    n: number of observations behind each unit's mean (> 0). centre: the service mean.
    sd: standard deviation of one observation (points). z: 1.96 or 3.09.

    >>> lo, hi = funnel_limits([4, 25], centre=5.0, sd=10.0, z=1.96)
    >>> lo.round(2).tolist(), hi.round(2).tolist()
    ([-4.8, 1.08], [14.8, 8.92])
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * sd / np.sqrt(np.where(n > 0, n, np.nan))
    return centre - half, centre + half


def adjusted_spread(
    episodes: pd.DataFrame,
    *,
    start: Any = None,
    end: Any = None,
    model: SeverityModel | None = None,
) -> tuple[float, float, int]:
    """Service mean and SD of the episode-level severity-adjusted change; (mean, sd, n).

    episodes: :func:`kor.change.episode_change` output (columns ``intake``, ``change``,
    ``assessable``, ``last_date``) of the session table cut at ``end``. The episodes
    counted are the assessable ones last seen in ``[start, end]``, as
    :func:`kor.indicators.service_indicators` counts them. The adjustment is the same:
    ``model`` (:func:`kor.indicators.severity_reference`, the whole service's case-mix
    model, the one the units' values were adjusted with), so the centre is the mean
    adjusted change of these episodes and the SD that of their adjusted values
    (ddof=1). Without ``model``, the line is fitted on these episodes themselves
    (``change - slope * (intake - mean intake)``): the mean then equals their mean change.

    >>> ep = pd.DataFrame({"intake": [10.0, 20.0, 30.0], "change": [10.0, 5.0, 0.0],
    ...                    "assessable": True, "last_date": pd.Timestamp("2026-01-01")})
    >>> mean, sd, n = adjusted_spread(ep)
    >>> round(mean, 9), round(sd, 9), n
    (5.0, 0.0, 3)
    """
    require_columns(episodes, ("intake", "change", "assessable", "last_date"), where="episodes")
    keep = episodes["assessable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    last = pd.to_datetime(episodes["last_date"])
    if start is not None:
        keep &= (last >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (last <= pd.Timestamp(end)).to_numpy()
    intake = episodes["intake"].to_numpy(dtype=float, na_value=np.nan)[keep]
    delta = episodes["change"].to_numpy(dtype=float, na_value=np.nan)[keep]
    ok = np.isfinite(intake) & np.isfinite(delta)
    intake, delta = intake[ok], delta[ok]
    if intake.size < 2:
        return (float("nan"), float("nan"), int(intake.size))
    if model is None:
        _, slope = severity_adjustment(intake, delta)
        adjusted = delta - slope * (intake - intake.mean())
    else:
        adjusted = model.adjust(intake, delta)
        if not np.isfinite(adjusted).all():
            return (float("nan"), float("nan"), int(intake.size))
    return (float(adjusted.mean()), float(np.std(adjusted, ddof=1)), int(intake.size))


def funnel_frame(
    units: pd.DataFrame,
    *,
    unit: str,
    value: str = "severity_adjusted_change",
    n: str = "episodes_assessable",
    clients: str = "clients",
    centre: float,
    sd: float,
    min_group: int = SUPPRESSION_MIN,
) -> pd.DataFrame:
    """One row per unit that may be shown, with its limits and where it lies.

    units: one row per unit, e.g. :func:`kor.indicators.service_indicators` by team or
    clinician over one window (suppressed rows have NA and are left out).
    unit, value, n, clients: column names (unit label, the unit's mean, the number of
    observations behind the mean, the number of distinct clients).
    centre, sd: from :func:`adjusted_spread` over the same window.
    min_group: units with fewer clients (or observations) than this are left out.

    Returns columns :data:`FUNNEL_COLUMNS`: ``unit``, ``clients``, ``n``, ``value``,
    ``centre``, ``lower_95``/``upper_95`` (z = 1.96), ``lower_998``/``upper_998``
    (z = 3.09), ``position`` in {``"above_998"``, ``"above_95"``, ``"within"``,
    ``"below_95"``, ``"below_998"``}; sorted by ``n``.
    """
    require_columns(units, (unit, value, n, clients), where="funnel")
    n_values = pd.to_numeric(units[n], errors="coerce").astype(float)
    c_values = pd.to_numeric(units[clients], errors="coerce").astype(float)
    y = pd.to_numeric(units[value], errors="coerce").astype(float)
    show = (n_values >= min_group) & (c_values >= min_group) & y.notna()
    out = pd.DataFrame(
        {
            "unit": units.loc[show, unit].astype(str).to_numpy(),
            "clients": c_values[show].astype("int64").to_numpy(),
            "n": n_values[show].astype("int64").to_numpy(),
            "value": y[show].to_numpy(),
        }
    )
    out["centre"] = float(centre)
    for z, suffix in ((Z_WARNING, "95"), (Z_ALARM, "998")):
        lo, hi = funnel_limits(out["n"].to_numpy(), centre, sd, z)
        out[f"lower_{suffix}"] = lo
        out[f"upper_{suffix}"] = hi
    v = out["value"].to_numpy()
    out["position"] = np.select(
        [
            v > out["upper_998"].to_numpy(),
            v > out["upper_95"].to_numpy(),
            v < out["lower_998"].to_numpy(),
            v < out["lower_95"].to_numpy(),
        ],
        ["above_998", "above_95", "below_998", "below_95"],
        default="within",
    )
    return out.sort_values(["n", "unit"], kind="stable").reset_index(drop=True)[
        list(FUNNEL_COLUMNS)
    ]


def funnel_curve(
    centre: float, sd: float, n_max: float, *, n_min: float = SUPPRESSION_MIN, points: int = 100
) -> pd.DataFrame:
    """The funnel lines to draw: ``n`` from ``n_min`` to ``n_max`` and the four limits.

    >>> funnel_curve(0.0, 1.0, 100, points=2)["upper_95"].round(3).tolist()
    [0.877, 0.196]
    """
    n = np.linspace(n_min, max(n_max, n_min + 1), points)
    out = pd.DataFrame({"n": n, "centre": float(centre)})
    for z, suffix in ((Z_WARNING, "95"), (Z_ALARM, "998")):
        lo, hi = funnel_limits(n, centre, sd, z)
        out[f"lower_{suffix}"] = lo
        out[f"upper_{suffix}"] = hi
    return out
