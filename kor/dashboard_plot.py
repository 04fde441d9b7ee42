"""Drawing for the quality dashboard and the leader report.

Nothing here computes a statistic: the charts come from :mod:`kor.spc` (drawn by
:func:`kor.spc_plot.control_chart`), the funnel from :mod:`kor.funnel`, the tables from
:meth:`kor.report.Report.tables`. Plot functions take ``ax=None`` and return the Axes;
figures are made with :class:`matplotlib.figure.Figure` (no pyplot state), so drawing
is safe in a server process. Colours are the Okabe-Ito palette of :mod:`kor.plotting`,
with marker shapes as well, so the charts read in greyscale print.
"""

from __future__ import annotations

import functools
import io
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kor import spc_plot
from kor.funnel import funnel_curve
from kor.i18n import t
from kor.plotting import MARKERS, PALETTE, localise_axes, new_axes

if TYPE_CHECKING:  # pragma: no cover
    from kor.report import Report

__all__ = [
    "indicator_chart",
    "indicator_figure",
    "funnel_plot",
    "client_trajectory",
    "report_figures",
    "report_pdf",
    "figure_png",
]

A4 = (8.27, 11.69)
_POSITION_STYLE = {
    "within": (PALETTE[0], "o"),
    "above_95": (PALETTE[2], "^"),
    "above_998": (PALETTE[2], "^"),
    "below_95": (PALETTE[5], "v"),
    "below_998": (PALETTE[5], "v"),
}


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def indicator_chart(
    chart: Any, indicator: str, *, ax: Any = None, note: str = "", unit_label: str = ""
) -> Any:
    """One indicator's monthly run/control chart with its signals, or a «no chart» note.

    chart: a :class:`kor.spc.ControlChart` or None (too few months to draw).
    indicator: the service-indicator column (its title is ``indicator.<column>``).
    note: e.g. the months left out because they were suppressed; drawn under the chart.
    """
    ax = ax if ax is not None else new_axes(8, 3.6)
    title = t(f"indicator.{indicator}")
    if chart is None:
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
        ax.text(
            0.5,
            0.5,
            note or t("report.note.no_chart"),
            ha="center",
            va="center",
            fontsize=9,
            wrap=True,
            transform=ax.transAxes,
        )
        return ax
    spc_plot.control_chart(chart, ax=ax, title=title, xlabel="", ylabel=unit_label)
    ax.title.set_fontsize(10)
    ax.tick_params(labelsize=7)
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_fontsize(7)
    if note:
        ax.annotate(
            "\n".join(textwrap.wrap(note, 110)),
            xy=(0.0, -0.16),
            xycoords="axes fraction",
            va="top",
            fontsize=7,
            color="#555555",
        )
    return ax


def indicator_figure(
    report: Report, indicators: Sequence[str], *, columns: int = 2, width: float = 11.0
) -> Any:
    """Small multiples: the charts of several indicators in one figure (the dashboard)."""
    from matplotlib.figure import Figure

    rows = max(1, int(np.ceil(len(indicators) / columns)))
    fig = Figure(figsize=(width, 3.3 * rows), dpi=100)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    for ax, name in zip(axes, indicators, strict=False):
        indicator_chart(report.charts.get(name), name, ax=ax, note=report.chart_note(name))
    for ax in axes[len(indicators) :]:
        ax.set_axis_off()
    fig.subplots_adjust(left=0.07, right=0.8, top=0.93, bottom=0.12, hspace=0.7, wspace=0.75)
    return fig


