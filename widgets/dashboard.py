"""The quality dashboard: trends with their signals, a fair comparison, the supervision
list and the leader report, for the quality lead and the team lead.

The session table is read once per user (the store scopes it: a clinician sees own
clients, a team lead the team); every filter change then only calls the pure functions
of :mod:`kor.report` on it and redraws the visible tab. No statistics here.

    from widgets.dashboard import dashboard_app
    dashboard_app()
"""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from kor import dashboard_plot, report
from kor.access import Actor
from kor.errors import KorError
from kor.flags import rule_name
from kor.i18n import t
from kor.measures import MEASURES
from kor.store import Store, open_store
from kor.store.supervision import MARK_COLUMNS, MARK_ROLES, READ_ROLES
from widgets.common import (
    LARGE,
    acting_user,
    chart_box,
    guarded,
    language_switch,
    message,
    page_style,
)

__all__ = ["dashboard_app", "QualityDashboard"]

TABS = ("trends", "comparison", "supervision", "report")
_MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
}
_MAX_CASES = 200
#: The supervision list's rows: dark text on white, the level as a thick coloured edge
#: (and in words), so they read in greyscale and pass WCAG contrast.
_CASE_CSS = """<style>
.kor-app .kor-case {background:#ffffff !important; color:#1f1f1f !important;
  border:1px solid #767676 !important; border-left:8px solid #767676 !important;
  text-align:left; justify-content:flex-start; white-space:normal; height:auto;
  margin:2px 0; font-size:1em}
.kor-app .kor-case-alert {border-left-color:#a11d1d !important}
.kor-app .kor-case-warning {border-left-color:#b35900 !important}
.kor-app .kor-supervision-legend {color:#1f1f1f; font-size:0.95em}
</style>"""
_MAX_REPORTS = 32  # computed reports kept per user (a filter seen before redraws at once)


