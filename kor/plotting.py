"""Drawing for the KOR charts. Plot functions take ``ax=None``, return the Axes and
never compute statistics: they draw frames that the analytics modules made.

Colours are the Okabe-Ito palette (safe for colour-blind readers), and every series
also has its own marker and line style so the chart reads in greyscale.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd

from kor.i18n import get_language, t

__all__ = [
    "PALETTE",
    "MARKERS",
    "LINESTYLES",
    "new_axes",
    "trend_chart",
    "calibration_plot",
    "figure_bytes",
    "localise_axes",
    "month_label",
    "tick_number",
]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", "-", "--", "-.", ":")


def new_axes(width: float = 8.0, height: float = 4.0) -> Any:
    """A fresh figure and axes (Agg backend: no display needed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig.add_subplot()


def trend_chart(
    frame: pd.DataFrame,
    value: str,
    *,
    by: str | None = "team",
    period: str = "period",
    ax: Any = None,
    title: str | None = None,
    ylabel: str | None = None,
    as_of: Any = None,
) -> Any:
    """One line per group of ``value`` over ``period`` (suppressed rows left as gaps).

    frame: e.g. :func:`kor.indicators.service_indicators` output with a ``period``
    column of ``pandas.Period``; NA values (suppressed groups) are not drawn.
    as_of: the date the data are complete to (:func:`kor.indicators.data_as_of`). A
    period still running then is drawn as a hollow point off the line, with a legend
    entry saying so, so that a month with a few days of data does not read as a fall.
    """
    from matplotlib.lines import Line2D

    from kor.indicators import period_complete

    ax = ax if ax is not None else new_axes()
    groups = [(None, frame)] if by is None else list(frame.groupby(by, sort=True))
    partial = False
    for i, (name, part) in enumerate(groups):
        x = part[period].map(lambda p: p.to_timestamp() if hasattr(p, "to_timestamp") else p)
        y = pd.to_numeric(part[value], errors="coerce").astype(float)
        done = period_complete(part[period], as_of) if as_of is not None else None
        style = {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}
        ax.plot(
            x.to_numpy()[done] if done is not None else x.to_numpy(),
            y.to_numpy()[done] if done is not None else y.to_numpy(),
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            label=str(name) if name is not None else None,
            **style,
        )
        if done is not None and not done.all():
            partial = True
            ax.plot(x.to_numpy()[~done], y.to_numpy()[~done], linestyle="none",
                    markerfacecolor="white", **style)  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    if partial:
        handles.append(Line2D([], [], color="#555555", marker="o", markerfacecolor="white",
                              linestyle="none"))  # fmt: skip
        labels.append(t("plot.partial_period"))
    if by is not None or partial:
        ax.legend(handles, labels, title=t(f"label.{by}") if by else None, frameon=False)
    ax.set_title(title or "")
    ax.set_ylabel(ylabel or "")
    ax.set_xlabel(t("label.month"))
    ax.grid(True, alpha=0.3)
    return ax


def calibration_plot(table: pd.DataFrame, ax: Any = None, *, title: str | None = None) -> Any:
    """Observed against nominal share below each percentile band, one line per bucket.

    table: :func:`kor.trajectories.calibration` output (``quantile``,
    ``session_bucket``, ``observed``). The diagonal is perfect calibration: a line
    under it means fewer sessions fall below the band than the band promises (the
    band is too low), above it more (too high). The bucket ``"all"`` is drawn black
    and thicker; empty buckets (NaN) are left out.
    """
    from matplotlib.ticker import PercentFormatter

    ax = ax if ax is not None else new_axes(6.0, 5.0)
    ideal = t("trajectories.calibration.ideal")
    ax.plot([0.0, 1.0], [0.0, 1.0], color="#999999", linewidth=1.0, label=ideal)
    buckets = table["session_bucket"]
    order = buckets.cat.categories if hasattr(buckets, "cat") else pd.unique(buckets)
    i = 0
    for bucket in order:
        part = table[(buckets == bucket) & table["observed"].notna()].sort_values("quantile")
        if part.empty:
            continue
        if str(bucket) == "all":
            style = {"color": PALETTE[7], "marker": MARKERS[7], "linestyle": "-", "linewidth": 2.4}
            label = t("trajectories.calibration.all")
        else:
            style = {
                "color": PALETTE[i % 6],
                "marker": MARKERS[i % 6],
                "linestyle": LINESTYLES[1 + i % 7],
                "linewidth": 1.2,
            }
            label = str(bucket)
            i += 1
        ax.plot(
            part["quantile"].to_numpy(float), part["observed"].to_numpy(float), label=label, **style
        )
    ticks = sorted(pd.unique(table["quantile"]))
    ax.set_xticks(ticks)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t("trajectories.calibration.nominal"))
    ax.set_ylabel(t("trajectories.calibration.observed"))
    ax.set_title(title if title is not None else t("trajectories.calibration.title"))
    ax.legend(title=t("trajectories.calibration.bucket"), frameon=False, loc="upper left")
    ax.grid(True, alpha=0.3)
    return ax


def figure_bytes(ax: Any, fmt: str = "png", *, dpi: int = 110) -> bytes:
    """The figure of ``ax`` rendered as PNG or PDF bytes (for download buttons).

    110 dpi keeps a screen chart sharp on a tablet while rendering in half the time of 150.
    """
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format=fmt, dpi=dpi if fmt == "png" else None)
    return buffer.getvalue()


def month_label(when: Any) -> str:
    """A month tick in the UI language: the year at January, else «okt.» (bokmål, CLDR
    abbreviations from the catalog; no locale or babel needed).

    >>> month_label(pd.Timestamp("2026-10-01")), month_label(pd.Timestamp("2026-01-01"))
    ('okt.', '2026')
    """
    when = pd.Timestamp(when)
    return str(when.year) if when.month == 1 else t(f"report.month.{when.month}")


def tick_number(value: float, decimals: int) -> str:
    """An axis number in the UI language: «1,50» in bokmål, «1.50» in English, with a
    true minus sign.

    >>> tick_number(-2.5, 1)
    '−2,5'
    """
    text = f"{value:.{decimals}f}"
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")  # no «−0,0»
    if get_language() == "nb":
        text = text.replace(".", ",")
    return text.replace("-", "\N{MINUS SIGN}")


def _tick_decimals(locs: Sequence[float]) -> int:
    """The fewest decimals (0-3) that show every tick exactly (0.25 steps: 2)."""
    for decimals in range(4):
        if all(abs(round(v, decimals) - v) < 1e-9 * max(1.0, abs(v)) for v in locs):
            return decimals
    return 3


def localise_axes(ax: Any, *, dates: bool = False) -> Any:
    """Month names (``dates``: x holds dates) and decimal commas on an Axes' ticks;
    returns the Axes."""
    from matplotlib.dates import num2date
    from matplotlib.ticker import FuncFormatter

    def number(axis: Any) -> FuncFormatter:
        def label(value: float, _pos: Any) -> str:
            return tick_number(value, _tick_decimals(axis.get_majorticklocs()))

        return FuncFormatter(label)

    if dates:
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _pos: month_label(num2date(v).replace(tzinfo=None)))
        )
        if ax.xaxis.get_offset_text() is not None:
            ax.xaxis.get_offset_text().set_visible(False)
    else:
        ax.xaxis.set_major_formatter(number(ax.xaxis))
    ax.yaxis.set_major_formatter(number(ax.yaxis))
    return ax
