"""«Mine resultater»: a clinician's own results in plain words and three charts.

For feedback-informed supervision (issue 18): the clinician sees their own closed
episodes' change against what the service expects, the shares reliably improved and
deteriorated, and dropout, per calendar year. A team lead picks one clinician of their
team at a time; the picker lists names alphabetically and never shows a result beside a
name, so nothing here ranks. No client appears, only aggregates of at least 5 episodes
(:mod:`kor.own_results`); the store decides who may see whom
(:meth:`kor.store.Store.own_results`).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from kor.access import Actor
from kor.i18n import t
from kor.indicators import SUPPRESSION_MIN
from kor.own_results import OwnFigures, OwnResults
from kor.plotting import PALETTE, localise_axes, new_axes, tick_number
from kor.store import Store, open_store
from widgets.common import FramedApp, acting_user, chart_box, guarded, message

__all__ = ["OwnResultsApp", "own_results_app", "headline", "difference_chart"]

_CSS = """<style>
.kor-own-headline p {font-size:1.1em; line-height:1.45; margin:6px 0}
.kor-own-headline p.kor-own-main {font-size:1.25em; font-weight:600}
.kor-own-methods {background:#f6f8fa; border-left:4px solid #0b5394; padding:8px 12px;
  line-height:1.45}
</style>"""


def _n(value: float | None) -> str:
    """One decimal, decimal comma in bokmål, true minus sign."""
    return "–" if value is None else tick_number(float(value), 1)


def _pct(value: float | None) -> str:
    return "–" if value is None else tick_number(float(value), 0)


def headline(figures: OwnFigures) -> list[str]:
    """The window's figures as plain sentences (the first one the main message)."""
    if not figures.change_shown or figures.difference is None:
        lines = [t("own.suppressed", min=SUPPRESSION_MIN)]
    else:
        low, high = _n(figures.ci_low), _n(figures.ci_high)
        value = round(figures.difference, 1)
        if value > 0:
            key = "own.headline.more"
        elif value < 0:
            key = "own.headline.less"
        else:
            key = "own.headline.same"
        lines = [t(key, value=_n(abs(value)), low=low, high=high)]
        if figures.ci_low is not None and figures.ci_high is not None:
            covers = figures.ci_low <= 0 <= figures.ci_high
            lines.append(t("own.headline.ci_wide" if covers else "own.headline.ci_clear"))
        lines.append(
            t(
                "own.headline.basis",
                n=figures.episodes,
                observed=_n(figures.observed),
                expected=_n(figures.expected),
            )
        )
        lines.append(
            t(
                "own.headline.shares",
                improved=_pct(figures.pct_improved),
                deteriorated=_pct(figures.pct_deteriorated),
            )
        )
    if figures.dropout_shown:
        lines.append(
            t("own.headline.dropout", rate=_pct(figures.dropout_rate), n=figures.episodes_ended)
        )
    else:
        lines.append(t("own.dropout_suppressed", min=SUPPRESSION_MIN))
    return lines


def _year_axes(
    ax: Any, years: tuple[int, ...], ylabel: str, xlabel: str = "own.chart.year"
) -> None:
    localise_axes(ax)  # decimal commas on the y axis; the year labels are set after it
    ax.set_xticks(range(len(years)), [str(y) for y in years])
    ax.set_xlim(-0.6, len(years) - 0.4)
    ax.set_xlabel(t(xlabel))
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _hidden(ax: Any, x: int, y: float = 0.0) -> None:
    ax.annotate(t("own.chart.hidden"), (x, y), ha="center", va="bottom", color="#444", fontsize=10)


def _bar_labels(ax: Any, bars: Any) -> None:
    """The percentage above each shown bar (a 0 % bar is otherwise invisible)."""
    labels = ["" if not np.isfinite(b.get_height()) else f"{_pct(b.get_height())} %" for b in bars]
    ax.bar_label(bars, labels=labels, padding=2, fontsize=9)


def difference_chart(results: OwnResults) -> Any:
    """Mean difference from expected per year with its 95 % CI; the 0 line is expected."""
    ax = new_axes(7.0, 3.6)
    years = results.years
    ax.axhline(0.0, color="#333", linewidth=1.2, linestyle="--", label=t("own.chart.expected"))
    shown = [(i, f) for i, f in enumerate(results.per_year) if f.difference is not None]
    if shown:
        xs = [i for i, _ in shown]
        ys = [f.difference for _, f in shown]
        low = [f.difference - f.ci_low if f.ci_low is not None else 0.0 for _, f in shown]
        high = [f.ci_high - f.difference if f.ci_high is not None else 0.0 for _, f in shown]
        ax.errorbar(
            xs,
            ys,
            yerr=[low, high],
            fmt="o",
            color=PALETTE[0],
            ecolor=PALETTE[0],
            capsize=6,
            markersize=8,
            linewidth=2,
            label=t("own.chart.ci"),
        )
        span = max([abs(f.ci_low or 0) for _, f in shown] + [abs(f.ci_high or 0) for _, f in shown])
        ax.set_ylim(-max(span, 1.0) * 1.15, max(span, 1.0) * 1.15)
    else:
        ax.set_ylim(-5, 5)
    for i, f in enumerate(results.per_year):
        if f.difference is None:
            _hidden(ax, i)
    _year_axes(ax, years, t("own.chart.difference_y"))
    ax.set_title(t("own.chart.difference"))
    ax.legend(frameon=False, loc="upper left", fontsize=9)
    return ax