def funnel_plot(
    frame: pd.DataFrame,
    centre: float,
    sd: float,
    *,
    unit_label: str = "",
    ax: Any = None,
) -> Any:
    """Funnel plot: each unit's severity-adjusted mean change against its n, with the
    service mean and the 95 % and 99.8 % limits (Spiegelhalter 2005).

    frame: :func:`kor.funnel.funnel_frame` output (units under the limit already left out).
    """
    ax = ax if ax is not None else new_axes(8, 4.5)
    if len(frame) == 0 or not np.isfinite(centre) or not np.isfinite(sd):
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            t("report.funnel.empty"),
            ha="center",
            va="center",
            fontsize=10,
            transform=ax.transAxes,
        )
        return ax
    curve = funnel_curve(centre, sd, float(frame["n"].max()) * 1.15)
    ax.plot(
        curve["n"], curve["centre"], color="#333333", linewidth=1.2, label=t("report.funnel.centre")
    )
    for suffix, style, key in (
        ("95", "--", "report.funnel.limits_95"),
        ("998", ":", "report.funnel.limits_998"),
    ):
        ax.plot(
            curve["n"],
            curve[f"upper_{suffix}"],
            color="#777777",
            linestyle=style,
            linewidth=1.1,
            label=t(key),
        )
        ax.plot(
            curve["n"], curve[f"lower_{suffix}"], color="#777777", linestyle=style, linewidth=1.1
        )
    shown: set[str] = set()
    for row in frame.itertuples(index=False):
        colour, marker = _POSITION_STYLE.get(row.position, (PALETTE[0], "o"))
        group = "within" if row.position == "within" else row.position.split("_")[0]
        label = None if group in shown else t(f"report.funnel.{group}")
        shown.add(group)
        ax.plot(
            row.n,
            row.value,
            marker=marker,
            color=colour,
            markersize=8,
            linestyle="none",
            markeredgecolor="black",
            markeredgewidth=0.5,
            label=label,
            zorder=3,
        )
        ax.annotate(
            str(row.unit), (row.n, row.value), xytext=(5, 4), textcoords="offset points", fontsize=7
        )
    ax.set_xlabel(t("report.funnel.x"))
    ax.set_ylabel(t("report.funnel.y"))
    ax.set_title(t("report.funnel.title", unit=unit_label), fontsize=10)
    localise_axes(ax)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7)
    return ax


