"""The client's own path in plain words: «Slik har du hatt det».

What the client sees on the tablet after filling in the form in hand-over mode: their
outcome totals session by session and one sentence on how the latest compares with the
first, with no percentiles, bands or expected paths (those are the clinician's chart,
:func:`kor.client_chart.client_chart`). «Better» and «worse» need a change of at least
the measure's reliable change (Jacobson & Truax 1991), so a small wobble reads as
«about the same».

References: Jacobson NS, Truax P. J Consult Clin Psychol 1991;59(1):12-19.
doi:10.1037/0022-006X.59.1.12
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from kor import measures
from kor.i18n import get_language, t
from kor.plotting import PALETTE, new_axes

__all__ = ["OwnPath", "own_path", "own_path_chart"]


@dataclass(frozen=True)
class OwnPath:
    """One episode's outcome totals for the client's eyes.

    points: session_no, session_date, total (sessions with an outcome, in order).
    measure: the outcome measure's code. first, last: totals (None when no points).
    change: last − first, points. direction: ``"none"`` (no outcome yet), ``"first"``
    (one point), ``"better"``, ``"same"`` or ``"worse"``.
    """

    points: pd.DataFrame
    measure: str
    first: float | None
    last: float | None
    change: float | None
    direction: str

    def sentence(self) -> str:
        """The plain-language summary, in the current language."""
        if self.direction == "none":
            return t("own_path.none")
        if self.direction == "first":
            return t("own_path.first", total=_number(self.last))
        return t(
            f"own_path.{self.direction}",
            first=_number(self.first),
            last=_number(self.last),
            change=_number(abs(self.change)),
        )

    def plot(self, ax: Any = None) -> Any:
        return own_path_chart(self, ax=ax)


def own_path(sessions: pd.DataFrame, measure: str = "ORS") -> OwnPath:
    """The client's path from one episode's session-table rows.

    sessions: session table rows (session_no, session_date, outcome_measure, outcome) of
    one episode; only rows of ``measure`` with a total count.

    >>> rows = pd.DataFrame({"session_no": [1, 2], "session_date": pd.to_datetime(
    ...     ["2026-01-05", "2026-01-12"]), "outcome_measure": ["ORS", "ORS"],
    ...     "outcome": [18.0, 25.5]})
    >>> own_path(rows).direction
    'better'
    """
    rows = sessions.loc[
        (sessions["outcome_measure"] == measure) & sessions["outcome"].notna(),
        ["session_no", "session_date", "outcome"],
    ]
    points = (
        rows.sort_values("session_no").rename(columns={"outcome": "total"}).reset_index(drop=True)
    )
    if points.empty:
        return OwnPath(points, measure, None, None, None, "none")
    first, last = float(points["total"].iloc[0]), float(points["total"].iloc[-1])
    if len(points) == 1:
        return OwnPath(points, measure, first, last, None, "first")
    change = round(last - first, 1)
    declared = measures.get(measure)
    reliable = declared.reliable_change or 5.0
    gain = change if declared.higher_is_better else -change
    if gain >= reliable:
        direction = "better"
    elif gain <= -reliable:
        direction = "worse"
    else:
        direction = "same"
    return OwnPath(points, measure, first, last, change, direction)


def own_path_chart(path: OwnPath, ax: Any = None) -> Any:
    """A plain line of the totals, large markers and numbers on each point; returns the Axes.

    Reads in greyscale (black line, labelled points), so it prints on any printer.
    """
    if ax is None:
        ax = new_axes(7.0, 3.6)
    pts = path.points
    high = measures.get(path.measure).total_range[1] if path.measure else 40.0
    ax.set_ylim(0, high)
    if not pts.empty:
        x = pts["session_no"].to_numpy()
        y = pts["total"].to_numpy()
        ax.plot(x, y, color=PALETTE[7], linewidth=2.5, marker="o", markersize=9)
        for xi, yi in zip(x, y, strict=True):
            ax.annotate(
                _number(yi), (xi, yi), textcoords="offset points", xytext=(0, 10), ha="center"
            )
        ax.set_xticks(x)
        ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
    ax.set_xlabel(t("own_path.axis.session"))
    ax.set_ylabel(t("own_path.axis.total"))
    ax.set_title(t("own_path.title"))
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _number(x: float | None) -> str:
    text = f"{x:.1f}"
    return text.replace(".", ",") if get_language() == "nb" else text
