"""Charts of «Bruker spør bruker» results. Each takes ``ax=None`` and returns the Axes; none
computes statistics: they draw the frames :mod:`surveys.analysis` made.

Likert items are drawn as diverging stacked bars (disagreement to the left of zero,
agreement to the right, the middle option split across zero), as Robbins & Heiberger
recommend for rating scales; «vet ikke»/«ikke aktuelt» are shown as a number beside the
bar, not in it, since they are not on the scale. The diverging colours are ColorBrewer's
BrBG, readable by colour-blind readers; groups in the other charts use the Okabe-Ito
palette with distinct markers.

Reference: Robbins NB, Heiberger RM. Plotting Likert and other rating scales.
JSM Proceedings 2011:1058-1066.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd

from kor.i18n import t
from kor.plotting import MARKERS, PALETTE, new_axes
from surveys.forms import Questionnaire

__all__ = ["DIVERGING", "likert_bars", "gap_chart", "change_chart", "theme_chart"]

#: ColorBrewer BrBG, five classes (colour-blind safe).
DIVERGING = ("#A6611A", "#DFC27D", "#E0E0E0", "#80CDC1", "#018571")


def _wrap(text: str, width: int = 48) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def likert_bars(
    dist: pd.DataFrame,
    form: Questionnaire,
    questions: list[str] | None = None,
    *,
    ax: Any = None,
    title: str | None = None,
    language: str | None = None,
) -> Any:
    """Diverging stacked bars of Likert items, one bar per question (and group).

    dist: :func:`surveys.analysis.distributions` rows of one group (e.g. users of one
    round), or of several groups when a ``respondent`` column tells them apart (the
    label then names the group). Suppressed groups are drawn as an empty row labelled
    «for få svar».
    """
    frame = dist[dist["question"].map(form.is_likert)]
    if questions is not None:
        frame = frame[frame["question"].isin(questions)]
    keys = list(
        dict.fromkeys(
            zip(frame["question"], frame.get("respondent", [""] * len(frame)), strict=True)
        )
    )
    ax = ax if ax is not None else new_axes(9.0, 0.55 * max(len(keys), 2) + 1.6)
    labels = []
    segments: list[tuple[int, np.ndarray, float]] = []  # (row, shares, left edge)
    for y, (question, respondent) in enumerate(keys):
        part = frame[
            (frame["question"] == question)
            & ((frame["respondent"] == respondent) if "respondent" in frame else True)
        ]
        part = part.sort_values("order")
        label = form.question(question).label(language)
        if respondent:
            label = f"{label} ({t('surveys.respondent.' + respondent, language=language)})"
        labels.append(_wrap(label))
        if bool(part["suppressed"].any()):
            ax.text(
                0,
                y,
                t("surveys.suppressed", language=language),
                ha="center",
                va="center",
                fontsize=8,
                style="italic",
            )
            continue
        scored = part[part["scored"]]
        n_scored = float(scored["count"].sum())
        shares = (
            (scored["count"].astype(float) / n_scored * 100.0).to_numpy()
            if n_scored
            else (np.zeros(len(scored)))
        )
        k = len(shares)
        mid = k // 2
        left = -(shares[:mid].sum() + (shares[mid] / 2 if k % 2 else 0.0))
        segments.append((y, shares, left))
        other = int(part.loc[~part["scored"], "count"].sum())
        ax.text(
            101,
            y,
            t("surveys.chart.no_opinion_n", language=language, n=other),
            va="center",
            fontsize=7,
        )
    if segments:
        k = max(len(sh) for _, sh, _ in segments)
        rows = np.array([y for y, _, _ in segments])
        widths = np.array([np.pad(sh, (0, k - len(sh))) for _, sh, _ in segments])
        lefts = (
            np.array([left for _, _, left in segments])[:, None]
            + np.cumsum(widths, axis=1)
            - widths
        )
        for j, colour in enumerate(_colours(k)):
            ax.barh(
                rows, widths[:, j], left=lefts[:, j], color=colour, edgecolor="white", height=0.7
            )
            for y, wdt, lft in zip(rows, widths[:, j], lefts[:, j], strict=True):
                if wdt >= 8:
                    ax.text(lft + wdt / 2, y, f"{wdt:.0f}", ha="center", va="center", fontsize=7)
    first = frame[frame["question"] == keys[0][0]].sort_values("order") if keys else frame
    names = [c for c in first.loc[first["scored"], "choice"]] if keys else []
    choice_labels = {c.name: c.label(language) for q in form.choices.values() for c in q}
    handles = [
        ax.barh([np.nan], [0], color=c, label=choice_labels.get(n, n))
        for n, c in zip(names, _colours(len(names)), strict=True)
    ]
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(keys)), labels, fontsize=8)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    ax.set_xlim(-100, 100)
    ax.set_xticks(range(-100, 101, 25), [f"{abs(v)}" for v in range(-100, 101, 25)])
    ax.set_xlabel(t("surveys.chart.percent_scored", language=language))
    if handles:
        ax.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=len(handles),
            frameon=False,
            fontsize=7,
        )
    ax.set_title(title or "", pad=24)
    return ax


def _colours(k: int) -> list[str]:
    if k == 5:
        return list(DIVERGING)
    idx = np.linspace(0, 4, k).round().astype(int) if k > 1 else [2]
    return [DIVERGING[i] for i in idx]


def gap_chart(
    gap_table: pd.DataFrame,
    form: Questionnaire,
    *,
    ax: Any = None,
    title: str | None = None,
    language: str | None = None,
) -> Any:
    """Users' and staff's mean per paired question (dots joined by a line), with the gap's
    confidence interval written beside; significant gaps in bold. Suppressed pairs are
    listed with «for få svar». Only pairs on the same scale belong in one chart, so 0-10
    questions are left out here."""
    table = gap_table[gap_table["question"].map(form.is_likert)].reset_index(drop=True)
    ax = ax if ax is not None else new_axes(9.0, 0.5 * max(len(table), 2) + 1.5)
    first = _first_shown(table)
    for y, row in table.iterrows():
        if row["suppressed"]:
            _suppressed_row(ax, y, language)
            continue
        ax.plot([row["mean_user"], row["mean_staff"]], [y, y], color="#999999", zorder=1)
        ax.scatter(
            row["mean_user"],
            y,
            color=PALETTE[0],
            marker=MARKERS[0],
            zorder=2,
            label=t("surveys.respondent.user", language=language) if y == first else None,
        )
        ax.scatter(
            row["mean_staff"],
            y,
            color=PALETTE[1],
            marker=MARKERS[1],
            zorder=2,
            label=t("surveys.respondent.staff", language=language) if y == first else None,
        )
        ax.text(
            5.15,
            y,
            f"{row['gap']:+.1f} [{row['ci_low']:+.1f}; {row['ci_high']:+.1f}]",
            va="center",
            fontsize=7,
            fontweight="bold" if row["significant"] else "normal",
        )
    return _finish_question_axes(ax, table, form, language, xmax=6.3, legend=first, title=title)


def change_chart(
    change_table: pd.DataFrame,
    form: Questionnaire,
    *,
    ax: Any = None,
    title: str | None = None,
    language: str | None = None,
) -> Any:
    """Mean before and after per Likert question, an arrow from the first to the second
    round; significant changes drawn in the second colour with a thicker arrow."""
    table = change_table[change_table["question"].map(form.is_likert)].reset_index(drop=True)
    ax = ax if ax is not None else new_axes(9.0, 0.5 * max(len(table), 2) + 1.5)
    first = _first_shown(table)
    for y, row in table.iterrows():
        if row["suppressed"]:
            _suppressed_row(ax, y, language)
            continue
        colour = PALETTE[2] if row["significant"] else "#777777"
        ax.annotate(
            "",
            xy=(row["mean_after"], y),
            xytext=(row["mean_before"], y),
            arrowprops={
                "arrowstyle": "->",
                "color": colour,
                "lw": 2.2 if row["significant"] else 1.0,
            },
        )
        ax.scatter(
            row["mean_before"],
            y,
            color="#777777",
            marker=MARKERS[0],
            s=18,
            zorder=2,
            label=t("surveys.round.baseline", language=language) if y == first else None,
        )
        ax.scatter(
            row["mean_after"],
            y,
            color=colour,
            marker=MARKERS[2],
            s=22,
            zorder=2,
            label=t("surveys.round.follow_up", language=language) if y == first else None,
        )
        ax.text(
            5.15,
            y,
            f"{row['change']:+.1f}",
            va="center",
            fontsize=7,
            fontweight="bold" if row["significant"] else "normal",
        )
    return _finish_question_axes(ax, table, form, language, xmax=5.6, legend=first, title=title)


def _first_shown(table: pd.DataFrame) -> int | None:
    shown = [i for i, s in enumerate(table["suppressed"]) if not s]
    return shown[0] if shown else None


def theme_chart(
    counts: pd.DataFrame,
    theme_labels: dict[str, str],
    *,
    ax: Any = None,
    title: str | None = None,
    language: str | None = None,
) -> Any:
    """Horizontal bars: comments per theme, one colour per respondent group."""
    ax = ax if ax is not None else new_axes(8.0, 3.5)
    themes = list(dict.fromkeys(counts["theme"]))
    groups = list(dict.fromkeys(counts["respondent"])) if "respondent" in counts else [""]
    height = 0.8 / max(len(groups), 1)
    for i, group in enumerate(groups):
        part = counts[counts["respondent"] == group] if group else counts
        values = [int(part.loc[part["theme"] == th, "comments"].sum()) for th in themes]
        ax.barh(
            np.arange(len(themes)) + i * height,
            values,
            height=height,
            color=PALETTE[i % len(PALETTE)],
            hatch=["", "//", ".."][i % 3],
            label=t("surveys.respondent." + group, language=language) if group else None,
        )
    ax.set_yticks(
        np.arange(len(themes)) + height * (len(groups) - 1) / 2,
        [
            theme_labels.get(th, th or t("surveys.theme.uncoded", language=language))
            for th in themes
        ],
        fontsize=8,
    )
    ax.invert_yaxis()
    ax.set_xlabel(t("surveys.chart.comments", language=language))
    if groups != [""]:
        ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or "")
    return ax


def _finish_question_axes(
    ax: Any,
    table: pd.DataFrame,
    form: Any,
    language: str | None,
    *,
    xmax: float,
    legend: object,
    title: str | None,
) -> Any:
    """Question labels down the side, the 1-5 score scale across, legend on top."""
    labels = [_wrap(form.question(q).label(language), 44) for q in table["question"]]
    ax.set_yticks(range(len(table)), labels, fontsize=8)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlim(1, xmax)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_xlabel(t("surveys.chart.mean_score", language=language))
    ax.grid(True, axis="x", alpha=0.3)
    if legend is not None:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=8)
    ax.set_title(title or "", pad=20)
    return ax


def _suppressed_row(ax: Any, y: float, language: str | None) -> None:
    """«for få svar» in place of a question's marks (fewer than 5 respondents)."""
    ax.text(
        3,
        y,
        t("surveys.suppressed", language=language),
        ha="center",
        va="center",
        fontsize=8,
        style="italic",
    )