def client_trajectory(
    episode: pd.DataFrame,
    *,
    expected: pd.DataFrame | None = None,
    cutoff: float | None = None,
    ax: Any = None,
) -> Any:
    """A client's ORS and SRS totals by session, with the expected band when given.

    episode: the episode's rows of the session table. expected: ``ExpectedResponse.path``
    output (session_no, p10, p25, p50, p75). cutoff: the clinical cut-off line.
    Used by the supervision list when :mod:`kor.client_chart` is not available.
    """
    ax = ax if ax is not None else new_axes(8, 4)
    n = episode["session_no"].to_numpy()
    if expected is not None and len(expected):
        ax.fill_between(
            expected["session_no"],
            expected["p25"],
            expected["p75"],
            color=PALETTE[4],
            alpha=0.25,
            label=t("report.client.expected"),
        )
        ax.plot(expected["session_no"], expected["p50"], color=PALETTE[4], linewidth=1)
    for i, (column, key) in enumerate(
        (("outcome", "report.client.outcome"), ("alliance", "report.client.alliance"))
    ):
        y = pd.to_numeric(episode[column], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(y)
        ax.plot(n[ok], y[ok], color=PALETTE[i], marker=MARKERS[i], label=t(key))
    if cutoff is not None:
        ax.axhline(
            cutoff, color="#555555", linestyle=":", linewidth=1, label=t("report.client.cutoff")
        )
    ax.set_ylim(0, 40)
    ax.set_xlabel(t("report.client.session"))
    ax.set_ylabel(t("report.client.points"))
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.grid(True, alpha=0.3)
    return ax


def report_figures(report: Report, *, dpi: int = 80) -> dict[str, Any]:
    """PNGs of the report's charts: ``trends`` [(indicator, png)], ``funnel`` (or None).

    The figures have fixed margins (legends in the right margin) instead of matplotlib's
    constrained layout, which would double the time of the report's twelve charts.
    """
    from kor.report import INDICATORS

    trends = []
    for spec in INDICATORS:
        ax = _plain_axes(9, 3.4, right=0.7)
        indicator_chart(report.charts.get(spec.column), spec.column, ax=ax)
        trends.append((spec.column, figure_png(ax.figure, dpi)))
    funnel_png = None
    if len(report.funnel):
        ax = _plain_axes(9, 4.5, right=0.74)
        funnel_plot(
            report.funnel,
            report.funnel_centre,
            report.funnel_sd,
            unit_label=t(f"indicator.{report.unit}"),
            ax=ax,
        )
        funnel_png = figure_png(ax.figure, dpi)
    return {"trends": trends, "funnel": funnel_png}


def _plain_axes(width: float, height: float, *, right: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    fig.subplots_adjust(left=0.08, right=right, top=0.9, bottom=0.13)
    return fig.add_subplot()


def _page(title: str | None = None) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4, dpi=100)
    if title:
        fig.text(0.07, 0.955, title, fontsize=15, weight="bold", va="top")
    return fig


_CELL_PAD = 0.1  # matplotlib's Cell.PAD: the text's margin, a fraction of the cell's width
_NUMERIC = re.compile(r"^[\d\s,.%+\-−–]*$")


@functools.lru_cache(maxsize=4096)
def _text_width(text: str, fontsize: float, bold: bool = False) -> float:
    """The width of ``text`` in points at ``fontsize`` (DejaVu Sans, as drawn)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(size=fontsize, weight="bold" if bold else "normal")
    return float(TextPath((0, 0), text, prop=prop).get_extents().width)


def _wrap(text: str, width: float, fontsize: float, bold: bool = False) -> list[str]:
    """``text`` in lines no wider than ``width`` points: broken between words, and a word
    too long for the column broken with a hyphen (compounds: «Alvorlighets-justert»)."""
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split():
            while _text_width(word, fontsize, bold) > width and len(word) > 2:
                cut = len(word) - 1
                while cut > 1 and _text_width(word[:cut] + "-", fontsize, bold) > width:
                    cut -= 1
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut] + "-")
                word = word[cut:]
            candidate = f"{line} {word}" if line else word
            if line and _text_width(candidate, fontsize, bold) > width:
                lines.append(line)
                candidate = word
            line = candidate
        lines.append(line)
    return lines or [""]


def _is_number_column(values: Sequence[str]) -> bool:
    """Numbers (and the blank, suppressed and no-data marks) are right-aligned."""
    marks = {t("report.cell.blank"), t("report.cell.suppressed"), t("report.cell.no_data")}
    return all(v in marks or _NUMERIC.match(v) for v in values)


def _table(
    fig: Any,
    frame: pd.DataFrame,
    left: float,
    top: float,
    width: float,
    *,
    fontsize: float = 7.5,
    row_height: float = 0.024,
    first: float = 0.28,
    widths: Sequence[float] | None = None,
) -> float:
    """Draw ``frame`` as a table whose top edge is at ``top``; returns its bottom edge.

    Every cell's text is wrapped to its column (measured, not guessed) and each row is
    as tall as its longest cell, so no text runs into the next cell; numbers are
    right-aligned, words left-aligned. row_height: a one-line row, in figure height.
    The table must fit on the page; :func:`_paged_table` turns the page when it does not.
    """
    if len(frame) == 0:
        ax = fig.add_axes([left, top - row_height, width, row_height])
        ax.set_axis_off()
        ax.text(0, 1, t("report.table.empty"), va="top", fontsize=9)
        return top - row_height
    layout = _TableLayout.of(fig, frame, width, fontsize, row_height, first, widths)
    return layout.draw(fig, range(len(frame)), left, top, width)


def _paged_table(
    pdf: Any,
    fig: Any,
    frame: pd.DataFrame,
    left: float,
    top: float,
    width: float,
    *,
    title: str,
    bottom: float = 0.05,
    **style: Any,
) -> tuple[Any, float]:
    """Draw ``frame`` from ``top`` down, turning the page when the rows reach ``bottom``.

    Why: the comparison and completeness tables have a row per team or clinician, and a
    large service has more than a page holds; cut off at the page edge, the last rows
    were simply lost. Every continued page has the title with «(forts.)» and the header
    row again. Saves the full pages to ``pdf`` and returns the last (unsaved) page and
    the table's bottom edge on it.
    """
    if len(frame) == 0:
        return fig, _table(fig, frame, left, top, width, **style)
    layout = _TableLayout.of(
        fig,
        frame,
        width,
        style.get("fontsize", 7.5),
        style.get("row_height", 0.024),
        style.get("first", 0.28),
        style.get("widths"),
    )
    rows = list(range(len(frame)))
    if top - bottom < layout.heights[0] + layout.heights[1]:  # not even one row: next page
        pdf.savefig(fig)
        fig, top = _page(t("report.continued", title=title)), 0.92
    while True:
        room = top - bottom - layout.heights[0]
        fit = 0
        while fit < len(rows) and room >= layout.heights[1 + rows[fit]]:
            room -= layout.heights[1 + rows[fit]]
            fit += 1
        fit = max(fit, 1)  # a row taller than a page is drawn alone rather than lost
        end = layout.draw(fig, rows[:fit], left, top, width)
        rows = rows[fit:]
        if not rows:
            return fig, end
        pdf.savefig(fig)
        fig, top = _page(t("report.continued", title=title)), 0.92


@dataclass(frozen=True)
class _TableLayout:
    """A table measured for a page: wrapped cell lines, row heights, column widths."""

    grid: list[list[list[str]]]  # header row first; each cell its wrapped lines
    heights: list[float]  # per grid row, in figure height
    fractions: list[float]
    numeric: list[bool]
    fontsize: float

    @classmethod
    def of(
        cls,
        fig: Any,
        frame: pd.DataFrame,
        width: float,
        fontsize: float,
        row_height: float,
        first: float,
        widths: Sequence[float] | None,
    ) -> _TableLayout:
        n = len(frame.columns)
        rest = (1.0 - first) / max(n - 1, 1)
        fractions = list(widths) if widths else [first] + [rest] * (n - 1)
        page_w, page_h = (float(v) * 72 for v in fig.get_size_inches())
        room = [f * width * page_w * (1 - 2 * _CELL_PAD) for f in fractions]
        head_size = fontsize * 0.9
        texts = [[str(v) for v in row] for row in frame.itertuples(index=False)]
        numeric = [_is_number_column([r[j] for r in texts]) for j in range(n)]
        grid = [[_wrap(str(c), room[j], head_size, True) for j, c in enumerate(frame.columns)]]
        grid += [[_wrap(v, room[j], fontsize) for j, v in enumerate(row)] for row in texts]
        line = fontsize * 1.25 / page_h  # one text line, in figure height
        heights = [
            max(row_height, max(len(c) for c in row) * line + row_height - line) for row in grid
        ]
        return cls(grid, heights, fractions, numeric, fontsize)

    def draw(self, fig: Any, rows: Sequence[int], left: float, top: float, width: float) -> float:
        """Draw the header and ``rows`` (data-row positions) from ``top``; the bottom edge."""
        from matplotlib.table import Table

        grid = [self.grid[0]] + [self.grid[1 + r] for r in rows]
        heights = [self.heights[0]] + [self.heights[1 + r] for r in rows]
        total = sum(heights)
        ax = fig.add_axes([left, top - total, width, total])
        ax.set_axis_off()
        table = Table(ax, bbox=[0, 0, 1, 1])
        table.auto_set_font_size(False)
        head_size = self.fontsize * 0.9
        for i, row in enumerate(grid):
            for j, lines in enumerate(row):
                head = i == 0
                loc = "center" if head else ("right" if self.numeric[j] and j > 0 else "left")
                cell = table.add_cell(
                    i,
                    j,
                    width=self.fractions[j],
                    height=heights[i] / total,
                    text="\n".join(lines),
                    loc=loc,
                    facecolor="#eeeeee" if head else "white",
                )
                cell.set_linewidth(0.4)
                cell.set_text_props(
                    fontsize=head_size if head else self.fontsize,
                    weight="bold" if head else "normal",
                )
        ax.add_table(table)
        return top - total


def _text_block(
    fig: Any, y: float, lines: Sequence[str], *, fontsize: float = 9, width: int = 100
) -> float:
    for line in lines:
        wrapped = textwrap.wrap(line, width) or [""]
        for part in wrapped:
            fig.text(0.07, y, part, fontsize=fontsize, va="top")
            y -= 0.0165 * fontsize / 9
        y -= 0.006
    return y


def report_pdf(
    report: Report, target: Any, *, progress: Callable[[float, str], None] | None = None
) -> None:
    """Write the report as an A4 PDF to ``target`` (a path or binary file)."""
    from matplotlib.backends.backend_pdf import PdfPages

    from kor.report import INDICATORS

    step = progress or (lambda _f, _l: None)
    tables = report.tables()
    with PdfPages(target, metadata={"Title": report.title(), "Creator": "KOR workbench"}) as pdf:
        # 1. front page: headline indicators and their direction
        fig = _page(report.title())
        y = _text_block(fig, 0.915, [report.subtitle(), report.filter_text()], fontsize=9)
        fig.text(0.07, y - 0.01, t("report.section.headline"), fontsize=12, weight="bold", va="top")
        bottom = _table(
            fig,
            tables["headline"],
            0.05,
            y - 0.04,
            0.9,
            fontsize=7.5,
            widths=(0.3, 0.1, 0.1, 0.17, 0.33),
        )
        _text_block(
            fig,
            bottom - 0.02,
            [
                line
                for line in (report.suppression_note(), report.period_note(), report.data_note())
                if line
            ]
            + [t("report.front.direction_note")],
            fontsize=8,
            width=115,
        )
        pdf.savefig(fig)
        # 2. trend charts, four per page
        per_page = 4
        for first in range(0, len(INDICATORS), per_page):
            step(0.6 + 0.25 * first / len(INDICATORS), "report.progress.render")
            fig = _page(t("report.section.trends") if first == 0 else None)
            specs = INDICATORS[first : first + per_page]
            for i, spec in enumerate(specs):
                top = 0.9 - i * 0.225
                ax = fig.add_axes([0.09, top - 0.15, 0.62, 0.15])
                indicator_chart(
                    report.charts.get(spec.column),
                    spec.column,
                    ax=ax,
                    note=report.chart_note(spec.column),
                )
            pdf.savefig(fig)
        # 3. comparison: funnel and table
        step(0.88, "report.progress.render")
        fig = _page(t("report.section.comparison"))
        y = _text_block(fig, 0.92, [t("report.funnel.intro")], fontsize=8, width=115)
        ax = fig.add_axes([0.1, y - 0.31, 0.62, 0.28])  # under the text, whatever its length
        funnel_plot(
            report.funnel,
            report.funnel_centre,
            report.funnel_sd,
            unit_label=t(f"indicator.{report.unit}"),
            ax=ax,
        )
        title = t("report.section.comparison")
        fig, bottom = _paged_table(
            pdf, fig, tables["funnel"], 0.05, y - 0.37, 0.9, title=title, fontsize=7, first=0.16
        )
        fig, _bottom = _paged_table(
            pdf,
            fig,
            tables["comparison"],
            0.05,
            bottom - 0.04,
            0.9,
            title=title,
            fontsize=6.5,
            first=0.16,
        )
        pdf.savefig(fig)
        # 4. completeness
        title = t("report.section.completeness")
        fig = _page(title)
        _text_block(fig, 0.92, [t("report.completeness.intro")], fontsize=8, width=115)
        fig, _bottom = _paged_table(
            pdf, fig, tables["completeness"], 0.07, 0.87, 0.86, title=title, fontsize=8
        )
        pdf.savefig(fig)
        # 5. methods
        fig = _page(t("report.section.methods"))
        y = 0.92
        for heading, text in report.methods():
            fig.text(0.07, y, heading, fontsize=9, weight="bold", va="top")
            y = _text_block(fig, y - 0.017, [text], fontsize=8, width=120)
        pdf.savefig(fig)
