"""Drawing of run and control charts computed by :mod:`kor.spc`.

Nothing here computes a statistic: the lines and signals are columns of
``ControlChart.data``. Signals are marked by colour *and* marker shape, and the
centre line of a part with a runs signal is dashed, so the chart also reads in
greyscale print. Every label goes through :func:`kor.i18n.t`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kor.i18n import t
from kor.plotting import localise_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from kor.spc import ControlChart

__all__ = ["control_chart"]

LINE_COLOUR = "#4a6f8a"
CL_COLOUR = "#333333"
LIMIT_COLOUR = "#888888"
SIGNAL_COLOUR = "#d55e00"  # vermilion, distinct for colour-blind readers (Okabe-Ito)
SEPARATOR_COLOUR = "#555555"


def _step_line(ax, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> None:
    """A line that steps between points (limits that change with n), centred on them."""
    if len(x) == 1:
        ax.plot(x, y, marker="_", markersize=20, **kwargs)
        return
    ax.step(x, y, where="mid", **kwargs)


def control_chart(
    chart: ControlChart,
    ax: Axes | None = None,
    title: str | None = None,
    *,
    annotations: Sequence[tuple[Any, str]] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Draw ``chart``: points and line, centre line, limits per part, signals, phases.

    chart: a :class:`kor.spc.ControlChart`. ax: axes to draw on (new figure when
    None). title: shown above (default: the chart type's name). annotations:
    dated entries from the change log, ``[(x, label), ...]``, drawn as a marked
    vertical line with the label. xlabel/ylabel: override the catalog's axis titles.

    Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    d = chart.data
    x = d["x"].to_numpy()
    y = d["y"].to_numpy(dtype=float)
    include = d["include"].to_numpy(dtype=bool)
    sigma = d["sigma_signal"].to_numpy(dtype=bool)
    cl_key = "spc.legend.median" if chart.kind == "run" else "spc.legend.mean"
    labelled: set[str] = set()

    def once(key: str) -> str | None:
        if key in labelled:
            return None
        labelled.add(key)
        return t(key)

    ax.plot(x, y, color=LINE_COLOUR, linewidth=1.2, zorder=2)
    normal = include & ~sigma
    ax.plot(
        x[normal],
        y[normal],
        "o",
        color=LINE_COLOUR,
        markersize=4.5,
        zorder=3,
        label=t("spc.legend.data"),
    )

    parts = d["part"].to_numpy()
    for number in np.unique(parts):
        in_part = parts == number
        px = x[in_part]
        runs_signal = bool(d.loc[in_part, "runs_signal"].any())
        cl = d.loc[in_part, "cl"].to_numpy(dtype=float)
        _step_line(
            ax,
            px,
            cl,
            color=SIGNAL_COLOUR if runs_signal else CL_COLOUR,
            linestyle="--" if runs_signal else "-",
            linewidth=1.6 if runs_signal else 1.2,
            label=once("spc.legend.runs_signal" if runs_signal else cl_key),
            zorder=1,
        )
        for column in ("lcl", "ucl"):
            limit = d.loc[in_part, column].to_numpy(dtype=float)
            if np.isnan(limit).all():
                continue
            _step_line(
                ax,
                px,
                limit,
                color=LIMIT_COLOUR,
                linestyle=":",
                linewidth=1.2,
                label=once("spc.legend.limits"),
                zorder=1,
            )
        if number != parts[0]:
            start = np.flatnonzero(in_part)[0]
            ax.axvline(
                _between(x[start - 1], x[start]),
                color=SEPARATOR_COLOUR,
                linewidth=0.8,
                linestyle="-",
                alpha=0.6,
                zorder=0,
            )
        if len(np.unique(parts)) > 1:
            ax.annotate(
                t("spc.part", part=int(number)),
                xy=(px[0], 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -2),
                textcoords="offset points",
                va="top",
                fontsize=8,
                color=SEPARATOR_COLOUR,
            )

    flagged = sigma & include  # an excluded point (e.g. an incomplete month) is no signal
    if flagged.any():
        ax.plot(
            x[flagged],
            y[flagged],
            "D",
            color=SIGNAL_COLOUR,
            markersize=7,
            markeredgecolor="black",
            markeredgewidth=0.6,
            zorder=4,
            label=t("spc.legend.sigma_signal"),
        )
    if (~include).any():
        ax.plot(
            x[~include],
            y[~include],
            "o",
            markerfacecolor="white",
            markeredgecolor=LINE_COLOUR,
            markersize=6,
            zorder=4,
            label=t("spc.legend.excluded"),
        )

    baseline = d["baseline"].to_numpy(dtype=bool)
    # the baseline ends where a baseline point is followed by a non-baseline point
    for end in np.flatnonzero(baseline[:-1] & ~baseline[1:] & (parts[:-1] == parts[1:])):
        ax.axvline(
            _between(x[end], x[end + 1]),
            color=LIMIT_COLOUR,
            linestyle="-.",
            linewidth=0.8,
            label=once("spc.legend.baseline_end"),
            zorder=0,
        )

    for when, text in annotations or []:
        if np.issubdtype(x.dtype, np.datetime64):
            when = np.datetime64(pd.Timestamp(when))
        ax.axvline(when, color=SEPARATOR_COLOUR, linestyle=(0, (1, 3)), linewidth=0.9, zorder=0)
        ax.annotate(
            text,
            xy=(when, 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 4),
            textcoords="offset points",
            rotation=90,
            va="bottom",
            ha="left",
            fontsize=8,
            color=SEPARATOR_COLOUR,
        )

    ax.set_title(title if title is not None else t(f"spc.chart.{chart.kind}"))
    ax.set_xlabel(xlabel if xlabel is not None else t("spc.axis.x"))
    ax.set_ylabel(ylabel if ylabel is not None else t(f"spc.axis.y.{chart.kind}"))
    localise_axes(ax, dates=np.issubdtype(x.dtype, np.datetime64))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return ax


def _between(a: Any, b: Any) -> Any:
    """The midpoint of two x values (numbers or dates), where a phase line is drawn."""
    return a + (b - a) / 2