class QualityDashboard:
    """The dashboard with explicit state (filters, cached frames, the current report).

    store, actor: where the data comes from and who is looking. Set a filter widget's
    ``value`` (``team``, ``clinician``, ``period``, ``age_group``, ``measure``,
    ``group``) or ``tabs.selected_index`` and the visible tab is redrawn;
    ``report_button.click()`` builds the report in ``report_format.value``.
    """

    def __init__(self, store: Store, actor: Actor) -> None:
        self.store, self.actor = store, actor
        self.sessions: Any = None
        self.options: dict[str, Any] = {}
        self.cache: dict[Any, Any] = {}
        self.reports: dict[Any, report.Report] = {}
        self.case_flags: Any = None
        self.model: Any = None
        self.current: report.Report | None = None
        self.cases: Any = None
        self.last_file: Path | None = None
        self._quiet = False

        self.team = w.Dropdown(layout=LARGE)
        self.clinician = w.Dropdown(layout=LARGE)
        self.period = w.Dropdown(layout=LARGE)
        self.age_group = w.Dropdown(layout=LARGE)
        self.measure = w.Dropdown(layout=LARGE)
        self.group = w.ToggleButtons(style={"button_width": "150px"})
        self.headline = w.HTML()
        self.trend_box = w.VBox()
        self.comparison_box = w.VBox()
        self.supervision_box = w.VBox()
        self.case_box = w.VBox()
        self.report_format = w.ToggleButtons(style={"button_width": "110px"})
        self.report_button = w.Button(
            button_style="primary", layout=w.Layout(min_height="48px", width="220px")
        )
        self.progress = w.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=w.Layout(width="60%", visibility="hidden")
        )
        self.progress_label = w.HTML()
        self.download = w.HTML()
        self.status = w.VBox()
        self.tabs = w.Tab()
        self.tabs.children = [
            w.VBox([self.group, self.headline, self.trend_box]),
            self.comparison_box,
            w.VBox([self.supervision_box]),  # a case's chart opens below its row
            w.VBox(
                [
                    self.report_format,
                    self.report_button,
                    self.progress,
                    self.progress_label,
                    self.download,
                ]
            ),
        ]
        self.filters_box = w.HBox(
            [self.team, self.clinician, self.period, self.age_group, self.measure],
            layout=w.Layout(flex_flow="row wrap", gap="8px"),
        )
        self.title = w.HTML()
        self.overdue = w.VBox()  # improvement projects whose evaluation is past due
        self.root = w.VBox(
            [
                page_style(),
                language_switch(self.relabel),
                self.title,
                self.overdue,
                self.status,
                self.filters_box,
                self.tabs,
            ],
            layout=w.Layout(max_width="1200px", padding="8px"),
        )
        self.root.add_class("kor-app")
        for widget in (self.team, self.clinician, self.period, self.age_group, self.measure):
            widget.observe(self._on_filter, names="value")
        self.group.observe(self._on_filter, names="value")
        self.tabs.observe(self._on_filter, names="selected_index")
        self.report_button.on_click(self._on_report)
        self.load = guarded(self._show_status)(self._load)
        self.refresh = guarded(self._show_status)(self._refresh)
        self.make_report = guarded(self._show_status)(self._make_report)

    # ---------------------------------------------------------------- plumbing
    def _show_status(self, widget: w.Widget) -> None:
        self.status.children = [widget]
        self.progress.layout.visibility = "hidden"

    def _on_filter(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            if _change.get("owner") is self.team:
                self._set_clinicians()
            self.refresh()

    def _on_report(self, _button: Any) -> None:
        self.make_report()

    def filters(self) -> dict[str, str | None]:
        """The current filter as keyword arguments of :func:`kor.report.compute_report`."""
        return {
            "team": self.team.value or None,
            "clinician": self.clinician.value or None,
            "age_group": self.age_group.value or None,
            "measure": self.measure.value or None,
        }

    def _set_clinicians(self) -> None:
        by_team = self.options.get("clinicians_by_team", {})
        names = by_team.get(self.team.value, []) if self.team.value else self.options["clinician"]
        keep = self.clinician.value if self.clinician.value in names else ""
        self._quiet = True
        try:
            self.clinician.options = [(t("dash.all.clinician"), ""), *[(n, n) for n in names]]
            self.clinician.value = keep
        finally:
            self._quiet = False

    # ---------------------------------------------------------------- loading
    def _load(self) -> None:
        self.sessions = self.store.session_table(self.actor)
        self._show_overdue()
        self.options = report.filter_options(self.sessions)
        self._quiet = True
        try:
            self.relabel(refresh=False)
            self.period.value = report.default_period(self.sessions)
            self.team.value = self.team.options[0][1] if self.team.options else ""
            self.age_group.value = ""
            self.measure.value = ""
            self.group.value = "outcome"
            self.report_format.value = "pdf"
        finally:
            self._quiet = False
        self._set_clinicians()
        self.status.children = []

    def _show_overdue(self) -> None:
        """Standardisation: evaluations of improvement projects that are past due."""
        try:
            late = self.store.overdue_evaluations(self.actor)
        except KorError:
            late = None
        if late is None or late.empty:
            self.overdue.children = []
            return
        titles = "; ".join(
            f"{row.title} ({t('dash.overdue.days', days=int(row.days_overdue))})"
            for row in late.itertuples()
        )
        self.overdue.children = [message(t("dash.overdue", projects=titles), "error")]

    def relabel(self, refresh: bool = True) -> None:
        """Set every text in the current language (the language switch calls this)."""
        quiet, self._quiet = self._quiet, True
        try:
            self.title.value = f"<h2>{html.escape(t('dash.title'))}</h2>"
            self.team.description = t("label.team")
            self.clinician.description = t("label.clinician")
            self.period.description = t("dash.filter.period")
            self.age_group.description = t("dash.filter.age_group")
            self.measure.description = t("dash.filter.measure")
            for widget in (self.team, self.clinician, self.period, self.age_group, self.measure):
                widget.style = {"description_width": "initial"}
            o = self.options
            if o:
                whole = [(t("dash.all.team"), "")] if o.get("whole_service", True) else []
                self._options(self.team, whole + [(x, x) for x in o["team"]])
                self._options(self.period, [(p, p) for p in o["period"]])
                self._options(
                    self.age_group,
                    [(t("dash.all.age_group"), "")]
                    + [(t(f"age_group.{a}"), a) for a in o["age_group"]],
                )
                self._options(
                    self.measure,
                    [(t("dash.all.measure"), "")]
                    + [(MEASURES[m].label() if m in MEASURES else m, m) for m in o["measure"]],
                )
            self._options(self.group, [(t(f"dash.group.{g}"), g) for g in report.GROUPS])
            self._options(
                self.report_format,
                [(t(f"dash.format.{f}"), f) for f in report.FORMATS],
            )
            for i, name in enumerate(TABS):
                self.tabs.set_title(i, t(f"dash.tab.{name}"))
            self.report_button.description = t("dash.report.button")
        finally:
            self._quiet = quiet
        if o and self.clinician.options:
            self._set_clinicians()
        if refresh and self.sessions is not None:
            self.refresh()

    @staticmethod
    def _options(widget: Any, options: list[tuple[str, str]]) -> None:
        value = widget.value
        widget.options = options
        values = [v for _, v in options]
        if value in values:
            widget.value = value

    # ---------------------------------------------------------------- drawing
    def _refresh(self) -> None:
        if self.sessions is None:
            return
        self.status.children = []
        tab = TABS[self.tabs.selected_index or 0]
        if tab == "supervision":
            self._draw_supervision()
            return
        if tab == "report":
            return
        parts = ("headline", "trends") if tab == "trends" else ("comparison",)
        self.current = self._report(parts)
        if tab == "trends":
            self._draw_trends()
        else:
            self._draw_comparison()

    def _report(self, parts: tuple[str, ...]) -> report.Report:
        """The report part for the current filter (kept, so going back to a filter is free)."""
        filters = self.filters()
        key = (self.period.value, parts, *filters.items())
        found = self.reports.pop(key, None)
        if found is None:
            found = report.compute_report(
                self.sessions,
                period=self.period.value,
                cache=self.cache,
                parts=parts,
                severity=self._severity(),
                **filters,
            )
        self.reports[key] = found  # most recently used last
        while len(self.reports) > _MAX_REPORTS:
            self.reports.pop(next(iter(self.reports)))
        return found

    def _severity(self) -> Any:
        """The whole service's case-mix model as of the period's end, from the store (a
        team lead's rows are not the service; the store fits it on every team)."""
        end = report.period_window(self.period.value)[1]
        key = ("severity_reference", end)
        if key not in self.cache:
            self.cache[key] = self.store.severity_reference(self.actor, end=end.date())
        return self.cache[key]

    def _draw_trends(self) -> None:
        r = self.current
        tables = r.tables()
        self.headline.value = (
            f"<h3>{html.escape(r.title())}</h3>"
            + report.html_table(tables["headline"], "headline")
            + f'<p class="kor-note">{html.escape(r.suppression_note())}</p>'
            + (f'<p class="kor-note">{html.escape(r.period_note())}</p>' if r.period_note() else "")
            + (f'<p class="kor-note">{html.escape(r.data_note())}</p>' if r.data_note() else "")
        )
        names = [s.column for s in report.INDICATORS if s.group == self.group.value]
        fig = dashboard_plot.indicator_figure(r, names, columns=2)
        self.trend_box.children = [
            chart_box(
                fig.axes[0],
                f"kor-trender-{self.group.value}",
                alt=t("a11y.chart.trends"),
                pdf="on_demand",
            )
        ]

    def _draw_comparison(self) -> None:
        r = self.current
        ax = dashboard_plot.funnel_plot(
            r.funnel, r.funnel_centre, r.funnel_sd, unit_label=t(f"indicator.{r.unit}")
        )
        tables = r.tables()
        self.comparison_box.children = [
            w.HTML(f"<p>{html.escape(t('report.funnel.intro'))}</p>"),
            chart_box(ax, "kor-trakt", alt=t("a11y.chart.funnel"), pdf="on_demand"),
            w.HTML(report.html_table(tables["funnel"], "funnel")),
        ]

    def _draw_supervision(self) -> None:
        if self.case_flags is None:
            from kor.model_registry import load_expected_model

            self.model = load_expected_model(self.store, self.actor)
            self.case_flags = report.case_flags(self.sessions, self.model)
        selected = report.filter_sessions(self.sessions, **self.filters())
        self.cases = report.supervision_list(selected, self.case_flags)
        shown = self.cases.head(_MAX_CASES)
        self.marks = self._marks(shown["episode"].tolist())
        rows: list[w.Widget] = [
            w.HTML(_CASE_CSS),
            w.HTML(f"<p>{html.escape(t('dash.supervision.intro'))}</p>"),
            w.HTML(f'<p class="kor-supervision-legend">{html.escape(t("supervision.legend"))}</p>'),
        ]
        if len(self.cases) == 0:
            rows.append(message(t("dash.supervision.none")))
        clinician = None
        self.case_buttons: list[w.Button] = []
        for i, case in enumerate(shown.itertuples(index=False)):
            if case.clinician != clinician:
                clinician = case.clinician
                rows.append(w.HTML(f"<h4>{html.escape(str(clinician))}</h4>"))
            names = ", ".join(rule_name(r) for r in case.rules)
            text = " · ".join(
                [
                    t(f"flag.level.{case.level}"),
                    t(
                        "dash.supervision.row",
                        client=case.client,
                        sessions=case.sessions,
                        last=report.date_text(case.last_session),
                        flags=names,
                    ),
                ]
            )
            done = self.marks.loc[self.marks["episode"] == case.episode]
            if len(done):
                when = report.date_text(done["marked_at"].iloc[0])
                text += f" · ✓ {t('supervision.discussed')} {when}"
            button = w.Button(
                description=text,
                tooltip=names,
                layout=w.Layout(min_height="48px", width="auto", max_width="100%"),
            )
            button.add_class("kor-case")
            button.add_class(f"kor-case-{case.level}")
            button.on_click(guarded(self._show_status)(lambda _b, row=i: self.show_case(row)))
            rows.append(button)
            self.case_buttons.append(button)
        if len(self.cases) > _MAX_CASES:
            rows.append(message(t("dash.supervision.more", n=len(self.cases) - _MAX_CASES)))
        self.supervision_box.children = rows
        self.case_box.children = []

    def _marks(self, episodes: list[int]) -> Any:
        """The «drøftet» marks of these episodes the user may read (none for other roles)."""
        if self.actor.role not in READ_ROLES:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in MARK_COLUMNS})
        return self.store.supervision_marks(self.actor, episodes)

    def show_case(self, row: int) -> None:
        """Show the ``row``-th case's chart right below its row, with its «drøftet» marks.

        A team lead or quality lead marks the case discussed there, with a short note
        for the clinician (:meth:`kor.store.Store.mark_discussed`).
        """
        case = self.cases.iloc[row]
        episode = report.episode_sessions(self.sessions, case["episode"])
        ax = _client_chart(episode, self.model, self.case_flags)
        parts: list[w.Widget] = [
            w.HTML(f"<h4>{html.escape(t('dash.case.title', client=case['client']))}</h4>"),
            chart_box(
                ax,
                f"kor-{case['client']}",
                alt=t(
                    "a11y.chart.client",
                    client=case["client"],
                    measure=episode.iloc[0]["outcome_measure"] or "ORS",
                    alliance=episode.iloc[0]["alliance_measure"] or "SRS",
                ),
                pdf="on_demand",
            ),
        ]
        marks = self._marks([int(case["episode"])])
        for mark in marks.itertuples(index=False):
            line = t(
                "supervision.discussed_on", date=report.date_text(mark.marked_at), by=mark.marked_by
            )
            if isinstance(mark.note, str) and mark.note:
                line += f": {mark.note}"
            parts.append(w.HTML(f'<p class="kor-supervision-mark-line">{html.escape(line)}</p>'))
        if self.actor.role in MARK_ROLES:
            note = w.Textarea(
                placeholder=t("supervision.note_placeholder"), layout=w.Layout(width="100%")
            ).add_class("kor-supervision-note")
            mark_button = w.Button(
                description=t("supervision.mark"),
                button_style="primary",
                layout=w.Layout(min_height="48px", width="auto"),
            ).add_class("kor-supervision-mark")

            def on_mark(_b: Any) -> None:
                self.store.mark_discussed(self.actor, int(case["episode"]), note.value)
                self._draw_supervision()
                self.show_case(row)
                self._show_status(message(t("supervision.marked"), "success"))

            mark_button.on_click(guarded(self._show_status)(on_mark))
            parts += [note, mark_button]
        self.case_box.children = parts
        children = [c for c in self.supervision_box.children if c is not self.case_box]
        at = children.index(self.case_buttons[row]) + 1 if row < len(self.case_buttons) else None
        if at is None:
            children.append(self.case_box)
        else:
            children.insert(at, self.case_box)
        self.supervision_box.children = children

    # ---------------------------------------------------------------- report
    def _make_report(self) -> None:
        fmt = self.report_format.value or "pdf"
        self.download.value = ""
        self.progress.value = 0.0
        self.progress.layout.visibility = "visible"

        def step(fraction: float, label: str) -> None:
            self.progress.value = max(0.0, min(1.0, fraction))
            self.progress_label.value = html.escape(t(label))

        r = report.compute_report(  # the report of what is on screen: every filter
            self.sessions,
            period=self.period.value,
            cache=self.cache,
            progress=step,
            severity=self._severity(),
            **self.filters(),
        )
        name = r.file_name(fmt)
        target = Path(tempfile.mkdtemp(prefix="kor-report-")) / name
        r.save(target, fmt, progress=step)
        data = base64.b64encode(target.read_bytes()).decode()
        self.last_file = target
        self.download.value = (
            f'<a download="{html.escape(name)}" class="kor-download kor-report-link" '
            f'href="data:{_MIME[fmt]};base64,{data}" style="font-size:1.2em">'
            f"{html.escape(t('dash.report.download', name=name))}</a>"
        )


def _client_chart(episode: Any, model: Any, flags: Any) -> Any:
    """The client's chart of the clinician app when available, else a simple one."""
    try:
        from kor.caseload import episode_path
        from kor.client_chart import client_chart
    except ImportError:  # pragma: no cover - the clinician app's module not installed
        return dashboard_plot.client_trajectory(episode)
    path = episode_path(model, episode) if model is not None else None
    first = episode.iloc[0]
    own = report.episode_flags(flags, first["episode"]) if flags is not None else None
    return client_chart(
        episode,
        path,
        own,
        outcome_measure=first["outcome_measure"] or "ORS",
        alliance_measure=first["alliance_measure"] or "SRS",
        age_group=str(first["age_group"]),
    )


def dashboard_app(store: Store | None = None, actor: Actor | None = None) -> w.Widget:
    """The quality dashboard for the logged-in user (defaults from configuration)."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    app = QualityDashboard(store, actor)
    app.load()
    app.refresh()
    app.root._kor_app = app  # noqa: SLF001 - lets tests and the notebook reach the state
    return app.root
