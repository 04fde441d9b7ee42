"""The client's chart, the heart of KOR: outcome per session against the expected path,
alliance per session beneath.

Drawing only: every number comes from the frames passed in (the session table of one
episode, the expected path of :func:`kor.caseload.episode_path`, the flags of
:func:`kor.flags.current_flags`) or from the measure declarations (cut-off, reliable
change, alliance threshold in :mod:`kor.measures`). The chart is shown to the client,
so it must read in greyscale and for colour-blind readers: Okabe-Ito colours
(:data:`kor.plotting.PALETTE`), and each element also differs by marker, line style or
hatching.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kor import measures, raters
from kor.i18n import get_language, t
from kor.plotting import PALETTE

__all__ = ["client_chart"]

_OBSERVED = PALETTE[7]  # black
_EXPECTED = PALETTE[0]  # blue
_CUTOFF = PALETTE[5]  # vermillion
_ALLIANCE = PALETTE[2]  # bluish green
_FLAG = PALETTE[5]
_OUTCOME_KINDS = ("not_on_track", "no_improvement", "deterioration", "missing_outcome")
#: Each rater's line differs by colour, marker and line style (reads in greyscale too).
_RATER_STYLE = {
    "client": (PALETTE[7], "o", "-"),
    "parent": (PALETTE[1], "^", "--"),
    "teacher": (PALETTE[3], "D", ":"),
    "other": (PALETTE[4], "v", "-."),
}

#: Sizes of the app's own figure. It is shown from about 360 px (phone, tablet in
#: portrait) to 760 px wide; drawn 5.2 in wide at 110 dpi (572 px) with 14 pt text, every
#: text is at least 12 px on screen at the narrowest, and readable at arm's length.
WIDTH_IN = 5.2
PLOT_IN = 4.6  # both panels with their axis labels and the title
FONT_PT = 14.0
_LEGEND_ROW_IN = 0.3  # one legend entry (one column, 14 pt)


def _number(x: float) -> str:
    text = f"{x:.1f}"
    return text.replace(".", ",") if get_language() == "nb" else text


def _threshold(x: float) -> str:
    text = f"{x:g}"
    return text.replace(".", ",") if get_language() == "nb" else text


def client_chart(
    sessions: pd.DataFrame,
    path: pd.DataFrame | None = None,
    flags: pd.DataFrame | None = None,
    *,
    outcome_measure: str = "ORS",
    alliance_measure: str | None = "SRS",
    age_group: str = "adult",
    title: str | None = None,
    ax: Any = None,
    alliance_ax: Any = None,
    collateral: pd.DataFrame | None = None,
) -> Any:
    """Draw one episode: outcome above (cut-off, reliable-change band, expected path),
    alliance below (threshold). Returns the outcome Axes; the alliance Axes is the
    figure's second axes.

    sessions: session table rows of one episode (session_no, outcome, alliance).
    path: session_no, p10, p25, p50, p75 on the episode's session numbers, or None.
    flags: current flags of the episode (session_no, kind, level); flagged sessions
    get a ring around their point.
    outcome_measure / alliance_measure: measure codes (for cut-off, reliable change
    and alliance threshold). ax / alliance_ax: axes to draw into; by default a new
    figure with the two stacked.
    collateral: other raters' outcome totals (:func:`kor.raters.collateral_outcomes`:
    session_no, rater, outcome), one line each, labelled in plain words («Forelder»);
    the client's own line is then labelled «Klienten». The expected path, its bands
    and the reliable-change band belong to the client's own line only.
    """
    own_figure = ax is None
    if ax is None:
        from matplotlib.figure import Figure

        # fixed margins (set in _legend), not constrained layout: that cost a second of
        # text measuring on every redraw, and the figure's parts are known in advance
        fig = Figure(figsize=(WIDTH_IN, PLOT_IN + 2.0), dpi=100)
        ax, alliance_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.3, 1.0]})
        for a in (ax, alliance_ax):
            a.tick_params(labelsize=FONT_PT)
    s = sessions.sort_values("session_no", kind="stable")
    x = s["session_no"].to_numpy(dtype=float)
    outcome = s["outcome"].to_numpy(dtype=float)
    alliance = s["alliance"].to_numpy(dtype=float)
    om = measures.get(outcome_measure)
    am = measures.get(alliance_measure) if alliance_measure else None
    has_outcome = bool(np.isfinite(outcome).any())
    others = []
    if collateral is not None and len(collateral):
        drawn = collateral.loc[np.isfinite(collateral["outcome"].to_numpy(dtype=float))]
        drawn = drawn.sort_values("session_no", kind="stable")
        others = [(r, drawn.loc[drawn["rater"] == r]) for r in raters.RATERS]
        others = [(r, rows) for r, rows in others if len(rows)]
    last_x = float(np.nanmax(x)) if len(x) else 1.0
    if path is not None and len(path):
        last_x = max(last_x, float(path["session_no"].max()))
    if others:
        last_x = max(last_x, max(float(rows["session_no"].max()) for _, rows in others))

    # --- reliable-change band around the intake (hatched, so it reads in greyscale)
    if has_outcome and om.reliable_change:
        intake = float(outcome[np.isfinite(outcome)][0])
        ax.axhspan(
            intake - om.reliable_change,
            intake + om.reliable_change,
            facecolor="#e6e6e6",
            edgecolor="#9a9a9a",
            hatch="///",
            linewidth=0.0,
            zorder=0,
            label=t("clinician.chart.rci_band", points=_threshold(om.reliable_change)),
        )
    # --- expected path and its percentile bands
    if path is not None and len(path):
        px = path["session_no"].to_numpy(dtype=float)
        if {"p10", "p75"} <= set(path.columns):
            ax.fill_between(
                px,
                path["p10"].to_numpy(dtype=float),
                path["p75"].to_numpy(dtype=float),
                facecolor=_EXPECTED,
                alpha=0.12,
                linewidth=0,
                zorder=1,
                label=t("clinician.chart.band_p10"),
            )
        if {"p25", "p75"} <= set(path.columns):
            ax.fill_between(
                px,
                path["p25"].to_numpy(dtype=float),
                path["p75"].to_numpy(dtype=float),
                facecolor=_EXPECTED,
                edgecolor=_EXPECTED,
                alpha=0.22,
                hatch="..",
                linewidth=0,
                zorder=1,
                label=t("clinician.chart.band_p25"),
            )
        if "p50" in path.columns:
            ax.plot(
                px,
                path["p50"].to_numpy(dtype=float),
                color=_EXPECTED,
                linestyle="--",
                linewidth=2.0,
                zorder=2,
                label=t("clinician.chart.expected"),
            )
    # --- clinical cut-off
    cutoff = om.cutoff(age_group)
    if cutoff is not None:
        ax.axhline(
            cutoff,
            color=_CUTOFF,
            linestyle=":",
            linewidth=2.2,
            zorder=2,
            label=t("clinician.chart.cutoff", points=_threshold(cutoff)),
        )
    # --- observed outcome
    keep = np.isfinite(outcome)
    ax.plot(
        x[keep],
        outcome[keep],
        color=_OBSERVED,
        marker="o",
        markersize=8,
        linewidth=2.6,
        zorder=4,
        clip_on=False,  # a point at 0 or 40 is drawn whole, not cut by the frame
        label=t(raters.label_key(raters.outcome_rater()))
        if others
        else t("clinician.chart.observed", measure=om.code),
    )
    for rater, rows in others:  # one line per collateral rater, beneath the client's
        colour, marker, style = _RATER_STYLE[rater]
        ax.plot(
            rows["session_no"].to_numpy(dtype=float),
            rows["outcome"].to_numpy(dtype=float),
            color=colour,
            marker=marker,
            markersize=9,
            linewidth=2.0,
            linestyle=style,
            zorder=3,
            clip_on=False,
            label=t(raters.label_key(rater)),
        )
    if keep.any():
        ax.annotate(
            _number(outcome[keep][-1]),
            (x[keep][-1], outcome[keep][-1]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=FONT_PT,
            fontweight="bold",
        )
    _ring_flagged(ax, flags, x, outcome, outcome_kinds=True)
    low, high = om.total_range
    margin = 0.04 * (high - low)  # room for the markers of the lowest and highest points
    ax.set_ylim(low - margin, high + margin)
    ax.set_ylabel(t("clinician.chart.outcome_axis", measure=om.code), fontsize=FONT_PT)
    ax.grid(True, axis="y", alpha=0.3)
    if title:
        ax.set_title(title, loc="left", fontsize=FONT_PT + 1)
    if not has_outcome:
        ax.text(
            0.5,
            0.5,
            t("clinician.chart.no_outcome"),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=FONT_PT,
            color="#555555",
        )

    # --- alliance beneath
    if alliance_ax is not None:
        keep_a = np.isfinite(alliance)
        alliance_ax.plot(
            x[keep_a],
            alliance[keep_a],
            color=_ALLIANCE,
            marker="s",
            markersize=7,
            linewidth=2.2,
            linestyle="-.",
            zorder=4,
            clip_on=False,
            label=t("clinician.chart.observed_alliance", measure=am.code)
            if am
            else t("clinician.chart.alliance"),
        )
        threshold = am.alliance_threshold if am else None
        if threshold is not None:
            alliance_ax.axhline(
                threshold,
                color=_CUTOFF,
                linestyle=":",
                linewidth=2.0,
                label=t("clinician.chart.alliance_threshold", points=_threshold(threshold)),
            )
        _ring_flagged(alliance_ax, flags, x, alliance, outcome_kinds=False)
        floor = float(np.nanmin(alliance)) if keep_a.any() else 30.0
        alliance_ax.set_ylim(min(30.0, np.floor(floor) - 1.0), 40.5)
        alliance_ax.set_ylabel(t("clinician.chart.alliance_axis"), fontsize=FONT_PT)
        alliance_ax.grid(True, axis="y", alpha=0.3)
        alliance_ax.yaxis.set_major_locator(_integer_locator(4))
        alliance_ax.set_xlabel(t("clinician.chart.session_axis"), fontsize=FONT_PT)
        if not keep_a.any():
            alliance_ax.text(
                0.5,
                0.5,
                t("clinician.chart.no_alliance"),
                transform=alliance_ax.transAxes,
                ha="center",
                va="center",
                fontsize=FONT_PT,
                color="#555555",
            )
    else:
        ax.set_xlabel(t("clinician.chart.session_axis"))
    ax.set_xlim(0.5, max(last_x, 2.0) + 0.5)
    ax.xaxis.set_major_locator(_integer_locator())
    _legend(ax, alliance_ax, below=own_figure)
    return ax


def _legend(ax: Any, alliance_ax: Any, *, below: bool) -> None:
    """One legend for both panels, under the chart so it never hides a point."""
    handles, labels = ax.get_legend_handles_labels()
    if alliance_ax is not None:
        more_h, more_l = alliance_ax.get_legend_handles_labels()
        for h, label in zip(more_h, more_l, strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if below:
        # one entry a row under the panels; the figure grows by the legend's height, so
        # the panels keep their size and the text its 14 pt however many entries there are
        fig = ax.figure
        legend_in = 0.15 + _LEGEND_ROW_IN * len(labels)
        height = PLOT_IN + legend_in
        fig.set_size_inches(WIDTH_IN, height)
        fig.subplots_adjust(
            left=0.9 / WIDTH_IN,
            right=1 - 0.35 / WIDTH_IN,
            top=1 - 0.45 / height,
            bottom=(legend_in + 0.6) / height,
            hspace=0.12,
        )
        fig.legend(
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0.1 / WIDTH_IN, 0.05 / height),
            ncols=1,
            fontsize=FONT_PT,
            frameon=False,
            borderaxespad=0.0,
            handlelength=2.2,
        )
    else:
        ax.legend(handles, labels, loc="upper left", fontsize=8, ncols=2)


def _integer_locator(nbins: int | str = "auto") -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=nbins, integer=True)


def _ring_flagged(
    ax: Any, flags: pd.DataFrame | None, x: np.ndarray, y: np.ndarray, *, outcome_kinds: bool
) -> None:
    """A hollow diamond around points of sessions with a current flag of this panel."""
    if flags is None or len(flags) == 0:
        return
    is_outcome = flags["kind"].isin(_OUTCOME_KINDS)
    f = flags.loc[is_outcome if outcome_kinds else ~is_outcome]
    where = np.isin(x, f["session_no"].to_numpy(dtype=float)) & np.isfinite(y)
    if where.any():
        ax.plot(
            x[where],
            y[where],
            linestyle="none",
            marker="D",
            markersize=16,
            markerfacecolor="none",
            markeredgecolor=_FLAG,
            markeredgewidth=2.2,
            zorder=5,
            label=t("clinician.chart.flagged"),
        )