def shares_chart(results: OwnResults) -> Any:
    """Per year: % reliably improved and % reliably deteriorated, side by side."""
    ax = new_axes(7.0, 3.6)
    x = np.arange(len(results.years))
    width = 0.38
    improved = [f.pct_improved if f.change_shown else np.nan for f in results.per_year]
    worse = [f.pct_deteriorated if f.change_shown else np.nan for f in results.per_year]
    better = ax.bar(x - width / 2, improved, width, color=PALETTE[2], label=t("own.chart.improved"))
    poorer = ax.bar(
        x + width / 2,
        worse,
        width,
        color=PALETTE[5],
        hatch="//",
        edgecolor="white",
        label=t("own.chart.deteriorated"),
    )
    for bars in (better, poorer):
        _bar_labels(ax, bars)
    for i, f in enumerate(results.per_year):
        if not f.change_shown:
            _hidden(ax, i)
    ax.set_ylim(0, 118)
    ax.set_yticks([0, 20, 40, 60, 80, 100])
    _year_axes(ax, results.years, t("own.chart.percent"))
    ax.set_title(t("own.chart.shares"))
    ax.legend(frameon=False, loc="upper left", fontsize=9, ncols=2)
    return ax


def dropout_chart(results: OwnResults) -> Any:
    """Dropout (%) per year."""
    ax = new_axes(7.0, 3.2)
    x = np.arange(len(results.years))
    rates = [f.dropout_rate if f.dropout_shown else np.nan for f in results.per_year]
    _bar_labels(ax, ax.bar(x, rates, 0.5, color=PALETTE[1]))
    for i, f in enumerate(results.per_year):
        if not f.dropout_shown:
            _hidden(ax, i)
    top = max([r for r in rates if np.isfinite(r)], default=0.0)
    ax.set_ylim(0, max(50.0, top * 1.2))
    _year_axes(ax, results.years, t("own.chart.dropout_y"), "own.chart.year_last")
    ax.set_title(t("own.chart.dropout"))
    return ax


class OwnResultsApp(FramedApp):
    """State and rendering of «Mine resultater» (see :func:`own_results_app`)."""

    def __init__(self, store: Store, actor: Actor) -> None:
        self.store = store
        self.actor = actor
        self.clinicians: list[str] = []
        self.clinician: str | None = actor.username if actor.role == "clinician" else None
        self.results: dict[str, OwnResults] = {}
        self.frame(css=_CSS, max_width="1000px", classes=("kor-own",))
        self.render()

    def render(self) -> None:
        @guarded(self.show)
        def run() -> None:
            if not self.clinicians:
                self.clinicians = self.store.own_results_clinicians(self.actor)
            parts: list[w.Widget] = [
                w.HTML(f"<h2>{t('own.title')}</h2><p>{html.escape(t('own.intro', years=3))}</p>")
            ]
            if self.actor.role != "clinician":
                parts.append(self._picker())
            if self.clinician is not None:
                parts.extend(self._results(self.clinician))
            parts.append(self._methods())
            self.body.children = parts

        run()

    def _picker(self) -> w.Widget:
        if not self.clinicians:
            return message(t("own.none_to_pick"))
        picker = w.Dropdown(
            options=[("–", None)] + [(name, name) for name in self.clinicians],
            value=self.clinician if self.clinician in self.clinicians else None,
            description=t("own.pick"),
            layout=w.Layout(min_height="40px", width="auto", max_width="100%"),
            style={"description_width": "initial"},
        )
        picker.add_class("kor-own-pick")

        def on_pick(change: dict[str, Any]) -> None:
            self.clinician = change["new"]
            self.flash.children = []
            self.render()

        picker.observe(on_pick, names="value")
        return w.VBox([w.HTML(f"<p>{html.escape(t('own.pick_help'))}</p>"), picker])

    def _results(self, clinician: str) -> list[w.Widget]:
        if clinician not in self.results:
            self.results[clinician] = self.store.own_results(self.actor, clinician)
        results = self.results[clinician]
        parts: list[w.Widget] = []
        if self.actor.role != "clinician":
            parts.append(w.HTML(f"<h3>{html.escape(t('own.for', clinician=clinician))}</h3>"))
        if not results.reference.fitted:
            parts.append(message(t("own.no_reference")))
        lines = headline(results.total)
        text = "".join(
            f'<p class="{"kor-own-main" if i == 0 else ""}">{html.escape(line)}</p>'
            for i, line in enumerate(lines)
        )
        if results.as_of is not None:
            day = results.as_of.strftime("%d.%m.%Y")
            text += f"<p>{html.escape(t('own.as_of', date=day))}</p>"
        parts.append(w.HTML(f'<div class="kor-own-headline">{text}</div>'))
        slug = "".join(ch if ch.isalnum() else "-" for ch in clinician)
        parts += [
            chart_box(
                difference_chart(results),
                f"mine-resultater-endring-{slug}",
                alt=t("own.chart.alt_difference"),
            ),
            chart_box(
                shares_chart(results),
                f"mine-resultater-palitelig-{slug}",
                alt=t("own.chart.alt_shares"),
            ),
            chart_box(
                dropout_chart(results),
                f"mine-resultater-frafall-{slug}",
                alt=t("own.chart.alt_dropout"),
            ),
        ]
        if any(not f.change_shown or not f.dropout_shown for f in results.per_year):
            parts.append(
                w.HTML(f"<p>{html.escape(t('own.hidden_years', min=SUPPRESSION_MIN))}</p>")
            )
        return parts

    def _methods(self) -> w.Widget:
        return w.HTML(
            f"<h3>{html.escape(t('own.methods_title'))}</h3>"
            f'<div class="kor-own-methods">{html.escape(t("own.methods"))}</div>'
        )


def own_results_app(store: Store | None = None, actor: Actor | None = None) -> w.Widget:
    """«Mine resultater»: the acting clinician's own results (a team lead picks one)."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    app = OwnResultsApp(store, actor)
    app.root.app = app  # tests reach the state through the widget
    return app.root
